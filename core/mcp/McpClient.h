// MCP client: JSON-RPC 2.0 over a transport (an orchestrator's stdio channel or streamable HTTP), with
// request/response correlation by id, timeouts, the initialize handshake, paginated tools/list and
// tools/call.
#pragma once

#include "core/mcp/ToolExecutor.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <istream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace archestra::sdk {
class McpChannel;
}

namespace archestra::mcp {

/// Carries JSON-RPC messages to one MCP server. Implementations are thread-safe: several requests may be in
/// flight at once from different threads.
class McpTransport {
  public:
    virtual ~McpTransport() = default;
    /// Sends request `message` (it has an "id") and returns the server's response with the same id (an
    /// object holding "result" or "error"). Throws McpUnavailableError when the server is gone, the transport
    /// fails or no answer comes within `timeout_ms`.
    virtual nlohmann::json request(const nlohmann::json& message, std::int64_t timeout_ms) = 0;
    /// Sends a notification (no id, no answer expected). Throws McpUnavailableError when it cannot.
    virtual void notify(const nlohmann::json& message) = 0;
    /// False once the transport knows the server is gone (a new client must be built).
    virtual bool alive() const = 0;
    /// Releases the connection; pending and later requests fail. Idempotent.
    virtual void close() noexcept = 0;
    /// Told the protocol version the server agreed to (HTTP sends it as a header).
    virtual void setProtocolVersion(const std::string&) {}
};

/// Newline-delimited JSON-RPC over an orchestrator channel (child stdio, Kubernetes attach). A reader thread
/// routes responses to their waiting request by id, answers the server's own `ping` requests and ignores
/// notifications.
class ChannelTransport : public McpTransport {
  public:
    explicit ChannelTransport(std::unique_ptr<sdk::McpChannel> channel);
    ~ChannelTransport() override;
    nlohmann::json request(const nlohmann::json& message, std::int64_t timeout_ms) override;
    void notify(const nlohmann::json& message) override;
    bool alive() const override;
    void close() noexcept override;

  private:
    struct Pending {
        std::optional<nlohmann::json> response;
    };
    void readLoop();
    void fail(const std::string& why);
    void sendLine(const std::string& line);

    std::unique_ptr<sdk::McpChannel> _channel;
    mutable std::mutex _mutex;
    std::condition_variable _answered;
    std::map<std::string, std::shared_ptr<Pending>> _pending;  ///< id (JSON text) -> waiter
    std::string _deadReason;                                   ///< non-empty once the channel is gone
    std::mutex _sendMutex;
    std::atomic<bool> _stopping{false};
    std::thread _reader;
};

/// MCP streamable HTTP (POST per message; the answer is JSON or an SSE stream; Mcp-Session-Id kept).
class HttpTransport : public McpTransport {
  public:
    /// `url`: the server's MCP endpoint (http or https). `headers`: sent with every request (Authorization).
    HttpTransport(std::string url, std::map<std::string, std::string> headers,
                  std::int64_t connect_timeout_ms);
    ~HttpTransport() override;
    nlohmann::json request(const nlohmann::json& message, std::int64_t timeout_ms) override;
    void notify(const nlohmann::json& message) override;
    bool alive() const override;
    void close() noexcept override;
    void setProtocolVersion(const std::string& version) override;
    /// The session id the server assigned, empty before initialize or for a stateless server.
    std::string sessionId() const;
    /// Gives the Authorization header value per request; called with "" before each request, and once with
    /// the refused token after a 401 (a different answer is tried once). Set before the first request.
    using AuthorizationSource = std::function<std::optional<std::string>(const std::string& rejected_token)>;
    void setAuthorization(AuthorizationSource source) { _authorization = std::move(source); }

  private:
    /// POSTs `message`; returns the matching response (requests) or nullopt (notifications).
    std::optional<nlohmann::json> post(const nlohmann::json& message, std::int64_t timeout_ms);

    std::string _url;
    std::map<std::string, std::string> _headers;
    std::int64_t _connectTimeoutMs;
    mutable std::mutex _mutex;
    std::string _sessionId;
    std::string _protocolVersion;
    std::atomic<bool> _alive{true};
    AuthorizationSource _authorization;
};

/// An MCP client over one transport. Thread-safe.
class McpClient {
  public:
    explicit McpClient(std::unique_ptr<McpTransport> transport);
    ~McpClient();

    /// initialize + notifications/initialized; returns the server's InitializeResult.
    nlohmann::json initialize(std::int64_t timeout_ms);
    /// Every tool the server offers, following nextCursor until the last page (at most 100 pages).
    std::vector<nlohmann::json> listTools(std::int64_t timeout_ms);
    /// tools/call; returns the CallToolResult ({content:[...], isError?}).
    nlohmann::json callTool(const std::string& name, const nlohmann::json& arguments,
                            std::int64_t timeout_ms);
    void ping(std::int64_t timeout_ms);
    /// Any request: its result, or McpRemoteError for a JSON-RPC error, McpUnavailableError for no answer.
    nlohmann::json call(const std::string& method, const nlohmann::json& params, std::int64_t timeout_ms);

    bool alive() const { return _transport->alive(); }
    void close() noexcept { _transport->close(); }
    const nlohmann::json& serverInfo() const { return _serverInfo; }

  private:
    std::unique_ptr<McpTransport> _transport;
    std::atomic<std::int64_t> _nextId{1};
    nlohmann::json _serverInfo;
};

/// The response to request `id` in a JSON body of an MCP server (one message or a batch): the object with
/// that id holding "result" or "error", nullopt when there is none.
std::optional<nlohmann::json> findResponse(const nlohmann::json& body, const nlohmann::json& id);
/// The same in an SSE answer: reads events until one carries the response (others, e.g. progress or logging
/// notifications, and events that are not JSON are skipped); nullopt when the stream ends without it.
std::optional<nlohmann::json> findResponseInEventStream(std::istream& in, const nlohmann::json& id);

/// The protocol version this client asks for in initialize.
inline constexpr const char* kMcpProtocolVersion = "2025-06-18";

}  // namespace archestra::mcp
