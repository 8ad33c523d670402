// McpRegistry: orchestrator selection, install flow, tool discovery, restarts and logs of MCP servers.
#include "core/mcp/McpRegistry.h"

#include "archestra/sdk/orchestrator.h"
#include "core/config/Settings.h"
#include "core/db/Database.h"
#include "core/db/DatabaseException.h"
#include "core/plugins/PluginManager.h"
#include "core/secrets/SecretStore.h"

#include <Poco/File.h>
#include <Poco/Logger.h>
#include <Poco/Path.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace archestra::mcp {

using nlohmann::json;

namespace {

Poco::Logger& log() {
    return Poco::Logger::get("mcp");
}

bool fileExists(const std::string& path) {
    try {
        return !path.empty() && Poco::File(path).exists();
    } catch (...) {
        return false;
    }
}

/// A Kubernetes cluster configuration is reachable from here (in-cluster or a kubeconfig file).
bool clusterConfigPresent(const config::Settings& settings) {
    if (settings.getBool("ARCHESTRA_ORCHESTRATOR_LOAD_KUBECONFIG_FROM_CURRENT_CLUSTER") &&
        std::getenv("KUBERNETES_SERVICE_HOST") != nullptr &&
        fileExists("/var/run/secrets/kubernetes.io/serviceaccount/token"))
        return true;
    if (fileExists(settings.get("ARCHESTRA_ORCHESTRATOR_KUBECONFIG"))) return true;
    if (const char* kubeconfig = std::getenv("KUBECONFIG"); kubeconfig && fileExists(kubeconfig)) return true;
    if (const char* home = std::getenv("HOME"); home && fileExists(std::string(home) + "/.kube/config"))
        return true;
    return false;
}

std::string replaceAll(std::string text, const std::string& from, const std::string& to) {
    if (from.empty()) return text;
    for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
        text.replace(at, from.size(), to);
    return text;
}

std::string jsonScalarText(const json& value) {
    if (value.is_string()) return value.get<std::string>();
    if (value.is_null()) return "";
    return value.dump();
}

std::string upperSnake(const std::string& key) {
    std::string out;
    for (std::size_t i = 0; i < key.size(); ++i) {
        char c = key[i];
        if (std::isupper(static_cast<unsigned char>(c)) && i > 0 &&
            std::islower(static_cast<unsigned char>(key[i - 1])))
            out += '_';
        out += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::toupper(c)) : '_';
    }
    return out;
}

/// One pair of surrounding quotes is dropped from plain values (as the catalog UI stores them).
std::string stripQuotes(const std::string& value) {
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front())
        return value.substr(1, value.size() - 2);
    return value;
}

}  // namespace

std::string toolPrefix(const std::string& catalog_name) {
    std::string slug;
    for (char c : catalog_name)
        slug += c == ' ' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return slug + "__";
}

OrchestratorChoice selectOrchestrator(const config::Settings& settings, plugins::PluginManager* plugins) {
    OrchestratorChoice choice;
    std::vector<std::string> available =
        plugins ? plugins->factoryNames("orchestrator") : std::vector<std::string>{};
    auto has = [&](const std::string& name) {
        return std::find(available.begin(), available.end(), name) != available.end();
    };
    std::string wanted = settings.get("ARCHESTRA_ORCHESTRATOR");
    bool automatic = wanted.empty() || wanted == "auto";
    if (automatic) wanted = clusterConfigPresent(settings) && has("kubernetes") ? "kubernetes" : "local";
    if (!has(wanted)) {
        std::string list;
        for (const auto& name : available) list += (list.empty() ? "" : ", ") + name;
        choice.error = "no orchestrator plugin '" + wanted +
                       "' is loaded (ARCHESTRA_ORCHESTRATOR=" + settings.get("ARCHESTRA_ORCHESTRATOR") +
                       "; loaded: " + (list.empty() ? "none" : list) + ")";
        return choice;
    }
    json config = json::object();
    if (wanted == "kubernetes")
        config = {{"namespace", settings.get("ARCHESTRA_ORCHESTRATOR_K8S_NAMESPACE")},
                  {"baseImage", settings.get("ARCHESTRA_ORCHESTRATOR_MCP_SERVER_BASE_IMAGE")},
                  {"loadKubeconfigFromCurrentCluster",
                   settings.getBool("ARCHESTRA_ORCHESTRATOR_LOAD_KUBECONFIG_FROM_CURRENT_CLUSTER")},
                  {"kubeconfig", settings.get("ARCHESTRA_ORCHESTRATOR_KUBECONFIG")}};
    auto created = plugins->createOrchestrator(wanted, config.dump());
    if (!created.ok() && automatic && wanted == "kubernetes" && has("local")) {
        // auto: a cluster configuration that cannot be used must not leave the platform without MCP servers.
        log().warning("ARCHESTRA_ORCHESTRATOR=auto: the Kubernetes configuration is unusable (" +
                      created.error().message + "); MCP servers run as local processes");
        wanted = "local";
        config = json::object();
        created = plugins->createOrchestrator(wanted, config.dump());
    }
    if (!created.ok()) {
        choice.error = "the orchestrator '" + wanted + "' could not be created: " + created.error().message;
        return choice;
    }
    choice.name = wanted;
    choice.instance = created.value();
    return choice;
}

