// McpConnections: one initialized MCP client per installed server, rebuilt after the server restarts or the
// transport dies; the platform's ToolExecutor (what the MCP gateway calls).
#pragma once

#include "core/mcp/McpClient.h"
#include "core/mcp/ToolExecutor.h"

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace archestra::mcp {

class McpConnections : public ToolExecutor {
  public:
    /// Builds a transport to installed server `mcp_server_id`; throws McpUnavailableError naming why it
    /// cannot (not installed, not running, no runtime).
    using Connector = std::function<std::unique_ptr<McpTransport>(const std::string& mcp_server_id)>;

    explicit McpConnections(Connector connector, std::int64_t initialize_timeout_ms = 30000);
    ~McpConnections() override;

    /// An initialized client for the server, reusing a live one; throws McpUnavailableError.
    std::shared_ptr<McpClient> client(const std::string& mcp_server_id);
    /// Closes and forgets the server's client (after a stop, restart or delete).
    void drop(const std::string& mcp_server_id);
    /// Closes every client; later calls fail with McpUnavailableError.
    void closeAll();

    nlohmann::json callTool(const std::string& mcp_server_id, const std::string& tool_name,
                            const nlohmann::json& arguments, std::int64_t timeout_ms) override;

  private:
    struct Entry {
        std::mutex mutex;  ///< held while (re)connecting, so one server gets one initialize at a time
        std::shared_ptr<McpClient> client;
    };
    Connector _connector;
    std::int64_t _initializeTimeoutMs;
    std::mutex _mutex;
    bool _closed = false;
    std::map<std::string, std::shared_ptr<Entry>> _entries;
};

}  // namespace archestra::mcp
