// MCP server installations counted by state, for the archestra_mcp_servers gauge (read at scrape time).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace archestra::db {
class Database;
}

namespace archestra::mcp {

struct McpServerStateCount {
    std::string serverType;  ///< "local" or "remote"
    std::string runtime;     ///< the orchestrator running local servers ("local", "kubernetes"); "remote"
    std::string state;       ///< local_installation_status: idle, pending, success, error
    std::int64_t count = 0;
};

/// One row per (server type, state) present in mcp_server. Throws when the database does not answer.
std::vector<McpServerStateCount> countMcpServerStates(db::Database& db, const std::string& orchestratorName);

}  // namespace archestra::mcp
