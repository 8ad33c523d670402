// Provider request/answer shapes of the chat. The model sees the gateway's tool names unchanged (the proxy
// judges tool calls by those names, the gateway routes them).
#include "core/chat/ChatProvider.h"

#include "core/proxy/adapters/ProviderAdapter.h"
#include "core/proxy/sse/SseParser.h"

#include <Poco/UUIDGenerator.h>

#include <cctype>
#include <stdexcept>

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
    parts.push_back({{"type", "text"}, {"text", text}});
}

// Gemini accepts an OpenAPI subset of JSON schema: keys it rejects are dropped (recursively).
json geminiSchema(const json& schema) {
    if (schema.is_array()) {
        json out = json::array();
        for (const auto& item : schema) out.push_back(geminiSchema(item));
        return out;
    }
    if (!schema.is_object()) return schema;
    json out = json::object();
    for (const auto& [key, value] : schema.items())
        if (key != "$schema" && key != "additionalProperties" && key != "$ref" && key != "$defs" &&
            key != "definitions")
            out[key] = key == "properties" || key == "items" || key == "anyOf" ? geminiSchema(value) : value;
    if (out.contains("properties") && out["properties"].is_object())
        for (auto& [name, property] : out["properties"].items()) property = geminiSchema(property);
    return out;
}

// Gemini turns: "user" (text, functionResponse) and "model" (text, functionCall); consecutive turns of one
// role merged. A function response answers the call of the same name (Gemini calls carry no ids).
json geminiContents(const std::vector<StoredMessage>& history) {
    json contents = json::array();
    auto append = [&](const std::string& role, json parts) {
        if (parts.empty()) return;
        if (!contents.empty() && contents.back()["role"] == role) {
            for (auto& part : parts) contents.back()["parts"].push_back(std::move(part));
            return;
        }
        contents.push_back({{"role", role}, {"parts", std::move(parts)}});
    };
    for (const auto& message : history) {
        json parts = json::array();
        for (const auto& part : message.parts) {
            std::string type = str(part, "type");
            if (type == "text" || type == "tool-blocked") {
                std::string text = str(part, "text");
                if (!text.empty()) parts.push_back({{"text", text}});
            } else if (type == "tool-call") {
                parts.push_back(
                    {{"functionCall", {{"name", str(part, "toolName")}, {"args", inputOf(part)}}}});
            } else if (type == "tool-result") {
                parts.push_back(
                    {{"functionResponse",
                      {{"name", str(part, "toolName")},
                       {"response", {{"content", resultText(part.value("output", json::object()))}}}}}});
            }
        }
        append(message.role == "assistant" ? "model" : "user", std::move(parts));
    }
    return contents;
}

proxy::Provider proxyProvider(Provider provider) {
    switch (provider) {
        case Provider::Anthropic:
            return proxy::Provider::Anthropic;
        case Provider::Gemini:
            return proxy::Provider::Gemini;
        case Provider::OpenAi:
            break;
    }
    return proxy::Provider::OpenAi;
}

const std::string kBlockedComment = ": archestra-blocked-tool-call ";

}  // namespace

Provider providerForModel(const std::string& model) {
    if (model.rfind("claude", 0) == 0) return Provider::Anthropic;
    if (model.rfind("gemini", 0) == 0) return Provider::Gemini;
    return Provider::OpenAi;
}

const char* providerName(Provider provider) {
    switch (provider) {
        case Provider::Anthropic:
            return "anthropic";
        case Provider::Gemini:
            return "gemini";
        case Provider::OpenAi:
            break;
    }
    return "openai";
}

std::string modelPath(Provider provider, const std::string& profileId, const std::string& model,
                      bool stream) {
    switch (provider) {
        case Provider::Anthropic:
            return "/v1/anthropic/" + profileId + "/v1/messages";
        case Provider::Gemini:
            // The model is a path segment: keep it to the characters model names use.
            for (char c : model)
                if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_')
                    throw std::invalid_argument("Gemini model name with a '" + std::string(1, c) + "'");
            return "/v1/gemini/" + profileId + "/v1beta/models/" + model +
                   (stream ? ":streamGenerateContent?alt=sse" : ":generateContent");
        case Provider::OpenAi:
            break;
    }
    return "/v1/openai/" + profileId + "/chat/completions";
}

