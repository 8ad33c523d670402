// Installation requests: a member's request to add an MCP server, reviewed by an admin. Approving a request
// that carries a server definition creates the catalog item in the same step, so "approved" always means
// "installable" (or, for a request naming an external catalog id only, that an admin acknowledged it).
#include "core/mcp/InstallationRequestsApi.h"

#include "core/auth/Schema.h"
#include "core/auth/SqlJson.h"
#include "core/http/ApiError.h"
#include "core/http/Context.h"

#include <Poco/UUIDGenerator.h>

namespace archestra::mcp {
namespace {

using http::ApiError;
using http::Context;
using nlohmann::json;

const std::string kResource = "mcpServerInstallationRequest";

const std::string kSelect =
    "SELECT r.id, r.external_catalog_id, r.requested_by, r.status, r.request_reason, r.custom_server_config, "
    "r.admin_response, r.reviewed_by, " +
    auth::isoSql("r.reviewed_at") + " AS reviewed_at, r.notes, " + auth::isoSql("r.created_at") +
    " AS created_at, " + auth::isoSql("r.updated_at") +
    " AS updated_at FROM mcp_server_installation_request r "
    "LEFT JOIN \"user\" u ON u.id = r.requested_by ";

json jsonOrNull(const db::Row& row, const std::string& column) {
    const auto& value = row.at(column);
    return value ? json::parse(*value) : json(nullptr);
}

json requestJson(const db::Row& row) {
    return {{"id", row.str("id")},
            {"externalCatalogId", auth::nullableString(row, "external_catalog_id")},
            {"requestedBy", auth::nullableString(row, "requested_by")},
            {"status", row.str("status")},
            {"requestReason", auth::nullableString(row, "request_reason")},
            {"customServerConfig", jsonOrNull(row, "custom_server_config")},
            {"adminResponse", auth::nullableString(row, "admin_response")},
            {"reviewedBy", auth::nullableString(row, "reviewed_by")},
            {"reviewedAt", auth::nullableString(row, "reviewed_at")},
            {"notes", jsonOrNull(row, "notes")},
            {"createdAt", row.str("created_at")},
            {"updatedAt", row.str("updated_at")}};
}

json requestSchema() {
    using namespace auth::schema;
    json note = object({{"id", string()},
                        {"userId", string()},
                        {"userName", nullableString()},
                        {"content", string()},
                        {"createdAt", dateTime()}},
                       {"id", "userId", "content", "createdAt"});
    return object({{"id", string()},
                   {"externalCatalogId", nullableString()},
                   {"requestedBy", nullableString()},
                   {"status", enumOf({"pending", "approved", "declined"})},
                   {"requestReason", nullableString()},
                   {"customServerConfig", {{"type", "object"}, {"nullable", true}}},
                   {"adminResponse", nullableString()},
                   {"reviewedBy", nullableString()},
                   {"reviewedAt", nullableDateTime()},
                   {"notes", array(note)},
                   {"createdAt", dateTime()},
                   {"updatedAt", dateTime()}},
                  {"id", "externalCatalogId", "requestedBy", "status", "requestReason", "customServerConfig",
                   "adminResponse", "reviewedBy", "reviewedAt", "notes", "createdAt", "updatedAt"});
}

json writeSchema() {
    using namespace auth::schema;
    return object({{"externalCatalogId", nullableString()},
                   {"requestReason", nullableString()},
                   {"customServerConfig", {{"type", "object"}, {"nullable", true}}}});
}

// Everyone in the organisation who may read requests sees their own; reviewers (the "admin" action) see all.
bool isReviewer(auth::AuthService& auth, const http::Principal& who) {
    return auth.hasPermission(who, kResource, "admin");
}

db::Row loadVisible(db::Database& db, auth::AuthService& auth, const Context& c) {
    const auto& who = c.requirePrincipal();
    auto rows = db.query(kSelect + "WHERE r.id = $1::uuid", {c.param("id")});
    // Somebody else's request reads as missing to a non-reviewer: its existence is not theirs to know.
    if (rows.empty() || (!isReviewer(auth, who) && rows[0].at("requested_by") != who.userId))
        throw ApiError::notFound("Installation request not found");
    return rows[0];
}

// A request names what to add: an external catalog id, or a server definition (checked when approved, by
// the same rules as the catalog's POST), or both.
void validateWrite(const json& body, bool create) {
    for (const char* field : {"externalCatalogId", "requestReason"}) {
        auto it = body.find(field);
        if (it != body.end() && !it->is_null() && !it->is_string())
            throw ApiError::badRequest(std::string("Field '") + field + "': expected a string or null");
    }
    auto config = body.find("customServerConfig");
    if (config != body.end() && !config->is_null()) {
        if (!config->is_object())
            throw ApiError::badRequest("Field 'customServerConfig': expected an object or null");
        auto name = config->find("name");
        if (name == config->end() || !name->is_string() || name->get<std::string>().empty())
            throw ApiError::badRequest("Field 'customServerConfig.name': expected a non-empty string");
    }
    if (create) {
        const bool hasExternal = body.contains("externalCatalogId") &&
                                 body["externalCatalogId"].is_string() &&
                                 !body["externalCatalogId"].get<std::string>().empty();
        const bool hasConfig = config != body.end() && config->is_object();
        if (!hasExternal && !hasConfig)
            throw ApiError::badRequest(
                "Field 'externalCatalogId' or 'customServerConfig': a request must name what to install");
    }
}

std::optional<std::string> textOrNull(const json& body, const char* field) {
    auto it = body.find(field);
    if (it == body.end() || it->is_null()) return std::nullopt;
    return it->get<std::string>();
}

std::optional<std::string> configText(const json& body) {
    auto it = body.find("customServerConfig");
    if (it == body.end() || it->is_null()) return std::nullopt;
    return it->dump();
}

}  // namespace

void registerInstallationRequestRoutes(http::Router& router, std::shared_ptr<auth::AuthService> auth,
                                       std::shared_ptr<McpRegistry> registry,
                                       CatalogCreator createCatalogItem) {
    using namespace auth::schema;
    using http::Access;
    db::Database& db = registry->database();
    const std::string tag = "MCP Server Installation Requests";
    const std::string base = "/api/mcp_server_installation_requests";

    router.add(
        {.method = "GET",
         .path = base,
         .operationId = "getMcpServerInstallationRequests",
         .tag = tag,
         .summary = "Installation requests (reviewers see all, others their own), newest first",
         .access = Access::permission(kResource, "read"),
         .response = array(requestSchema()),
         .query = {{"status", enumOf({"pending", "approved", "declined"})}}},
        [&db, auth](Context& c) {
            const auto& who = c.requirePrincipal();
            std::vector<std::optional<std::string>> params;
            std::string where = "WHERE true ";
            if (auto status = c.query("status")) {
                if (*status != "pending" && *status != "approved" && *status != "declined")
                    throw ApiError::badRequest(
                        "Query 'status': expected one of pending, approved, declined, got '" + *status + "'");
                params.push_back(*status);
                where += "AND r.status = $" + std::to_string(params.size()) + " ";
            }
            if (!isReviewer(*auth, who)) {
                params.push_back(who.userId);
                where += "AND r.requested_by = $" + std::to_string(params.size()) + " ";
            }
            json out = json::array();
            for (const auto& row : db.query(kSelect + where + "ORDER BY r.created_at DESC, r.id", params))
                out.push_back(requestJson(row));
            c.sendJson(200, out);
        });

    router.add({.method = "POST",
                .path = base,
                .operationId = "createMcpServerInstallationRequest",
                .tag = tag,
                .summary = "Ask for an MCP server to be added to the private registry",
                .access = Access::permission(kResource, "create"),
                .requestBody = writeSchema(),
                .response = requestSchema()},
               [&db](Context& c) {
                   const auto& who = c.requirePrincipal();
                   const json& body = c.jsonObject();
                   validateWrite(body, true);
                   auto rows = db.query(
                       "INSERT INTO mcp_server_installation_request (external_catalog_id, requested_by, "
                       "request_reason, custom_server_config) VALUES ($1, $2, $3, $4::jsonb) RETURNING id",
                       {textOrNull(body, "externalCatalogId"), who.userId, textOrNull(body, "requestReason"),
                        configText(body)});
                   c.sendJson(
                       200, requestJson(db.query(kSelect + "WHERE r.id = $1::uuid", {rows[0].str("id")})[0]));
               });

    router.add({.method = "GET",
                .path = base + "/{id}",
                .operationId = "getMcpServerInstallationRequest",
                .tag = tag,
                .summary = "One installation request",
                .access = Access::permission(kResource, "read"),
                .response = requestSchema(),
                .uuidParams = {"id"}},
               [&db, auth](Context& c) { c.sendJson(200, requestJson(loadVisible(db, *auth, c))); });

    router.add({.method = "PATCH",
                .path = base + "/{id}",
                .operationId = "updateMcpServerInstallationRequest",
                .tag = tag,
                .summary = "Change a pending request's reason or server definition",
                .access = Access::permission(kResource, "update"),
                .requestBody = writeSchema(),
                .response = requestSchema(),
                .uuidParams = {"id"}},
               [&db, auth](Context& c) {
                   db::Row row = loadVisible(db, *auth, c);
                   const json& body = c.jsonObject();
                   validateWrite(body, false);
                   if (row.str("status") != "pending")
                       throw ApiError::badRequest("Installation request is already " + row.str("status") +
                                                  "; only a pending request can be changed");
                   std::string sets;
                   std::vector<std::optional<std::string>> params;
                   auto set = [&](const char* field, const std::string& column, std::optional<std::string> v,
                                  const char* cast) {
                       if (!body.contains(field)) return;
                       params.push_back(std::move(v));
                       sets += column + " = $" + std::to_string(params.size()) + cast + ", ";
                   };
                   set("externalCatalogId", "external_catalog_id", textOrNull(body, "externalCatalogId"), "");
                   set("requestReason", "request_reason", textOrNull(body, "requestReason"), "");
                   set("customServerConfig", "custom_server_config", configText(body), "::jsonb");
                   params.push_back(c.param("id"));
                   db.execute("UPDATE mcp_server_installation_request SET " + sets +
                                  "updated_at = now() WHERE id = $" + std::to_string(params.size()) +
                                  "::uuid",
                              params);
                   c.sendJson(200, requestJson(loadVisible(db, *auth, c)));
               });

    router.add({.method = "DELETE",
                .path = base + "/{id}",
                .operationId = "deleteMcpServerInstallationRequest",
                .tag = tag,
                .summary = "Delete an installation request",
                .access = Access::permission(kResource, "delete"),
                .response = success(),
                .uuidParams = {"id"}},
               [&db, auth](Context& c) {
                   (void)loadVisible(db, *auth, c);
                   db.execute("DELETE FROM mcp_server_installation_request WHERE id = $1::uuid",
                              {c.param("id")});
                   c.sendJson(200, {{"success", true}});
               });

    auto decide = [&db, auth, createCatalogItem](Context& c, const std::string& status) {
        const auto& who = c.requirePrincipal();
        db::Row row = loadVisible(db, *auth, c);
        const json& body = c.jsonObject();
        auto response = body.find("adminResponse");
        if (response != body.end() && !response->is_null() && !response->is_string())
            throw ApiError::badRequest("Field 'adminResponse': expected a string or null");
        if (row.str("status") != "pending")
            throw ApiError::badRequest("Installation request is already " + row.str("status"));
        // The catalog item first: a definition the catalog refuses leaves the request pending, with the
        // catalog's message (naming the field) prefixed so the reviewer knows where it came from.
        if (status == "approved") {
            json config = jsonOrNull(row, "custom_server_config");
            if (config.is_object()) {
                try {
                    (void)createCatalogItem(config);
                } catch (const ApiError& e) {
                    if (e.status() != 400) throw;  // e.g. 503 when the secrets backend is away
                    throw ApiError::badRequest("customServerConfig: " + std::string(e.what()));
                }
            }
        }
        db.execute(
            "UPDATE mcp_server_installation_request SET status = $1, admin_response = $2, reviewed_by = $3, "
            "reviewed_at = now(), updated_at = now() WHERE id = $4::uuid AND status = 'pending'",
            {status, textOrNull(body, "adminResponse"), who.userId, c.param("id")});
        c.sendJson(200, requestJson(loadVisible(db, *auth, c)));
    };
    for (const auto& [action, status, operationId, summary] :
         std::vector<std::tuple<std::string, std::string, std::string, std::string>>{
             {"approve", "approved", "approveMcpServerInstallationRequest",
              "Approve a request; a request with a server definition adds it to the private registry"},
             {"decline", "declined", "declineMcpServerInstallationRequest", "Decline a request"}}) {
        router.add({.method = "POST",
                    .path = base + "/{id}/" + action,
                    .operationId = operationId,
                    .tag = tag,
                    .summary = summary,
                    .access = Access::permission(kResource, "admin"),
                    .requestBody = object({{"adminResponse", nullableString()}}),
                    .response = requestSchema(),
                    .uuidParams = {"id"}},
                   [decide, status](Context& c) { decide(c, status); });
    }

    router.add({.method = "POST",
                .path = base + "/{id}/notes",
                .operationId = "addMcpServerInstallationRequestNote",
                .tag = tag,
                .summary = "Add a note to a request (its requester or a reviewer)",
                .access = Access::permission(kResource, "read"),
                .requestBody = object({{"content", string()}}, {"content"}),
                .response = requestSchema(),
                .uuidParams = {"id"}},
               [&db, auth](Context& c) {
                   const auto& who = c.requirePrincipal();
                   (void)loadVisible(db, *auth, c);
                   std::string content = auth::requiredStringField(c.jsonObject(), "content");
                   json note = {{"id", Poco::UUIDGenerator::defaultGenerator().createRandom().toString()},
                                {"userId", who.userId},
                                {"userName", who.name.empty() ? json(nullptr) : json(who.name)},
                                {"content", content},
                                {"createdAt", nullptr}};
                   // created_at from the database clock, like every other timestamp the API returns.
                   db.execute(
                       "UPDATE mcp_server_installation_request SET notes = notes || jsonb_build_array("
                       "jsonb_set($1::jsonb, '{createdAt}', to_jsonb(" +
                           auth::isoSql("now()") + "))), updated_at = now() WHERE id = $2::uuid",
                       {note.dump(), c.param("id")});
                   c.sendJson(200, requestJson(loadVisible(db, *auth, c)));
               });
}

}  // namespace archestra::mcp