// ---- server rows ----------------------------------------------------------------------------------------

struct McpRegistry::ServerRow {
    std::string id, name, serverType, catalogId, catalogName;
    std::optional<std::string> secretId, serverUrl, localConfigSecretId;
    json localConfig;  ///< null when the catalog item has none
};

McpRegistry::McpRegistry(const config::Settings& settings, db::Database& db, plugins::PluginManager* plugins,
                         SecretsGetter secrets, std::function<void()> on_tools_changed)
    : _settings(settings),
      _db(db),
      _plugins(plugins),
      _secrets(std::move(secrets)),
      _onToolsChanged(std::move(on_tools_changed)) {
    _connections = std::make_shared<McpConnections>([this](const std::string& id) { return connect(id); });
}

McpRegistry::~McpRegistry() {
    stop();
}

void McpRegistry::start() {
    auto choice = selectOrchestrator(_settings, _plugins);
    {
        std::lock_guard lock(_mutex);
        _choice = std::move(choice);
    }
    if (_choice.instance)
        log().information("MCP servers run on orchestrator '" + _choice.name + "'");
    else
        log().warning("local MCP servers cannot run: " + _choice.error);
    std::lock_guard lock(_mutex);
    for (int i = 0; i < 2; ++i) _workers.emplace_back([this] { workerLoop(); });
    _tasks.emplace_back([this] { resumeInstalled(); });
    _wake.notify_one();
}

void McpRegistry::stop() {
    {
        std::lock_guard lock(_mutex);
        if (_stopping) return;
        _stopping = true;
        _tasks.clear();
    }
    _wake.notify_all();
    _connections->closeAll();  // pending requests fail at once, so the workers finish quickly
    // Stopping the orchestrator's servers first makes a worker blocked on a handshake give up at once.
    std::shared_ptr<sdk::Orchestrator> orchestrator;
    {
        std::lock_guard lock(_mutex);
        orchestrator = std::move(_choice.instance);
    }
    orchestrator.reset();  // its destructor stops every server it started
    for (auto& worker : _workers)
        if (worker.joinable()) worker.join();
    _workers.clear();
}

std::shared_ptr<sdk::Orchestrator> McpRegistry::currentOrchestrator() const {
    std::lock_guard lock(_mutex);
    return _choice.instance;
}

bool McpRegistry::stopping() const {
    std::lock_guard lock(_mutex);
    return _stopping;
}

void McpRegistry::enqueue(std::function<void()> task) {
    std::lock_guard lock(_mutex);
    if (_stopping) return;
    _tasks.push_back(std::move(task));
    _wake.notify_one();
}

void McpRegistry::workerLoop() {
    while (true) {
        std::function<void()> task;
        {
            std::unique_lock lock(_mutex);
            _wake.wait(lock, [this] { return _stopping || !_tasks.empty(); });
            if (_stopping) return;
            task = std::move(_tasks.front());
            _tasks.pop_front();
        }
        try {
            task();
        } catch (const std::exception& error) {
            log().error(std::string("MCP background task failed: ") + error.what());
        }
    }
}

void McpRegistry::resumeInstalled() {
    // The database may still be coming up: wait for it without holding a worker forever.
    std::vector<std::string> ids;
    for (int attempt = 0;; ++attempt) {
        if (stopping()) return;
        try {
            for (const auto& row :
                 _db.query("SELECT id FROM mcp_server WHERE server_type = 'local' ORDER BY created_at"))
                ids.push_back(row.str("id"));
            break;
        } catch (const std::exception& error) {
            if (attempt == 0)
                log().information(std::string("waiting for the database to resume MCP servers: ") +
                                  error.what());
            std::unique_lock lock(_mutex);
            if (_wake.wait_for(lock, std::chrono::seconds(2), [this] { return _stopping; })) return;
        }
    }
    for (const auto& id : ids)
        enqueue([this, id] {
            try {
                if (startLocal(loadServer(id))) discover(id, {});
            } catch (const McpUnavailableError& error) {
                log().warning("MCP server " + id + " not resumed: " + error.what());
            }
        });
}

