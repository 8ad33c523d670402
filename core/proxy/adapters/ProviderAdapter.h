// Provider-neutral view of LLM requests/responses and the interface every provider adapter implements.
#pragma once

#include "core/proxy/sse/SseParser.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace archestra::proxy {

enum class Provider { Invalid = 0, OpenAi, Anthropic, Gemini };

std::string_view providerName(Provider provider);  ///< "openai", "anthropic", "gemini"

/// What the route tells us that the body does not: Gemini carries the model and the streaming mode in the
/// URL.
struct RouteInfo {
    std::string model;         ///< model from the path (Gemini); empty otherwise
    bool streamRoute = false;  ///< streamGenerateContent (Gemini)
};

/// A tool the client declared in its request (tool discovery, spec §2.4).
struct DeclaredTool {
    std::string name;
    std::string description;
    nlohmann::json parameters =
        nlohmann::json::object();  ///< JSON schema (OpenAI custom tools: their `format`)
};

/// Where a tool result lives inside the request body, so it can be rewritten without touching anything else.
struct ToolResultLocation {
    std::size_t messageIndex = 0;  ///< index in messages / contents
    std::size_t partIndex = 0;     ///< block / part index inside that message (OpenAI: unused)
};

/// A tool result found in the conversation history.
struct ToolResult {
    std::string toolCallId;  ///< Gemini has no ids: "<name>#<n>", the n-th call/response of that name
    std::string toolName;    ///< resolved from the assistant turn with the same id; empty when unresolved
    nlohmann::json content;  ///< parsed JSON when the text parses, otherwise the text as a JSON string
    ToolResultLocation location;
};

/// Read-only view of a client request. Parsing never modifies the body.
struct RequestView {
    std::string model;
    bool stream = false;
    std::vector<DeclaredTool> tools;
    bool hasTools = false;                             ///< the request declares at least one tool of any kind
    std::map<std::string, std::string> toolCallNames;  ///< tool call id -> tool name, from assistant turns
    std::vector<ToolResult> toolResults;
    std::string text;  ///< role and text of every message, for token estimates (optimization rules)
    /// Answers the request asks for: OpenAI's `n`, Gemini's generationConfig.candidateCount (1 when absent).
    long long choiceCount = 1;
};

struct ToolCall {
    std::string id;
    std::string name;
    nlohmann::json arguments;  ///< parsed object when argumentsRaw is valid JSON, else the raw string
    std::string argumentsRaw;
    bool argumentsValid = false;
};

struct Usage {
    std::optional<std::int64_t> inputTokens;
    std::optional<std::int64_t> outputTokens;
};

/// Provider-neutral view of a model answer (non-streaming body, or a stream assembled so far).
struct ResponseView {
    std::string id;
    std::string model;
    std::string text;      ///< visible assistant text (thinking excluded)
    std::string thinking;  ///< Anthropic thinking / Gemini thought text
    std::vector<ToolCall> toolCalls;
    Usage usage;
    std::string finishReason;  ///< provider's own value: "tool_calls", "tool_use", "STOP", ...
};

/// A tool call the invocation policy refused, with the texts the policy module produced for it.
struct BlockedCall {
    std::string toolCallId;
    std::string contentMessage;
    std::string refusalMessage;
};

/// Failures of the proxy itself (not of the upstream, whose bodies are forwarded as they are).
enum class ProxyErrorKind {
    Invalid = 0,
    BadRequest,
    LimitExceeded,
    Internal,
    UpstreamUnreachable,
    UpstreamTimeout,
    NotFound,         ///< e.g. an unknown profile id
    PayloadTooLarge,  ///< the body is over the route's limit
    Unavailable       ///< the database (profiles) cannot be reached
};

int httpStatus(ProxyErrorKind kind);  ///< 400, 429, 500, 502, 504, 404, 413, 503

/// The kind whose status is `status`, for errors raised outside the adapters (ApiError on a proxy route);
/// Internal for a status no kind has. 429 is not LimitExceeded: that one is only the token-cost limit.
ProxyErrorKind proxyErrorKindFor(int status);

/// What the relay should do with one upstream SSE event. Drop: not for the client at all (what the proxy
/// asked the upstream for on its own behalf, see StreamAssembler::hideAddedUsage).
enum class StreamAction { Invalid = 0, Pass, Hold, Drop };

/// Per-stream state machine: assembles the final message and decides which upstream events can go to the
/// client at once (text, role, ping, thinking) and which must wait for the invocation policy (tool calls and
/// everything after the first one, so the client sees events in their original order). Not thread-safe; one
/// per stream.
class StreamAssembler {
  public:
    virtual ~StreamAssembler() = default;

