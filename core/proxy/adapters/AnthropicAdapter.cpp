// Anthropic messages adapter: request/response views, blocked shapes, stream assembly and error bodies.
#include "core/proxy/JsonParse.h"
#include "core/proxy/adapters/AdapterSupport.h"
#include "core/proxy/adapters/ProviderAdapter.h"

#include <Poco/Exception.h>

#include <map>

namespace archestra::proxy {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;
using namespace detail;

std::string blocksText(const json& content) {
    if (content.is_string()) return content.get<std::string>();
    return joinTextBlocks(content);
}

void readUsage(const json& usage, Usage& out) {
    if (!usage.is_object()) return;
    if (auto tokens = tokenCount(usage, "input_tokens")) out.inputTokens = *tokens;
    if (auto tokens = tokenCount(usage, "output_tokens")) out.outputTokens = *tokens;
}

class AnthropicStreamAssembler final : public StreamAssembler {
  public:
    StreamAction feed(SseEvent& event) override {
        json data = event.hasData ? parseJsonOrDiscarded(event.data) : json();
        std::string type = data.is_object() ? textField(data, "type", event.event) : event.event;
        bool startsHold = false;
        int index = data.is_object() ? intField(data, "index", -1) : -1;
        if (type == "message_start" && data.contains("message")) {
            const json& message = data["message"];
            _msg.id = textField(message, "id");
            _msg.model = textField(message, "model");
            if (message.contains("usage")) readUsage(message["usage"], _msg.usage);
        } else if (type == "content_block_start" && data.contains("content_block")) {
            const json& block = data["content_block"];
            std::string blockType = textField(block, "type");
            _blockTypes[index] = blockType;
            if (blockType == "tool_use") {
                ToolCall& call = _calls[index];
                call.id = textField(block, "id");
                call.name = textField(block, "name");
                // A start block may already carry the whole input (no deltas follow then).
                if (block.contains("input") && block["input"].is_object() && !block["input"].empty())
                    call.argumentsRaw = compact(block["input"]);
                startsHold = true;
            } else if (blockType == "text") {
                _msg.text += textField(block, "text");
            }
        } else if (type == "content_block_delta" && data.contains("delta")) {
            const json& delta = data["delta"];
            std::string deltaType = textField(delta, "type");
            if (deltaType == "text_delta") {
                _msg.text += textField(delta, "text");
            } else if (deltaType == "thinking_delta") {
                _msg.thinking += textField(delta, "thinking");
            } else if (deltaType == "input_json_delta" && _calls.count(index)) {
                _calls[index].argumentsRaw += textField(delta, "partial_json");
            }
        } else if (type == "message_delta") {
            if (data.contains("delta") && data["delta"].contains("stop_reason") &&
                data["delta"]["stop_reason"].is_string())
                _msg.finishReason = data["delta"]["stop_reason"].get<std::string>();
            if (data.contains("usage")) readUsage(data["usage"], _msg.usage);
            if (_holding) _finishHeld = true;
        } else if (type == "message_stop") {
            _complete = true;
        }
        if (!_holding && !startsHold) return StreamAction::Pass;
        _holding = true;
        _held.push_back(event);
        return StreamAction::Hold;
    }

    bool readyToRelease() const override { return _holding && (_finishHeld || _complete); }
    bool complete() const override { return _complete; }
    bool holding() const override { return _holding; }

    const ResponseView& message() const override {
        _msg.toolCalls.clear();
        for (const auto& [index, call] : _calls) {
            ToolCall copy = call;
            finalizeArguments(copy, true);
            _msg.toolCalls.push_back(std::move(copy));
        }
        return _msg;
    }

