// /api/tokens: organisation and team tokens of the MCP gateway; values live in the secrets backend.
#include "core/api/TokensApi.h"

#include "core/auth/AuthService.h"
#include "core/auth/Schema.h"
#include "core/auth/SqlJson.h"
#include "core/auth/TeamTokens.h"
#include "core/db/Database.h"
#include "core/http/Context.h"
#include "core/secrets/SecretStore.h"

namespace archestra::api {
namespace {

using http::Access;
using http::ApiError;
using http::Context;
using nlohmann::json;

const std::string kTokenSelect =
    "SELECT tt.id::text AS id, tt.name, tt.token_start, tt.is_organization_token, tt.team_id, "
    "tt.secret_id::text AS secret_id, t.name AS team_name, " +
    auth::isoSql("tt.created_at") + " AS created_at, " + auth::isoSql("tt.last_used_at") +
    " AS last_used_at FROM team_token tt LEFT JOIN team t ON t.id = tt.team_id ";

json tokenJson(const db::Row& row) {
    json team = nullptr;
    if (!row.isNull("team_id")) team = {{"id", row.str("team_id")}, {"name", row.str("team_name")}};
    return {{"id", row.str("id")},
            {"name", row.str("name")},
            {"tokenStart", auth::nullableString(row, "token_start")},
            {"isOrganizationToken", row.boolean("is_organization_token")},
            {"team", team},
            {"createdAt", row.str("created_at")},
            {"lastUsedAt", auth::nullableString(row, "last_used_at")}};
}

json tokenSchema(bool withValue) {
    using namespace auth::schema;
    json properties = {{"id", string()},
                       {"name", string()},
                       {"tokenStart", nullableString()},
                       {"isOrganizationToken", boolean()},
                       {"team", nullable(object({{"id", string()}, {"name", string()}}, {"id", "name"}))},
                       {"createdAt", dateTime()},
                       {"lastUsedAt", nullableDateTime()}};
    std::vector<std::string> required = {"id",   "name",      "tokenStart", "isOrganizationToken",
                                         "team", "createdAt", "lastUsedAt"};
    if (withValue) {
        properties["value"] = string();
        required.push_back("value");
    }
    return object(properties, required);
}

const std::string& organizationOf(const Context& context) {
    const auto& principal = context.requirePrincipal();
    if (principal.organizationId.empty())
        throw ApiError::forbidden("The caller is not a member of any organization");
    return principal.organizationId;
}

/// Writes a fresh value into a new secret and returns {secretId, value}.
std::pair<std::string, std::string> newSecretToken(secrets::SecretStore& secrets,
                                                   const std::string& secretName) {
    std::string value = auth::generateTeamTokenValue();
    std::string secretId = secrets.create(secretName, json{{"token", value}});
    return {secretId, value};
}

/// Inserts one token row unless the (organisation, team) already has one; the secret is removed again when
/// the row was not written.
void createToken(db::Database& db, secrets::SecretStore& secrets, const std::string& organizationId,
                 const std::optional<std::string>& teamId, const std::string& name) {
    auto [secretId, value] =
        newSecretToken(secrets, teamId ? "team-token-" + *teamId : "org-token-" + organizationId);
    long long inserted = 0;
    try {
        inserted = db.execute(
            "INSERT INTO team_token (organization_id, team_id, is_organization_token, name, secret_id, "
            "token_start, token_hash) VALUES ($1, $2, $3, $4, $5::uuid, $6, $7) ON CONFLICT DO NOTHING",
            {organizationId, teamId, std::string(teamId ? "false" : "true"), name, secretId,
             value.substr(0, auth::kTeamTokenStartLength), auth::teamTokenHash(value)});
    } catch (...) {
        secrets.remove(secretId);
        throw;
    }
    if (inserted == 0) secrets.remove(secretId);  // another replica or request created it first
}

json loadToken(db::Database& db, const Context& c) {
    auto rows = db.query(kTokenSelect + "WHERE tt.id = $1::uuid AND tt.organization_id = $2",
                         {c.param("tokenId"), organizationOf(c)});
    if (rows.empty()) throw ApiError::notFound("Token not found");
    json token = tokenJson(rows.front());
    token["secretId"] = auth::nullableString(rows.front(), "secret_id");
    return token;
}

}  // namespace

void ensureTeamTokens(db::Database& db, secrets::SecretStore& secrets, const std::string& organizationId) {
    auto missing = db.query(
        "SELECT NULL::text AS team_id, 'Organization Token' AS name WHERE NOT EXISTS (SELECT 1 FROM "
        "team_token "
        "WHERE organization_id = $1 AND team_id IS NULL) "
        "UNION ALL SELECT t.id, t.name || ' Token' FROM team t WHERE t.organization_id = $1 AND NOT EXISTS "
        "(SELECT 1 FROM team_token x WHERE x.team_id = t.id)",
        {organizationId});
    for (const auto& row : missing) {
        std::optional<std::string> teamId;
        if (!row.isNull("team_id")) teamId = row.str("team_id");
        createToken(db, secrets, organizationId, teamId, row.str("name"));
    }
}

void registerTokenRoutes(http::Router& router, std::shared_ptr<auth::AuthService> auth,
                         std::shared_ptr<secrets::SecretStore> secrets) {
    using namespace auth::schema;
    db::Database& db = auth->database();
    const std::string tag = "Tokens";

    router.add({.method = "GET",
                .path = "/api/tokens",
                .operationId = "getTokens",
                .tag = tag,
                .summary = "Organization and team tokens of the MCP gateway (creates missing ones)",
                .access = Access::permission("team", "read"),
                .response = array(tokenSchema(false))},
               [&db, auth, secrets](Context& c) {
                   const auto& principal = c.requirePrincipal();
                   const std::string& organizationId = organizationOf(c);
                   ensureTeamTokens(db, *secrets, organizationId);
                   // Without team:update a caller sees only the tokens of its own teams.
                   bool all = auth->hasPermission(principal, "team", "update");
                   auto rows =
                       all ? db.query(kTokenSelect +
                                          "WHERE tt.organization_id = $1 ORDER BY "
                                          "tt.is_organization_token DESC, tt.created_at, tt.id",
                                      {organizationId})
                           : db.query(kTokenSelect +
                                          "WHERE tt.organization_id = $1 AND EXISTS (SELECT 1 FROM "
                                          "team_member m WHERE m.team_id = tt.team_id AND m.user_id = $2) "
                                          "ORDER BY tt.created_at, tt.id",
                                      {organizationId, principal.userId});
                   json out = json::array();
                   for (const auto& row : rows) out.push_back(tokenJson(row));
                   c.sendJson(200, out);
               });

    router.add(
        {.method = "GET",
         .path = "/api/tokens/{tokenId}/value",
         .operationId = "getTokenValue",
         .tag = tag,
         .summary = "The full value of a token",
         .access = Access::permission("team", "update"),
         .response = object({{"value", string()}}, {"value"}),
         .uuidParams = {"tokenId"}},
        [&db, secrets](Context& c) {
            json token = loadToken(db, c);
            if (token["secretId"].is_null())
                throw ApiError::notFound("Token value not found; rotate the token to create a new one");
            auto value = secrets->get(token["secretId"].get<std::string>());
            if (!value || !value->is_object() || !(*value)["token"].is_string())
                throw ApiError::notFound("Token value not found; rotate the token to create a new one");
            c.sendJson(200, json{{"value", (*value)["token"]}});
        });

    router.add({.method = "POST",
                .path = "/api/tokens/{tokenId}/rotate",
                .operationId = "rotateToken",
                .tag = tag,
                .summary = "Replace a token's value; the old value stops working at once",
                .access = Access::permission("team", "update"),
                .response = tokenSchema(true),
                .uuidParams = {"tokenId"}},
               [&db, secrets](Context& c) {
                   json token = loadToken(db, c);
                   std::string secretName = token["isOrganizationToken"].get<bool>()
                                                ? "org-token-" + organizationOf(c)
                                                : "team-token-" + token["team"]["id"].get<std::string>();
                   // New secret first, then switch the row in one statement, then drop the old secret: a
                   // failure at any step leaves the old token working and no row pointing at nothing.
                   auto [secretId, value] = newSecretToken(*secrets, secretName);
                   try {
                       db.execute(
                           "UPDATE team_token SET secret_id = $2::uuid, token_start = $3, token_hash = $4 "
                           "WHERE id = $1::uuid",
                           {token["id"].get<std::string>(), secretId,
                            value.substr(0, auth::kTeamTokenStartLength), auth::teamTokenHash(value)});
                   } catch (...) {
                       secrets->remove(secretId);
                       throw;
                   }
                   if (token["secretId"].is_string()) {
                       try {
                           secrets->remove(token["secretId"].get<std::string>());
                       } catch (const std::exception&) {
                           // The row no longer points at it; an orphaned old value is harmless (never read).
                       }
                   }
                   json out = loadToken(db, c);
                   out.erase("secretId");
                   out["value"] = value;
                   c.sendJson(200, out);
               });
}

}  // namespace archestra::api
