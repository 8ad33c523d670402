// The LLM proxy's request handling: profile, guardrails, upstream call, relay, interaction record.
#include "core/proxy/LlmProxy.h"

#include "core/proxy/JsonParse.h"
#include "core/proxy/ToonCompression.h"

#include "core/db/DatabaseException.h"
#include "core/http/ApiError.h"
#include "core/http/Context.h"
#include "core/http/Dispatcher.h"
#include "core/http/Router.h"
#include "core/policy/ToolInvocation.h"
#include "core/policy/TrustedData.h"
#include "core/proxy/sse/JsonArrayStream.h"

#include <Poco/Ascii.h>
#include <Poco/CountingStream.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/String.h>
#include <Poco/UUIDGenerator.h>

#include <poll.h>

#include <cerrno>
#include <chrono>
#include <set>

namespace archestra::proxy {

namespace {

using Clock = std::chrono::steady_clock;

std::int64_t msSince(Clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

/// `name` equals `lower` (lower case) ignoring ASCII case.
bool equalsLower(std::string_view name, std::string_view lower) {
    if (name.size() != lower.size()) return false;
    for (std::size_t i = 0; i < name.size(); ++i)
        if (Poco::Ascii::toLower(name[i]) != lower[i]) return false;
    return true;
}

bool equalsIgnoringCase(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (Poco::Ascii::toLower(a[i]) != Poco::Ascii::toLower(b[i])) return false;
    return true;
}

bool inList(std::string_view name, std::initializer_list<std::string_view> lowerNames) {
    for (std::string_view lower : lowerNames)
        if (equalsLower(name, lower)) return true;
    return false;
}

/// Request headers never forwarded: hop-by-hop ones, ours, and the ones the session sets itself. Everything
/// else (credentials, anthropic-version/-beta, OpenAI-Organization/-Project, ...) goes upstream unchanged.
/// Compared in place: a lower-cased copy and a set lookup per header showed in the per-request profile.
bool forwardRequestHeader(const std::string& name) {
    static constexpr std::string_view kArchestraPrefix = "x-archestra-";
    if (name.size() >= kArchestraPrefix.size() &&
        equalsLower(std::string_view(name).substr(0, kArchestraPrefix.size()), kArchestraPrefix))
        return false;
    return !inList(name, {"host", "connection", "keep-alive", "proxy-connection", "proxy-authorization", "te",
                          "trailer", "upgrade", "transfer-encoding", "content-length", "accept-encoding",
                          "cookie", "expect", "origin", "referer"});
}

/// Response headers not copied back: hop-by-hop and framing (the listener frames the body itself).
bool forwardResponseHeader(const std::string& name) {
    return !inList(name, {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "content-length",
                          "upgrade", "proxy-connection"});
}

/// The upstream request: a Poco HTTPRequest (the client session reads its Host, keep-alive and length) whose
/// head is written as one string. Poco's own write() inserts every piece of every header into the ostream
/// separately, and HTTPClientSession::sendRequest() calls it twice: first into a CountingOutputStream, which
/// counts byte by byte, to size the request stream, then for real. Here the head is built once and the
/// counting pass only adds its length. The bytes are the same: "<method> <uri> <version>\r\n",
/// "<name>: <value>\r\n" per header in order, then "\r\n".
/// The target is checked first (checkRequestTarget): UpstreamTargetException for CR, LF, spaces and other
/// control bytes, whichever route built it.
class UpstreamRequest : public Poco::Net::HTTPRequest {
  public:
    UpstreamRequest(const std::string& method, const std::string& target)
        : Poco::Net::HTTPRequest(method, (checkRequestTarget(target), target),
                                 Poco::Net::HTTPMessage::HTTP_1_1) {}

    void write(std::ostream& out) const override {
        // Built at the first call, once every header is set (traceparent included); reused by the second call
        // and by a retry on another connection.
        if (_head.empty()) {
            const std::string& version = getVersion();
            std::size_t size = getMethod().size() + getURI().size() + version.size() + 6;
            for (const auto& [name, value] : *this) size += name.size() + value.size() + 4;
            _head.reserve(size);
            _head.append(getMethod()).append(1, ' ').append(getURI()).append(1, ' ').append(version);
            _head.append("\r\n");
            for (const auto& [name, value] : *this)
                _head.append(name).append(": ").append(value).append("\r\n");
            _head.append("\r\n");
        }
        if (auto* counting = dynamic_cast<Poco::CountingOutputStream*>(&out)) {
            counting->addChars(static_cast<std::streamsize>(_head.size()));
            return;
        }
        out.write(_head.data(), static_cast<std::streamsize>(_head.size()));
    }

  private:
    mutable std::string _head;
};

std::string rawPathAndQuery(http::Context& context, std::string& query) {
    const std::string& uri = context.request().getURI();
    auto q = uri.find('?');
    query = q == std::string::npos ? "" : uri.substr(q);
    return q == std::string::npos ? uri : uri.substr(0, q);
}

std::string interactionType(Provider provider) {
    switch (provider) {
        case Provider::OpenAi:
            return "openai:chatCompletions";
        case Provider::Anthropic:
            return "anthropic:messages";
        case Provider::Gemini:
            return "gemini:generateContent";
        default:
            return "unknown";
    }
}

/// The interaction's stored response for a stream: the assembled message in the provider's own response shape
/// (what the non-streaming call would have returned), so the log reads the same for both; marked as
/// assembled.
nlohmann::json responseViewJson(Provider provider, const ResponseView& view) {
    nlohmann::json result;
    if (provider == Provider::Anthropic) {
        nlohmann::json content = nlohmann::json::array();
        if (!view.thinking.empty()) content.push_back({{"type", "thinking"}, {"thinking", view.thinking}});
        if (!view.text.empty()) content.push_back({{"type", "text"}, {"text", view.text}});
        for (const auto& call : view.toolCalls)
            content.push_back(
                {{"type", "tool_use"}, {"id", call.id}, {"name", call.name}, {"input", call.arguments}});
        nlohmann::json usage = nlohmann::json::object();
        if (view.usage.inputTokens) usage["input_tokens"] = *view.usage.inputTokens;
        if (view.usage.outputTokens) usage["output_tokens"] = *view.usage.outputTokens;
        result = {{"id", view.id},       {"type", "message"},  {"role", "assistant"},
                  {"model", view.model}, {"content", content}, {"stop_reason", view.finishReason},
                  {"usage", usage}};
    } else if (provider == Provider::OpenAi) {
        nlohmann::json message = {
            {"role", "assistant"},
            {"content", view.text.empty() ? nlohmann::json(nullptr) : nlohmann::json(view.text)}};
        nlohmann::json calls = nlohmann::json::array();
        for (const auto& call : view.toolCalls) {
            const std::string& arguments = call.argumentsRaw;
            calls.push_back({{"id", call.id},
                             {"type", "function"},
                             {"function", {{"name", call.name}, {"arguments", arguments}}}});
        }
        if (!calls.empty()) message["tool_calls"] = calls;
        nlohmann::json usage = nlohmann::json::object();
        if (view.usage.inputTokens) usage["prompt_tokens"] = *view.usage.inputTokens;
        if (view.usage.outputTokens) usage["completion_tokens"] = *view.usage.outputTokens;
        result = {
            {"id", view.id},
            {"object", "chat.completion"},
            {"model", view.model},
            {"choices", nlohmann::json::array(
                            {{{"index", 0}, {"message", message}, {"finish_reason", view.finishReason}}})},
            {"usage", usage}};
    } else {
        nlohmann::json calls = nlohmann::json::array();
        for (const auto& call : view.toolCalls)
            calls.push_back({{"id", call.id}, {"name", call.name}, {"arguments", call.arguments}});
        nlohmann::json usage = nlohmann::json::object();
        if (view.usage.inputTokens) usage["inputTokens"] = *view.usage.inputTokens;
        if (view.usage.outputTokens) usage["outputTokens"] = *view.usage.outputTokens;
        result = {{"id", view.id},
                  {"model", view.model},
                  {"text", view.text},
                  {"thinking", view.thinking},
                  {"toolCalls", calls},
                  {"usage", usage},
                  {"finishReason", view.finishReason}};
    }
    result["assembledFromStream"] = true;
    return result;
}

/// The structured "blocked" signal (README, "LLM proxy"). Non-streaming: this response header carries the
/// number of tool calls the invocation policy removed from the answer.
const char* const kBlockedToolCallsHeader = "x-archestra-blocked-tool-calls";

/// Streaming: the headers are gone when the policy decides, so each blocked call is announced by one SSE
/// comment line (ignored by SSE clients and the provider SDKs) right before the released events that carry
/// its refusal text: `: archestra-blocked-tool-call
/// {"toolCallId","toolName","reasonCode","reason","content"}`
/// + blank line, where `content` is the exact text that replaces the call in the stream.
std::string blockedCallComment(const policy::CallDecision& decision) {
    nlohmann::json signal = {{"toolCallId", decision.toolCallId},
                             {"toolName", decision.toolName},
                             {"reasonCode", decision.reasonCode},
                             {"reason", decision.reason},
                             {"content", decision.contentMessage}};
    // dump() escapes control characters, so the comment stays on one line.
    return ": archestra-blocked-tool-call " +
           signal.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n\n";
}

/// Closes the connection (cancelling the upstream request); never throws, also for unconnected sessions.
void abortSession(UpstreamSession& session) noexcept {
    try {
        if (session.session) session.session->abort();
    } catch (...) {
    }
}

/// One upstream exchange: request sent, response head received, body readable from `body`.
struct Exchange {
    UpstreamSession session;
    Poco::Net::HTTPResponse response;
    std::istream* body = nullptr;
};

/// Whether `fd` has something to read within `timeout_ms` (0: right now). A plain poll(2): Poco 1.11's
/// Socket::poll creates and closes an epoll instance per call (four system calls), which showed up in the
/// proxy's per-request profile.
bool readable(int fd, int timeout_ms) noexcept {
    pollfd entry{fd, POLLIN, 0};
    int n = 0;
    do {
        n = ::poll(&entry, 1, timeout_ms);
    } while (n < 0 && errno == EINTR);
    return n > 0;
}

/// The client hung up while we wait: its connection reads as closed (a pipelined request would read as data).
bool clientClosed(http::Context& context) noexcept {
    try {
        auto* impl = dynamic_cast<Poco::Net::HTTPServerRequestImpl*>(&context.request());
        if (!impl) return false;
        auto& socket = impl->socket();
        if (!readable(socket.impl()->sockfd(), 0)) return false;
        char probe = 0;
        return socket.receiveBytes(&probe, 1, MSG_PEEK) <= 0;
    } catch (...) {
        return true;  // reset or already closed
    }
}

/// Thrown when the client left before the upstream answered: the upstream request was cancelled.
struct ClientGone {};

/// Waits for the first response byte while watching the client's connection in the same poll(2), so that a
/// client hanging up meanwhile cancels the upstream request at once instead of after the whole answer (or the
/// idle timeout). One system call in the common case. If the client sent more bytes (a pipelined request) its
/// socket stays readable, so it is then checked in 200 ms slices instead. Silence past the idle timeout
/// throws Poco::TimeoutException here: returning instead let the read that follows (receiveResponse() or the
/// stream's readSome()) wait a whole socket timeout again, so a silent upstream got twice the idle timeout.
void awaitUpstream(UpstreamSession& session, http::Context* client, long idleTimeout_ms) {
    if (!client) return;
    const auto started = Clock::now();
    const int upstream = session.session->socket().impl()->sockfd();
    const int downstream = client->clientSocket();
    bool watchClient = downstream >= 0;
    for (;;) {
        long left_ms = idleTimeout_ms - msSince(started);
        if (left_ms <= 0)
            throw Poco::TimeoutException("no byte from the upstream for " + std::to_string(idleTimeout_ms) +
                                         " ms (the idle timeout)");
        pollfd fds[2] = {{upstream, POLLIN, 0}, {downstream, POLLIN | POLLRDHUP, 0}};
        const long wait_ms = watchClient ? left_ms : std::min(left_ms, 200L);
        int n = ::poll(fds, watchClient ? 2 : 1, static_cast<int>(wait_ms));
        if (n < 0) {
            if (errno == EINTR) continue;
            return;  // receiveResponse() reports the socket's state
        }
        if (n > 0 && fds[0].revents != 0) return;
        if (n > 0 && !(watchClient && fds[1].revents != 0)) continue;
        if (clientClosed(*client)) {
            abortSession(session);
            throw ClientGone{};
        }
        watchClient = false;  // readable but open: a pipelined request; check it in slices from now on
    }
}

/// Whether reading the upstream's stream would wait on the socket: nothing left in the stream's buffer, in
/// the HTTP session's buffer, nor (TLS) decrypted inside OpenSSL. Only then is polling the socket meaningful.
/// A chunked body leaves the last chunk's CRLF in the session's buffer while the upstream is silent: up to
/// two buffered bytes of a chunked body cannot deliver data (the next chunk needs "\r\nN\r\n" and a byte).
/// A body with a Content-Length that has been read whole never blocks: the next read ends it without touching
/// the socket, which stays silent (a keep-alive upstream sends nothing more), so polling it would wait for
/// the idle timeout (nginx serving a static SSE body did exactly that: every stream hung until the timeout).
bool upstreamWouldBlock(const Exchange& exchange, std::uint64_t bodyBytesRead) {
    struct SessionBuffer : Poco::Net::HTTPClientSession {  // HTTPSession::buffered() is protected
        static int of(const Poco::Net::HTTPClientSession& session) {
            return (session.*(&SessionBuffer::buffered))();
        }
    };
    if (exchange.body->rdbuf()->in_avail() > 0) return false;
    const auto& response = exchange.response;
    if (!response.getChunkedTransferEncoding() && response.hasContentLength() &&
        bodyBytesRead >= static_cast<std::uint64_t>(response.getContentLength64()))
        return false;
    const auto& session = *exchange.session.session;
    const int buffered = SessionBuffer::of(session);
    if (buffered > (exchange.response.getChunkedTransferEncoding() ? 2 : 0)) return false;
    return !session.secure() || const_cast<Poco::Net::HTTPClientSession&>(session).socket().available() == 0;
}

/// Sends the request and receives the response head. Throws UpstreamTimeoutException /
/// UpstreamUnreachableException (and ClientGone).
///
/// When a request is sent again: a model call must not run twice (each run is billed), and once the whole
/// request has left, nothing seen before the first response byte tells whether the upstream read it. An
/// upstream that closed its idle keep-alive connection as the request arrived and one that read the request
/// and then died both end the connection with a FIN or a reset and no answer. So:
/// - a pooled connection the upstream closed while it was idle (the common stale case) is not used at all:
///   UpstreamPool::acquire() probes it and hands out another, before a byte is sent;
/// - the request goes out again, on the next connection, only when it provably did not leave whole: the send
///   itself failed on a reused connection (an upstream cannot act on a partial body);
/// - any failure after the request was sent (EOF or reset before the first response byte, a timeout) is
///   reported, never retried. The one stale case left, the upstream's idle timer firing while the request is
///   on the wire, costs a 502 (which the SDKs retry) instead of risking a second run.
void sendUpstream(UpstreamPool& pool, const UpstreamEndpoint& endpoint, UpstreamRequest& request,
                  const std::string& body, Exchange& exchange, http::Context* client = nullptr) {
    for (;;) {
        exchange.session = pool.acquire(endpoint);
        const bool reused = exchange.session.reused;
        bool sent = false;  // the whole request was handed to the kernel
        try {
            auto& session = *exchange.session.session;
            std::ostream& out = session.sendRequest(request);
            // Head and body go through one buffered stream (Poco sizes it with the counting pass of
            // UpstreamRequest::write): a small request leaves in one send(2) (strace: one 808-byte sendto for
            // the bench's chat request). A body past the buffer leaves in several; without TCP_NODELAY, Nagle
            // would hold the last part until the upstream acknowledges the previous one (a delayed ACK: up
            // to 40 ms). Set once per connection.
            if (!reused) session.socket().setNoDelay(true);
            out.write(body.data(), static_cast<std::streamsize>(body.size()));
            out.flush();
            // The stream turns a failed send(2) into badbit; the session keeps the exception.
            if (!out.good()) {
                if (const Poco::Exception* failure = session.networkException()) failure->rethrow();
                throw Poco::IOException("the request could not be sent whole");
            }
            sent = true;
            awaitUpstream(exchange.session, client, pool.options().idleTimeout_ms);
            exchange.body = &session.receiveResponse(exchange.response);
            return;
        } catch (const Poco::TimeoutException& error) {
            // Never retried: the upstream may be working on the request.
            abortSession(exchange.session);
            throw UpstreamTimeoutException("no answer from " + endpoint.key() + " within the timeout (" +
                                           error.displayText() + ")");
        } catch (const Poco::Net::SSLException& error) {
            abortSession(exchange.session);
            if (reused && !sent) continue;
            throw UpstreamUnreachableException("TLS with " + endpoint.key() +
                                               " failed: " + error.displayText());
        } catch (const Poco::Exception& error) {
            abortSession(exchange.session);
            // Each failure drops its session, so this ends at a fresh connection (not reused: no retry).
            if (reused && !sent) continue;
            throw UpstreamUnreachableException("cannot reach " + endpoint.key() + ": " + error.displayText());
        }
    }
}

/// Whether the body that just reached its end (read returned 0 after `bytesRead` bytes) was complete.
/// Poco 1.11 reports a connection dropped inside a chunked or Content-Length body as a plain end of stream,
/// so: a known length must have been read in full, and a keep-alive chunked body must not end with the
/// upstream having closed the connection (a clean end leaves it open; EOF already waiting on the socket means
/// it died).
bool upstreamBodyComplete(Exchange& exchange, std::uint64_t bytesRead) {
    const auto& response = exchange.response;
    if (!response.getChunkedTransferEncoding() &&
        response.getContentLength64() != Poco::Net::HTTPMessage::UNKNOWN_CONTENT_LENGTH)
        return bytesRead == static_cast<std::uint64_t>(response.getContentLength64());
    if (!response.getChunkedTransferEncoding() || !response.getKeepAlive() || !exchange.session.session)
        return true;  // delimited by the connection close, or nothing left to tell by
    try {
        auto& socket = exchange.session.session->socket();
        if (!readable(socket.impl()->sockfd(), 0)) return true;
        char probe = 0;
        return socket.receiveBytes(&probe, 1, MSG_PEEK) > 0;
    } catch (const Poco::Exception&) {
        return false;  // reset by the peer
    }
}

/// Ends the client's response abnormally: the connection is closed without the chunked body's terminating
/// zero chunk, which every SDK reports as an error, as it would a dropped provider connection. The socket is
/// detached first so Poco neither writes the end chunk nor serves another request on it.
void abortClient(http::Context& context) noexcept {
    try {
        auto* impl = dynamic_cast<Poco::Net::HTTPServerRequestImpl*>(&context.request());
        if (!impl) return;
        context.response().setKeepAlive(false);
        Poco::Net::StreamSocket socket = impl->detachSocket();
        try {
            socket.shutdownSend();  // FIN after the bytes already written (a reset could drop them)
        } catch (const Poco::Exception&) {
        }
        socket.close();
    } catch (...) {
    }
}

/// Reads what is available (at least one byte, blocking for it); 0 at the end of the body.
std::size_t readSome(std::istream& in, char* buffer, std::size_t size) {
    std::streambuf* sb = in.rdbuf();
    std::streamsize available = sb->in_avail();
    if (available <= 0) {
        if (sb->sgetc() == std::char_traits<char>::eof()) return 0;
        available = sb->in_avail();
        if (available <= 0) available = 1;
    }
    std::streamsize n =
        sb->sgetn(buffer, std::min<std::streamsize>(available, static_cast<std::streamsize>(size)));
    return n > 0 ? static_cast<std::size_t>(n) : 0;
}

/// Relays the upstream's status and headers. A header the upstream sent replaces ours of the same name (every
/// upstream value kept, e.g. several Set-Cookie): the SDKs read X-Request-Id as the provider's request id, so
/// the platform's own id moves to X-Archestra-Request-Id instead of being merged into a two-value header.
void copyResponseHead(const Poco::Net::HTTPResponse& from, Poco::Net::HTTPServerResponse& to) {
    to.setStatusAndReason(from.getStatus(), from.getReason());
    if (from.has("X-Request-Id") && to.has("X-Request-Id")) {
        to.set("X-Archestra-Request-Id", to.get("X-Request-Id"));
    }
    std::vector<std::string_view> replaced;  // names already taken over (a handful: a linear scan)
    for (const auto& [name, value] : from) {
        if (!forwardResponseHeader(name)) continue;
        bool seen = false;
        for (std::string_view done : replaced) seen = seen || equalsIgnoringCase(done, name);
        if (!seen) {
            replaced.push_back(name);
            to.erase(name);
        }
        to.add(name, value);
    }
}

std::vector<policy::ToolResult> policyResults(const RequestView& view) {
    std::vector<policy::ToolResult> results;
    results.reserve(view.toolResults.size());
    for (const auto& result : view.toolResults) {
        // Filled in place: moving a local with an optional<string> trips GCC 12's -Wmaybe-uninitialized.
        policy::ToolResult& r = results.emplace_back();
        r.toolCallId = result.toolCallId;
        if (!result.toolName.empty()) r.toolName = result.toolName;
        r.content = result.content;
    }
    return results;
}

std::vector<policy::ToolCall> policyCalls(const std::vector<ToolCall>& calls) {
    std::vector<policy::ToolCall> out;
    out.reserve(calls.size());
    for (const auto& call : calls) {
        policy::ToolCall c;
        c.id = call.id;
        c.name = call.name;
        c.arguments = call.argumentsValid ? call.arguments : nlohmann::json(call.argumentsRaw);
        out.push_back(std::move(c));
    }
    return out;
}

/// Commits the client's response to 200 text/event-stream before the upstream call, so dual-LLM progress can
/// be sent as SSE comment lines; the relay then writes into the same body.
std::ostream& startEarlyEventStream(http::Context& context) {
    auto& out = context.response();
    out.setStatus(Poco::Net::HTTPResponse::HTTP_OK);
    out.setContentType("text/event-stream; charset=utf-8");
    out.setChunkedTransferEncoding(true);
    out.set("Cache-Control", "no-cache");
    out.set("X-Accel-Buffering", "no");
    return out.send();
}

void sendProviderError(http::Context& context, const ProviderAdapter& adapter, ProxyErrorKind kind,
                       const std::string& message) {
    context.send(httpStatus(kind), "application/json", adapter.errorBody(kind, message));
}

/// Spec §1.2's model pattern, ^[a-zA-Z0-9-.]+$.
bool isGeminiModelName(const std::string& model) {
    if (model.empty()) return false;
    for (char c : model)
        if (!Poco::Ascii::isAlphaNumeric(c) && c != '-' && c != '.') return false;
    return true;
}

}  // namespace

const UpstreamEndpoint& ProxyUpstreams::of(Provider provider) const {
    switch (provider) {
        case Provider::OpenAi:
            return openAi;
        case Provider::Anthropic:
            return anthropic;
        case Provider::Gemini:
            return gemini;
        default:
            throw Poco::InvalidArgumentException("no upstream for an invalid provider");
    }
}

LlmProxy::LlmProxy(ProxyUpstreams upstreams, UpstreamPool& pool, ProfileCache& cache,
                   ToolDiscovery& discovery, InteractionLog& log)
    : _upstreams(std::move(upstreams)), _pool(pool), _cache(cache), _discovery(discovery), _log(log) {}

std::string LlmProxy::upstreamPathFor(Provider provider, const std::string& rest) const {
    const UpstreamEndpoint& endpoint = _upstreams.of(provider);
    if (provider == Provider::Gemini) {
        // Google's SDK puts the API version in the path; bare paths (the original's routes) mean v1beta.
        // Media uploads and downloads (`upload/v1beta/files`, `download/...`) put theirs after that prefix.
        for (const char* version : {"v1beta/", "v1/", "v1alpha/", "upload/", "download/"}) {
            if (rest.rfind(version, 0) == 0) return endpoint.basePath + "/" + rest;
        }
        return endpoint.basePath + "/v1beta/" + rest;
    }
    return endpoint.basePath + "/" + rest;
}

void LlmProxy::handleModelCall(http::Context& context, Provider provider, const std::string& profileId,
                               const std::string& model, bool streamRoute, const std::string& apiVersion) {
    const auto started = Clock::now();
    ++_counters.requests;
    const ProviderAdapter& adapter = adapterFor(provider);

    // The model goes into the upstream's request line: only the characters of a model name (spec §1.2).
    if (provider == Provider::Gemini && !isGeminiModelName(model)) {
        sendProviderError(context, adapter, ProxyErrorKind::BadRequest,
                          "Path parameter 'model': expected a model name of letters, digits, '-' and '.' "
                          "(^[a-zA-Z0-9-.]+$), got '" +
                              model.substr(0, 200) + "'");
        return;
    }

    // ---- profile (snapshot; no database round trip unless the id is unknown to this replica)
    auto snapshot = _cache.snapshot();
    if (!snapshot)
        throw http::ApiError::unavailable("The profile cache is not loaded yet (database unavailable)");
    std::shared_ptr<const Profile> profile;
    if (profileId.empty()) {
        profile = snapshot->defaultProfile;
        if (!profile) {
            // Deleted or never seeded: created as GET /api/agents/default would (spec §7 item 2).
            try {
                profile = _cache.defaultProfileOrCreate();
            } catch (const db::DatabaseException& error) {
                throw http::ApiError::unavailable(
                    "No default profile exists and it could not be created: the database is unavailable (" +
                    error.displayText() + ")");
            }
            if (!profile)
                throw http::ApiError::unavailable(
                    "The default profile was created but the profile cache could not load it; retry");
            snapshot = _cache.snapshot();
        }
    } else {
        // isUuidV4 accepts upper case; the snapshot holds PostgreSQL's lower-case text form.
        const std::string id = Poco::toLower(profileId);
        profile = snapshot->find(id);
        if (!profile) profile = _cache.findOrRefresh(id);
        if (!profile) throw http::ApiError::notFound("Agent with ID " + profileId + " not found");
        snapshot = _cache.snapshot();
    }

    InteractionRecord record;
    // UUID v7 (time first): appended at the right edge of the primary key; no /dev/urandom read per call
    // (Poco's UUIDGenerator opens it).
    record.id = http::newTimeOrderedId();
    record.profileId = profile->id;
    record.provider = std::string(providerName(provider));
    record.type = interactionType(provider);
    record.createdAt = nowRfc3339();
    std::string agentHeader = Poco::trim(context.header("X-Archestra-Agent-Id"));
    if (!agentHeader.empty()) record.externalAgentId = agentHeader;

    // ---- parse (never modifies the body). Fast path: the adapter reads the view straight from the text (a
    // plain request: no tool calls or results in its history), and the DOM is built only when something
    // rewrites the body; the row stores the client's text either way (requestText). Building and freeing the
    // DOM of every request was about a tenth of a proxied request's instructions.
    const std::string& rawBody = context.body();
    nlohmann::json body;
    bool bodyParsed = false;
    RequestView view;
    try {
        std::optional<nlohmann::json> document;
        if (auto quick = adapter.parseRequestText(rawBody, RouteInfo{model, streamRoute}, &document)) {
            view = std::move(*quick);
        } else {
            body = document ? std::move(*document) : parseJson(rawBody);
            bodyParsed = true;
            view = adapter.parseRequest(body, RouteInfo{model, streamRoute});
        }
    } catch (const nlohmann::json::exception& error) {
        sendProviderError(context, adapter, ProxyErrorKind::BadRequest,
                          std::string("Request body is not valid JSON: ") + error.what());
        return;
    } catch (const Poco::Exception& error) {
        sendProviderError(context, adapter, ProxyErrorKind::BadRequest, error.message());
        return;
    }
    record.model = view.model;
    // ---- more than one answer with tools: refused. The guardrails (and the stream's holding of tool calls)
    // read the first choice or candidate only, so a tool call in another one would reach the agent unchecked.
    if (view.choiceCount > 1 && view.hasTools) {
        std::string message =
            std::string(provider == Provider::Gemini ? "generationConfig.candidateCount" : "n") + " is " +
            std::to_string(view.choiceCount) +
            ", but with tools this gateway answers one choice only: its guardrails check the tool calls of "
            "one answer. Ask for 1 (or leave it out).";
        sendProviderError(context, adapter, ProxyErrorKind::BadRequest, message);
        record.requestText = rawBody;
        record.statusCode = 400;
        record.blocked = true;
        record.decisions = {{"refused", {{"reason", message}}}};
        record.duration_ms = msSince(started);
        _log.enqueue(std::move(record));
        return;
    }
    // The request's DOM, parsed at the first use on the fast path (the same value: simdjson read the text).
    auto requestDom = [&]() -> const nlohmann::json& {
        if (!bodyParsed) {
            body = parseJson(rawBody);
            bodyParsed = true;
        }
        return body;
    };

    // ---- limits (cached totals)
    {
        std::vector<policy::TokenCostLimit> limits;
        auto add = [&](const std::string& key) {
            auto it = snapshot->tokenCostLimits.find(key);
            if (it != snapshot->tokenCostLimits.end())
                limits.insert(limits.end(), it->second.begin(), it->second.end());
        };
        add("agent:" + profile->id);
        for (const auto& team : profile->teamIds) add("team:" + team);
        if (!profile->organizationId.empty()) add("organization:" + profile->organizationId);
        if (!limits.empty()) {
            policy::LimitDecision decision = policy::evaluateTokenCostLimits(limits, snapshot->prices);
            if (decision.blocked) {
                context.send(429, "application/json",
                             adapter.errorBody(ProxyErrorKind::LimitExceeded, decision.message));
                record.request = std::move(body);
                record.requestText = rawBody;
                record.statusCode = 429;
                record.blocked = true;
                record.decisions = {{"limit", {{"limitId", decision.limitId}, {"reason", decision.message}}}};
                record.duration_ms = msSince(started);
                _log.enqueue(std::move(record));
                return;
            }
        }
    }

    _discovery.record(*profile, view.tools);

    // ---- optimization: the first matching rule's target model goes upstream (only "model" is rewritten)
    std::string upstreamModel = view.model;
    if (provider != Provider::Gemini && !snapshot->optimizationRules.empty()) {
        policy::OptimizationRequest optimizationRequest{record.provider, policy::estimateTokens(view.text),
                                                        view.hasTools};
        const policy::OptimizationRule* rule = nullptr;
        auto tryLevel = [&](const std::string& key) {
            if (rule) return;
            auto it = snapshot->optimizationRules.find(key);
            if (it != snapshot->optimizationRules.end())
                rule = policy::selectOptimizationRule(it->second, optimizationRequest);
        };
        tryLevel("agent:" + profile->id);
        for (const auto& team : profile->teamIds) tryLevel("team:" + team);
        tryLevel("organization:" + (profile->organizationId.empty() ? snapshot->firstOrganizationWithRules
                                                                    : profile->organizationId));
        if (rule && rule->targetModel != view.model) {
            upstreamModel = rule->targetModel;
            record.originalModel = view.model;
            record.optimizedModel = rule->targetModel;
            record.model = rule->targetModel;
        }
    }

    // ---- trusted data: evaluate the tool results; block_always results are rewritten before going upstream
    bool contextTrusted = true;
    nlohmann::json decisions = nullptr;
    std::ostream* earlyStream = nullptr;  // the client's SSE body once dual-LLM progress was sent
    std::optional<nlohmann::json> rewritten;
    if (!view.toolResults.empty() || profile->considerContextUntrusted) {
        policy::ContextEvaluation evaluation =
            policy::evaluateContext(profile->policies, policyResults(view));
        contextTrusted = evaluation.trusted;
        for (std::size_t i = 0; i < evaluation.perResult.size() && i < view.toolResults.size(); ++i) {
            const auto& decision = evaluation.perResult[i];
            if (decision.verdict == policy::Verdict::Blocked && decision.replacementContent) {
                rewritten =
                    adapter.rewriteToolResult(rewritten ? *rewritten : requestDom(),
                                              view.toolResults[i].location, *decision.replacementContent);
            }
        }
        decisions = {{"context", evaluation.toJson()}};
        // Dual LLM (DualLlm.h): the summaries replace the results; the context stays untrusted unless every
        // result to sanitise was. A streaming client sees the rounds as SSE comment lines (ignored by SDKs).
        if (evaluation.needsSanitization) {
            contextTrusted = false;
            if (_dualLlm) {
                DualLlmProgressFn progress;
                if (view.stream ||
                    (streamRoute && context.request().getURI().find("alt=sse") != std::string::npos))
                    progress = [&](const DualLlmProgress& step) {
                        if (!earlyStream) earlyStream = &startEarlyEventStream(context);
                        *earlyStream << step.line();
                        earlyStream->flush();
                    };
                DualLlmApplied applied = _dualLlm->apply(
                    dualLlmTarget(provider, _upstreams.of(provider),
                                  provider == Provider::Gemini ? model : upstreamModel, context.request()),
                    adapter, profile->id, view, evaluation, requestDom(), rewritten, progress);
                if (applied.allSanitized) contextTrusted = evaluation.trusted;
                decisions["dualLlm"] = applied.decisions;
            }
        }
    }
    std::string outgoing;
    if (upstreamModel != view.model) {
        if (!rewritten) rewritten = requestDom();
        (*rewritten)["model"] = upstreamModel;
    }
    // ---- TOON: JSON tool results go upstream in TOON when the organisation's (or, with compressionScope
    // "team", one of the profile's teams') setting is on. Without an earlier rewrite only the bytes of those
    // contents change.
    if (!view.toolResults.empty() && provider != Provider::Gemini &&
        snapshot->toon.enabledFor(profile->organizationId, profile->teamIds)) {
        std::optional<std::string> spliced;
        ToonOutcome toon = compressToolResults(adapter, view, rawBody, requestDom(), rewritten, spliced);
        if (toon.converted) {
            record.toonTokensBefore = toon.tokensBefore;
            record.toonTokensAfter = toon.tokensAfter;
            policy::ModelPrice price = snapshot->prices.priceOrDefault(upstreamModel);
            record.toonCostSavings =
                static_cast<double>(
                    policy::tokenCost(price, static_cast<std::uint64_t>(toon.tokensBefore - toon.tokensAfter),
                                      0)
                        .units()) /
                static_cast<double>(policy::Money::kUnitsPerDollar);
        }
        if (spliced) {
            outgoing = std::move(*spliced);
            record.processedRequest = parseJsonOrDiscarded(outgoing);
            if (record.processedRequest.is_discarded()) record.processedRequest = nullptr;
        }
    }
    if (rewritten) {
        outgoing = rewritten->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        record.processedRequest = *rewritten;
    }
    // ---- stream usage: a provider that reports a stream's tokens only on request (OpenAI without
    // stream_options.include_usage) is asked for them, so that streamed calls count towards costs and limits
    // like the others; the relay hides the addition from the client (hideAddedUsage below).
    const bool bodyChanged = rewritten || !outgoing.empty();
    bool usageAdded = false;
    if (view.stream) {
        if (auto withUsage = adapter.withStreamUsage(bodyChanged ? outgoing : rawBody)) {
            outgoing = std::move(*withUsage);
            usageAdded = true;
            // The row shows what went upstream: the rewritten DOM gets the same member, else the text is
            // read.
            if (record.processedRequest.is_object())
                record.processedRequest["stream_options"]["include_usage"] = true;
            else
                record.processedRequest = parseJsonOrDiscarded(outgoing);
            if (record.processedRequest.is_discarded()) record.processedRequest = nullptr;
        }
    }
    const std::string& upstreamBody = (bodyChanged || usageAdded) ? outgoing : rawBody;

    // ---- upstream request
    const UpstreamEndpoint& endpoint = _upstreams.of(provider);
    std::string query;
    rawPathAndQuery(context, query);
    std::string path;
    switch (provider) {
        case Provider::OpenAi:
            path = endpoint.basePath + "/chat/completions";
            break;
        case Provider::Anthropic:
            path = endpoint.basePath + "/v1/messages";
            break;
        default:
            path = endpoint.basePath + "/" + apiVersion + "/models/" + model +
                   (streamRoute ? ":streamGenerateContent" : ":generateContent");
            break;
    }
    UpstreamRequest request(Poco::Net::HTTPRequest::HTTP_POST, path + query);
    for (const auto& [name, value] : context.request()) {
        if (forwardRequestHeader(name)) request.add(name, value);
    }
    request.setHost(endpoint.host, endpoint.port);
    request.setContentLength(static_cast<std::streamsize>(upstreamBody.size()));
    request.setKeepAlive(true);

    record.request = std::move(body);
    record.requestText = rawBody;  // the row stores the client's bytes, not a re-serialised parse
    // Metrics and tracing: the observer sees the call start (and may add traceparent) and its end.
    LlmCallInfo callInfo;
    LlmCallOutcome outcome;
    std::shared_ptr<void> observerState;
    if (_observer) {
        callInfo.provider = provider;
        callInfo.profile = profile.get();
        callInfo.snapshot = snapshot.get();
        callInfo.model = upstreamModel;
        callInfo.agentId = agentHeader;
        callInfo.stream = view.stream || streamRoute;
        callInfo.started = started;
        callInfo.startedWall = std::chrono::system_clock::now() - (Clock::now() - started);
        observerState = _observer->onCallStart(callInfo, context, request);
    }
    auto finish = [&](int status) {
        record.statusCode = status;
        record.duration_ms = msSince(started);
        record.decisions = decisions;
        if (record.inputTokens || record.outputTokens) {
            std::uint64_t in = static_cast<std::uint64_t>(record.inputTokens.value_or(0));
            std::uint64_t out = static_cast<std::uint64_t>(record.outputTokens.value_or(0));
            policy::ModelPrice price = snapshot->prices.priceOrDefault(record.model);
            record.cost = static_cast<double>(policy::tokenCost(price, in, out).units()) /
                          static_cast<double>(policy::Money::kUnitsPerDollar);
            if (record.originalModel) {
                policy::ModelPrice base = snapshot->prices.priceOrDefault(*record.originalModel);
                record.baselineCost = static_cast<double>(policy::tokenCost(base, in, out).units()) /
                                      static_cast<double>(policy::Money::kUnitsPerDollar);
            } else {
                record.baselineCost = record.cost;
            }
        }
        if (_observer) {
            outcome.clientStatus = status;
            outcome.duration_s = std::chrono::duration<double>(Clock::now() - started).count();
            outcome.inputTokens = record.inputTokens;
            outcome.outputTokens = record.outputTokens;
            outcome.cost_usd = record.cost;
            if (outcome.streamed && record.timeToFirstToken_ms)
                outcome.timeToFirstToken_s = static_cast<double>(*record.timeToFirstToken_ms) / 1000.0;
            if (outcome.error.empty() && status >= 400) outcome.error = "HTTP " + std::to_string(status);
            _observer->onCallDone(callInfo, outcome, observerState);
        }
        _log.enqueue(std::move(record));
    };

    // Once dual-LLM progress went out the status is 200 and the body SSE: a failure is an error event, then a
    // drop.
    auto sendFailure = [&](ProxyErrorKind kind, const std::string& message) {
        if (!earlyStream) return sendProviderError(context, adapter, kind, message);
        *earlyStream << adapter.sseError(kind, message);
        earlyStream->flush();
        abortClient(context);
    };

    Exchange exchange;
    // Time to first token runs from here, before the upstream call (connect, send, the model's wait), to the
    // first body byte, streamed or not (spec §5); not from the request's start (our own work before the call)
    // nor from the response head (a model that holds its head back while it thinks would look instant).
    const auto upstreamStarted = Clock::now();
    try {
        sendUpstream(_pool, endpoint, request, upstreamBody, exchange, &context);
    } catch (const ClientGone&) {
        outcome.error = "client disconnected";
        ++_counters.clientDisconnects;
        if (decisions.is_null()) decisions = nlohmann::json::object();
        decisions["clientDisconnected"] = true;
        abortClient(context);
        finish(499);
        return;
    } catch (const UpstreamTimeoutException& error) {
        ++_counters.upstreamErrors;
        outcome.error = "upstream timeout";
        sendFailure(ProxyErrorKind::UpstreamTimeout, error.message());
        finish(504);
        return;
    } catch (const UpstreamUnreachableException& error) {
        ++_counters.upstreamErrors;
        outcome.error = "upstream unreachable";
        sendFailure(ProxyErrorKind::UpstreamUnreachable, error.message());
        finish(502);
        return;
    }
    const int status = static_cast<int>(exchange.response.getStatus());
    outcome.upstreamStatus = status;
    const bool eventStream =
        Poco::toLower(exchange.response.getContentType()).rfind("text/event-stream", 0) == 0;
    auto& out = context.response();

    // Gemini's streamGenerateContent without alt=sse: one JSON array whose elements arrive over time. Relayed
    // element by element like an event stream (unless dual-LLM progress already committed the client to SSE).
    const bool arrayStream =
        provider == Provider::Gemini && streamRoute && !eventStream && !earlyStream &&
        Poco::toLower(exchange.response.getContentType()).rfind("application/json", 0) == 0;

    // ---- streaming relay: bytes as they arrive; tool calls held until the invocation policy decided
    if (status >= 200 && status < 300 && (eventStream || arrayStream)) {
        outcome.streamed = true;
        if (!earlyStream) {
            copyResponseHead(exchange.response, out);
            out.setChunkedTransferEncoding(true);
            out.set("Cache-Control", "no-cache");
            out.set("X-Accel-Buffering", "no");
        }
        std::ostream& client = earlyStream ? *earlyStream : out.send();
        client.flush();

        SseParser parser;
        JsonArrayStream arrayParser;
        // A failure after the head: SSE clients get the provider's error event before the drop; a JSON array
        // cannot carry one, so its client sees the truncated array (a drop) only.
        auto streamError = [&](ProxyErrorKind kind, const std::string& message) {
            return arrayStream ? std::string() : adapter.sseError(kind, message);
        };
        auto assembler = adapter.newStreamAssembler();
        if (usageAdded) assembler->hideAddedUsage();
        std::vector<SseEvent> events;
        nlohmann::json callDecisions = nlohmann::json::array();
        bool anyBlocked = false;
        auto decide = [&]() {
            const ResponseView& message = assembler->message();
            std::set<std::string> decided;
            for (const auto& d : callDecisions) decided.insert(d.value("toolCallId", ""));
            std::vector<ToolCall> fresh;
            for (const auto& call : message.toolCalls)
                if (!decided.count(call.id)) fresh.push_back(call);
            std::vector<BlockedCall> blocked;
            std::string signals;  // one SSE comment per blocked call, ahead of the released events
            for (const auto& decision :
                 policy::evaluateToolCalls(profile->policies, contextTrusted, policyCalls(fresh))) {
                callDecisions.push_back(decision.toJson());
                if (!decision.allowed) {
                    blocked.push_back(
                        {decision.toolCallId, decision.contentMessage, decision.refusalMessage});
                    signals += blockedCallComment(decision);
                    anyBlocked = true;
                    ++_counters.blockedToolCalls;
                    ++outcome.blockedToolCalls;
                }
            }
            // A JSON-array stream (Gemini without alt=sse) has no comment syntax: no signal there.
            return (arrayStream ? std::string() : signals) + assembler->release(blocked);
        };
        std::string pending;
        auto handle = [&]() {
            for (auto& event : events) {
                if (assembler->feed(event) == StreamAction::Pass) pending += event.raw;
                if (assembler->readyToRelease()) pending += decide();
            }
            events.clear();
        };
        bool clientGone = false;
        bool upstreamFailed = false;
        int failedStatus = 502;  // recorded instead of the upstream's 200 when the stream broke
        bool first = true;
        std::uint64_t bytesRead = 0;
        char buffer[16384];
        auto flushToClient = [&]() {
            if (pending.empty() || clientGone) return;
            client.write(pending.data(), static_cast<std::streamsize>(pending.size()));
            client.flush();
            pending.clear();
            if (!client.good()) clientGone = true;
        };
        while (!clientGone) {
            std::size_t n = 0;
            // A silent upstream (a model thinking between events): watch the client meanwhile, so that a
            // client hanging up cancels the upstream request now, not when the next event arrives.
            try {
                if (upstreamWouldBlock(exchange, bytesRead))
                    awaitUpstream(exchange.session, &context, _pool.options().idleTimeout_ms);
                n = readSome(*exchange.body, buffer, sizeof buffer);
            } catch (const ClientGone&) {
                clientGone = true;
                break;
            } catch (const Poco::TimeoutException&) {
                upstreamFailed = true;
                failedStatus = 504;
                pending += streamError(ProxyErrorKind::UpstreamTimeout,
                                       "The upstream stream went silent past the idle timeout");
                break;
            } catch (const Poco::Exception& error) {
                upstreamFailed = true;
                pending += streamError(ProxyErrorKind::UpstreamUnreachable,
                                       "The upstream stream broke: " + error.displayText());
                break;
            }
            if (n == 0) {
                if (!upstreamBodyComplete(exchange, bytesRead)) {
                    upstreamFailed = true;
                    pending += streamError(ProxyErrorKind::UpstreamUnreachable,
                                           "The upstream closed the connection in the middle of the stream");
                }
                break;
            }
            bytesRead += n;
            if (first) {
                record.timeToFirstToken_ms = msSince(upstreamStarted);
                first = false;
            }
            try {
                if (arrayStream)
                    arrayParser.feed(std::string_view(buffer, n), events);
                else
                    parser.feed(std::string_view(buffer, n), events);
            } catch (const Poco::DataFormatException& error) {
                handle();  // what was complete before the bad bytes
                upstreamFailed = true;
                pending += streamError(ProxyErrorKind::UpstreamUnreachable,
                                       "The upstream stream is malformed: " + error.message());
                break;
            }
            handle();
            flushToClient();
        }
        if (!clientGone && !upstreamFailed) {
            try {
                if (arrayStream)
                    arrayParser.finish(events);
                else
                    parser.finish(events);
            } catch (const Poco::Exception&) {
            }
            handle();
            if (assembler->holding()) pending += decide();
            flushToClient();
        } else if (!clientGone) {
            // The provider's error event, then a connection drop: what a broken provider connection looks
            // like, so the SDK raises instead of returning a silently truncated answer.
            ++_counters.upstreamErrors;
            flushToClient();
            abortClient(context);
        }
        if (clientGone || upstreamFailed) {
            abortSession(exchange.session);  // cancels the upstream request; never reused
            if (clientGone) ++_counters.clientDisconnects;
        } else if (exchange.response.getKeepAlive()) {
            _pool.release(std::move(exchange.session));
        }
        const ResponseView& message = assembler->message();
        record.response = responseViewJson(provider, message);
        record.inputTokens = message.usage.inputTokens;
        record.outputTokens = message.usage.outputTokens;
        record.blocked = anyBlocked;
        if (!callDecisions.empty()) {
            if (decisions.is_null()) decisions = nlohmann::json::object();
            decisions["toolCalls"] = callDecisions;
        }
        if (clientGone) {
            if (decisions.is_null()) decisions = nlohmann::json::object();
            decisions["clientDisconnected"] = true;
            outcome.error = "client disconnected";
        } else if (upstreamFailed) {
            outcome.error = "upstream stream broke";
        }
        // A stream that broke midway is recorded as the error the client saw, not as the upstream's 200.
        finish(clientGone ? 499 : upstreamFailed ? failedStatus : status);
        return;
    }

    // ---- non-streaming (and every error): the whole body, then the invocation policy
    std::string responseBody;
    try {
        responseBody.reserve(
            static_cast<std::size_t>(std::max<std::streamsize>(0, exchange.response.getContentLength())));
        char buffer[16384];
        while (std::size_t n = readSome(*exchange.body, buffer, sizeof buffer)) {
            if (!record.timeToFirstToken_ms) record.timeToFirstToken_ms = msSince(upstreamStarted);
            responseBody.append(buffer, n);
        }
        if (!upstreamBodyComplete(exchange, responseBody.size()))
            throw Poco::Net::ConnectionAbortedException("the upstream closed the connection mid-body (" +
                                                        std::to_string(responseBody.size()) + " bytes read)");
    } catch (const Poco::TimeoutException& error) {
        abortSession(exchange.session);
        ++_counters.upstreamErrors;
        sendFailure(ProxyErrorKind::UpstreamTimeout, "Upstream body timed out: " + error.displayText());
        finish(504);
        return;
    } catch (const Poco::Exception& error) {
        abortSession(exchange.session);
        ++_counters.upstreamErrors;
        sendFailure(ProxyErrorKind::UpstreamUnreachable, "Upstream body broke: " + error.displayText());
        finish(502);
        return;
    }
    if (exchange.response.getKeepAlive()) _pool.release(std::move(exchange.session));

    std::optional<std::string> replaced;
    // Fast path: the adapter reads the answer's view straight from the text (a JSON object it knows how to
    // read). The DOM is then built only to rewrite a blocked answer; the row stores the upstream's text
    // either way, so record.response stays null unless the body was rewritten. Building and freeing the
    // DOM of every answer was about a seventh of a proxied request's instructions.
    const bool success = status >= 200 && status < 300;
    std::optional<ResponseView> quick = success ? adapter.parseResponseText(responseBody) : std::nullopt;
    nlohmann::json parsed = quick ? nlohmann::json() : parseJsonOrDiscarded(responseBody);
    if (quick || !parsed.is_discarded()) {
        if (quick || (success && parsed.is_object())) {
            try {
                ResponseView response = quick ? std::move(*quick) : adapter.parseResponse(parsed);
                record.inputTokens = response.usage.inputTokens;
                record.outputTokens = response.usage.outputTokens;
                if (!response.toolCalls.empty()) {
                    std::vector<BlockedCall> blocked;
                    nlohmann::json callDecisions = nlohmann::json::array();
                    for (const auto& decision : policy::evaluateToolCalls(profile->policies, contextTrusted,
                                                                          policyCalls(response.toolCalls))) {
                        callDecisions.push_back(decision.toJson());
                        if (!decision.allowed)
                            blocked.push_back(
                                {decision.toolCallId, decision.contentMessage, decision.refusalMessage});
                    }
                    if (decisions.is_null()) decisions = nlohmann::json::object();
                    decisions["toolCalls"] = callDecisions;
                    if (!blocked.empty()) {
                        _counters.blockedToolCalls += blocked.size();
                        outcome.blockedToolCalls += static_cast<std::uint32_t>(blocked.size());
                        if (quick) parsed = parseJson(responseBody);
                        nlohmann::json blockedBody = adapter.blockResponse(parsed, blocked);
                        replaced = blockedBody.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
                        record.blocked = true;
                        parsed = std::move(blockedBody);
                    }
                }
            } catch (const Poco::Exception&) {
                // Not the provider's response shape: forward it as it is.
            }
        }
        // Unchanged (not a blocked rewrite): the row stores the upstream's bytes, not a re-serialised parse.
        if (!replaced) record.responseText = responseBody;
        record.response = std::move(parsed);
    } else {
        record.response = responseBody;
    }
    if (earlyStream) {
        sendFailure(ProxyErrorKind::UpstreamUnreachable,
                    "The upstream answered HTTP " + std::to_string(status) +
                        " without a stream: " + responseBody.substr(0, 500));
        finish(status);
        return;
    }
    copyResponseHead(exchange.response, out);
    if (replaced) {
        out.setContentType("application/json");
        out.set(kBlockedToolCallsHeader, std::to_string(outcome.blockedToolCalls));
    }
    // Logged first: enqueue() puts the row in the write-ahead segment, so a process killed right after the
    // client got its answer still has the row (see InteractionLog).
    std::string sentBody = replaced ? std::move(*replaced) : std::move(responseBody);
    finish(status);
    out.sendBuffer(sentBody.data(), sentBody.size());
}

void LlmProxy::handlePassThrough(http::Context& context, Provider provider) {
    ++_counters.requests;
    const ProviderAdapter& adapter = adapterFor(provider);
    std::string query;
    std::string path = rawPathAndQuery(context, query);
    std::string prefix = "/v1/" + std::string(providerName(provider));
    std::string rest = path.size() > prefix.size() ? path.substr(prefix.size() + 1) : "";
    auto slash = rest.find('/');
    std::string first = rest.substr(0, slash);
    if (http::isUuidV4(first)) rest = slash == std::string::npos ? "" : rest.substr(slash + 1);

    const UpstreamEndpoint& endpoint = _upstreams.of(provider);
    std::string method = context.method();
    UpstreamRequest request(method, upstreamPathFor(provider, rest) + query);
    for (const auto& [name, value] : context.request()) {
        if (forwardRequestHeader(name)) request.add(name, value);
    }
    request.setHost(endpoint.host, endpoint.port);
    const std::string& body = context.hasBody() ? context.body() : std::string();
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH")
        request.setContentLength(static_cast<std::streamsize>(body.size()));
    request.setKeepAlive(true);

    Exchange exchange;
    try {
        // The client is watched while the upstream works, as for model calls: a client that hangs up cancels
        // the upstream request (a file upload's processing, a long listing) instead of leaving it running.
        sendUpstream(_pool, endpoint, request, body, exchange, &context);
    } catch (const ClientGone&) {
        ++_counters.clientDisconnects;
        abortClient(context);
        return;
    } catch (const UpstreamTimeoutException& error) {
        ++_counters.upstreamErrors;
        sendProviderError(context, adapter, ProxyErrorKind::UpstreamTimeout, error.message());
        return;
    } catch (const UpstreamUnreachableException& error) {
        ++_counters.upstreamErrors;
        sendProviderError(context, adapter, ProxyErrorKind::UpstreamUnreachable, error.message());
        return;
    }
    auto& out = context.response();
    copyResponseHead(exchange.response, out);
    if (method == "HEAD" || exchange.response.getStatus() == Poco::Net::HTTPResponse::HTTP_NO_CONTENT ||
        exchange.response.getStatus() == Poco::Net::HTTPResponse::HTTP_NOT_MODIFIED) {
        // No body; a HEAD answer keeps the length the GET would have.
        if (method == "HEAD" && exchange.response.hasContentLength())
            out.setContentLength64(exchange.response.getContentLength64());
        else
            out.setContentLength(0);
        out.send();
        if (exchange.response.getKeepAlive()) _pool.release(std::move(exchange.session));
        return;
    }
    out.setChunkedTransferEncoding(true);
    std::ostream& client = out.send();
    char buffer[16384];
    bool clean = true;
    bool upstreamBroke = false;
    bool clientGone = false;
    std::uint64_t bytesRead = 0;
    try {
        for (;;) {
            // Between bytes of a slow body the client is watched too: gone, the upstream is cut at once.
            if (upstreamWouldBlock(exchange, bytesRead))
                awaitUpstream(exchange.session, &context, _pool.options().idleTimeout_ms);
            const std::size_t n = readSome(*exchange.body, buffer, sizeof buffer);
            if (n == 0) break;
            bytesRead += n;
            client.write(buffer, static_cast<std::streamsize>(n));
            client.flush();
            if (!client.good()) {
                clean = false;
                break;
            }
        }
        if (clean && !upstreamBodyComplete(exchange, bytesRead)) {
            clean = false;
            upstreamBroke = true;
        }
    } catch (const ClientGone&) {
        ++_counters.clientDisconnects;
        clean = false;
        clientGone = true;
    } catch (const Poco::Exception&) {
        clean = false;
        upstreamBroke = true;
    }
    // After the head nothing better can be said than the truncation itself: the client's body ends
    // abnormally. A client that left gets its side closed too.
    if (upstreamBroke || clientGone) abortClient(context);
    if (!clean)
        abortSession(exchange.session);
    else if (exchange.response.getKeepAlive())
        _pool.release(std::move(exchange.session));
}

void registerProxyRoutes(http::Router& router, LlmProxy& proxy) {
    const auto access = http::Access::publicRoute();
    const std::size_t maxBody = 50u << 20;
    // Errors raised outside the adapters (unknown profile, a path segment that is not a UUID, a body over the
    // limit, the database down) in the provider's shape, so its SDK raises its usual error class with the
    // message.
    auto errorBodyOf = [](Provider provider) {
        return [&adapter = adapterFor(provider)](int status, const std::string&, const std::string& message) {
            return adapter.errorBody(proxyErrorKindFor(status), message);
        };
    };
    // A request target the upstream request line cannot carry is the client's fault: 400, not 500.
    auto guarded = [](http::Handler handler) -> http::Handler {
        return [handler = std::move(handler)](http::Context& c) {
            try {
                handler(c);
            } catch (const UpstreamTargetException& error) {
                throw http::ApiError::badRequest(error.message());
            }
        };
    };
    auto model = [&](Provider provider, const std::string& path, const std::string& operationId,
                     const std::string& summary, bool hidden, http::Handler handler, bool withProfile) {
        http::RouteSpec spec;
        spec.method = "POST";
        spec.path = path;
        spec.operationId = operationId;
        spec.tag = "llm-proxy";
        spec.summary = summary;
        spec.access = access;
        spec.requestBody = {{"type", "object"}};
        spec.response = {{"type", "object"}};
        spec.hidden = hidden;
        spec.maxBodyBytes = maxBody;
        if (withProfile) spec.uuidParams = {"profileId"};
        spec.errorBody = errorBodyOf(provider);
        router.add(std::move(spec), guarded(std::move(handler)));
    };
    for (bool withProfile : {false, true}) {
        const std::string seg = withProfile ? "/{profileId}" : "";
        const std::string suffix = withProfile ? "WithAgent" : "WithDefaultAgent";
        model(
            Provider::OpenAi, "/v1/openai" + seg + "/chat/completions", "openAiChatCompletions" + suffix,
            "OpenAI chat completions through the profile's guardrails", false,
            [&proxy](http::Context& c) { proxy.handleModelCall(c, Provider::OpenAi, c.param("profileId")); },
            withProfile);
        model(
            Provider::Anthropic, "/v1/anthropic" + seg + "/v1/messages", "anthropicMessages" + suffix,
            "Anthropic messages through the profile's guardrails", false,
            [&proxy](http::Context& c) {
                proxy.handleModelCall(c, Provider::Anthropic, c.param("profileId"));
            },
            withProfile);
        for (bool stream : {false, true}) {
            const std::string action = stream ? ":streamGenerateContent" : ":generateContent";
            const std::string op = stream ? "geminiStreamGenerateContent" : "geminiGenerateContent";
            auto handler = [&proxy, stream](const std::string& version) {
                return [&proxy, stream, version](http::Context& c) {
                    proxy.handleModelCall(c, Provider::Gemini, c.param("profileId"), c.param("model"), stream,
                                          version);
                };
            };
            // The original's form: no API version in the path, v1beta upstream.
            model(Provider::Gemini, "/v1/gemini" + seg + "/models/{model}" + action, op + suffix,
                  "Gemini generateContent through the profile's guardrails", false, handler("v1beta"),
                  withProfile);
            // @google/genai puts its API version in the path; the upstream gets the same one.
            for (const char* version : {"v1beta", "v1", "v1alpha"}) {
                std::string name = version;
                name[0] = 'V';
                model(Provider::Gemini, "/v1/gemini" + seg + "/" + version + "/models/{model}" + action,
                      op + name + suffix, "Gemini generateContent (SDK path form)", true, handler(version),
                      withProfile);
            }
        }
    }
    for (Provider provider : {Provider::OpenAi, Provider::Anthropic, Provider::Gemini}) {
        http::RouteSpec spec;
        spec.method = "*";
        spec.path = "/v1/" + std::string(providerName(provider)) + "/*";
        spec.operationId = std::string(providerName(provider)) + "PassThrough";
        spec.tag = "llm-proxy";
        spec.access = access;
        spec.hidden = true;
        spec.maxBodyBytes = maxBody;
        spec.errorBody = errorBodyOf(provider);
        router.add(std::move(spec),
                   guarded([&proxy, provider](http::Context& c) { proxy.handlePassThrough(c, provider); }));
    }
}

}  // namespace archestra::proxy
