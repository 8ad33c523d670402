// The MCP tool call log (table mcp_tool_calls): one row per initialize, tools/list and tools/call the gateway
// served, and its read API GET /api/mcp-tool-calls[/{mcpToolCallId}] (reference-api.md §1).
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace archestra::db {
class Database;
}
namespace archestra::http {
class Router;
}

namespace archestra::gateway {

class ToolCallLog {
  public:
    explicit ToolCallLog(db::Database& database) : _db(database) {}
    /// Writes one row; a failure is logged and swallowed (the call itself already succeeded or failed on its
    /// own merits). `toolCall` is {id, name, arguments}.
    void record(const std::string& profileId, const std::string& serverName, const std::string& method,
                const nlohmann::json& toolCall, const nlohmann::json& toolResult) noexcept;
    /// "mcp-call-<ms>-<random>", the id stored inside tool_call.
    static std::string newCallId();

  private:
    db::Database& _db;
};

void registerToolCallRoutes(http::Router& router, db::Database& database);

}  // namespace archestra::gateway
