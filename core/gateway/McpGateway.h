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
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
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
struct Principal;
}  // namespace archestra::http
namespace archestra::mcp {
class ToolExecutor;
}
namespace archestra::telemetry {
class ActiveSpan;
class ExportPipeline;
}  // namespace archestra::telemetry
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
    /// Spans of gateway calls (mcp.initialize, mcp.tools/list, mcp.tools/call); null or disabled: none.
    telemetry::ExportPipeline* tracing = nullptr;
    /// GET streams send an SSE comment this often: it keeps proxies from closing an idle stream and finds
    /// clients that went away (ARCHESTRA_MCP_GATEWAY_SSE_KEEPALIVE_MS).
    std::chrono::milliseconds sseKeepAlive{15000};
    /// At most this many GET streams at once: each holds an HTTP worker thread (a quarter of the pool).
    int maxStreams = 64;

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

    /// Ends every open GET stream now and refuses new ones; called before the listeners stop, so shutdown
    /// does not wait out the streams.
    void stopStreams();
    int openStreams() const;

    /// In-process client for the Admin UI chat (core/chat): the same tools/list and tools/call as POST
    /// /v1/mcp/{profileId} with the user's API key (guardrails, limits, the MCP tool-call log, the session's
    /// taint), without an HTTP round trip. Opens a session for `user` on profile `profileId`; nullopt when
    /// the profile does not exist or the user may not use it (another organisation, no profile:read).
    std::optional<std::string> openUserSession(const std::string& profileId, const http::Principal& user);
    /// One JSON-RPC request ({id, method, params}) in a session opened above; a JSON-RPC error object when
    /// the session expired or the profile is gone.
    nlohmann::json userRequest(const std::string& sessionId, const std::string& profileId,
                               const http::Principal& user, const nlohmann::json& request);
    void closeUserSession(const std::string& sessionId, const std::string& profileId);

  private:
    std::optional<Caller> userCaller(const proxy::Profile& profile, const http::Principal& user);
    void handlePost(http::Context& context, bool legacy);
    void handleGet(http::Context& context, bool legacy);
    /// The server-to-client SSE stream of one session (GET with Accept: text/event-stream).
    void streamSession(http::Context& context, const proxy::Profile& profile);
    /// Wakes the session's GET stream so it ends (after its session was deleted here).
    void closeStream(const std::string& sessionId);
    void handleDelete(http::Context& context, bool legacy);
    void handleDeleteAll(http::Context& context, bool legacy);

    /// Host/Origin check, profile lookup and authentication; answers the error itself and returns false.
    bool admit(http::Context& context, bool legacy, std::shared_ptr<const proxy::Profile>& profile,
               Caller& caller);
    std::optional<Caller> authenticate(http::Context& context, bool legacy, const std::string& bearer,
                                       const proxy::Profile& profile);

    nlohmann::json dispatch(const nlohmann::json& request, const proxy::Profile& profile,
                            const Caller& caller, const std::string& sessionId);
    nlohmann::json dispatchTraced(const nlohmann::json& request, const proxy::Profile& profile,
                                  const Caller& caller, const std::string& sessionId,
                                  telemetry::ActiveSpan* span);
    nlohmann::json listTools(const proxy::Profile& profile);
    nlohmann::json callTool(const nlohmann::json& id, const nlohmann::json& params,
                            const proxy::Profile& profile, const Caller& caller, const std::string& sessionId,
                            telemetry::ActiveSpan* span);

    GatewayOptions _options;
    SessionStore _sessions;
    ToolCallLog _log;

    mutable std::mutex _streamMutex;
    std::condition_variable _streamWake;
    bool _stopping = false;
    std::map<std::string, std::string> _streamingSessions;  ///< session -> profile, with an open GET stream
    std::set<std::string> _closedSessions;                  ///< deleted while streaming: their stream ends
};

}  // namespace archestra::gateway