json buildRequest(Provider provider, const std::string& model, const std::string& systemPrompt,
                  const std::vector<StoredMessage>& history, const json& mcpTools, int maxTokens,
                  bool stream) {
    json tools = json::array();
    for (const auto& tool : mcpTools) {
        json schema = tool.value("inputSchema", json::object());
        if (!schema.is_object()) schema = json::object();
        if (!schema.contains("type")) schema["type"] = "object";
        if (provider == Provider::Gemini)
            tools.push_back({{"name", str(tool, "name")},
                             {"description", str(tool, "description")},
                             {"parameters", geminiSchema(schema)}});
        else if (provider == Provider::Anthropic)
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
    if (provider == Provider::Gemini) {
        body = {{"contents", geminiContents(history)},
                {"generationConfig", {{"maxOutputTokens", maxTokens}}}};
        if (!systemPrompt.empty())
            body["systemInstruction"] = {{"parts", json::array({{{"text", systemPrompt}}})}};
        if (!tools.empty()) body["tools"] = json::array({{{"functionDeclarations", std::move(tools)}}});
        return body;
    }
    if (provider == Provider::Anthropic) {
        body = {{"model", model}, {"max_tokens", maxTokens}, {"messages", anthropicMessages(history)}};
        if (!systemPrompt.empty()) body["system"] = systemPrompt;
    } else {
        body = {{"model", model}, {"messages", openAiMessages(systemPrompt, history)}};
    }
    if (stream) body["stream"] = true;
    if (!tools.empty()) body["tools"] = std::move(tools);
    return body;
}

json parseResponse(Provider provider, const json& body) {
    json parts = json::array();
    if (!body.is_object()) return parts;
    if (provider == Provider::Gemini) {
        auto candidates = body.find("candidates");
        if (candidates == body.end() || !candidates->is_array() || candidates->empty() ||
            !(*candidates)[0].is_object())
            return parts;
        json content = (*candidates)[0].value("content", json::object());
        if (!content.is_object() || !content["parts"].is_array()) return parts;
        for (const auto& part : content["parts"]) {
            if (!part.is_object()) continue;
            if (part.contains("functionCall") && part["functionCall"].is_object())
                parts.push_back(
                    {{"type", "tool-call"},
                     {"toolCallId", Poco::UUIDGenerator::defaultGenerator().createRandom().toString()},
                     {"toolName", str(part["functionCall"], "name")},
                     {"input",
                      inputOf(json{{"input", part["functionCall"].value("args", json::object())}})}});
            else if (!part.value("thought", false))
                appendTextParts(parts, str(part, "text"));
        }
        return parts;
    }
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

ModelStream::ModelStream(Provider provider)
    : _provider(provider),
      _parser(std::make_unique<proxy::SseParser>()),
      _assembler(proxy::adapterFor(proxyProvider(provider)).newStreamAssembler()) {}

ModelStream::~ModelStream() = default;

json ModelStream::feed(std::string_view bytes) {
    json out = json::array();
    for (auto& event : _parser->feed(bytes)) handle(event, out);
    return out;
}

json ModelStream::finish() {
    json out = json::array();
    for (auto& event : _parser->finish()) handle(event, out);
    return out;
}

bool ModelStream::complete() const {
    return _assembler->complete();
}

void ModelStream::handle(proxy::SseEvent& event, json& out) {
    if (!event.hasData) {
        // Comment-only blocks: the proxy's blocked-call signal (other comments, e.g. dual-LLM progress,
        // are skipped).
        std::string_view raw = event.raw;
        for (std::size_t at = raw.find(kBlockedComment); at != std::string_view::npos;
             at = raw.find(kBlockedComment, at + 1)) {
            if (at != 0 && raw[at - 1] != '\n' && raw[at - 1] != '\r') continue;
            auto begin = at + kBlockedComment.size();
            auto end = raw.find_first_of("\r\n", begin);
            json signal = json::parse(raw.substr(begin, end == std::string_view::npos ? end : end - begin),
                                      nullptr, false);
            if (!signal.is_object()) continue;
            std::string content = str(signal, "content");
            if (!content.empty()) _pendingRefusals.push_back(content);
            json part = {{"type", "tool-blocked"},
                         {"toolCallId", str(signal, "toolCallId")},
                         {"toolName", str(signal, "toolName")},
                         {"reasonCode", str(signal, "reasonCode")},
                         {"reason", str(signal, "reason")},
                         {"text", content}};
            _parts.push_back(part);
            out.push_back(std::move(part));
        }
        return;
    }
    json data = json::parse(event.data, nullptr, false);
    if (data.is_object() && (data.contains("error") || event.event == "error")) {
        json error = data.value("error", json());
        std::string message = error.is_object() && error["message"].is_string()
                                  ? error["message"].get<std::string>()
                              : error.is_string() ? error.get<std::string>()
                                                  : event.data.substr(0, 500);
        out.push_back({{"type", "error"}, {"errorText", message}});
        return;
    }
    _assembler->feed(event);
    const std::string& text = _assembler->message().text;
    if (text.size() <= _textSeen) return;
    std::string delta = text.substr(_textSeen);
    _textSeen = text.size();
    // The refusal texts the proxy put in place of blocked calls arrive after their comments, in order.
    std::string shown;
    while (!_pendingRefusals.empty()) {
        auto at = delta.find(_pendingRefusals.front());
        if (at == std::string::npos) break;
        shown += delta.substr(0, at);
        delta.erase(0, at + _pendingRefusals.front().size());
        _pendingRefusals.pop_front();
    }
    shown += delta;
    if (shown.empty()) return;
    if (!_parts.empty() && _parts.back()["type"] == "text")
        _parts.back()["text"] = _parts.back()["text"].get<std::string>() + shown;
    else
        _parts.push_back({{"type", "text"}, {"text", shown}});
    out.push_back({{"type", "text"}, {"text", shown}});
}

json ModelStream::parts() const {
    json parts = _parts;
    for (const auto& call : _assembler->message().toolCalls) {
        json input = call.arguments.is_object() ? call.arguments : json::object();
        // Gemini's calls carry no ids (the proxy numbers them per name): the chat gives each its own.
        std::string id = _provider == Provider::Gemini || call.id.empty()
                             ? Poco::UUIDGenerator::defaultGenerator().createRandom().toString()
                             : call.id;
        parts.push_back(
            {{"type", "tool-call"}, {"toolCallId", id}, {"toolName", call.name}, {"input", input}});
    }
    return parts;
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
