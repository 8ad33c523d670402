// Platform: the objects start-up builds, owned in one place and torn down in reverse order.
#pragma once

#include "core/app/Readiness.h"
#include "core/config/Settings.h"
#include "core/http/Dispatcher.h"
#include "core/http/HttpListener.h"
#include "core/http/Router.h"

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace archestra::db {
class Database;
class EmbeddedPostgres;
}  // namespace archestra::db
namespace archestra::auth {
class AuthService;
}  // namespace archestra::auth
namespace archestra::proxy {
class ProxyModule;
}  // namespace archestra::proxy
namespace archestra::plugins {
class PluginManager;
class HostServices;
}  // namespace archestra::plugins
namespace archestra::secrets {
class SecretStore;
}  // namespace archestra::secrets
namespace archestra::mcp {
class ToolExecutor;
class McpRegistry;
}  // namespace archestra::mcp

namespace archestra::telemetry {
class TelemetryModule;
}  // namespace archestra::telemetry

namespace archestra::gateway {
class McpGateway;
}  // namespace archestra::gateway

namespace archestra::app {

/// Filled by the subsystems in start-up order; read by later subsystems and route modules.
struct Platform {
    Platform();
    ~Platform();  // out of line: members are forward-declared here
    Platform(const Platform&) = delete;
    Platform& operator=(const Platform&) = delete;

    config::Settings settings;
    Readiness readiness;

    std::unique_ptr<plugins::HostServices> host;
    std::unique_ptr<plugins::PluginManager> plugins;

    std::unique_ptr<db::EmbeddedPostgres> embeddedPostgres;
    std::unique_ptr<db::Database> database;
    std::atomic<bool> databaseReady{false};  ///< connected, migrated and seeded
    std::string databaseDescription;         ///< redacted URL or "embedded (...)" for logs

    std::string authSecret;
    /// Authenticator of the API and UI listeners; sessions, API keys and the permission table (core/auth).
    std::shared_ptr<auth::AuthService> auth;

    /// LLM proxy: upstream pool, profile cache (call proxy->cache().invalidate() after writing profiles,
    /// tools, policies, prices, limits or optimization rules), tool discovery, interaction log.
    std::shared_ptr<proxy::ProxyModule> proxy;
    /// Metrics (/metrics on 9050), traces and analytics (core/telemetry); ActiveSpan for modules' own spans.
    std::shared_ptr<telemetry::TelemetryModule> telemetry;
    /// Secret values (tokens, MCP env secrets, OAuth client secrets) in the active secrets backend
    /// (core/secrets).
    std::shared_ptr<secrets::SecretStore> secrets;
    /// Calls tools on installed MCP servers (core/mcp); used by the MCP gateway (core/gateway).
    std::shared_ptr<mcp::ToolExecutor> toolExecutor;
    /// MCP gateway /v1/mcp (core/gateway): sessions, guardrails on tool calls, built-in tools.
    std::shared_ptr<gateway::McpGateway> gateway;
    /// MCP registry runtime (core/mcp): orchestrator, installs, tool discovery; toolExecutor is its
    /// connections.
    std::shared_ptr<mcp::McpRegistry> mcpRegistry;
    /// Run before the listeners stop: end long-lived streams (MCP gateway GET streams) so the listeners'
    /// grace period is not spent waiting for them.
    /// Set when SIGTERM (or the end of main) starts the shutdown: /ready answers 503 from then on.
    std::atomic<bool> stopping{false};
    std::vector<std::function<void()>> stoppingHooks;
    /// Run in reverse order once the listeners have stopped, before the database closes (log flush).
    std::vector<std::function<void()>> shutdownHooks;

    http::Router apiRouter;      ///< 9000, and 3000 in front of the static UI
    http::Router metricsRouter;  ///< 9050
    std::unique_ptr<http::Dispatcher> apiDispatcher;
    std::unique_ptr<http::Dispatcher> uiDispatcher;
    std::unique_ptr<http::Dispatcher> metricsDispatcher;
    std::vector<std::unique_ptr<http::HttpListener>> listeners;
};

}  // namespace archestra::app
