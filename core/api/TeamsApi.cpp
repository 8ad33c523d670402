// /api/teams CRUD and /api/teams/{id}/members, scoped to the caller's organisation.
#include "core/api/TeamsApi.h"

#include "core/auth/Schema.h"
#include "core/auth/SqlJson.h"
#include "core/db/Seed.h"
#include "core/http/Context.h"

namespace archestra::api {
namespace {

using auth::isoSql;
using http::Access;
using http::ApiError;
using http::Context;
using nlohmann::json;

const std::string kTeamSelect =
    "SELECT t.id, t.name, t.description, t.organization_id, t.created_by, "
    "t.convert_tool_results_to_toon, " +
    isoSql("t.created_at") + " AS created_at, " + isoSql("t.updated_at") + " AS updated_at FROM team t ";
const std::string kMemberSelect = "SELECT tm.id, tm.team_id, tm.user_id, tm.role, tm.synced_from_sso, " +
                                  isoSql("tm.created_at") + " AS created_at FROM team_member tm ";

json memberJson(const db::Row& row) {
    return {{"id", row.str("id")},
            {"teamId", row.str("team_id")},
            {"userId", row.str("user_id")},
            {"role", row.str("role")},
            {"syncedFromSso", row.boolean("synced_from_sso")},
            {"createdAt", row.str("created_at")}};
}

json teamJson(const db::Row& row) {
    return {{"id", row.str("id")},
            {"name", row.str("name")},
            {"description", auth::nullableString(row, "description")},
            {"organizationId", row.str("organization_id")},
            {"createdBy", auth::nullableString(row, "created_by")},
            {"createdAt", row.str("created_at")},
            {"updatedAt", row.str("updated_at")},
            {"convertToolResultsToToon", row.boolean("convert_tool_results_to_toon")}};
}

json membersOf(db::Database& db, const std::string& teamId) {
    json out = json::array();
    for (const auto& row :
         db.query(kMemberSelect + "WHERE tm.team_id = $1 ORDER BY tm.created_at, tm.id", {teamId}))
        out.push_back(memberJson(row));
    return out;
}

const std::string& organizationOf(const Context& context) {
    const auto& principal = context.requirePrincipal();
    if (principal.organizationId.empty())
        throw ApiError::forbidden("The caller is not a member of any organization");
    return principal.organizationId;
}

/// The team when it exists in the caller's organisation; 404 "Team not found" otherwise (also for other
/// orgs).
json loadTeam(db::Database& db, const Context& context) {
    auto rows = db.query(kTeamSelect + "WHERE t.id = $1 AND t.organization_id = $2",
                         {context.param("id"), organizationOf(context)});
    if (rows.empty()) throw ApiError::notFound("Team not found");
    json team = teamJson(rows[0]);
    team["members"] = membersOf(db, team["id"].get<std::string>());
    return team;
}

json teamSchema() {
    using namespace auth::schema;
    return object({{"id", string()},
                   {"name", string()},
                   {"description", nullableString()},
                   {"organizationId", string()},
                   {"createdBy", string()},
                   {"createdAt", dateTime()},
                   {"updatedAt", dateTime()},
                   {"convertToolResultsToToon", boolean()},
                   {"members", array(object({}))}},
                  {"id", "name", "description", "organizationId", "createdBy", "createdAt", "updatedAt"});
}

json memberSchema() {
    using namespace auth::schema;
    return object({{"id", string()},
                   {"teamId", string()},
                   {"userId", string()},
                   {"role", string()},
                   {"syncedFromSso", boolean()},
                   {"createdAt", dateTime()}},
                  {"id", "teamId", "userId", "role", "syncedFromSso", "createdAt"});
}

}  // namespace

void registerTeamRoutes(http::Router& router, std::shared_ptr<auth::AuthService> auth,
                        std::function<void()> onChange) {
    using namespace auth::schema;
    db::Database& db = auth->database();
    const std::string tag = "Teams";

    router.add(
        {.method = "GET",
         .path = "/api/teams",
         .operationId = "getTeams",
         .tag = tag,
         .summary = "Teams of the organization (only the caller's own without team:update)",
         .access = Access::permission("team", "read"),
         .response = array(teamSchema())},
        [&db, auth](Context& c) {
            const auto& principal = c.requirePrincipal();
            bool all = auth->hasPermission(principal, "team", "update");
            auto rows =
                all ? db.query(kTeamSelect + "WHERE t.organization_id = $1 ORDER BY t.created_at, t.id",
                               {organizationOf(c)})
                    : db.query(kTeamSelect +
                                   "WHERE t.organization_id = $1 AND EXISTS (SELECT 1 FROM team_member "
                                   "x WHERE x.team_id = t.id AND x.user_id = $2) ORDER BY t.created_at, t.id",
                               {organizationOf(c), principal.userId});
            json out = json::array();
            for (const auto& row : rows) {
                json team = teamJson(row);
                team["members"] = membersOf(db, row.str("id"));
                out.push_back(team);
            }
            c.sendJson(200, out);
        });
    router.add({.method = "POST",
                .path = "/api/teams",
                .operationId = "createTeam",
                .tag = tag,
                .summary = "Create a team in the caller's organization",
                .access = Access::permission("team", "create"),
                .requestBody = object({{"name", string()}, {"description", nullableString()}}, {"name"}),
                .response = teamSchema()},
               [&db, onChange](Context& c) {
                   const json& body = c.jsonObject();
                   std::string name = auth::requiredStringField(body, "name");
                   auto description = auth::optionalStringField(body, "description");
                   std::string id = db::newTextId();
                   auto rows = db.query(
                       "WITH t AS (INSERT INTO team (id, name, description, organization_id, created_by) "
                       "VALUES ($1, $2, $3, $4, $5) RETURNING *) " +
                           kTeamSelect.substr(0, kTeamSelect.find("FROM")) + "FROM t",
                       {id, name, description, organizationOf(c), c.requirePrincipal().userId});
                   json team = teamJson(rows[0]);
                   team["members"] = json::array();
                   if (onChange) onChange();
                   c.sendJson(200, team);
               });
    router.add({.method = "GET",
                .path = "/api/teams/{id}",
                .operationId = "getTeam",
                .tag = tag,
                .summary = "One team with its members",
                .access = Access::permission("team", "read"),
                .response = teamSchema()},
               [&db](Context& c) { c.sendJson(200, loadTeam(db, c)); });
    router.add({.method = "PUT",
                .path = "/api/teams/{id}",
                .operationId = "updateTeam",
                .tag = tag,
                .summary = "Change a team's name, description or TOON setting",
                .access = Access::permission("team", "update"),
                .requestBody = object({{"name", string()},
                                       {"description", nullableString()},
                                       {"convertToolResultsToToon", boolean()}}),
                .response = teamSchema()},
               [&db, onChange](Context& c) {
                   loadTeam(db, c);
                   const json& body = c.jsonObject();
                   auto name = auth::optionalStringField(body, "name");
                   if (name && name->empty())
                       throw ApiError::badRequest("Field 'name': expected a non-empty string");
                   auto description = auth::optionalStringField(body, "description");
                   bool clearDescription = body.contains("description") && body["description"].is_null();
                   auto toon = auth::optionalBoolField(body, "convertToolResultsToToon");
                   db.execute(
                       "UPDATE team SET name = coalesce($2, name), "
                       "description = CASE WHEN $4::boolean THEN NULL ELSE coalesce($3, description) END, "
                       "convert_tool_results_to_toon = coalesce($5::boolean, convert_tool_results_to_toon), "
                       "updated_at = now() WHERE id = $1",
                       {c.param("id"), name, description, clearDescription ? "true" : "false",
                        toon ? db::Value(*toon ? "true" : "false") : std::nullopt});
                   if (onChange) onChange();
                   c.sendJson(200, loadTeam(db, c));
               });
    router.add({.method = "DELETE",
                .path = "/api/teams/{id}",
                .operationId = "deleteTeam",
                .tag = tag,
                .summary = "Delete a team",
                .access = Access::permission("team", "delete"),
                .response = success()},
               [&db, onChange](Context& c) {
                   if (db.execute("DELETE FROM team WHERE id = $1 AND organization_id = $2",
                                  {c.param("id"), organizationOf(c)}) == 0)
                       throw ApiError::notFound("Team not found");
                   if (onChange) onChange();
                   c.sendJson(200, {{"success", true}});
               });
    router.add({.method = "GET",
                .path = "/api/teams/{id}/members",
                .operationId = "getTeamMembers",
                .tag = tag,
                .summary = "Members of a team",
                .access = Access::permission("team", "read"),
                .response = array(memberSchema())},
               [&db](Context& c) {
                   loadTeam(db, c);
                   c.sendJson(200, membersOf(db, c.param("id")));
               });
    router.add({.method = "POST",
                .path = "/api/teams/{id}/members",
                .operationId = "addTeamMember",
                .tag = tag,
                .summary = "Add an organization member to a team",
                .access = Access::permission("team", "update"),
                .requestBody = object({{"userId", string()}, {"role", string()}}, {"userId"}),
                .response = memberSchema()},
               [&db](Context& c) {
                   loadTeam(db, c);
                   const json& body = c.jsonObject();
                   std::string userId = auth::requiredStringField(body, "userId");
                   std::string role = auth::optionalStringField(body, "role").value_or("member");
                   if (db.query("SELECT 1 FROM member WHERE user_id = $1 AND organization_id = $2",
                                {userId, organizationOf(c)})
                           .empty())
                       throw ApiError::notFound("User not found: '" + userId +
                                                "' is not a member of this organization");
                   auto rows = db.query(
                       "INSERT INTO team_member AS tm (id, team_id, user_id, role) VALUES ($1, $2, $3, $4) "
                       "ON CONFLICT (team_id, user_id) DO NOTHING RETURNING tm.id, tm.team_id, tm.user_id, "
                       "tm.role, tm.synced_from_sso, " +
                           isoSql("tm.created_at") + " AS created_at",
                       {db::newTextId(), c.param("id"), userId, role});
                   if (rows.empty())
                       throw ApiError::conflict("User '" + userId + "' is already a member of this team");
                   c.sendJson(200, memberJson(rows[0]));
               });
    router.add({.method = "DELETE",
                .path = "/api/teams/{id}/members/{userId}",
                .operationId = "removeTeamMember",
                .tag = tag,
                .summary = "Remove a user from a team",
                .access = Access::permission("team", "update"),
                .response = success()},
               [&db](Context& c) {
                   loadTeam(db, c);
                   if (db.execute("DELETE FROM team_member WHERE team_id = $1 AND user_id = $2",
                                  {c.param("id"), c.param("userId")}) == 0)
                       throw ApiError::notFound("Team member not found");
                   c.sendJson(200, {{"success", true}});
               });
}

}  // namespace archestra::api