McpRegistry::ServerRow McpRegistry::loadServer(const std::string& server_id) {
    auto rows = _db.query(
        "SELECT s.id, s.name, s.server_type, s.secret_id, c.id AS catalog_id, c.name AS catalog_name, "
        "c.server_url, c.local_config, c.local_config_secret_id FROM mcp_server s "
        "LEFT JOIN internal_mcp_catalog c ON c.id = s.catalog_id WHERE s.id = $1::uuid",
        {server_id});
    if (rows.empty()) throw McpUnavailableError("MCP server '" + server_id + "' is not installed");
    const auto& r = rows[0];
    ServerRow row;
    row.id = r.str("id");
    row.name = r.str("name");
    row.serverType = r.str("server_type");
    row.secretId = r.at("secret_id");
    row.catalogId = r.str("catalog_id");
    row.catalogName = r.str("catalog_name");
    row.serverUrl = r.at("server_url");
    row.localConfigSecretId = r.at("local_config_secret_id");
    if (auto text = r.at("local_config")) row.localConfig = json::parse(*text, nullptr, false);
    if (row.localConfig.is_discarded()) row.localConfig = nullptr;
    return row;
}

sdk::McpServerSpec McpRegistry::buildSpec(const ServerRow& row) {
    if (!row.localConfig.is_object())
        throw McpUnavailableError("the catalog item of MCP server '" + row.name + "' has no localConfig");
    const json& config = row.localConfig;
    auto store = secretStore();
    json installValues = json::object();  // {environmentValues, userConfigValues} kept in the server's secret
    json catalogSecret = json::object();
    if (store && row.secretId)
        if (auto value = store->get(*row.secretId); value && value->is_object()) installValues = *value;
    if (store && row.localConfigSecretId)
        if (auto value = store->get(*row.localConfigSecretId); value && value->is_object())
            catalogSecret = *value;
    json envValues = installValues.value("environmentValues", json::object());
    json userValues = installValues.value("userConfigValues", json::object());
    auto interpolate = [&](std::string text) {
        for (const json* values : {&envValues, &userValues})
            if (values->is_object())
                for (auto it = values->begin(); it != values->end(); ++it)
                    text = replaceAll(text, "${user_config." + it.key() + "}", jsonScalarText(it.value()));
        return text;
    };

    sdk::McpServerSpec spec;
    spec.server_id = row.id;
    spec.name = row.name;
    spec.image = config.value("dockerImage", json(nullptr)).is_string()
                     ? config["dockerImage"].get<std::string>()
                     : "";
    spec.command =
        config.value("command", json(nullptr)).is_string() ? config["command"].get<std::string>() : "";
    if (config.contains("arguments") && config["arguments"].is_array())
        for (const auto& argument : config["arguments"])
            spec.arguments.push_back(interpolate(jsonScalarText(argument)));
    if (config.contains("environment") && config["environment"].is_array()) {
        for (const auto& entry : config["environment"]) {
            if (!entry.is_object() || !entry.contains("key") || !entry["key"].is_string()) continue;
            std::string key = entry["key"].get<std::string>();
            bool prompted = entry.value("promptOnInstallation", false);
            std::string type = entry.value("type", std::string("plain_text"));
            if (type == "secret") spec.secret_env_keys.push_back(key);
            if (prompted) {
                if (envValues.contains(key)) spec.env[key] = jsonScalarText(envValues[key]);
            } else if (type == "secret") {
                if (catalogSecret.contains(key)) spec.env[key] = jsonScalarText(catalogSecret[key]);
            } else if (entry.contains("value")) {
                spec.env[key] = interpolate(stripQuotes(jsonScalarText(entry["value"])));
            }
        }
    }
    if (userValues.is_object())
        for (auto it = userValues.begin(); it != userValues.end(); ++it)
            spec.env[upperSnake(it.key())] = jsonScalarText(it.value());
    if (config.contains("transportType") && config["transportType"].is_string())
        spec.transport = config["transportType"].get<std::string>();
    if (config.contains("httpPort") && config["httpPort"].is_number_integer())
        spec.http_port = config["httpPort"].get<int>();
    if (config.contains("httpPath") && config["httpPath"].is_string())
        spec.http_path = config["httpPath"].get<std::string>();
    return spec;
}

