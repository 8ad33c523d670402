// The MCP tool call log and its read API (see ToolCallLog.h).
#include "core/gateway/ToolCallLog.h"

#include "core/auth/Schema.h"
#include "core/auth/SqlJson.h"
#include "core/db/Database.h"
#include "core/http/ApiError.h"
#include "core/http/Context.h"
#include "core/http/Router.h"

#include <Poco/Logger.h>
#include <Poco/UUIDGenerator.h>

#include <chrono>
#include <map>

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
    json paginated = object(
        {{"data", array(itemSchema())},
         {"pagination", object({{"currentPage", integer()},
                                {"limit", integer()},
                                {"total", integer()},
                                {"totalPages", integer()},
                                {"hasNext", boolean()},
                                {"hasPrev", boolean()}},
                               {"currentPage", "limit", "total", "totalPages", "hasNext", "hasPrev"})}},
        {"data", "pagination"});
    router.add(
        {.method = "GET",
         .path = "/api/mcp-tool-calls",
         .operationId = "getMcpToolCalls",
         .tag = "MCP Tool Call",
         .summary = "MCP gateway calls (initialize, tools/list, tools/call), newest first",
         .access = access,
         .response = paginated,
         .query = {{"agentId", {{"type", "string"}, {"format", "uuid"}}},
                   {"limit", {{"type", "integer"}, {"minimum", 1}, {"maximum", 100}, {"default", 20}}},
                   {"offset", {{"type", "integer"}, {"minimum", 0}, {"default", 0}}},
                   {"sortBy",
                    {{"type", "string"}, {"enum", {"createdAt", "agentId", "mcpServerName", "method"}}}},
                   {"sortDirection", {{"type", "string"}, {"enum", {"asc", "desc"}}, {"default", "desc"}}}}},
        [&database](http::Context& context) {
            std::vector<db::Value> params;
            std::string where = " WHERE true";
            if (auto agentId = context.query("agentId")) {
                if (!http::isUuidV4(*agentId))
                    throw http::ApiError::badRequest("Query parameter 'agentId': expected a UUID v4, got '" +
                                                     *agentId + "'");
                params.push_back(*agentId);
                where += " AND m.agent_id = $1::uuid";
            }
            long long limit = context.queryInt("limit", 1, 100).value_or(20);
            long long offset = context.queryInt("offset", 0, 1LL << 40).value_or(0);
            static const std::map<std::string, std::string> columns = {{"createdAt", "m.created_at"},
                                                                       {"agentId", "m.agent_id"},
                                                                       {"mcpServerName", "m.mcp_server_name"},
                                                                       {"method", "m.method"}};
            std::string sortBy = context.query("sortBy").value_or("createdAt");
            auto column = columns.find(sortBy);
            if (column == columns.end())
                throw http::ApiError::badRequest(
                    "Query parameter 'sortBy': expected one of createdAt, agentId, mcpServerName, method, "
                    "got '" +
                    sortBy + "'");
            std::string direction = context.query("sortDirection").value_or("desc");
            if (direction != "asc" && direction != "desc")
                throw http::ApiError::badRequest(
                    "Query parameter 'sortDirection': expected asc or desc, got '" + direction + "'");
            std::string order = " ORDER BY " + column->second + " " + direction +
                                " NULLS LAST, m.created_at " + direction + ", m.id " + direction;
            long long total = 0;
            json data = json::array();
            database.withConnection([&](db::Connection& c) {
                total =
                    std::stoll(c.query("SELECT count(*) FROM mcp_tool_calls m" + where, params).at(0).str(0));
                for (const auto& row :
                     c.query("SELECT " + itemSql() + " FROM mcp_tool_calls m" + where + order + " LIMIT " +
                                 std::to_string(limit) + " OFFSET " + std::to_string(offset),
                             params))
                    data.push_back(json::parse(row.str(0)));
            });
            context.sendJson(200, {{"data", std::move(data)},
                                   {"pagination",
                                    {{"currentPage", offset / limit + 1},
                                     {"limit", limit},
                                     {"total", total},
                                     {"totalPages", (total + limit - 1) / limit},
                                     {"hasNext", offset + limit < total},
                                     {"hasPrev", offset > 0}}}});
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