    /// Feed the next upstream event. Pass: forward event.raw now. Hold: the assembler keeps it for release().
    /// Drop: forward nothing. May rewrite the event (raw and data alike) before it is forwarded or held; only
    /// after hideAddedUsage() does any assembler do so.
    virtual StreamAction feed(SseEvent& event) = 0;

    /// The upstream was asked for the stream's usage report on the proxy's behalf, not the client's
    /// (ProviderAdapter::withStreamUsage): read the usage, but give the client the stream it asked for,
    /// without what the request change added. Call before the first feed(). The default does nothing.
    virtual void hideAddedUsage() {}

    /// True once events are held and every held tool call is complete (the finish chunk / message_delta
    /// arrived), i.e. the policy can decide and release() can be called without waiting for the end of the
    /// stream.
    virtual bool readyToRelease() const = 0;

    /// True when the upstream has signalled the end of the message ([DONE], message_stop, final chunk).
    virtual bool complete() const = 0;

    /// True while events are held.
    virtual bool holding() const = 0;

    /// Tool calls assembled so far (all complete once readyToRelease() or complete()).
    virtual const ResponseView& message() const = 0;

    /// The bytes to send for the held events: unchanged bytes when nothing is blocked; otherwise blocked
    /// calls replaced by text carrying their contentMessage, indices kept contiguous, the real finish event
    /// last (its reason changed only when every call was blocked). Clears the held events; later events pass
    /// again.
    virtual std::string release(const std::vector<BlockedCall>& blocked) = 0;
};

/// One per provider; stateless and thread-safe.
class ProviderAdapter {
  public:
    virtual ~ProviderAdapter() = default;

    virtual Provider provider() const = 0;

    /// Throws Poco::DataFormatException when the body is not the provider's request shape.
    virtual RequestView parseRequest(const nlohmann::json& body, const RouteInfo& route) const = 0;

    /// The fast path of a request: parseRequest(parseJson(text), route) read straight from the text, without
    /// building the DOM, when `text` is a request of a shape the adapter reads that way; nullopt otherwise
    /// (the caller then parses the DOM and calls parseRequest, which also reports what is wrong). Never
    /// throws. The default reads nothing. `document`, when given, receives parseJson(text) when the adapter
    /// parsed the text but declined it (a request with tool calls or results): the caller then needs no
    /// second parse.
    virtual std::optional<RequestView> parseRequestText(
        std::string_view, const RouteInfo&, std::optional<nlohmann::json>* document = nullptr) const {
        (void)document;
        return std::nullopt;
    }

    /// A copy of `body` where only the content of the tool result at `location` is replaced by `content`
    /// (a string, or for Gemini any JSON: a non-object is wrapped as {"content": ...}).
    virtual nlohmann::json rewriteToolResult(const nlohmann::json& body, const ToolResultLocation& location,
                                             const nlohmann::json& content) const = 0;

    virtual ResponseView parseResponse(const nlohmann::json& body) const = 0;

    /// The fast path of a non-streaming answer: parseResponse(parseJson(text)) read straight from the text,
    /// without building the DOM, when `text` is a JSON object of a shape the adapter reads that way; nullopt
    /// otherwise (the caller then parses the DOM and calls parseResponse). Never throws. The default reads
    /// nothing.
    virtual std::optional<ResponseView> parseResponseText(std::string_view) const { return std::nullopt; }

    /// The non-streaming response with the blocked tool calls removed (spec §2.1 shapes); other calls are
    /// kept.
    virtual nlohmann::json blockResponse(const nlohmann::json& body,
                                         const std::vector<BlockedCall>& blocked) const = 0;

    virtual std::unique_ptr<StreamAssembler> newStreamAssembler() const = 0;

    /// For a streaming request: the request text that makes the upstream report the stream's token usage,
    /// when the provider does so only on request and `text` does not ask for it; nullopt otherwise (nothing
    /// to change, or text the adapter does not splice into). The change is spliced into the text: every other
    /// byte stays as it was. OpenAI: `stream_options.include_usage` set to true (the member or the object
    /// added, a false or null replaced). The relay then hides what it adds (StreamAssembler::hideAddedUsage).
    /// Never throws. The default changes nothing (Anthropic and Gemini always report usage).
    virtual std::optional<std::string> withStreamUsage(std::string_view text) const {
        (void)text;
        return std::nullopt;
    }

    /// Provider-style JSON error body for our own failures.
    virtual std::string errorBody(ProxyErrorKind kind, std::string_view message) const = 0;

    /// The same error as an SSE event, for failures after the stream has started.
    virtual std::string sseError(ProxyErrorKind kind, std::string_view message) const = 0;
};

const ProviderAdapter& openAiAdapter();
const ProviderAdapter& anthropicAdapter();
const ProviderAdapter& geminiAdapter();
/// Throws Poco::InvalidArgumentException for Provider::Invalid.
const ProviderAdapter& adapterFor(Provider provider);

}  // namespace archestra::proxy