    // A blocked tool_use block becomes a text block at the same index, so indices stay contiguous and no
    // index is reused; content_block_stop is kept as is.
    std::string release(const std::vector<BlockedCall>& blocked) override {
        std::map<int, const BlockedCall*> blockedByIndex;
        for (const auto& [index, call] : _calls) {
            if (const BlockedCall* block = findBlocked(blocked, call.id)) blockedByIndex[index] = block;
        }
        bool allBlocked = !blockedByIndex.empty() && blockedByIndex.size() + _allowedCalls == _calls.size();
        std::string out;
        for (const auto& event : _held) {
            if (blockedByIndex.empty()) {
                out += event.raw;
                continue;
            }
            ordered_json data =
                event.hasData ? ordered_json::parse(event.data, nullptr, false) : ordered_json();
            std::string type = data.is_object() ? textField(data, "type", event.event) : event.event;
            int index = data.is_object() ? intField(data, "index", -1) : -1;
            std::string_view eol = sseLineEnding(event.raw);
            auto block = blockedByIndex.find(index);
            bool blockedEvent = block != blockedByIndex.end() &&
                                (type == "content_block_start" || type == "content_block_delta");
            if (blockedEvent && type == "content_block_start") {
                ordered_json start = {{"type", "content_block_start"},
                                      {"index", index},
                                      {"content_block", {{"type", "text"}, {"text", ""}}}};
                ordered_json delta = {
                    {"type", "content_block_delta"},
                    {"index", index},
                    {"delta", {{"type", "text_delta"}, {"text", block->second->contentMessage}}}};
                out += formatSseEvent("content_block_start", compact(start), eol);
                out += formatSseEvent("content_block_delta", compact(delta), eol);
            } else if (blockedEvent) {
                // input_json_delta of a blocked call: dropped.
            } else if (type == "message_delta" && allBlocked && data.contains("delta") &&
                       textField(data["delta"], "stop_reason") == "tool_use") {
                data["delta"]["stop_reason"] = "end_turn";
                out += formatSseEvent(event.event.empty() ? type : event.event, compact(data), eol);
            } else {
                out += event.raw;
            }
        }
        _allowedCalls = _calls.size() - blockedByIndex.size();
        _held.clear();
        _holding = false;
        _finishHeld = false;
        return out;
    }

  private:
    mutable ResponseView _msg;
    std::map<int, ToolCall> _calls;  // keyed by content block index
    std::map<int, std::string> _blockTypes;
    std::size_t _allowedCalls = 0;
    bool _holding = false;
    bool _finishHeld = false;
    bool _complete = false;
    std::vector<SseEvent> _held;
};

json errorObject(ProxyErrorKind kind, std::string_view message) {
    std::string type = "api_error";
    switch (kind) {
        case ProxyErrorKind::BadRequest:
            type = "invalid_request_error";
            break;
        case ProxyErrorKind::LimitExceeded:
            type = "rate_limit_error";
            break;
        case ProxyErrorKind::UpstreamTimeout:
            type = "timeout_error";
            break;
        case ProxyErrorKind::NotFound:
            type = "not_found_error";
            break;
        case ProxyErrorKind::PayloadTooLarge:
            type = "request_too_large";
            break;
        default:
            break;
    }
    json error = {{"type", type}, {"message", message}};
    // Anthropic's shape has no code; the same machine-readable reason as the OpenAI route's, as an extra
    // field (the SDK keeps the whole body in APIError.error).
    if (kind == ProxyErrorKind::LimitExceeded) error["code"] = "token_cost_limit_exceeded";
    return {{"type", "error"}, {"error", error}};
}

class AnthropicAdapter final : public ProviderAdapter {
  public:
    Provider provider() const override { return Provider::Anthropic; }

    RequestView parseRequest(const json& body, const RouteInfo&) const override {
        if (!body.is_object()) badRequest("anthropic", "body must be a JSON object");
        if (!body.contains("messages") || !body["messages"].is_array())
            badRequest("anthropic", "messages must be an array");
        RequestView view;
        if (body.contains("model") && body["model"].is_string())
            view.model = body["model"].get<std::string>();
        view.stream = body.contains("stream") && body["stream"].is_boolean() && body["stream"].get<bool>();
        if (body.contains("tools") && body["tools"].is_array()) {
            view.hasTools = !body["tools"].empty();
            for (const auto& tool : body["tools"]) {
                if (!tool.is_object()) continue;
                // Server tools (web_search_..., bash_..., ...) run at Anthropic, not in the agent: not
                // discovered.
                if (tool.contains("type") && !tool["type"].is_null() && tool["type"] != "custom") continue;
                DeclaredTool declared{textField(tool, "name"), textField(tool, "description"),
                                      tool.contains("input_schema") ? tool["input_schema"] : json::object()};
                if (!declared.name.empty()) view.tools.push_back(std::move(declared));
            }
        }
        if (body.contains("system")) view.text += "system: " + blocksText(body["system"]) + "\n";
        const json& messages = body["messages"];
        for (const auto& message : messages) {
            if (!message.is_object() || !message.contains("content") || !message["content"].is_array())
                continue;
            for (const auto& block : message["content"]) {
                if (block.is_object() && textField(block, "type") == "tool_use")
                    view.toolCallNames[textField(block, "id")] = textField(block, "name");
            }
        }
        for (std::size_t i = 0; i < messages.size(); ++i) {
            const json& message = messages[i];
            if (!message.is_object())
                badRequest("anthropic", "messages[" + std::to_string(i) + "] must be an object");
            std::string role = textField(message, "role");
            const json content = message.contains("content") ? message["content"] : json("");
            view.text += role + ": " + blocksText(content) + "\n";
            if (role != "user" || !content.is_array()) continue;
            for (std::size_t p = 0; p < content.size(); ++p) {
                const json& block = content[p];
                if (!block.is_object() || textField(block, "type") != "tool_result") continue;
                ToolResult result;
                result.toolCallId = textField(block, "tool_use_id");
                auto name = view.toolCallNames.find(result.toolCallId);
                if (name != view.toolCallNames.end()) result.toolName = name->second;
                result.content =
                    parseMaybeJson(block.contains("content") ? blocksText(block["content"]) : "");
                result.location = {i, p};
                view.toolResults.push_back(std::move(result));
            }
        }
        return view;
    }

