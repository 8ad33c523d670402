// Host-side wrappers around plugin instances: catch every exception at the boundary, keep the library loaded.
#pragma once

#include <Poco/Logger.h>
#include <atomic>
#include <boost/dll/shared_library.hpp>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <utility>

#include "archestra/sdk/plugin.h"

namespace archestra::plugins {

/// One loaded plugin as instances and factories see it. Shared by the manager's registries and every
/// instance, so the library is unloaded only after the last of them is gone. Immutable after load;
/// thread-safe.
struct LoadedPlugin {
    std::shared_ptr<boost::dll::shared_library> library;  ///< null for built-in factories
    std::string key;                                      ///< "<kind>.<name>"
    std::string file;                                     ///< library path, or "(built-in)"
    std::unique_ptr<sdk::Host> host;                      ///< the host as this plugin sees it (log prefix)
    /// Exceptions that escaped this plugin's calls (each a plugin bug): counted for the log's rate limit.
    std::atomic<std::uint64_t> escapedExceptions{0};
};

/// A Host that forwards to the platform's and prefixes log lines with the plugin's key.
class PluginHostView : public sdk::Host, private sdk::Logger {
  public:
    PluginHostView(sdk::Host& host, std::string key) : _host(host), _prefix("[" + std::move(key) + "] ") {}
    sdk::Logger& logger() noexcept override { return *this; }
    sdk::SqlExecutor* sql() noexcept override { return _host.sql(); }
    sdk::HttpClient* http() noexcept override { return _host.http(); }
    std::string dataDirectory() const override { return _host.dataDirectory(); }
    sdk::Result<std::string> lookupSecret(const std::string& id) override { return _host.lookupSecret(id); }

  private:
    void log(sdk::LogLevel level, const std::string& message) noexcept override {
        try {
            _host.logger().log(level, _prefix + message);
        } catch (...) {
        }
    }
    sdk::Host& _host;
    std::string _prefix;
};

/// Logs an exception that escaped a plugin call as a warning: the 1st, 10th, 100th, ... of the plugin's, so a
/// plugin that throws from every call is visible in the log without flooding it.
inline void logEscapedException(LoadedPlugin& plugin, const std::string& message) noexcept {
    try {
        std::uint64_t n = ++plugin.escapedExceptions;
        std::uint64_t power = 1;
        while (power * 10 <= n) power *= 10;
        if (n != power) return;
        Poco::Logger::get("plugins").warning(message + " (" + std::to_string(n) +
                                             (n == 1 ? " exception" : " exceptions") + " from " + plugin.key +
                                             " so far; plugin calls must return errors, not throw)");
    } catch (...) {
    }
}

/// Runs `call` (a plugin call) and turns any exception into an Internal error naming the plugin and
/// operation; logs it (rate-limited).
template <class R, class F>
R guardedCall(LoadedPlugin& plugin, const char* operation, F&& call) noexcept {
    std::string message;
    try {
        return call();
    } catch (const std::exception& e) {
        message = "plugin '" + plugin.key + "' threw from " + operation + ": " + e.what();
    } catch (...) {
        message = "plugin '" + plugin.key + "' threw a non-standard exception from " + operation;
    }
    logEscapedException(plugin, message);
    return sdk::fail(sdk::ErrorCode::Internal, message);
}

// Member order matters in every wrapper: `_plugin` (holding the library) is declared first so it is destroyed
// after `_inner`, whose destructor is plugin code.

class GuardedSecrets final : public sdk::SecretsBackend {
  public:
    GuardedSecrets(std::shared_ptr<LoadedPlugin> plugin, std::unique_ptr<sdk::SecretsBackend> inner)
        : _plugin(std::move(plugin)), _inner(std::move(inner)) {}
    sdk::Result<sdk::SecretRecord> create(const std::string& name, const std::string& value_json) override {
        return guardedCall<sdk::Result<sdk::SecretRecord>>(*_plugin, "create",
                                                           [&] { return _inner->create(name, value_json); });
    }
    sdk::Result<sdk::SecretRecord> get(const std::string& id) override {
        return guardedCall<sdk::Result<sdk::SecretRecord>>(*_plugin, "get", [&] { return _inner->get(id); });
    }
    sdk::Result<sdk::SecretRecord> update(const std::string& id, const std::string& value_json) override {
        return guardedCall<sdk::Result<sdk::SecretRecord>>(*_plugin, "update",
                                                           [&] { return _inner->update(id, value_json); });
    }
    sdk::Result<bool> remove(const std::string& id) override {
        return guardedCall<sdk::Result<bool>>(*_plugin, "remove", [&] { return _inner->remove(id); });
    }
    sdk::Result<sdk::SecretsConnectivity> checkConnectivity() override {
        return guardedCall<sdk::Result<sdk::SecretsConnectivity>>(
            *_plugin, "checkConnectivity", [&] { return _inner->checkConnectivity(); });
    }
    sdk::Result<sdk::SecretsDescription> describe() override {
        return guardedCall<sdk::Result<sdk::SecretsDescription>>(*_plugin, "describe",
                                                                 [&] { return _inner->describe(); });
    }

