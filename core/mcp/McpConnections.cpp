// McpConnections: per-server MCP clients, reconnecting lazily when a server restarted.
#include "core/mcp/McpConnections.h"

namespace archestra::mcp {

McpConnections::McpConnections(Connector connector, std::int64_t initialize_timeout_ms)
    : _connector(std::move(connector)), _initializeTimeoutMs(initialize_timeout_ms) {}

McpConnections::~McpConnections() {
    closeAll();
}

std::shared_ptr<McpClient> McpConnections::client(const std::string& mcp_server_id) {
    std::shared_ptr<Entry> entry;
    {
        std::lock_guard lock(_mutex);
        if (_closed) throw McpUnavailableError("the platform is shutting down");
        auto& slot = _entries[mcp_server_id];
        if (!slot) slot = std::make_shared<Entry>();
        entry = slot;
    }
    std::lock_guard lock(entry->mutex);
    if (entry->client && entry->client->alive()) return entry->client;
    if (entry->client) entry->client->close();
    entry->client.reset();
    // A dead transport means the server went away (crash, restart): connect again and redo the handshake.
    auto client = std::make_shared<McpClient>(_connector(mcp_server_id));
    client->initialize(_initializeTimeoutMs);
    {
        std::lock_guard guard(_mutex);
        if (_closed) {
            client->close();
            throw McpUnavailableError("the platform is shutting down");
        }
    }
    entry->client = client;
    return client;
}

void McpConnections::drop(const std::string& mcp_server_id) {
    std::shared_ptr<Entry> entry;
    {
        std::lock_guard lock(_mutex);
        auto it = _entries.find(mcp_server_id);
        if (it == _entries.end()) return;
        entry = it->second;
        _entries.erase(it);
    }
    std::shared_ptr<McpClient> client;
    {
        std::lock_guard lock(entry->mutex);
        client = std::move(entry->client);
    }
    if (client) client->close();
}

void McpConnections::closeAll() {
    std::map<std::string, std::shared_ptr<Entry>> entries;
    {
        std::lock_guard lock(_mutex);
        _closed = true;
        entries.swap(_entries);
    }
    for (auto& [id, entry] : entries) {
        // An entry busy connecting sees _closed when its handshake ends and closes its own client.
        std::unique_lock lock(entry->mutex, std::try_to_lock);
        if (!lock.owns_lock()) continue;
        auto client = std::move(entry->client);
        lock.unlock();
        if (client) client->close();
    }
}

nlohmann::json McpConnections::callTool(const std::string& mcp_server_id, const std::string& tool_name,
                                        const nlohmann::json& arguments, std::int64_t timeout_ms) {
    // No retry once the request was sent: a tool call may have side effects.
    return client(mcp_server_id)->callTool(tool_name, arguments, timeout_ms);
}

}  // namespace archestra::mcp
