// The MCP tool call log and its read API (see ToolCallLog.h).
#include "core/gateway/ToolCallLog.h"

#include "core/auth/Schema.h"
#include "core/auth/SqlJson.h"
#include "core/db/Database.h"
#include "core/http/ApiError.h"
#include "core/http/Context.h"
#include "core/http/Pagination.h"
#include "core/http/Router.h"

#include <Poco/Logger.h>
#include <Poco/UUIDGenerator.h>

#include <chrono>

namespace archestra::gateway {

namespace {

using nlohmann::json;

std::string itemSql() {
    return "json_build_object('id', m.id, 'agentId', m.agent_id, 'mcpServerName', m.mcp_server_name, "
           "'method', m.method, 'toolCall', m.tool_call, 'toolResult', m.tool_result, 'createdAt', " +
           auth::isoSql("m.created_at") + ")::text";
}

json itemSchema() {
    using namespace auth::schema;
    return object({{"id", {{"type", "string"}, {"format", "uuid"}}},
                   {"agentId", nullableString()},
                   {"mcpServerName", string()},
                   {"method", string()},
                   {"toolCall", {{"type", "object"}, {"nullable", true}}},
                   {"toolResult", {{"type", "object"}, {"nullable", true}}},  // the MCP CallToolResult object
                   {"createdAt", dateTime()}},
                  {"id", "agentId", "mcpServerName", "method", "toolCall", "toolResult", "createdAt"});
}

}  // namespace

std::string ToolCallLog::newCallId() {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
    std::string random = Poco::UUIDGenerator::defaultGenerator().createRandom().toString().substr(0, 8);
    return "mcp-call-" + std::to_string(ms) + "-" + random;
}

void ToolCallLog::record(const std::string& profileId, const std::string& serverName,
                         const std::string& method, const json& toolCall, const json& toolResult) noexcept {
    try {
        _db.execute(
            "INSERT INTO mcp_tool_calls (agent_id, mcp_server_name, method, tool_call, tool_result) VALUES "
            "($1::uuid, $2, $3, $4::jsonb, $5::jsonb)",
            {profileId, serverName, method, toolCall.is_null() ? db::Value() : db::Value(toolCall.dump()),
             toolResult.is_null() ? db::Value() : db::Value(toolResult.dump())});
    } catch (const std::exception& error) {
        Poco::Logger::get("archestra.gateway")
            .warning("could not log MCP " + method + " of profile " + profileId + ": " + error.what());
    }
}

void registerToolCallRoutes(http::Router& router, db::Database& database) {
    using namespace auth::schema;
    const auto access = http::Access::permission("mcpToolCall", "read");
    const http::Sorting sorting{.columns = {{"createdAt", "m.created_at"},
                                            {"agentId", "m.agent_id"},
                                            {"mcpServerName", "m.mcp_server_name"},
                                            {"method", "m.method"}},
                                .tieBreak = {"m.created_at", "m.id"}};
    router.add(
        {.method = "GET",
         .path = "/api/mcp-tool-calls",
         .operationId = "getMcpToolCalls",
         .tag = "MCP Tool Call",
         .summary = "MCP gateway calls (initialize, tools/list, tools/call), newest first",
         .access = access,
         .response = http::Page::schema(itemSchema()),
         .query = http::Page::parameters({{"agentId", {{"type", "string"}, {"format", "uuid"}}}}, sorting)},
        [&database, sorting](http::Context& context) {
            std::vector<db::Value> params;
            std::string where = " WHERE true";
            if (auto agentId = context.query("agentId")) {
                if (!http::isUuidV4(*agentId))
                    throw http::ApiError::badRequest("Query parameter 'agentId': expected a UUID v4, got '" +
                                                     *agentId + "'");
                params.push_back(*agentId);
                where += " AND m.agent_id = $1::uuid";
            }
            const auto page = http::Page::fromQuery(context);
            const std::string order = sorting.orderBy(context);
            json body;
            database.withConnection([&](db::Connection& c) {
                body = page.fetch(c, itemSql(), "FROM mcp_tool_calls m" + where, order, params);
            });
            context.sendJson(200, body);
        });
    router.add({.method = "GET",
                .path = "/api/mcp-tool-calls/{mcpToolCallId}",
                .operationId = "getMcpToolCall",
                .tag = "MCP Tool Call",
                .summary = "One MCP gateway call",
                .access = access,
                .response = itemSchema(),
                .uuidParams = {"mcpToolCallId"}},
               [&database](http::Context& context) {
                   auto rows =
                       database.query("SELECT " + itemSql() + " FROM mcp_tool_calls m WHERE m.id = $1::uuid",
                                      {context.param("mcpToolCallId")});
                   if (rows.empty())
                       throw http::ApiError::notFound("MCP tool call with ID " +
                                                      context.param("mcpToolCallId") + " not found");
                   context.send(200, "application/json; charset=utf-8", rows.at(0).str(0));
               });
}

}  // namespace archestra::gateway