std::unique_ptr<McpTransport> McpRegistry::connect(const std::string& server_id) {
    ServerRow row = loadServer(server_id);
    if (row.serverType == "remote") {
        if (!row.serverUrl || row.serverUrl->empty())
            throw McpUnavailableError("remote MCP server '" + row.name +
                                      "' has no serverUrl in its catalog item");
        std::map<std::string, std::string> headers;
        if (_authorization && row.secretId) {
            auto transport = std::make_unique<HttpTransport>(*row.serverUrl, headers, 10000);
            transport->setAuthorization(
                [source = _authorization, secretId = *row.secretId](const std::string& rejected) {
                    return source(secretId, rejected);
                });
            return transport;
        }
        auto store = secretStore();
        if (store && row.secretId)
            if (auto value = store->get(*row.secretId); value && value->is_object() &&
                                                        value->contains("access_token") &&
                                                        (*value)["access_token"].is_string())
                headers["Authorization"] = "Bearer " + (*value)["access_token"].get<std::string>();
        return std::make_unique<HttpTransport>(*row.serverUrl, headers, 10000);
    }
    auto orchestrator = currentOrchestrator();
    if (!orchestrator) throw McpUnavailableError("local MCP servers cannot run: " + _choice.error);
    auto status = orchestrator->status(server_id);
    if (status.ok() && !status.value().endpoint_url.empty())
        return std::make_unique<HttpTransport>(status.value().endpoint_url,
                                               std::map<std::string, std::string>{}, 10000);
    auto channel = orchestrator->connect(server_id);
    if (!channel.ok())
        throw McpUnavailableError("MCP server '" + row.name +
                                  "' is not reachable: " + channel.error().message);
    return std::make_unique<ChannelTransport>(std::move(channel).value());
}

void McpRegistry::setStatus(const std::string& server_id, const std::string& status,
                            const std::optional<std::string>& error) {
    _db.execute(
        "UPDATE mcp_server SET local_installation_status = $2, local_installation_error = $3, updated_at = "
        "now() "
        "WHERE id = $1::uuid",
        {server_id, status, error});
}

bool McpRegistry::startLocal(const ServerRow& row) {
    auto orchestrator = currentOrchestrator();
    if (!orchestrator) {
        setStatus(row.id, "error", "Failed to start MCP server: " + _choice.error);
        return false;
    }
    sdk::McpServerSpec spec;
    try {
        spec = buildSpec(row);
    } catch (const std::exception& error) {
        setStatus(row.id, "error", std::string("Failed to start MCP server: ") + error.what());
        return false;
    }
    setStatus(row.id, "pending", std::nullopt);
    auto started = orchestrator->start(spec);
    if (!started.ok()) {
        setStatus(row.id, "error", "Failed to start MCP server: " + started.error().message);
        return false;
    }
    return true;
}