  private:
    std::shared_ptr<LoadedPlugin> _plugin;
    std::unique_ptr<sdk::SecretsBackend> _inner;
};

class GuardedSso final : public sdk::SsoProvider {
  public:
    GuardedSso(std::shared_ptr<LoadedPlugin> plugin, std::unique_ptr<sdk::SsoProvider> inner)
        : _plugin(std::move(plugin)), _inner(std::move(inner)) {}
    sdk::Result<sdk::LoginStart> beginLogin(const sdk::LoginRequest& request) override {
        return guardedCall<sdk::Result<sdk::LoginStart>>(*_plugin, "beginLogin",
                                                         [&] { return _inner->beginLogin(request); });
    }
    sdk::Result<sdk::Identity> completeLogin(const std::map<std::string, std::string>& params,
                                             const std::string& state_blob) override {
        return guardedCall<sdk::Result<sdk::Identity>>(
            *_plugin, "completeLogin", [&] { return _inner->completeLogin(params, state_blob); });
    }

  private:
    std::shared_ptr<LoadedPlugin> _plugin;
    std::unique_ptr<sdk::SsoProvider> _inner;
};

class GuardedChannel final : public sdk::McpChannel {
  public:
    GuardedChannel(std::shared_ptr<LoadedPlugin> plugin, std::unique_ptr<sdk::McpChannel> inner)
        : _plugin(std::move(plugin)), _inner(std::move(inner)) {}
    sdk::Status send(const std::string& json_line) override {
        return guardedCall<sdk::Status>(*_plugin, "McpChannel::send",
                                        [&] { return _inner->send(json_line); });
    }
    sdk::Result<std::optional<std::string>> receive(std::int64_t timeout_ms) override {
        return guardedCall<sdk::Result<std::optional<std::string>>>(
            *_plugin, "McpChannel::receive", [&] { return _inner->receive(timeout_ms); });
    }
    void close() noexcept override {
        try {
            _inner->close();
        } catch (...) {
        }
    }

  private:
    std::shared_ptr<LoadedPlugin> _plugin;
    std::unique_ptr<sdk::McpChannel> _inner;
};

class GuardedOrchestrator final : public sdk::Orchestrator {
  public:
    GuardedOrchestrator(std::shared_ptr<LoadedPlugin> plugin, std::unique_ptr<sdk::Orchestrator> inner)
        : _plugin(std::move(plugin)), _inner(std::move(inner)) {}
    sdk::Result<sdk::McpServerStatus> start(const sdk::McpServerSpec& spec) override {
        return guardedCall<sdk::Result<sdk::McpServerStatus>>(*_plugin, "start",
                                                              [&] { return _inner->start(spec); });
    }
    sdk::Status stop(const std::string& server_id) override {
        return guardedCall<sdk::Status>(*_plugin, "stop", [&] { return _inner->stop(server_id); });
    }
    sdk::Result<sdk::McpServerStatus> restart(const sdk::McpServerSpec& spec) override {
        return guardedCall<sdk::Result<sdk::McpServerStatus>>(*_plugin, "restart",
                                                              [&] { return _inner->restart(spec); });
    }
    sdk::Result<sdk::McpServerStatus> status(const std::string& server_id) override {
        return guardedCall<sdk::Result<sdk::McpServerStatus>>(*_plugin, "status",
                                                              [&] { return _inner->status(server_id); });
    }
    sdk::Result<std::string> logs(const std::string& server_id, int lines) override {
        return guardedCall<sdk::Result<std::string>>(*_plugin, "logs",
                                                     [&] { return _inner->logs(server_id, lines); });
    }
    sdk::Result<std::unique_ptr<sdk::McpChannel>> connect(const std::string& server_id) override {
        return guardedCall<sdk::Result<std::unique_ptr<sdk::McpChannel>>>(
            *_plugin, "connect", [&]() -> sdk::Result<std::unique_ptr<sdk::McpChannel>> {
                auto channel = _inner->connect(server_id);
                if (!channel.ok()) return channel.error();
                if (!channel.value())
                    return sdk::fail(sdk::ErrorCode::Internal, "plugin '" + _plugin->key + "' connect('" +
                                                                   server_id + "') returned no channel");
                return std::unique_ptr<sdk::McpChannel>(
                    std::make_unique<GuardedChannel>(_plugin, std::move(channel).value()));
            });
    }

  private:
    std::shared_ptr<LoadedPlugin> _plugin;
    std::unique_ptr<sdk::Orchestrator> _inner;
};

class GuardedTelemetry final : public sdk::TelemetryExporter {
  public:
    GuardedTelemetry(std::shared_ptr<LoadedPlugin> plugin, std::unique_ptr<sdk::TelemetryExporter> inner)
        : _plugin(std::move(plugin)), _inner(std::move(inner)) {}
    sdk::Status exportSpans(const std::vector<sdk::Span>& spans) override {
        return guardedCall<sdk::Status>(*_plugin, "exportSpans", [&] { return _inner->exportSpans(spans); });
    }
    sdk::Status captureEvents(const std::vector<sdk::AnalyticsEvent>& events) override {
        return guardedCall<sdk::Status>(*_plugin, "captureEvents",
                                        [&] { return _inner->captureEvents(events); });
    }
    sdk::Status flush(std::int64_t timeout_ms) override {
        return guardedCall<sdk::Status>(*_plugin, "flush", [&] { return _inner->flush(timeout_ms); });
    }

  private:
    std::shared_ptr<LoadedPlugin> _plugin;
    std::unique_ptr<sdk::TelemetryExporter> _inner;
};

}  // namespace archestra::plugins
