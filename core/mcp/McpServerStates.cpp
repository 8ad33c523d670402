// MCP server installations counted by state, for the archestra_mcp_servers gauge.
#include "core/mcp/McpServerStates.h"

#include "core/db/Database.h"

namespace archestra::mcp {

std::vector<McpServerStateCount> countMcpServerStates(db::Database& db, const std::string& orchestratorName) {
    std::vector<McpServerStateCount> out;
    // The state lives in the database (shared by replicas), so every replica reports the same numbers.
    for (const auto& row : db.query("SELECT server_type, local_installation_status, count(*) FROM mcp_server "
                                    "GROUP BY 1, 2 ORDER BY 1, 2")) {
        McpServerStateCount count;
        count.serverType = row.str(0);
        count.state = row.str(1);
        count.runtime = count.serverType == "local" ? (orchestratorName.empty() ? "none" : orchestratorName)
                                                    : count.serverType;
        count.count = std::stoll(row.str(2, "0"));
        out.push_back(std::move(count));
    }
    return out;
}

}  // namespace archestra::mcp
