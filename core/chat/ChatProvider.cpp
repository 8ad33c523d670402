// Provider request/answer shapes of the chat. The model sees the gateway's tool names unchanged (the proxy
// judges tool calls by those names, the gateway routes them).
#include "core/chat/ChatProvider.h"

namespace archestra::chat {

using nlohmann::json;

namespace {

std::string str(const json& object, const char* key) {
    auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

json inputOf(const json& part) {
    auto it = part.find("input");
    return it != part.end() && it->is_object() ? *it : json::object();
}

// Anthropic wants user and assistant turns to alternate: consecutive messages of one role are merged.
void appendAnthropic(json& messages, const std::string& role, json blocks) {
    if (blocks.empty()) return;
    if (!messages.empty() && messages.back()["role"] == role) {
        for (auto& block : blocks) messages.back()["content"].push_back(std::move(block));
        return;
    }
    messages.push_back({{"role", role}, {"content", std::move(blocks)}});
}

json anthropicMessages(const std::vector<StoredMessage>& history) {
    json messages = json::array();
    for (const auto& message : history) {
        json blocks = json::array();
        for (const auto& part : message.parts) {
            std::string type = str(part, "type");
            if (type == "text" || type == "tool-blocked") {
                std::string text = str(part, "text");
                if (!text.empty()) blocks.push_back({{"type", "text"}, {"text", text}});
            } else if (type == "tool-call") {
                blocks.push_back({{"type", "tool_use"},
                                  {"id", str(part, "toolCallId")},
                                  {"name", str(part, "toolName")},
                                  {"input", inputOf(part)}});
            } else if (type == "tool-result") {
                blocks.push_back({{"type", "tool_result"},
                                  {"tool_use_id", str(part, "toolCallId")},
                                  {"content", resultText(part.value("output", json::object()))},
                                  {"is_error", part.value("isError", false)}});
            }
        }
        appendAnthropic(messages, message.role == "assistant" ? "assistant" : "user", std::move(blocks));
    }
    return messages;
}

json openAiMessages(const std::string& systemPrompt, const std::vector<StoredMessage>& history) {
    json messages = json::array();
    if (!systemPrompt.empty()) messages.push_back({{"role", "system"}, {"content", systemPrompt}});
    for (const auto& message : history) {
        std::string text;
        json toolCalls = json::array();
        for (const auto& part : message.parts) {
            std::string type = str(part, "type");
            if (type == "text" || type == "tool-blocked") {
                if (!text.empty()) text += "\n";
                text += str(part, "text");
            } else if (type == "tool-call") {
                toolCalls.push_back(
                    {{"id", str(part, "toolCallId")},
                     {"type", "function"},
                     {"function", {{"name", str(part, "toolName")}, {"arguments", inputOf(part).dump()}}}});
            } else if (type == "tool-result") {
                messages.push_back({{"role", "tool"},
                                    {"tool_call_id", str(part, "toolCallId")},
                                    {"content", resultText(part.value("output", json::object()))}});
            }
        }
        if (message.role == "assistant") {
            if (text.empty() && toolCalls.empty()) continue;
            json out = {{"role", "assistant"}, {"content", text.empty() ? json(nullptr) : json(text)}};
            if (!toolCalls.empty()) out["tool_calls"] = std::move(toolCalls);
            messages.push_back(std::move(out));
        } else if (message.role == "user" && !text.empty()) {
            messages.push_back({{"role", "user"}, {"content", text}});
        }
    }
    return messages;
}

void appendTextParts(json& parts, const std::string& text) {
    if (text.empty()) return;
    if (auto blocked = blockedPart(text)) {
        parts.push_back(std::move(*blocked));
        return;
    }
    parts.push_back({{"type", "text"}, {"text", text}});
}

}  // namespace

Provider providerForModel(const std::string& model) {
    return model.rfind("claude", 0) == 0 ? Provider::Anthropic : Provider::OpenAi;
}

const char* providerName(Provider provider) {
    return provider == Provider::Anthropic ? "anthropic" : "openai";
}

json buildRequest(Provider provider, const std::string& model, const std::string& systemPrompt,
                  const std::vector<StoredMessage>& history, const json& mcpTools, int maxTokens) {
    json tools = json::array();
    for (const auto& tool : mcpTools) {
        json schema = tool.value("inputSchema", json::object());
        if (!schema.is_object()) schema = json::object();
        if (!schema.contains("type")) schema["type"] = "object";
        if (provider == Provider::Anthropic)
            tools.push_back({{"name", str(tool, "name")},
                             {"description", str(tool, "description")},
                             {"input_schema", schema}});
        else
            tools.push_back({{"type", "function"},
                             {"function",
                              {{"name", str(tool, "name")},
                               {"description", str(tool, "description")},
                               {"parameters", schema}}}});
    }
    json body;
    if (provider == Provider::Anthropic) {
        body = {{"model", model}, {"max_tokens", maxTokens}, {"messages", anthropicMessages(history)}};
        if (!systemPrompt.empty()) body["system"] = systemPrompt;
    } else {
        body = {{"model", model}, {"messages", openAiMessages(systemPrompt, history)}};
    }
    if (!tools.empty()) body["tools"] = std::move(tools);
    return body;
}

json parseResponse(Provider provider, const json& body) {
    json parts = json::array();
    if (!body.is_object()) return parts;
    if (provider == Provider::Anthropic) {
        auto content = body.find("content");
        if (content == body.end() || !content->is_array()) return parts;
        for (const auto& block : *content) {
            if (!block.is_object()) continue;
            std::string type = str(block, "type");
            if (type == "text") {
                appendTextParts(parts, str(block, "text"));
            } else if (type == "tool_use") {
                parts.push_back({{"type", "tool-call"},
                                 {"toolCallId", str(block, "id")},
                                 {"toolName", str(block, "name")},
                                 {"input", inputOf(json{{"input", block.value("input", json::object())}})}});
            }
        }
        return parts;
    }
    auto choices = body.find("choices");
    if (choices == body.end() || !choices->is_array() || choices->empty() || !(*choices)[0].is_object())
        return parts;
    const json message = (*choices)[0].value("message", json::object());
    if (!message.is_object()) return parts;
    appendTextParts(parts, str(message, "content"));
    if (str(message, "content").empty()) appendTextParts(parts, str(message, "refusal"));
    auto calls = message.find("tool_calls");
    if (calls != message.end() && calls->is_array()) {
        for (const auto& call : *calls) {
            if (!call.is_object()) continue;
            json function = call.value("function", json::object());
            if (!function.is_object()) continue;
            json input = json::parse(str(function, "arguments"), nullptr, false);
            if (!input.is_object()) input = json::object();
            parts.push_back({{"type", "tool-call"},
                             {"toolCallId", str(call, "id")},
                             {"toolName", str(function, "name")},
                             {"input", input}});
        }
    }
    return parts;
}

std::string errorMessage(const std::string& body) {
    json parsed = json::parse(body, nullptr, false);
    if (parsed.is_object()) {
        auto error = parsed.find("error");
        if (error != parsed.end() && error->is_object() && (*error)["message"].is_string())
            return (*error)["message"].get<std::string>();
        if (error != parsed.end() && error->is_string()) return error->get<std::string>();
        if (parsed.contains("message") && parsed["message"].is_string()) return parsed["message"];
    }
    return body.substr(0, 500);
}

std::optional<json> blockedPart(const std::string& text) {
    // core/policy's refusalContentMessage: "\nI tried to invoke the <tool> tool with the following arguments:
    // <json>.\n\nHowever, I was denied by a tool invocation policy:\n\n<reason>"
    static const std::string lead = "I tried to invoke the ";
    static const std::string denied = "However, I was denied by a tool invocation policy:";
    auto start = text.find(lead);
    auto deniedAt = text.find(denied);
    if (start == std::string::npos || deniedAt == std::string::npos ||
        text.find_first_not_of("\r\n ") != start)
        return std::nullopt;
    auto nameStart = start + lead.size();
    auto nameEnd = text.find(" tool with", nameStart);
    std::string toolName = nameEnd == std::string::npos ? "" : text.substr(nameStart, nameEnd - nameStart);
    std::string reason = text.substr(deniedAt + denied.size());
    auto first = reason.find_first_not_of("\r\n ");
    reason = first == std::string::npos ? "" : reason.substr(first);
    return json{{"type", "tool-blocked"}, {"toolName", toolName}, {"reason", reason}, {"text", text}};
}

std::string resultText(const json& mcpResult) {
    if (!mcpResult.is_object()) return mcpResult.dump();
    auto content = mcpResult.find("content");
    if (content == mcpResult.end() || !content->is_array()) return mcpResult.dump();
    std::string out;
    for (const auto& item : *content) {
        if (!item.is_object()) continue;
        if (!out.empty()) out += "\n";
        if (item.contains("text") && item["text"].is_string())
            out += item["text"].get<std::string>();
        else
            out += item.dump();
    }
    return out;
}

}  // namespace archestra::chat
