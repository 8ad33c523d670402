// ChatProvider: the provider-specific half of the chat (no I/O). Turns the stored conversation into an
// Anthropic Messages, OpenAI Chat Completions or Gemini generateContent request, and the model's streamed
// answer (as the platform's proxy relays it) into text deltas and the parts the chat stores (text, tool
// calls, and the tool calls the proxy blocked, announced by its `: archestra-blocked-tool-call` comments).
#pragma once

#include <nlohmann/json.hpp>

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace archestra::proxy {
class SseParser;
class StreamAssembler;
struct SseEvent;
}  // namespace archestra::proxy

namespace archestra::chat {

enum class Provider { Anthropic, OpenAi, Gemini };

/// "claude-*" models go to Anthropic, "gemini-*" to Gemini, every other model to OpenAI.
Provider providerForModel(const std::string& model);
const char* providerName(Provider provider);

/// One stored message: role "user", "assistant" or "tool", and its parts:
///   {"type":"text","text"}                                   user or assistant text
///   {"type":"tool-call","toolCallId","toolName","input"}     the model asked for a tool
///   {"type":"tool-blocked","toolName","reason","text"}       the proxy refused a tool call (policy)
///   {"type":"tool-result","toolCallId","toolName","output","isError","blocked"}   the gateway's answer
///   {"type":"error","errorText"}                             the step failed (not sent to the model)
struct StoredMessage {
    std::string role;
    nlohmann::json parts = nlohmann::json::array();
};

/// The provider request body for `history` with the MCP tools (`tools/list` entries). `stream`: OpenAI and
/// Anthropic get `"stream": true` (Gemini streams by its path, see modelPath).
nlohmann::json buildRequest(Provider provider, const std::string& model, const std::string& systemPrompt,
                            const std::vector<StoredMessage>& history, const nlohmann::json& mcpTools,
                            int maxTokens = 4096, bool stream = false);

/// The proxy path (after http://host:port) of a model call for `profileId`.
std::string modelPath(Provider provider, const std::string& profileId, const std::string& model, bool stream);

/// The assistant parts of a non-streamed provider answer (text, tool-call), in the answer's order.
nlohmann::json parseResponse(Provider provider, const nlohmann::json& body);

/// The error message of a provider error body (`error.message`), else the body's text.
std::string errorMessage(const std::string& body);

/// Reads one streamed answer as the proxy relays it (SSE, parsed by core/proxy's SseParser and assembled by
/// the proxy's own provider StreamAssembler). feed() returns what can be shown at once:
///   {"type":"text","text"}            a text delta of the model
///   {"type":"tool-blocked",...}       a call the proxy's invocation policy blocked (from its SSE comment)
///   {"type":"error","errorText"}      the provider's (or the proxy's) error event
/// The blocked call's refusal text that follows its comment in the stream is not returned as text.
class ModelStream {
  public:
    explicit ModelStream(Provider provider);
    ~ModelStream();
    ModelStream(const ModelStream&) = delete;
    ModelStream& operator=(const ModelStream&) = delete;

    nlohmann::json feed(std::string_view bytes);
    /// End of the body: what a trailing event carried.
    nlohmann::json finish();
    /// The stored parts of the answer: text (merged), tool-blocked and, last, the tool calls.
    nlohmann::json parts() const;
    /// The provider's end-of-message event arrived ([DONE], message_stop, a finishReason).
    bool complete() const;

  private:
    void handle(proxy::SseEvent& event, nlohmann::json& out);
    Provider _provider;
    std::unique_ptr<proxy::SseParser> _parser;
    std::unique_ptr<proxy::StreamAssembler> _assembler;
    std::size_t _textSeen = 0;
    std::deque<std::string> _pendingRefusals;  // texts the proxy put in place of blocked calls, not yet seen
    nlohmann::json _parts = nlohmann::json::array();
};

/// The text of an MCP tools/call result (its text content items joined by newlines).
std::string resultText(const nlohmann::json& mcpResult);

}  // namespace archestra::chat
