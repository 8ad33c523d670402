// McpRegistry: the runtime side of the private MCP registry: which orchestrator runs local servers, the
// install flow (start -> discovering-tools -> success|error), tool discovery into `tools`, restarts, logs,
// and the connections the MCP gateway calls tools through.
#pragma once

#include "core/mcp/McpConnections.h"

#include <nlohmann/json.hpp>

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace archestra::config {
class Settings;
}
namespace archestra::db {
class Database;
}
namespace archestra::plugins {
class PluginManager;
}
namespace archestra::secrets {
class SecretStore;
}
namespace archestra::sdk {
class Orchestrator;
struct McpServerSpec;
}  // namespace archestra::sdk

namespace archestra::mcp {

/// The orchestrator configuration selects, or why there is none.
struct OrchestratorChoice {
    std::string name;  ///< factory name ("local", "kubernetes", ...); empty when none could be created
    std::shared_ptr<sdk::Orchestrator> instance;
    std::string error;  ///< why there is none (shown as the installation error of local servers)
};

/// ARCHESTRA_ORCHESTRATOR: a factory name, or "auto" = "kubernetes" when a cluster configuration is present
/// and such a factory is loaded, else "local". Never throws.
OrchestratorChoice selectOrchestrator(const config::Settings& settings, plugins::PluginManager* plugins);

/// Tool names as the gateway shows them: `<slug>__<tool>` where slug = lower-case catalog name with spaces
/// turned into `_`. The server's own tool name is kept as it is (case included) so stripping the prefix gives
/// back exactly the name tools/call needs.
std::string toolPrefix(const std::string& catalog_name);

/// Last lines of a server's output plus where they come from (the shape of GET .../logs).
struct ServerLogs {
    std::string logs;
    std::string containerName;
    std::string command;
    std::string namespaceName;
};

class McpRegistry {
  public:
    using SecretsGetter = std::function<std::shared_ptr<secrets::SecretStore>()>;

    McpRegistry(const config::Settings& settings, db::Database& db, plugins::PluginManager* plugins,
                SecretsGetter secrets, std::function<void()> on_tools_changed = {});
    ~McpRegistry();
    McpRegistry(const McpRegistry&) = delete;
    McpRegistry& operator=(const McpRegistry&) = delete;

    /// Selects the orchestrator, starts the workers, and (in the background, once the database answers)
    /// starts every installed local server again.
    void start();
    /// Closes connections, stops the workers, then releases the orchestrator (which stops its servers).
    void stop();

    std::shared_ptr<McpConnections> connections() const { return _connections; }
    const std::string& orchestratorName() const { return _choice.name; }
    std::shared_ptr<secrets::SecretStore> secretStore() const { return _secrets ? _secrets() : nullptr; }
    db::Database& database() { return _db; }

    /// After an installation row exists: a local server is started now (status pending, or error with the
    /// reason), its tools are discovered in the background; a remote server's tools are discovered now.
    /// `agent_ids` get every discovered tool assigned.
    void install(const std::string& server_id, const std::vector<std::string>& agent_ids);
    /// Stops the server's runtime and forgets its connection (before its row is deleted).
    void uninstall(const std::string& server_id);
    /// Restarts the server (local: through the orchestrator) and discovers its tools again.
    /// Throws McpUnavailableError with the reason when it cannot.
    std::string restart(const std::string& server_id);
    /// Last `lines` lines of a local server's output; McpUnavailableError when there is none.
    ServerLogs logs(const std::string& server_id, int lines);
    bool stopping() const;
    /// Where remote servers' Authorization headers come from (McpOAuth::authorization: the installation
    /// secret's token, refreshed when due or after a 401). Without it the stored access_token is sent as is.
    using AuthorizationSource =
        std::function<std::optional<std::string>(const std::string& secret_id, const std::string& rejected)>;
    void setAuthorizationSource(AuthorizationSource source) { _authorization = std::move(source); }
    /// Called with an installation's secret id before an uninstall removes it (McpOAuth::revoke: RFC 7009
    /// revocation of its tokens). Must not throw; an uninstall never fails because of it.
    void setSecretRevoker(std::function<void(const std::string& secret_id)> revoker) {
        _revoker = std::move(revoker);
    }
    void revokeSecret(const std::string& secret_id) {
        if (_revoker) _revoker(secret_id);
    }

  private:
    struct ServerRow;
    ServerRow loadServer(const std::string& server_id);
    sdk::McpServerSpec buildSpec(const ServerRow& row);
    std::unique_ptr<McpTransport> connect(const std::string& server_id);
    /// Starts a local server through the orchestrator; false (status error set) when it cannot.
    bool startLocal(const ServerRow& row);
    /// Connects, lists the tools and stores them; sets the status to success or error.
    void discover(const std::string& server_id, const std::vector<std::string>& agent_ids);
    void setStatus(const std::string& server_id, const std::string& status,
                   const std::optional<std::string>& error);
    void enqueue(std::function<void()> task);
    void workerLoop();
    void resumeInstalled();
    std::shared_ptr<sdk::Orchestrator> currentOrchestrator() const;

    const config::Settings& _settings;
    db::Database& _db;
    plugins::PluginManager* _plugins;
    SecretsGetter _secrets;
    std::function<void()> _onToolsChanged;
    AuthorizationSource _authorization;
    std::function<void(const std::string&)> _revoker;
    OrchestratorChoice _choice;
    std::shared_ptr<McpConnections> _connections;
    std::int64_t _discoveryTimeoutMs = 60000;

    mutable std::mutex _mutex;
    std::condition_variable _wake;
    std::deque<std::function<void()>> _tasks;
    bool _stopping = false;
    std::vector<std::thread> _workers;
};

}  // namespace archestra::mcp