    json rewriteToolResult(const json& body, const ToolResultLocation& location,
                           const json& content) const override {
        json copy = body;
        json* block = nullptr;
        if (copy.contains("messages") && location.messageIndex < copy["messages"].size()) {
            json& message = copy["messages"][location.messageIndex];
            if (message.contains("content") && message["content"].is_array() &&
                location.partIndex < message["content"].size())
                block = &message["content"][location.partIndex];
        }
        if (!block || !block->is_object() || block->value("type", "") != "tool_result") {
            throw Poco::InvalidArgumentException("anthropic rewriteToolResult",
                                                 "messages[" + std::to_string(location.messageIndex) +
                                                     "].content[" + std::to_string(location.partIndex) +
                                                     "] is not a tool_result");
        }
        (*block)["content"] = content.is_string() ? content : json(compact(content));
        return copy;
    }

    ResponseView parseResponse(const json& body) const override {
        ResponseView view;
        view.id = textField(body, "id");
        view.model = textField(body, "model");
        if (body.contains("stop_reason") && body["stop_reason"].is_string())
            view.finishReason = body["stop_reason"].get<std::string>();
        if (body.contains("usage")) readUsage(body["usage"], view.usage);
        if (!body.contains("content") || !body["content"].is_array()) return view;
        for (const auto& block : body["content"]) {
            std::string type = textField(block, "type");
            if (type == "text") {
                view.text += textField(block, "text");
            } else if (type == "thinking") {
                view.thinking += textField(block, "thinking");
            } else if (type == "tool_use") {
                ToolCall call;
                call.id = textField(block, "id");
                call.name = textField(block, "name");
                call.arguments = block.contains("input") ? block["input"] : json::object();
                call.argumentsRaw = compact(call.arguments);
                call.argumentsValid = true;
                view.toolCalls.push_back(std::move(call));
            }
        }
        return view;
    }

    // Blocked tool_use blocks become text blocks in place; stop_reason turns to "end_turn" only when no
    // tool_use is left, so the SDK never waits for tool results that will not come.
    json blockResponse(const json& body, const std::vector<BlockedCall>& blocked) const override {
        json copy = body;
        if (!copy.contains("content") || !copy["content"].is_array()) return copy;
        bool anyBlocked = false;
        bool toolUseLeft = false;
        for (auto& block : copy["content"]) {
            if (textField(block, "type") != "tool_use") continue;
            if (const BlockedCall* call = findBlocked(blocked, textField(block, "id"))) {
                block = json{{"type", "text"}, {"text", call->contentMessage}, {"citations", nullptr}};
                anyBlocked = true;
            } else {
                toolUseLeft = true;
            }
        }
        if (anyBlocked && !toolUseLeft && textField(copy, "stop_reason") == "tool_use")
            copy["stop_reason"] = "end_turn";
        return copy;
    }

    std::unique_ptr<StreamAssembler> newStreamAssembler() const override {
        return std::make_unique<AnthropicStreamAssembler>();
    }

    std::string errorBody(ProxyErrorKind kind, std::string_view message) const override {
        return compact(errorObject(kind, message));
    }

    std::string sseError(ProxyErrorKind kind, std::string_view message) const override {
        return formatSseEvent("error", compact(errorObject(kind, message)));
    }
};

}  // namespace

const ProviderAdapter& anthropicAdapter() {
    static const AnthropicAdapter adapter;
    return adapter;
}

}  // namespace archestra::proxy
