// ToolExecutor: how the MCP gateway (core/gateway) calls a tool on an installed MCP server, whatever runs it
// (orchestrator plugin over stdio/attach, or a remote streamable-HTTP server). Implemented by core/mcp.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace archestra::mcp {

/// The server is not installed, not running or could not be reached; `what()` says which and why.
class McpUnavailableError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// The server answered the call with a JSON-RPC error.
class McpRemoteError : public std::runtime_error {
  public:
    McpRemoteError(int code, const std::string& message) : std::runtime_error(message), _code(code) {}
    int code() const { return _code; }

  private:
    int _code;
};

/// Calls tools on installed MCP servers. Thread-safe.
class ToolExecutor {
  public:
    virtual ~ToolExecutor() = default;
    /// Calls `tool_name` (the server's own name, without the `<slug>__` prefix) on installed server
    /// `mcp_server_id` (mcp_server.id) and returns the MCP CallToolResult object ({content:[...], isError?}).
    virtual nlohmann::json callTool(const std::string& mcp_server_id, const std::string& tool_name,
                                    const nlohmann::json& arguments, std::int64_t timeout_ms) = 0;
};

}  // namespace archestra::mcp
