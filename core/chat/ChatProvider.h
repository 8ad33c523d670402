// ChatProvider: the provider-specific half of the chat (no I/O). Turns the stored conversation into an
// Anthropic Messages or OpenAI Chat Completions request, and a model answer into the parts the chat stores
// and streams (text, tool calls, and the proxy's refusal of a blocked tool call).
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace archestra::chat {

enum class Provider { Anthropic, OpenAi };

/// "claude-*" models go to Anthropic, every other model to OpenAI.
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

/// The provider request body (non-streaming) for `history` with the MCP tools (`tools/list` entries).
nlohmann::json buildRequest(Provider provider, const std::string& model, const std::string& systemPrompt,
                            const std::vector<StoredMessage>& history, const nlohmann::json& mcpTools,
                            int maxTokens = 4096);

/// The assistant parts of a provider answer (text, tool-call, tool-blocked), in the answer's order.
nlohmann::json parseResponse(Provider provider, const nlohmann::json& body);

/// The error message of a provider error body (`error.message`), else the body's text.
std::string errorMessage(const std::string& body);

/// A tool-blocked part when `text` is the proxy's refusal of a blocked tool call, else nullopt.
std::optional<nlohmann::json> blockedPart(const std::string& text);

/// The text of an MCP tools/call result (its text content items joined by newlines).
std::string resultText(const nlohmann::json& mcpResult);

}  // namespace archestra::chat
