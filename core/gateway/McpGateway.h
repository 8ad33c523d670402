// The MCP gateway: /v1/mcp/{profileId} (and the legacy /v1/mcp) speaking MCP streamable HTTP. Aggregates the
// profile's MCP server tools and the built-in archestra__* tools, routes tools/call to the server through
// core/mcp's ToolExecutor, and applies the LLM proxy's guardrails (core/policy) to every call: invocation
// policies on the arguments, trusted-data policies on the result, and taint kept per MCP session.
#pragma once

#include "core/gateway/Caller.h"
#include "core/gateway/JsonRpc.h"
#include "core/gateway/SessionStore.h"
#include "core/gateway/ToolCallLog.h"

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace archestra::auth {
class AuthService;
}
namespace archestra::config {
class Settings;
}
namespace archestra::db {
class Database;
}
namespace archestra::http {
class Context;
class Router;
}  // namespace archestra::http
namespace archestra::mcp {
class ToolExecutor;
}
namespace archestra::proxy {
class LimitEnforcer;
class ProfileCache;
struct Profile;
}  // namespace archestra::proxy

namespace archestra::gateway {

struct GatewayOptions {
    db::Database* database = nullptr;
    std::shared_ptr<auth::AuthService> auth;  ///< API keys and the permission table
    /// Profiles with their policy snapshot (the proxy's cache, so both paths judge with the same data).
    proxy::ProfileCache* profiles = nullptr;
    /// Read on every call: the registry may set it after the gateway's routes are registered. May be null.
    std::function<std::shared_ptr<mcp::ToolExecutor>()> toolExecutor;
    /// Validates `archestra_` team/organisation tokens; unset: core/auth's team token store.
    std::function<std::optional<TokenIdentity>(const std::string& token)> teamTokens;
    /// tool_calls / mcp_server_calls limits (checked before a server call, counted after); null: none.
    proxy::LimitEnforcer* limits = nullptr;
    HostPolicy hosts;
    std::chrono::milliseconds sessionIdle{30 * 60 * 1000};
    std::int64_t toolTimeout_ms = 60000;
    std::function<void()> onPolicyChange;

    /// Hosts (ARCHESTRA_API_BASE_URL, the frontend URL, ARCHESTRA_MCP_GATEWAY_ALLOWED_HOSTS) and the session
    /// idle time (ARCHESTRA_MCP_GATEWAY_SESSION_IDLE_MS); the caller sets the collaborators.
    static GatewayOptions fromSettings(const config::Settings& settings);
};

class McpGateway {
  public:
    explicit McpGateway(GatewayOptions options);
    ~McpGateway();

    /// /v1/mcp routes (hidden from the OpenAPI document, like the proxy's) and /api/mcp-tool-calls.
    void registerRoutes(http::Router& router);

    SessionStore& sessions() { return _sessions; }

  private:
    void handlePost(http::Context& context, bool legacy);
    void handleGet(http::Context& context, bool legacy);
    void handleDelete(http::Context& context, bool legacy);
    void handleDeleteAll(http::Context& context, bool legacy);

    /// Host/Origin check, profile lookup and authentication; answers the error itself and returns false.
    bool admit(http::Context& context, bool legacy, std::shared_ptr<const proxy::Profile>& profile,
               Caller& caller);
    std::optional<Caller> authenticate(http::Context& context, bool legacy, const std::string& bearer,
                                       const proxy::Profile& profile);

    nlohmann::json dispatch(const nlohmann::json& request, const proxy::Profile& profile,
                            const Caller& caller, const std::string& sessionId);
    nlohmann::json listTools(const proxy::Profile& profile);
    nlohmann::json callTool(const nlohmann::json& id, const nlohmann::json& params,
                            const proxy::Profile& profile, const Caller& caller,
                            const std::string& sessionId);

    GatewayOptions _options;
    SessionStore _sessions;
    ToolCallLog _log;
};

}  // namespace archestra::gateway
