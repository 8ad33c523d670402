// Transport rules of the MCP streamable-HTTP server side that need no I/O: JSON-RPC 2.0 message shapes,
// protocol version negotiation, Accept negotiation and the Host/Origin checks against DNS rebinding.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace archestra::gateway {

/// JSON-RPC 2.0 error codes the gateway answers with.
namespace rpc {
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;
/// Transport-level failures (bad session, unauthorized), as the original gateway answered them.
inline constexpr int kServerError = -32000;
}  // namespace rpc

/// {"jsonrpc":"2.0","error":{"code","message"[,"data"]},"id":id}
nlohmann::json rpcError(const nlohmann::json& id, int code, const std::string& message,
                        const nlohmann::json& data = nullptr);
/// {"jsonrpc":"2.0","result":result,"id":id}
nlohmann::json rpcResult(const nlohmann::json& id, nlohmann::json result);

enum class MessageKind { Invalid = 0, Request, Notification, Response };

/// What one element of a POST body is. `problem` says why a message is Invalid.
struct Classified {
    MessageKind kind = MessageKind::Invalid;
    std::string problem;
};
Classified classify(const nlohmann::json& message);

/// MCP protocol revisions this gateway speaks, newest first.
const std::vector<std::string>& supportedProtocolVersions();
/// The client's requested version when we speak it, else our newest (the client then decides).
std::string negotiateProtocolVersion(const nlohmann::json& requested);
bool isSupportedProtocolVersion(const std::string& version);

/// How a POST answer is framed.
enum class ResponseFraming { Invalid = 0, Json, Sse };
/// From the Accept header: JSON when application/json (or a wildcard) is acceptable, SSE when only
/// text/event-stream is, nullopt (406) when neither is. A missing header accepts anything.
std::optional<ResponseFraming> chooseFraming(const std::string& accept);
/// True when Accept names text/event-stream (a GET asking for the server-to-client stream).
bool acceptsEventStream(const std::string& accept);

/// One SSE event carrying a JSON-RPC message: "event: message\ndata: <json>\n\n".
std::string sseEvent(const nlohmann::json& message);

/// Which Host and Origin values the gateway accepts. A DNS-rebinding page reaches a local server under an
/// attacker-controlled host name, so only the names the platform is configured under, loopback names and
/// address literals (which no DNS answer can produce) may appear in Host, and a browser Origin must name one
/// of them too.
struct HostPolicy {
    std::vector<std::string> hosts;  ///< lower-case host names without port; "*" allows any
    /// Host header value ("name[:port]", "[v6]:port") -> true when its name is allowed.
    bool hostAllowed(const std::string& hostHeader) const;
    /// Origin header value ("scheme://name[:port]"); an absent Origin (non-browser client) is allowed.
    bool originAllowed(const std::string& origin) const;
    /// localhost, 127.0.0.1, ::1 plus the host names of `urls` and the extra names given.
    static HostPolicy fromUrls(const std::vector<std::string>& urls, const std::vector<std::string>& extra);
};

/// True for an IPv4 or IPv6 address literal (no brackets).
bool isIpLiteral(const std::string& name);
/// The host name of "host[:port]" or "[v6][:port]", lower-cased, without brackets.
std::string hostName(const std::string& hostAndPort);

/// Built-in tools are `archestra__<name>`; MCP server tools `<slug>__<tool>`.
inline constexpr const char* kToolSeparator = "__";
/// lower("<server or catalog name>") with spaces as '_' (the original's slugifyName prefix).
std::string slugify(const std::string& serverName);
/// The name a client sees for `toolName` of server `slug`: unchanged when it already carries the prefix.
std::string exposedToolName(const std::string& slug, const std::string& toolName);
/// The server's own name for an exposed name: without the "<slug>__" prefix when it carries it.
std::string serverToolName(const std::string& slug, const std::string& exposedName);

}  // namespace archestra::gateway
