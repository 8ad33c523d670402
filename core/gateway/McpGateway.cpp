// The MCP gateway's HTTP side (see McpGateway.h): transport checks, sessions, JSON-RPC dispatch, and the
// guarded tools/call path.
#include "core/gateway/McpGateway.h"

#include "core/auth/AuthService.h"
#include "core/auth/TeamTokens.h"
#include "core/config/Settings.h"
#include "core/db/Database.h"
#include "core/gateway/BuiltinTools.h"
#include "core/http/ApiError.h"
#include "core/http/Context.h"
#include "core/http/Router.h"
#include "core/mcp/ToolExecutor.h"
#include "core/policy/ToolInvocation.h"
#include "core/policy/TrustedData.h"
#include "core/proxy/LimitEnforcer.h"
#include "core/proxy/ProfileCache.h"
#include "core/telemetry/Tracing.h"

#include <Poco/Logger.h>
#include <Poco/Net/HTTPResponse.h>

#include <algorithm>

namespace archestra::gateway {

namespace {

using nlohmann::json;

Poco::Logger& logger() {
    return Poco::Logger::get("archestra.gateway");
}

constexpr const char* kSessionHeader = "Mcp-Session-Id";
constexpr const char* kServerName = "mcp-gateway";

/// Transport-level answers (before any JSON-RPC id is known) are JSON-RPC errors with id null, as the
/// original and the MCP SDK server send them.
void sendRpcError(http::Context& context, int status, int code, const std::string& message) {
    context.sendJson(status, rpcError(nullptr, code, message));
}

std::string bearerOf(http::Context& context) {
    std::string value = context.header("Authorization");
    if (value.size() > 7 && (value.rfind("Bearer ", 0) == 0 || value.rfind("bearer ", 0) == 0))
        value = value.substr(7);
    while (!value.empty() && value.front() == ' ') value.erase(value.begin());
    while (!value.empty() && value.back() == ' ') value.pop_back();
    return value;
}

/// One MCP server tool assigned to a profile, with everything routing and the guardrails need.
struct AssignedTool {
    std::string exposedName;  ///< what the client sees: <slug>__<tool>
    std::string storedName;   ///< tools.name: the key of the profile's policy snapshot
    std::string serverToolName;
    std::string serverName;  ///< catalog or server name (the log's mcp_server_name)
    std::string targetServerId;
    std::string description;
    json inputSchema;
    bool dynamicCredential = false;  ///< agent_tools.use_dynamic_team_credential: server chosen per caller
    std::string catalogId;
};

std::vector<AssignedTool> assignedTools(db::Database& database, const std::string& profileId) {
    // A tool's server: the assignment's execution or credential source, else the tool's own server, else
    // the oldest installation of its catalog entry.
    auto rows = database.query(
        "SELECT t.name, COALESCE(t.description, ''), t.parameters::text, COALESCE(c.name, s.name, ''), "
        "COALESCE(at.execution_source_mcp_server_id, at.credential_source_mcp_server_id, t.mcp_server_id, "
        "(SELECT s2.id FROM mcp_server s2 WHERE s2.catalog_id = t.catalog_id ORDER BY s2.created_at, s2.id "
        "LIMIT 1))::text, at.use_dynamic_team_credential, COALESCE(t.catalog_id, s.catalog_id)::text "
        "FROM agent_tools at JOIN tools t ON t.id = at.tool_id "
        "LEFT JOIN internal_mcp_catalog c ON c.id = t.catalog_id "
        "LEFT JOIN mcp_server s ON s.id = t.mcp_server_id "
        "WHERE at.agent_id = $1::uuid AND (t.catalog_id IS NOT NULL OR t.mcp_server_id IS NOT NULL) "
        "AND t.name NOT LIKE 'archestra\\_\\_%' ORDER BY t.name",
        {profileId});
    std::vector<AssignedTool> tools;
    for (const auto& row : rows) {
        AssignedTool tool;
        tool.storedName = row.str(0);
        tool.description = row.str(1);
        try {
            tool.inputSchema = json::parse(row.str(2, "{}"));
        } catch (const json::exception&) {
            tool.inputSchema = json::object();
        }
        if (!tool.inputSchema.is_object() || tool.inputSchema.empty())
            tool.inputSchema = {{"type", "object"}};
        if (!tool.inputSchema.contains("type")) tool.inputSchema["type"] = "object";
        tool.serverName = row.str(3);
        std::string slug = slugify(tool.serverName);
        tool.exposedName = slug.empty() ? tool.storedName : exposedToolName(slug, tool.storedName);
        tool.serverToolName = slug.empty() ? tool.storedName : serverToolName(slug, tool.storedName);
        tool.targetServerId = row.str(4);
        tool.dynamicCredential = row.str(5) == "t";
        tool.catalogId = row.str(6);
        tools.push_back(std::move(tool));
    }
    return tools;
}

/// With dynamic team credentials an assignment names no installation: each caller's call runs on an
/// installation of the tool's catalog entry that carries *their* credentials. In order:
///  - an API key's user: their own installation, else one shared with a team of theirs that has the profile,
///    else one owned by a member of such a team;
///  - a team token: an installation shared with the token's team, else one owned by a member of that team;
///  - the legacy profile-id bearer: one shared with, else owned by a member of, a team of the profile;
///  - the organisation token: the first installation (it acts for the whole organisation).
/// Nothing found: nullopt, and the call fails saying whose credentials are missing, rather than quietly
/// using someone else's.
std::optional<std::string> dynamicCredentialServer(db::Database& database, const std::string& catalogId,
                                                   const Caller& caller, const proxy::Profile& profile) {
    if (catalogId.empty()) return std::nullopt;
    const std::string base = "SELECT s.id::text FROM mcp_server s WHERE s.catalog_id = $1::uuid AND ";
    const std::string order = " ORDER BY s.created_at, s.id LIMIT 1";
    auto first = [&](const std::string& condition,
                     std::vector<db::Value> params) -> std::optional<std::string> {
        params.insert(params.begin(), catalogId);
        auto rows = database.query(base + condition + order, params);
        if (rows.empty()) return std::nullopt;
        return rows[0].str(0);
    };
    const std::string sharedWithTeam =
        "EXISTS (SELECT 1 FROM mcp_server_team st WHERE st.mcp_server_id = s.id AND st.team_id = $2)";
    const std::string ownedByTeamMember =
        "EXISTS (SELECT 1 FROM team_member m WHERE m.team_id = $2 AND m.user_id = s.owner_id)";
    std::vector<std::string> teams;
    if (caller.kind == Caller::Kind::OrganizationToken) return first("true", {});
    if (caller.kind == Caller::Kind::TeamToken && caller.teamId) {
        teams = {*caller.teamId};
    } else if (caller.kind == Caller::Kind::ApiKey && caller.user) {
        if (auto own = first("s.owner_id = $2", {caller.user->userId})) return own;
        for (const auto& team : profile.teamIds)
            if (!database
                     .query("SELECT 1 FROM team_member WHERE team_id = $1 AND user_id = $2",
                            {team, caller.user->userId})
                     .empty())
                teams.push_back(team);
    } else {
        teams = profile.teamIds;
    }
    for (const auto& team : teams)
        if (auto shared = first(sharedWithTeam, {team})) return shared;
    for (const auto& team : teams)
        if (auto owned = first(ownedByTeamMember, {team})) return owned;
    return std::nullopt;
}

/// What the trusted-data policies look at in a CallToolResult: structuredContent when given, else the text
/// of a single text block (parsed as JSON when it is JSON, as the proxy does with tool messages), else the
/// content array.
json policyView(const json& result) {
    if (!result.is_object()) return result;
    if (auto it = result.find("structuredContent"); it != result.end() && !it->is_null()) return *it;
    auto content = result.find("content");
    if (content == result.end() || !content->is_array()) return result;
    std::vector<std::string> texts;
    for (const auto& block : *content)
        if (block.is_object() && block.value("type", "") == "text" && block.contains("text") &&
            block["text"].is_string())
            texts.push_back(block["text"].get<std::string>());
    if (texts.size() == 1 && content->size() == 1) {
        json parsed = json::parse(texts[0], nullptr, false);
        return parsed.is_discarded() ? json(texts[0]) : parsed;
    }
    return *content;
}

const char* callerKind(const Caller& caller) {
    switch (caller.kind) {
        case Caller::Kind::OrganizationToken:
            return "organization_token";
        case Caller::Kind::TeamToken:
            return "team_token";
        case Caller::Kind::ApiKey:
            return "api_key";
        case Caller::Kind::ProfileId:
            return "profile_id";
        default:
            return "invalid";
    }
}

/// A span for one gateway JSON-RPC request, with the profile attributes the LLM spans carry
/// (reference-proxy.md §5) and route.category "mcp-gateway", which the original defines but never sets.
void startSpan(std::optional<telemetry::ActiveSpan>& span, telemetry::ExportPipeline* tracing,
               const std::string& method, const proxy::Profile& profile, const Caller& caller,
               const std::string& sessionId) {
    if (!tracing || !tracing->tracingEnabled()) return;
    span.emplace(tracing, "mcp." + method);
    span->setAttribute("route.category", std::string("mcp-gateway"));
    span->setAttribute("mcp.method", method);
    if (!sessionId.empty()) span->setAttribute("mcp.session.id", sessionId);
    span->setAttribute("mcp.auth", std::string(callerKind(caller)));
    span->setAttribute("profile.id", profile.id);
    span->setAttribute("profile.name", profile.name);
    span->setAttribute("agent.id", profile.id);
    span->setAttribute("agent.name", profile.name);
    for (const auto& [key, value] : profile.labels) {
        span->setAttribute("profile." + key, value);
        span->setAttribute("agent." + key, value);
    }
}

/// Marks the span failed for a JSON-RPC error or an isError tool result.
void finishSpan(std::optional<telemetry::ActiveSpan>& span, const json& response) {
    if (!span) return;
    if (response.contains("error")) {
        span->setError(response["error"].value("message", std::string("JSON-RPC error")));
    } else if (const json* result = response.contains("result") ? &response["result"] : nullptr;
               result && result->is_object() && result->value("isError", false)) {
        std::string message = "tool call failed";
        if (result->contains("content") && (*result)["content"].is_array() && !(*result)["content"].empty() &&
            (*result)["content"][0].contains("text") && (*result)["content"][0]["text"].is_string())
            message = (*result)["content"][0]["text"].get<std::string>().substr(0, 200);
        span->setError(message);
    }
    span->end();
}

void addMeta(json& result, const json& archestra) {
    if (!result.is_object()) return;
    if (!result.contains("_meta") || !result["_meta"].is_object()) result["_meta"] = json::object();
    result["_meta"]["archestra"] = archestra;
}

}  // namespace

GatewayOptions GatewayOptions::fromSettings(const config::Settings& settings) {
    GatewayOptions options;
    std::vector<std::string> extra;
    const std::string& list = settings.get("ARCHESTRA_MCP_GATEWAY_ALLOWED_HOSTS");
    for (size_t start = 0; start <= list.size();) {
        size_t comma = list.find(',', start);
        std::string item = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        item.erase(0, item.find_first_not_of(' '));
        item.erase(item.find_last_not_of(' ') + 1);
        if (!item.empty()) extra.push_back(item);
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    options.hosts =
        HostPolicy::fromUrls({settings.get("ARCHESTRA_API_BASE_URL"), settings.frontendUrl()}, extra);
    options.sseKeepAlive =
        std::chrono::milliseconds(std::max(100, settings.getInt("ARCHESTRA_MCP_GATEWAY_SSE_KEEPALIVE_MS")));
    options.maxStreams = std::max(4, settings.getInt("ARCHESTRA_HTTP_MAX_THREADS") / 4);
    if (settings.isSet("ARCHESTRA_MCP_GATEWAY_SESSION_IDLE_MS"))
        options.sessionIdle =
            std::chrono::milliseconds(settings.getInt("ARCHESTRA_MCP_GATEWAY_SESSION_IDLE_MS"));
    return options;
}

McpGateway::McpGateway(GatewayOptions options)
    : _options(std::move(options)),
      _sessions(*_options.database, _options.sessionIdle),
      _log(*_options.database) {
    if (!_options.teamTokens) {
        db::Database* database = _options.database;
        _options.teamTokens = [database](const std::string& token) -> std::optional<TokenIdentity> {
            if (!auth::looksLikeTeamToken(token)) return std::nullopt;
            auto identity = auth::validateTeamToken(*database, token);
            if (!identity) return std::nullopt;
            return TokenIdentity{identity->tokenId, identity->organizationId, identity->teamId,
                                 identity->isOrganizationToken};
        };
    }
}

McpGateway::~McpGateway() {
    stopStreams();
}

void McpGateway::registerRoutes(http::Router& router) {
    auto route = [&](const std::string& method, const std::string& path, const std::string& operationId,
                     const std::string& summary, http::Handler handler) {
        router.add({.method = method,
                    .path = path,
                    .operationId = operationId,
                    .tag = "MCP Gateway",
                    .summary = summary,
                    .access = http::Access::publicRoute(),  // the gateway authenticates its own tokens
                    .hidden = true},
                   std::move(handler));
    };
    route("POST", "/v1/mcp/{profileId}", "mcpGatewayPost", "MCP JSON-RPC messages for one profile",
          [this](http::Context& c) { handlePost(c, false); });
    route("GET", "/v1/mcp/{profileId}", "mcpGatewayGet", "MCP gateway discovery for one profile",
          [this](http::Context& c) { handleGet(c, false); });
    route("DELETE", "/v1/mcp/{profileId}", "mcpGatewayDeleteSession", "End the MCP session of Mcp-Session-Id",
          [this](http::Context& c) { handleDelete(c, false); });
    route("DELETE", "/v1/mcp/sessions/{profileId}", "mcpGatewayDeleteSessions",
          "End every session of a profile", [this](http::Context& c) { handleDeleteAll(c, false); });
    route("POST", "/v1/mcp", "mcpGatewayLegacyPost", "MCP JSON-RPC messages (legacy: bearer = profile id)",
          [this](http::Context& c) { handlePost(c, true); });
    route("GET", "/v1/mcp", "mcpGatewayLegacyGet", "MCP gateway discovery (legacy: bearer = profile id)",
          [this](http::Context& c) { handleGet(c, true); });
    route("DELETE", "/v1/mcp/sessions", "mcpGatewayLegacyDeleteSessions",
          "End every session of the bearer's profile (legacy)",
          [this](http::Context& c) { handleDeleteAll(c, true); });
    registerToolCallRoutes(router, *_options.database);
}

// ---- admission
// ----------------------------------------------------------------------------------------------

bool McpGateway::admit(http::Context& context, bool legacy, std::shared_ptr<const proxy::Profile>& profile,
                       Caller& caller) {
    std::string host = context.header("Host");
    if (!_options.hosts.hostAllowed(host)) {
        sendRpcError(
            context, 403, rpc::kServerError,
            "Forbidden: Host '" + host + "' is not one this platform is served under (DNS rebinding guard)");
        return false;
    }
    std::string origin = context.header("Origin");
    if (!_options.hosts.originAllowed(origin) && !(_options.auth && _options.auth->isTrustedOrigin(origin))) {
        sendRpcError(context, 403, rpc::kServerError,
                     "Forbidden: Origin '" + origin + "' is not allowed to use the MCP gateway");
        return false;
    }
    const std::string unauthorized = "Unauthorized: Invalid token for this profile";
    std::string bearer = bearerOf(context);
    std::string profileId = legacy ? bearer : context.param("profileId");
    if (bearer.empty() || !http::isUuidV4(profileId)) {
        sendRpcError(context, 401, rpc::kServerError, unauthorized);
        return false;
    }
    profile = _options.profiles->findOrRefresh(profileId);
    if (!profile) {
        // Same answer as a wrong token: the gateway does not tell strangers which profiles exist.
        sendRpcError(context, 401, rpc::kServerError, unauthorized);
        return false;
    }
    auto authenticated = authenticate(context, legacy, bearer, *profile);
    if (!authenticated) {
        sendRpcError(context, 401, rpc::kServerError, unauthorized);
        return false;
    }
    caller = std::move(*authenticated);
    return true;
}

std::optional<Caller> McpGateway::authenticate(http::Context& context, bool legacy, const std::string& bearer,
                                               const proxy::Profile& profile) {
    auto roleCaller = [&](Caller::Kind kind, const std::string& role) {
        Caller caller;
        caller.kind = kind;
        caller.role = role;
        caller.organizationId = profile.organizationId;
        caller.permissions = auth::builtInPermissions(role);
        return caller;
    };
    if (legacy) return roleCaller(Caller::Kind::ProfileId, "member");  // admit() matched bearer == profile id
    bool sameOrganization = true;
    if (_options.teamTokens) {
        if (auto identity = _options.teamTokens(bearer)) {
            sameOrganization =
                profile.organizationId.empty() || identity->organizationId == profile.organizationId;
            bool inTeam = identity->isOrganizationToken ||
                          (identity->teamId && std::find(profile.teamIds.begin(), profile.teamIds.end(),
                                                         *identity->teamId) != profile.teamIds.end());
            if (!sameOrganization || !inTeam) return std::nullopt;
            Caller caller = identity->isOrganizationToken
                                ? roleCaller(Caller::Kind::OrganizationToken, "admin")
                                : roleCaller(Caller::Kind::TeamToken, "member");
            caller.organizationId = identity->organizationId;
            caller.tokenId = identity->tokenId;
            caller.teamId = identity->teamId;
            return caller;
        }
    }
    if (_options.auth) {
        // A platform API key (or a signed-in browser session) of a member of the profile's organisation who
        // may read profiles.
        std::optional<http::Principal> principal;
        try {
            principal = _options.auth->authenticate(context);
        } catch (const http::ApiError&) {
            return std::nullopt;
        }
        if (!principal) return std::nullopt;
        return userCaller(profile, *principal);
    }
    return std::nullopt;
}

std::optional<Caller> McpGateway::userCaller(const proxy::Profile& profile, const http::Principal& user) {
    if (!_options.auth) return std::nullopt;
    if (!profile.organizationId.empty() && user.organizationId != profile.organizationId) return std::nullopt;
    if (!_options.auth->hasPermission(user, "profile", "read")) return std::nullopt;
    Caller caller;
    caller.kind = Caller::Kind::ApiKey;
    caller.role = user.role;
    caller.organizationId = user.organizationId;
    caller.permissions = _options.auth->permissionsOf(user.organizationId, user.role);
    caller.user = user;
    return caller;
}

// ---- in-process client (the Admin UI chat)
// ---------------------------------------------------------------------

std::optional<std::string> McpGateway::openUserSession(const std::string& profileId,
                                                       const http::Principal& user) {
    if (!_options.profiles) return std::nullopt;
    auto profile = _options.profiles->findOrRefresh(profileId);
    if (!profile) return std::nullopt;
    auto caller = userCaller(*profile, user);
    if (!caller) return std::nullopt;
    json data = {{"caller", caller->toJson()},
                 {"clientInfo", {{"name", "archestra-chat"}, {"version", ARCHESTRA_VERSION}}}};
    return _sessions.create(profile->id, "2025-06-18", std::move(data)).id;
}

json McpGateway::userRequest(const std::string& sessionId, const std::string& profileId,
                             const http::Principal& user, const json& request) {
    const json id = request.value("id", json(0));
    auto profile = _options.profiles ? _options.profiles->findOrRefresh(profileId) : nullptr;
    if (!profile) return rpcError(id, rpc::kServerError, "Profile " + profileId + " not found");
    auto caller = userCaller(*profile, user);
    if (!caller) return rpcError(id, rpc::kServerError, "Unauthorized: the user may not use this profile");
    if (!_sessions.touch(sessionId, profile->id))
        return rpcError(id, rpc::kServerError, "Bad Request: Invalid or expired session");
    json message = request;
    message["jsonrpc"] = "2.0";
    if (!message.contains("id")) message["id"] = id;
    return dispatch(message, *profile, *caller, sessionId);
}

void McpGateway::closeUserSession(const std::string& sessionId, const std::string& profileId) {
    _sessions.remove(sessionId, profileId);
}

// ---- HTTP methods
// -------------------------------------------------------------------------------------------

void McpGateway::handlePost(http::Context& context, bool legacy) {
    try {
        std::shared_ptr<const proxy::Profile> profile;
        Caller caller;
        if (!admit(context, legacy, profile, caller)) return;

        auto framing = chooseFraming(context.header("Accept"));
        if (!framing) {
            sendRpcError(context, 406, rpc::kServerError,
                         "Not Acceptable: Accept must allow application/json or text/event-stream");
            return;
        }
        std::string contentType = context.header("Content-Type");
        std::transform(contentType.begin(), contentType.end(), contentType.begin(), ::tolower);
        if (contentType.find("application/json") == std::string::npos) {
            sendRpcError(
                context, 415, rpc::kServerError,
                "Unsupported Media Type: Content-Type must be application/json, got '" + contentType + "'");
            return;
        }
        json body = json::parse(context.body(), nullptr, false);
        if (body.is_discarded()) {
            sendRpcError(context, 400, rpc::kParseError, "Parse error: the body is not JSON");
            return;
        }
        const bool batch = body.is_array();
        std::vector<json> messages = batch ? body.get<std::vector<json>>() : std::vector<json>{body};
        if (messages.empty()) {
            sendRpcError(context, 400, rpc::kInvalidRequest, "Invalid Request: empty batch");
            return;
        }
        bool hasRequests = false;
        bool initialize = false;
        for (const auto& message : messages) {
            Classified kind = classify(message);
            if (kind.kind == MessageKind::Invalid) {
                sendRpcError(context, 400, rpc::kInvalidRequest, "Invalid Request: " + kind.problem);
                return;
            }
            if (kind.kind == MessageKind::Request) hasRequests = true;
            if (message.value("method", "") == "initialize") initialize = true;
        }

        std::string sessionId;
        if (initialize) {
            if (messages.size() != 1 || !hasRequests) {
                sendRpcError(context, 400, rpc::kInvalidRequest,
                             "Invalid Request: initialize must be sent alone, as a request");
                return;
            }
            const json& params = messages[0].value("params", json::object());
            std::string version = negotiateProtocolVersion(
                params.is_object() ? params.value("protocolVersion", json()) : json());
            json data = {{"caller", caller.toJson()}};
            if (params.is_object() && params.contains("clientInfo"))
                data["clientInfo"] = params["clientInfo"];
            GatewaySession session = _sessions.create(profile->id, version, std::move(data));
            sessionId = session.id;
            json result = {
                {"protocolVersion", version},
                {"capabilities", {{"tools", {{"listChanged", false}}}, {"logging", json::object()}}},
                {"serverInfo",
                 {{"name", "archestra-agent-" + profile->id},
                  {"title", "Archestra MCP gateway: " + profile->name},
                  {"version", ARCHESTRA_VERSION}}},
                {"instructions",
                 "Tools of the Archestra profile '" + profile->name +
                     "'. Calls pass the organisation's guardrails: a blocked call returns an error "
                     "result saying why."}};
            json response = rpcResult(messages[0]["id"], result);
            std::optional<telemetry::ActiveSpan> span;
            startSpan(span, _options.tracing, "initialize", *profile, caller, sessionId);
            if (span) span->setAttribute("mcp.protocol_version", version);
            finishSpan(span, response);
            _log.record(profile->id, kServerName, "initialize",
                        {{"id", ToolCallLog::newCallId()}, {"name", "initialize"}, {"arguments", params}},
                        result);
            context.response().set(kSessionHeader, sessionId);
            if (*framing == ResponseFraming::Sse) {
                context.response().set("Cache-Control", "no-cache");
                context.send(200, "text/event-stream", sseEvent(response));
            } else {
                context.sendJson(200, response);
            }
            return;
        }

        sessionId = context.header(kSessionHeader);
        std::optional<GatewaySession> session = _sessions.touch(sessionId, profile->id);
        if (!session) {
            sendRpcError(context, 400, rpc::kServerError, "Bad Request: Invalid or expired session");
            return;
        }
        std::string version = context.header("MCP-Protocol-Version");
        if (!version.empty() && !isSupportedProtocolVersion(version)) {
            sendRpcError(context, 400, rpc::kServerError,
                         "Bad Request: Unsupported protocol version: " + version);
            return;
        }
        if (!hasRequests) {  // notifications and responses only
            context.response().set(kSessionHeader, sessionId);
            context.send(202, "application/json", "");
            return;
        }
        std::vector<json> responses;
        for (const auto& message : messages)
            if (classify(message).kind == MessageKind::Request)
                responses.push_back(dispatch(message, *profile, caller, sessionId));
        context.response().set(kSessionHeader, sessionId);
        if (*framing == ResponseFraming::Sse) {
            std::string events;
            for (const auto& response : responses) events += sseEvent(response);
            context.response().set("Cache-Control", "no-cache");
            context.send(200, "text/event-stream", events);
        } else {
            context.sendJson(200, batch ? json(responses) : responses.front());
        }
    } catch (const std::exception& error) {
        logger().error(std::string("MCP gateway POST failed: ") + error.what());
        if (!context.responded())
            sendRpcError(context, 500, rpc::kInternalError, std::string("Internal error: ") + error.what());
    }
}

void McpGateway::handleGet(http::Context& context, bool legacy) {
    try {
        std::shared_ptr<const proxy::Profile> profile;
        Caller caller;
        if (!admit(context, legacy, profile, caller)) return;
        std::string accept = context.header("Accept");
        if (!legacy && acceptsEventStream(accept) && chooseFraming(accept) != ResponseFraming::Json) {
            streamSession(context, *profile);
            return;
        }
        json discovery = {{"name", "archestra-agent-" + profile->id},
                          {"version", ARCHESTRA_VERSION},
                          {"agentId", profile->id},
                          {"transport", "http"},
                          {"capabilities", {{"tools", true}}}};
        if (json token = caller.tokenAuthJson(); !token.is_null()) discovery["tokenAuth"] = token;
        context.sendJson(200, discovery);
    } catch (const std::exception& error) {
        logger().error(std::string("MCP gateway GET failed: ") + error.what());
        if (!context.responded())
            sendRpcError(context, 500, rpc::kInternalError, std::string("Internal error: ") + error.what());
    }
}

void McpGateway::streamSession(http::Context& context, const proxy::Profile& profile) {
    const std::string sessionId = context.header(kSessionHeader);
    if (sessionId.empty()) {
        sendRpcError(context, 400, rpc::kServerError, "Bad Request: Mcp-Session-Id header is required");
        return;
    }
    if (!_sessions.touch(sessionId, profile.id)) {
        sendRpcError(context, 400, rpc::kServerError, "Bad Request: Invalid or expired session");
        return;
    }
    {
        std::lock_guard lock(_streamMutex);
        if (_stopping) {
            sendRpcError(context, 503, rpc::kServerError,
                         "Service Unavailable: the platform is shutting down");
            return;
        }
        if (_streamingSessions.count(sessionId)) {
            sendRpcError(context, 409, rpc::kServerError,
                         "Conflict: Only one SSE stream is allowed per session");
            return;
        }
        if (static_cast<int>(_streamingSessions.size()) >= _options.maxStreams) {
            context.response().set("Retry-After", "30");
            sendRpcError(context, 503, rpc::kServerError,
                         "Service Unavailable: too many open MCP SSE streams (" +
                             std::to_string(_options.maxStreams) + ")");
            return;
        }
        _streamingSessions.emplace(sessionId, profile.id);
    }
    // Whatever ends the stream (client gone, session deleted, shutdown), the slot is freed.
    struct Release {
        McpGateway& gateway;
        const std::string& id;
        ~Release() {
            std::lock_guard lock(gateway._streamMutex);
            gateway._streamingSessions.erase(id);
            gateway._closedSessions.erase(id);
        }
    } release{*this, sessionId};

    auto& response = context.response();
    response.setStatus(Poco::Net::HTTPResponse::HTTP_OK);
    response.setContentType("text/event-stream");
    response.setChunkedTransferEncoding(true);
    response.set("Cache-Control", "no-cache");
    response.set("X-Accel-Buffering", "no");  // reverse proxies must not buffer the stream
    response.set(kSessionHeader, sessionId);
    std::ostream& out = response.send();
    // The gateway has no server-initiated requests or notifications (its tool list does not change within a
    // session), so the stream carries only comments; the first one gets the headers to the client now.
    out << ": archestra mcp gateway stream\n\n";
    out.flush();
    logger().debug("MCP GET stream opened for session " + sessionId);
    std::string reason = "client gone";
    while (out.good()) {
        {
            std::unique_lock lock(_streamMutex);
            bool woken = _streamWake.wait_for(lock, _options.sseKeepAlive, [&] {
                return _stopping || _closedSessions.count(sessionId) > 0;
            });
            if (woken) {
                reason = _stopping ? "shutdown" : "session deleted";
                break;
            }
        }
        // A session deleted on another replica (or expired) ends its stream here too.
        if (!_sessions.touch(sessionId, profile.id)) {
            reason = "session ended";
            break;
        }
        out << ": keep-alive\n\n";
        out.flush();
    }
    logger().debug("MCP GET stream of session " + sessionId + " closed: " + reason);
}

void McpGateway::closeStream(const std::string& sessionId) {
    std::lock_guard lock(_streamMutex);
    if (!_streamingSessions.count(sessionId)) return;
    _closedSessions.insert(sessionId);
    _streamWake.notify_all();
}

void McpGateway::stopStreams() {
    std::lock_guard lock(_streamMutex);
    _stopping = true;
    _streamWake.notify_all();
}

int McpGateway::openStreams() const {
    std::lock_guard lock(_streamMutex);
    return static_cast<int>(_streamingSessions.size());
}

void McpGateway::handleDelete(http::Context& context, bool legacy) {
    try {
        std::shared_ptr<const proxy::Profile> profile;
        Caller caller;
        if (!admit(context, legacy, profile, caller)) return;
        std::string sessionId = context.header(kSessionHeader);
        if (sessionId.empty()) {
            sendRpcError(context, 400, rpc::kServerError, "Bad Request: Mcp-Session-Id header is required");
            return;
        }
        if (!_sessions.remove(sessionId, profile->id)) {
            sendRpcError(context, 404, rpc::kServerError, "Session not found");
            return;
        }
        closeStream(sessionId);
        context.sendJson(200, {{"success", true}});
    } catch (const std::exception& error) {
        logger().error(std::string("MCP gateway DELETE failed: ") + error.what());
        if (!context.responded())
            sendRpcError(context, 500, rpc::kInternalError, std::string("Internal error: ") + error.what());
    }
}

void McpGateway::handleDeleteAll(http::Context& context, bool legacy) {
    try {
        std::shared_ptr<const proxy::Profile> profile;
        Caller caller;
        if (!admit(context, legacy, profile, caller)) return;
        long long removed = _sessions.removeForProfile(profile->id);
        {
            // The profile's streams notice at their next keep-alive check; wake them now instead.
            std::lock_guard lock(_streamMutex);
            for (const auto& [id, owner] : _streamingSessions)
                if (owner == profile->id) _closedSessions.insert(id);
            _streamWake.notify_all();
        }
        context.sendJson(200, {{"success", true}, {"sessionsDeleted", removed}});
    } catch (const std::exception& error) {
        logger().error(std::string("MCP gateway session cleanup failed: ") + error.what());
        if (!context.responded())
            sendRpcError(context, 500, rpc::kInternalError, std::string("Internal error: ") + error.what());
    }
}

// ---- JSON-RPC
// -----------------------------------------------------------------------------------------------

json McpGateway::dispatch(const json& request, const proxy::Profile& profile, const Caller& caller,
                          const std::string& sessionId) {
    const std::string method = request["method"].get<std::string>();
    std::optional<telemetry::ActiveSpan> span;
    startSpan(span, _options.tracing, method, profile, caller, sessionId);
    json response = dispatchTraced(request, profile, caller, sessionId, span ? &*span : nullptr);
    finishSpan(span, response);
    return response;
}

json McpGateway::dispatchTraced(const json& request, const proxy::Profile& profile, const Caller& caller,
                                const std::string& sessionId, telemetry::ActiveSpan* span) {
    const json& id = request["id"];
    const std::string method = request["method"].get<std::string>();
    json params = request.value("params", json::object());
    try {
        if (method == "ping") return rpcResult(id, json::object());
        if (method == "logging/setLevel") {
            // The gateway emits no log notifications, so any valid level is accepted and has nothing to
            // filter.
            static const std::vector<std::string> levels = {"debug", "info",     "notice", "warning",
                                                            "error", "critical", "alert",  "emergency"};
            std::string level = params.is_object() ? params.value("level", std::string()) : std::string();
            if (std::find(levels.begin(), levels.end(), level) == levels.end())
                return rpcError(id, rpc::kInvalidParams,
                                "Invalid params: 'level' must be one of debug, info, notice, warning, error, "
                                "critical, alert, emergency");
            return rpcResult(id, json::object());
        }
        if (method == "tools/list") {
            json result = listTools(profile);
            _log.record(profile.id, kServerName, "tools/list",
                        {{"id", ToolCallLog::newCallId()}, {"name", "tools/list"}, {"arguments", params}},
                        {{"toolCount", result["tools"].size()}, {"tools", [&] {
                                                                     json names = json::array();
                                                                     for (const auto& tool : result["tools"])
                                                                         names.push_back(tool["name"]);
                                                                     return names;
                                                                 }()}});
            return rpcResult(id, std::move(result));
        }
        if (method == "tools/call") {
            if (!params.is_object())
                return rpcError(id, rpc::kInvalidParams, "Invalid params: expected an object with 'name'");
            return callTool(id, params, profile, caller, sessionId, span);
        }
        if (method == "initialize")
            return rpcError(id, rpc::kInvalidRequest, "Invalid Request: the session is already initialized");
        return rpcError(id, rpc::kMethodNotFound, "Method not found: " + method);
    } catch (const std::exception& error) {
        logger().error("MCP " + method + " for profile " + profile.id + " failed: " + error.what());
        return rpcError(id, rpc::kInternalError, std::string("Internal error: ") + error.what());
    }
}

json McpGateway::listTools(const proxy::Profile& profile) {
    json tools = json::array();
    for (const auto& tool : assignedTools(*_options.database, profile.id))
        tools.push_back({{"name", tool.exposedName},
                         {"title", tool.exposedName},
                         {"description", tool.description},
                         {"inputSchema", tool.inputSchema},
                         {"annotations", json::object()},
                         {"_meta", json::object()}});
    for (const auto& tool : builtinTools()) tools.push_back(builtinToolJson(tool));
    return {{"tools", std::move(tools)}};
}

json McpGateway::callTool(const json& id, const json& params, const proxy::Profile& profile,
                          const Caller& caller, const std::string& sessionId, telemetry::ActiveSpan* span) {
    auto nameIt = params.find("name");
    if (nameIt == params.end() || !nameIt->is_string())
        return rpcError(id, rpc::kInvalidParams, "Invalid params: 'name' must be a string");
    const std::string name = nameIt->get<std::string>();
    if (span) span->setAttribute("mcp.tool.name", name);
    json arguments = params.value("arguments", json::object());
    if (arguments.is_null()) arguments = json::object();
    if (!arguments.is_object())
        return rpcError(id, rpc::kInvalidParams, "Invalid params: 'arguments' must be an object");
    const std::string callId = ToolCallLog::newCallId();
    const json toolCall = {{"id", callId}, {"name", name}, {"arguments", arguments}};

    if (name.rfind(policy::kArchestraToolPrefix, 0) == 0) {
        const BuiltinTool* tool = findBuiltinTool(name);
        if (!tool) return rpcError(id, rpc::kMethodNotFound, "Unknown tool: " + name);
        if (span) span->setAttribute("mcp.server.name", std::string("archestra"));
        BuiltinContext builtin{_options.database, profile.id, profile.name, caller, _options.onPolicyChange};
        json result = callBuiltinTool(*tool, builtin, arguments);
        _log.record(profile.id, "archestra", "tools/call", toolCall, result);
        return rpcResult(id, std::move(result));
    }

    std::optional<AssignedTool> tool;
    for (auto& candidate : assignedTools(*_options.database, profile.id))
        if (candidate.exposedName == name) tool = std::move(candidate);
    if (!tool) return rpcError(id, rpc::kMethodNotFound, "Unknown tool: " + name);
    if (span) {
        span->setAttribute("mcp.server.name", tool->serverName);
        span->setAttribute("mcp.server.id", tool->targetServerId);
    }

    // Guardrail 1: tool invocation policies on the arguments, in the session's trust state. Re-read the
    // session so a taint set by a concurrent call (on any replica) counts.
    std::optional<GatewaySession> session = _sessions.touch(sessionId, profile.id);
    bool tainted = session && session->tainted;
    bool contextTrusted = !tainted && !profile.policies.considerContextUntrusted;
    policy::CallDecision decision =
        policy::evaluateToolCalls(profile.policies, contextTrusted, {{callId, tool->storedName, arguments}})
            .at(0);
    if (span) span->setAttribute("mcp.context_trusted", contextTrusted);
    if (!decision.allowed) {
        if (span) {
            span->setAttribute("mcp.tool.blocked", true);
            span->setAttribute("mcp.tool.block_reason", decision.reasonCode);
        }
        std::string text = decision.contentMessage;
        while (!text.empty() && text.front() == '\n') text.erase(text.begin());
        json result = textResult(text, true);
        addMeta(result, {{"blocked", true},
                         {"reasonCode", decision.reasonCode},
                         {"reason", decision.reason},
                         {"policyId", decision.policyId.empty() ? json(nullptr) : json(decision.policyId)},
                         {"contextTrusted", contextTrusted},
                         {"taintReason", session ? json(session->taintReason) : json(nullptr)}});
        _log.record(profile.id, tool->serverName, "tools/call", toolCall, result);
        return rpcResult(id, std::move(result));
    }

    // Guardrail 2: tool_calls / mcp_server_calls limits of the profile, its teams and organisation.
    if (_options.limits) {
        policy::CallLimitDecision limit =
            _options.limits->checkCall(profile.id, tool->serverName, tool->exposedName);
        if (limit.blocked) {
            if (span) {
                span->setAttribute("mcp.tool.blocked", true);
                span->setAttribute("mcp.tool.block_reason", std::string("limit_exceeded"));
            }
            json result = textResult(limit.message, true);
            addMeta(result, {{"blocked", true},
                             {"reasonCode", "limit_exceeded"},
                             {"reason", limit.message},
                             {"limitId", limit.limitId}});
            _log.record(profile.id, tool->serverName, "tools/call", toolCall, result);
            return rpcResult(id, std::move(result));
        }
    }

    if (tool->dynamicCredential) {
        auto server = dynamicCredentialServer(*_options.database, tool->catalogId, caller, profile);
        if (!server) {
            json result =
                textResult("Tool " + name + " uses dynamic team credentials and there is no '" +
                               tool->serverName + "' installation with credentials for " + caller.describe() +
                               ": install it for yourself or share one with your team",
                           true);
            _log.record(profile.id, tool->serverName, "tools/call", toolCall, result);
            return rpcResult(id, std::move(result));
        }
        tool->targetServerId = *server;
        if (span) span->setAttribute("mcp.server.id", tool->targetServerId);
    }

    // Routing: the server's own tool name on the server that runs it.
    std::shared_ptr<mcp::ToolExecutor> executor = _options.toolExecutor ? _options.toolExecutor() : nullptr;
    json result;
    bool fromServer = false;  // only what a server returned is judged; the gateway's own error texts are not
    if (!executor) {
        result = textResult("MCP server '" + tool->serverName +
                                "' cannot be reached: MCP server execution is not "
                                "available on this platform",
                            true);
    } else if (tool->targetServerId.empty()) {
        result = textResult("Tool " + name + " has no installed MCP server to run on (install '" +
                                tool->serverName + "' first)",
                            true);
    } else {
        try {
            result = executor->callTool(tool->targetServerId, tool->serverToolName, arguments,
                                        _options.toolTimeout_ms);
            if (!result.is_object()) result = textResult(result.dump());
            fromServer = true;
            if (_options.limits) _options.limits->recordCall(profile.id, tool->serverName, tool->exposedName);
        } catch (const mcp::McpRemoteError& error) {
            json response = rpcError(id, error.code(), error.what());
            _log.record(profile.id, tool->serverName, "tools/call", toolCall, response["error"]);
            return response;
        } catch (const mcp::McpUnavailableError& error) {
            result =
                textResult("MCP server '" + tool->serverName + "' is unavailable: " + error.what(), true);
        } catch (const std::exception& error) {
            result = textResult(
                "Calling " + name + " on MCP server '" + tool->serverName + "' failed: " + error.what(),
                true);
        }
    }

    // Guardrail 3: trusted-data policies on the result; an untrusted or blocked result taints the session.
    if (fromServer) {
        policy::ContextEvaluation evaluation =
            policy::evaluateContext(profile.policies, {{callId, tool->storedName, policyView(result)}});
        const policy::ResultDecision& verdict = evaluation.perResult.at(0);
        bool trusted = evaluation.trusted;
        std::string taintReason;
        if (verdict.verdict == policy::Verdict::Blocked) {
            result = textResult(verdict.replacementContent.value_or("[Content blocked by policy]"));
            taintReason = verdict.reason;
        } else if (verdict.verdict == policy::Verdict::Sanitize) {
            // The gateway has no LLM to run the dual-LLM sanitizer with, so the raw result stays untrusted.
            trusted = false;
            taintReason = "result of " + name + " needs dual-LLM sanitization, which the gateway cannot run";
        } else if (!trusted) {
            taintReason = "result of " + name +
                          " is untrusted: " + (verdict.reason.empty() ? evaluation.reason : verdict.reason);
        }
        if (!trusted && !tainted) {
            _sessions.markTainted(sessionId, taintReason);
            tainted = true;
        }
        if (span) {
            span->setAttribute("mcp.tool.blocked", false);
            span->setAttribute("mcp.result.verdict", std::string(policy::toString(verdict.verdict)));
            span->setAttribute("mcp.session.tainted", tainted);
        }
        addMeta(result, {{"blocked", false},
                         {"resultVerdict", std::string(policy::toString(verdict.verdict))},
                         {"resultReason", verdict.reason},
                         {"sessionTainted", tainted}});
    }
    _log.record(profile.id, tool->serverName, "tools/call", toolCall, result);
    return rpcResult(id, std::move(result));
}

}  // namespace archestra::gateway
