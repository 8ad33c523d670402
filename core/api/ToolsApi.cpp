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

void registerToolRoutes(http::Router& router, std::shared_ptr<auth::AuthService> auth) {
    using namespace auth::schema;
    db::Database& db = auth->database();
    router.add({.method = "GET",
                .path = "/api/tools",
                .operationId = "getTools",
                .tag = "Tools",
                .summary = "Every tool: discovered by the LLM proxy (agent set) or offered by an MCP server",
                .access = Access::permission("tool", "read"),
                .response = array(toolSchema())},
               [&db](Context& c) {
                   json out = json::array();
                   for (const auto& row : db.query("SELECT " + toolJsonSql() + "::text" + toolFromSql() +
                                                   " ORDER BY t.created_at, t.id"))
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
               [&db](Context& c) {
                   json out = json::array();
                   for (const auto& row :
                        db.query("SELECT " + toolJsonSql() + "::text" + toolFromSql() +
                                 " WHERE NOT EXISTS (SELECT 1 FROM agent_tools s WHERE s.tool_id = t.id)"
                                 " ORDER BY t.created_at, t.id"))
                       out.push_back(json::parse(row.str(0)));
                   c.sendJson(200, out);
               });
}

}  // namespace archestra::api
