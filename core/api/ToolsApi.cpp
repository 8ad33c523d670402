// /api/tools: the tool rows as JSON built in SQL, with `agent` and `mcpServer` as {id,name} or null (the
// Terraform data source `archestra_mcp_server_tool` matches on mcpServer.id and name).
#include "core/api/ToolsApi.h"

#include "core/auth/Schema.h"
#include "core/auth/SqlJson.h"
#include "core/http/Context.h"

namespace archestra::api {

using auth::isoSql;
using http::Access;
using http::Context;
using nlohmann::json;

std::string toolJsonSql() {
    return "json_build_object('id', t.id, 'name', t.name, 'description', t.description, 'parameters', "
           "t.parameters, 'catalogId', t.catalog_id, 'mcpServerId', t.mcp_server_id, 'createdAt', " +
           isoSql("t.created_at") + ", 'updatedAt', " + isoSql("t.updated_at") +
           ", 'agent', CASE WHEN ta.id IS NULL THEN NULL ELSE json_build_object('id', ta.id, 'name', "
           "ta.name) "
           "END, 'mcpServer', CASE WHEN m.id IS NULL THEN NULL ELSE json_build_object('id', m.id, 'name', "
           "m.name) END)";
}

std::string toolFromSql() {
    return " FROM tools t LEFT JOIN agents ta ON ta.id = t.agent_id LEFT JOIN mcp_server m ON m.id = "
           "t.mcp_server_id";
}

json toolSchema() {
    using namespace auth::schema;
    json idName = nullable(object({{"id", string()}, {"name", string()}}, {"id", "name"}));
    return object({{"id", {{"type", "string"}, {"format", "uuid"}}},
                   {"name", string()},
                   {"description", nullableString()},
                   {"parameters", {{"type", "object"}, {"additionalProperties", true}}},
                   {"catalogId", nullableString()},
                   {"mcpServerId", nullableString()},
                   {"createdAt", dateTime()},
                   {"updatedAt", dateTime()},
                   {"agent", idName},
                   {"mcpServer", idName}},
                  {"id", "name", "description", "parameters", "catalogId", "createdAt", "updatedAt", "agent",
                   "mcpServer"});
}

namespace {

/// What a caller without profile:admin may see (admins see every tool): tools discovered for, or assigned to,
/// a profile of one of the caller's teams, and tools of MCP servers the caller owns or that are shared with
/// one of the caller's teams. An SQL condition on `t` with the user id as $1; empty for admins.
std::string visibilitySql(auth::AuthService& auth, const Context& c, std::vector<db::Value>& params) {
    const auto& principal = c.requirePrincipal();
    if (auth.hasPermission(principal, "profile", "admin")) return "";
    params.push_back(principal.userId);
    return "(EXISTS (SELECT 1 FROM agent_team vx JOIN team_member vm ON vm.team_id = vx.team_id WHERE "
           "vm.user_id = "
           "$1 AND (vx.agent_id = t.agent_id OR vx.agent_id IN (SELECT va.agent_id FROM agent_tools va WHERE "
           "va.tool_id = t.id))) OR EXISTS (SELECT 1 FROM mcp_server vs WHERE vs.id = t.mcp_server_id AND "
           "(vs.owner_id = $1 OR EXISTS (SELECT 1 FROM mcp_server_team vt JOIN team_member vm2 ON "
           "vm2.team_id = "
           "vt.team_id WHERE vt.mcp_server_id = vs.id AND vm2.user_id = $1))))";
}

}  // namespace

void registerToolRoutes(http::Router& router, std::shared_ptr<auth::AuthService> auth) {
    using namespace auth::schema;
    db::Database& db = auth->database();
    router.add(
        {.method = "GET",
         .path = "/api/tools",
         .operationId = "getTools",
         .tag = "Tools",
         .summary = "Tools discovered by the LLM proxy (agent set) or offered by an MCP server; without "
                    "profile:admin only those of the caller's teams' profiles and MCP servers",
         .access = Access::permission("tool", "read"),
         .response = array(toolSchema())},
        [&db, auth](Context& c) {
            json out = json::array();
            std::vector<db::Value> params;
            std::string visible = visibilitySql(*auth, c, params);
            for (const auto& row :
                 db.query("SELECT " + toolJsonSql() + "::text" + toolFromSql() +
                              (visible.empty() ? "" : " WHERE " + visible) + " ORDER BY t.created_at, t.id",
                          params))
                out.push_back(json::parse(row.str(0)));
            c.sendJson(200, out);
        });
    router.add({.method = "GET",
                .path = "/api/tools/unassigned",
                .operationId = "getUnassignedTools",
                .tag = "Tools",
                .summary = "Tools no profile has been assigned",
                .access = Access::permission("tool", "read"),
                .response = array(toolSchema())},
               [&db, auth](Context& c) {
                   json out = json::array();
                   std::vector<db::Value> params;
                   std::string visible = visibilitySql(*auth, c, params);
                   for (const auto& row : db.query(
                            "SELECT " + toolJsonSql() + "::text" + toolFromSql() +
                                " WHERE NOT EXISTS (SELECT 1 FROM agent_tools s WHERE s.tool_id = t.id)" +
                                (visible.empty() ? "" : " AND " + visible) + " ORDER BY t.created_at, t.id",
                            params))
                       out.push_back(json::parse(row.str(0)));
                   c.sendJson(200, out);
               });
}

}  // namespace archestra::api