void McpRegistry::discover(const std::string& server_id, const std::vector<std::string>& agent_ids) {
    ServerRow row;
    try {
        row = loadServer(server_id);
    } catch (const McpUnavailableError&) {
        return;  // uninstalled meanwhile
    }
    setStatus(server_id, "discovering-tools", std::nullopt);
    try {
        std::shared_ptr<McpClient> client;
        // A local server speaking streamable HTTP needs a moment before it listens: retry while it runs.
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (!client) {
            try {
                client = _connections->client(server_id);
            } catch (const McpUnavailableError&) {
                auto orchestrator = currentOrchestrator();
                auto status =
                    orchestrator && row.serverType == "local"
                        ? orchestrator->status(server_id)
                        : sdk::Result<sdk::McpServerStatus>(sdk::fail(sdk::ErrorCode::NotFound, ""));
                bool listening = status.ok() && status.value().state == sdk::McpServerState::Running &&
                                 !status.value().endpoint_url.empty();
                if (!listening || std::chrono::steady_clock::now() > deadline || stopping()) throw;
                std::unique_lock lock(_mutex);
                _wake.wait_for(lock, std::chrono::milliseconds(500), [this] { return _stopping; });
            }
        }
        auto tools = client->listTools(_discoveryTimeoutMs);
        std::string prefix = toolPrefix(row.catalogName.empty() ? row.name : row.catalogName);
        json names = json::array();
        _db.transaction([&](db::Connection& c) {
            for (const auto& tool : tools) {
                std::string name = prefix + tool["name"].get<std::string>();
                names.push_back(name);
                json parameters = tool.contains("inputSchema") && tool["inputSchema"].is_object()
                                      ? tool["inputSchema"]
                                      : json::object();
                db::Value description = tool.contains("description") && tool["description"].is_string()
                                            ? db::Value(tool["description"].get<std::string>())
                                            : std::nullopt;
                c.execute(
                    "INSERT INTO tools (catalog_id, mcp_server_id, name, description, parameters) "
                    "VALUES ($1::uuid, $2::uuid, $3, $4, $5::jsonb) "
                    "ON CONFLICT (catalog_id, name) WHERE agent_id IS NULL DO UPDATE SET "
                    "mcp_server_id = EXCLUDED.mcp_server_id, description = EXCLUDED.description, "
                    "parameters = EXCLUDED.parameters, updated_at = now()",
                    {row.catalogId, server_id, name, description, parameters.dump()});
            }
            // Tools the server no longer offers go away (their assignments and policies with them).
            c.execute(
                "DELETE FROM tools WHERE catalog_id = $1::uuid AND agent_id IS NULL AND "
                "name NOT IN (SELECT jsonb_array_elements_text($2::jsonb))",
                {row.catalogId, names.dump()});
            for (const auto& agent : agent_ids)
                c.execute(
                    "INSERT INTO agent_tools (agent_id, tool_id) SELECT $1::uuid, t.id FROM tools t "
                    "WHERE t.catalog_id = $2::uuid AND t.agent_id IS NULL ON CONFLICT (agent_id, tool_id) DO "
                    "NOTHING",
                    {agent, row.catalogId});
            return 0;
        });
        setStatus(server_id, "success", std::nullopt);
        log().information("MCP server " + row.name + ": " + std::to_string(tools.size()) +
                          " tools discovered");
        if (_onToolsChanged) _onToolsChanged();
    } catch (const std::exception& error) {
        std::string message = std::string("Failed to discover tools: ") + error.what();
        auto orchestrator = currentOrchestrator();
        if (row.serverType == "local" && orchestrator) {
            auto tail = orchestrator->logs(server_id, 20);
            if (tail.ok() && !tail.value().empty())
                message += "\nLast output of the server:\n" + tail.value();
        }
        _connections->drop(server_id);
        try {
            setStatus(server_id, "error", message);
        } catch (const std::exception&) {
        }
        log().warning("MCP server " + row.name + ": " + message);
    }
}

void McpRegistry::install(const std::string& server_id, const std::vector<std::string>& agent_ids) {
    ServerRow row = loadServer(server_id);
    if (row.serverType == "remote") {
        discover(server_id, agent_ids);
        return;
    }
    if (startLocal(row)) enqueue([this, server_id, agent_ids] { discover(server_id, agent_ids); });
}

void McpRegistry::uninstall(const std::string& server_id) {
    _connections->drop(server_id);
    if (auto orchestrator = currentOrchestrator()) {
        auto stopped = orchestrator->stop(server_id);
        if (!stopped.ok() && stopped.error().code != sdk::ErrorCode::NotFound)
            log().warning("MCP server " + server_id + " did not stop cleanly: " + stopped.error().message);
    }
}

std::string McpRegistry::restart(const std::string& server_id) {
    ServerRow row = loadServer(server_id);
    _connections->drop(server_id);
    if (row.serverType == "local") {
        auto orchestrator = currentOrchestrator();
        if (!orchestrator) throw McpUnavailableError("local MCP servers cannot run: " + _choice.error);
        auto spec = buildSpec(row);
        setStatus(server_id, "pending", std::nullopt);
        auto restarted = orchestrator->restart(spec);
        if (!restarted.ok()) {
            setStatus(server_id, "error", "Failed to restart MCP server: " + restarted.error().message);
            throw McpUnavailableError("Failed to restart MCP server '" + row.name +
                                      "': " + restarted.error().message);
        }
    }
    enqueue([this, server_id] { discover(server_id, {}); });
    return "MCP server '" + row.name + "' restarted";
}

ServerLogs McpRegistry::logs(const std::string& server_id, int lines) {
    ServerRow row = loadServer(server_id);
    if (row.serverType != "local")
        throw McpUnavailableError("MCP server '" + row.name + "' is remote: it has no logs here");
    auto orchestrator = currentOrchestrator();
    if (!orchestrator) throw McpUnavailableError("local MCP servers cannot run: " + _choice.error);
    auto text = orchestrator->logs(server_id, lines);
    if (!text.ok())
        throw McpUnavailableError("no logs for MCP server '" + row.name + "': " + text.error().message);
    auto status = orchestrator->status(server_id);
    ServerLogs out;
    out.logs = text.value();
    out.containerName = status.ok() ? status.value().runtime_name : row.name;
    out.namespaceName = _choice.name;
    out.command = "GET /api/mcp_server/" + server_id + "/logs?lines=" + std::to_string(lines);
    return out;
}

}  // namespace archestra::mcp
