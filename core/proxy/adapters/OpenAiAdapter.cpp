// OpenAI chat.completions adapter: request/response views, blocked shapes, stream assembly and error bodies.
#include "core/proxy/JsonLocate.h"
#include "core/proxy/JsonParse.h"
#include "core/proxy/adapters/AdapterSupport.h"
#include "core/proxy/adapters/ProviderAdapter.h"

#include <Poco/Exception.h>

#include <simdjson.h>

#include <algorithm>
#include <map>

namespace archestra::proxy {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;
using namespace detail;

std::string contentText(const json& content) {
    if (content.is_string()) return content.get<std::string>();
    return joinTextBlocks(content);
}

void readToolCall(const json& entry, ToolCall& call) {
    call.id = textField(entry, "id");
    if (textField(entry, "type", "function") == "custom" && entry.contains("custom")) {
        const json& custom = entry["custom"];
        call.name = textField(custom, "name");
        call.argumentsRaw = textField(custom, "input");
        // Custom tools take free text, never JSON.
        call.arguments = call.argumentsRaw;
        call.argumentsValid = true;
        return;
    }
    const json& function = entry.contains("function") ? entry["function"] : json::object();
    call.name = textField(function, "name");
    call.argumentsRaw = function.contains("arguments") && function["arguments"].is_string()
                            ? function["arguments"].get<std::string>()
                            : std::string();
    finalizeArguments(call, false);
}

// ---- reading straight from simdjson's document (parseRequestText, parseResponseText, stream chunks): the
// same reads as the nlohmann-based ones, field by field. A repeated key counts with its last value, as in the
// DOM.

using Element = simdjson::dom::element;
using ElementType = simdjson::dom::element_type;

/// The last value of `key` in `object` (nlohmann keeps the last of repeated keys); nullopt when absent or
/// `object` is not an object.
std::optional<Element> member(Element object, std::string_view key) {
    if (object.type() != ElementType::OBJECT) return std::nullopt;
    std::optional<Element> found;
    for (auto field : simdjson::dom::object(object))
        if (field.key == key) found = field.value;
    return found;
}

/// textField() on the document.
std::string textOf(Element object, std::string_view key, std::string fallback = {}) {
    auto value = member(object, key);
    if (!value || value->type() != ElementType::STRING) return fallback;
    return std::string(std::string_view(*value));
}

/// intField() on the document: nlohmann's number_integer and number_unsigned (converted as get<long long>
/// does); anything else, a float included, is the fallback.
long long intOf(Element object, std::string_view key, long long fallback) {
    auto value = member(object, key);
    if (!value) return fallback;
    if (value->type() == ElementType::INT64) return std::int64_t(*value);
    if (value->type() == ElementType::UINT64) return static_cast<long long>(std::uint64_t(*value));
    return fallback;
}

/// tokenCount() on the document: simdjson's INT64 is nlohmann's number_integer or (non-negative)
/// number_unsigned, UINT64 an unsigned beyond INT64_MAX, DOUBLE a float.
std::optional<std::int64_t> tokensOf(Element object, std::string_view key) {
    auto value = member(object, key);
    if (!value) return std::nullopt;
    switch (value->type()) {
        case ElementType::INT64: {
            const std::int64_t n = std::int64_t(*value);
            return n >= 0 ? std::optional<std::int64_t>(n) : std::nullopt;
        }
        case ElementType::DOUBLE: {
            const double d = double(*value);
            if (!(d >= 0 && d <= 9007199254740992.0) ||
                d != static_cast<double>(static_cast<std::int64_t>(d)))
                return std::nullopt;
            return static_cast<std::int64_t>(d);
        }
        default:  // UINT64 (beyond INT64_MAX) and the rest
            return std::nullopt;
    }
}

/// An answer's or a chunk's `usage` object, when it has one: the tokens it states are set in `usage`.
void readUsageOf(Element holder, Usage& usage) {
    auto object = member(holder, "usage");
    if (!object || object->type() != ElementType::OBJECT) return;
    if (auto tokens = tokensOf(*object, "prompt_tokens")) usage.inputTokens = *tokens;
    if (auto tokens = tokensOf(*object, "completion_tokens")) usage.outputTokens = *tokens;
}

/// contentText() on the document.
std::string contentTextOf(Element content) {
    if (content.type() == ElementType::STRING) return std::string(std::string_view(content));
    std::string text;
    if (content.type() != ElementType::ARRAY) return text;
    for (auto block : simdjson::dom::array(content)) {
        if (block.type() != ElementType::OBJECT || textOf(block, "type") != "text") continue;
        auto part = member(block, "text");
        if (part && part->type() == ElementType::STRING) text += std::string_view(*part);
    }
    return text;
}

/// readToolCall() on the document, without finalizeArguments() (it parses JSON, which would overwrite the
/// document being read): the caller finalises once the document is no longer needed. `custom`: a custom
/// tool's call, whose arguments are its free text.
void readToolCallOf(Element entry, ToolCall& call, bool& custom) {
    call.id = textOf(entry, "id");
    custom = false;
    if (textOf(entry, "type", "function") == "custom") {
        if (auto tool = member(entry, "custom")) {
            call.name = textOf(*tool, "name");
            call.argumentsRaw = textOf(*tool, "input");
            custom = true;
            return;
        }
    }
    auto function = member(entry, "function");
    if (!function) return;
    call.name = textOf(*function, "name");
    call.argumentsRaw = textOf(*function, "arguments");
}

class OpenAiStreamAssembler final : public StreamAssembler {
  public:
    StreamAction feed(SseEvent& event) override {
        bool holdThis = _holding;
        bool finish = false;
        bool usageOnly = false;
        if (event.hasData && event.data == "[DONE]") {
            _complete = true;
        } else if (event.hasData) {
            if (_hideUsage) dropNullUsage(event);
            // Fast path: the chunk read on simdjson's document (readChunk), no DOM per event; text simdjson
            // leaves to nlohmann (and text that is no JSON) takes the DOM.
            if (!readWithSimdjson(event.data,
                                  [&](Element chunk) { readChunk(chunk, holdThis, finish, usageOnly); }))
                readChunk(parseJsonOrDiscarded(event.data), holdThis, finish, usageOnly);
        }
        // The usage chunk the client did not ask for: its tokens are read, the chunk goes nowhere.
        if (_hideUsage && usageOnly) return StreamAction::Drop;
        if (!holdThis) return StreamAction::Pass;
        _holding = true;
        _held.push_back(event);
        if (finish) _finishHeld = true;
        return StreamAction::Hold;
    }

    void hideAddedUsage() override { _hideUsage = true; }

    bool readyToRelease() const override { return _holding && (_finishHeld || _complete); }
    bool complete() const override { return _complete; }
    bool holding() const override { return _holding; }

    const ResponseView& message() const override {
        _msg.toolCalls.clear();
        for (const auto& [index, call] : _calls) {
            ToolCall copy = call;
            finalizeArguments(copy, false);
            _msg.toolCalls.push_back(std::move(copy));
        }
        return _msg;
    }

    std::string release(const std::vector<BlockedCall>& blocked) override {
        std::string out;
        // New contiguous indices for the calls that stay; blocked calls disappear.
        std::map<int, int> newIndex;
        std::string content;
        std::string refusal;
        int next = _releasedCalls;
        bool anyBlocked = false;
        for (const auto& [index, call] : _calls) {
            if (index < _firstUnreleasedIndex) continue;
            if (const BlockedCall* block = findBlocked(blocked, call.id)) {
                anyBlocked = true;
                content += block->contentMessage;
                refusal += block->refusalMessage;
            } else {
                newIndex[index] = next++;
            }
        }
        bool allBlocked = anyBlocked && next == 0;
        bool refusalSent = !anyBlocked;
        for (const auto& event : _held) {
            ordered_json chunk = event.hasData && event.data != "[DONE]"
                                     ? ordered_json::parse(event.data, nullptr, false)
                                     : ordered_json(nullptr);
            bool isFinishOrEnd = !chunk.is_object() || !hasToolDeltas(chunk);
            if (!refusalSent && isFinishOrEnd && (event.hasData)) {
                out += refusalChunk(content, allBlocked ? refusal : std::string(), sseLineEnding(event.raw));
                refusalSent = true;
            }
            if (!anyBlocked || !chunk.is_object()) {
                out += event.raw;
                continue;
            }
            bool changed = false;
            bool drop = false;
            for (auto& choice : chunk["choices"]) {
                if (!choice.is_object() || intField(choice, "index", 0) != 0) continue;
                ordered_json& delta = choice["delta"];
                if (delta.is_object() && delta.contains("tool_calls") && delta["tool_calls"].is_array()) {
                    ordered_json kept = ordered_json::array();
                    for (std::size_t i = 0; i < delta["tool_calls"].size(); ++i) {
                        ordered_json entry = delta["tool_calls"][i];
                        if (!entry.is_object()) {  // not a tool call delta: passed on as it came
                            kept.push_back(std::move(entry));
                            continue;
                        }
                        int index = static_cast<int>(intField(entry, "index", static_cast<long long>(i)));
                        auto it = newIndex.find(index);
                        if (it == newIndex.end()) {
                            changed = true;
                            continue;
                        }
                        if (it->second != index) {
                            entry["index"] = it->second;
                            changed = true;
                        }
                        kept.push_back(std::move(entry));
                    }
                    if (kept.empty()) {
                        delta.erase("tool_calls");
                        bool hasFinish =
                            choice.contains("finish_reason") && !choice["finish_reason"].is_null();
                        bool hasUsage = chunk.contains("usage") && !chunk["usage"].is_null();
                        bool hasText = delta.contains("content") && delta["content"].is_string() &&
                                       !delta["content"].get<std::string>().empty();
                        drop = !hasFinish && !hasUsage && !hasText && !delta.contains("role");
                    } else {
                        delta["tool_calls"] = std::move(kept);
                    }
                }
                if (allBlocked && textField(choice, "finish_reason") == "tool_calls") {
                    choice["finish_reason"] = "stop";
                    changed = true;
                }
            }
            if (drop) continue;
            if (!changed) {
                out += event.raw;
                continue;
            }
            std::string_view eol = sseLineEnding(event.raw);
            out += formatSseEvent(event.event, compact(chunk), eol);
        }
        if (!refusalSent) out += refusalChunk(content, allBlocked ? refusal : std::string(), "\n");
        _releasedCalls = next;
        _firstUnreleasedIndex = _calls.empty() ? 0 : _calls.rbegin()->first + 1;
        _held.clear();
        _holding = false;
        _finishHeld = false;
        return out;
    }

  private:
    /// The chunk reads of feed() on the DOM: the text simdjson leaves to nlohmann (a byte order mark, "-0",
    /// integers beyond 64 bits, deep nesting) and text that is no JSON (discarded: nothing read).
    void readChunk(const json& chunk, bool& holdThis, bool& finish, bool& usageOnly) {
        if (!chunk.is_object()) return;
        usageOnly = chunk.contains("usage") && chunk["usage"].is_object() && chunk.contains("choices") &&
                    chunk["choices"].is_array() && chunk["choices"].empty();
        if (!_metaSeen && chunk.contains("id")) {
            _metaSeen = true;
            for (const char* key :
                 {"id", "object", "created", "model", "service_tier", "system_fingerprint"}) {
                if (chunk.contains(key)) _meta[key] = chunk[key];
            }
            _usageKey = chunk.contains("usage");
            _msg.id = textField(chunk, "id");
            _msg.model = textField(chunk, "model");
        }
        readUsage(chunk);
        if (chunk.contains("choices") && chunk["choices"].is_array()) {
            for (const auto& choice : chunk["choices"]) {
                if (intField(choice, "index", 0) != 0) continue;  // n > 1: only the first choice is assembled
                if (readChoice(choice)) holdThis = true;
                if (choice.contains("finish_reason") && choice["finish_reason"].is_string()) {
                    _msg.finishReason = choice["finish_reason"].get<std::string>();
                    finish = true;
                }
            }
        }
    }

    /// The chunk reads of feed(), on simdjson's document: the same fields, the same results.
    void readChunk(Element chunk, bool& holdThis, bool& finish, bool& usageOnly) {
        if (chunk.type() != ElementType::OBJECT) return;
        {
            auto usage = member(chunk, "usage");
            auto choices = member(chunk, "choices");
            usageOnly = usage && usage->type() == ElementType::OBJECT && choices &&
                        choices->type() == ElementType::ARRAY && simdjson::dom::array(*choices).size() == 0;
        }
        if (!_metaSeen && member(chunk, "id")) {
            _metaSeen = true;
            for (const char* key :
                 {"id", "object", "created", "model", "service_tier", "system_fingerprint"}) {
                if (auto value = member(chunk, key)) _meta[key] = toNlohmann(*value);
            }
            _usageKey = member(chunk, "usage").has_value();
            _msg.id = textOf(chunk, "id");
            _msg.model = textOf(chunk, "model");
        }
        readUsageOf(chunk, _msg.usage);
        auto choices = member(chunk, "choices");
        if (!choices || choices->type() != ElementType::ARRAY) return;
        for (auto choice : simdjson::dom::array(*choices)) {
            if (intOf(choice, "index", 0) != 0) continue;  // n > 1: only the first choice is assembled
            if (readChoiceOf(choice)) holdThis = true;
            if (auto reason = member(choice, "finish_reason");
                reason && reason->type() == ElementType::STRING) {
                _msg.finishReason = std::string(std::string_view(*reason));
                finish = true;
            }
        }
    }

    /// readChoice() on simdjson's document.
    bool readChoiceOf(Element choice) {
        auto delta = member(choice, "delta");
        if (!delta || delta->type() != ElementType::OBJECT) return false;
        if (auto content = member(*delta, "content"); content && content->type() == ElementType::STRING)
            _msg.text += std::string_view(*content);
        auto calls = member(*delta, "tool_calls");
        if (!calls || calls->type() != ElementType::ARRAY) return false;
        long long i = 0;
        for (auto entry : simdjson::dom::array(*calls)) {
            int index = static_cast<int>(intOf(entry, "index", i++));
            ToolCall& call = _calls[index];
            if (auto id = member(entry, "id"); id && id->type() == ElementType::STRING)
                call.id = std::string(std::string_view(*id));
            if (auto function = member(entry, "function");
                function && function->type() == ElementType::OBJECT) {
                if (auto name = member(*function, "name"); name && name->type() == ElementType::STRING)
                    call.name += std::string_view(*name);
                if (auto arguments = member(*function, "arguments");
                    arguments && arguments->type() == ElementType::STRING)
                    call.argumentsRaw += std::string_view(*arguments);
            }
        }
        return true;
    }

    /// With include_usage every chunk but the last carries `"usage":null`, OpenAI's last member (compact
    /// JSON); without it no chunk has the member. Removed from both the bytes and the data, so the client
    /// gets the chunk as OpenAI sends it to a request without include_usage. Anything else stays untouched.
    static void dropNullUsage(SseEvent& event) {
        static constexpr std::string_view kMember = ",\"usage\":null";
        const std::string_view data = event.data;
        if (data.size() <= kMember.size() || data.back() != '}' ||
            data.substr(data.size() - 1 - kMember.size(), kMember.size()) != kMember)
            return;
        const std::size_t last = event.raw.find_last_not_of("\r\n");
        if (last == std::string::npos || last < kMember.size() || event.raw[last] != '}' ||
            std::string_view(event.raw).substr(last - kMember.size(), kMember.size()) != kMember)
            return;
        event.raw.erase(last - kMember.size(), kMember.size());
        event.data.erase(event.data.size() - 1 - kMember.size(), kMember.size());
    }

    static bool hasToolDeltas(const ordered_json& chunk) {
        if (!chunk.contains("choices") || !chunk["choices"].is_array()) return false;
        for (const auto& choice : chunk["choices"]) {
            if (choice.contains("delta") && choice["delta"].is_object() &&
                choice["delta"].contains("tool_calls"))
                return true;
        }
        return false;
    }

    void readUsage(const json& chunk) {
        if (!chunk.contains("usage") || !chunk["usage"].is_object()) return;
        const json& usage = chunk["usage"];
        if (auto tokens = tokenCount(usage, "prompt_tokens")) _msg.usage.inputTokens = *tokens;
        if (auto tokens = tokenCount(usage, "completion_tokens")) _msg.usage.outputTokens = *tokens;
    }

    // Returns true when the choice carries tool-call deltas.
    bool readChoice(const json& choice) {
        if (!choice.contains("delta") || !choice["delta"].is_object()) return false;
        const json& delta = choice["delta"];
        if (delta.contains("content") && delta["content"].is_string())
            _msg.text += delta["content"].get<std::string>();
        if (!delta.contains("tool_calls") || !delta["tool_calls"].is_array()) return false;
        for (std::size_t i = 0; i < delta["tool_calls"].size(); ++i) {
            const json& entry = delta["tool_calls"][i];
            int index = static_cast<int>(intField(entry, "index", static_cast<long long>(i)));
            ToolCall& call = _calls[index];
            if (entry.contains("id") && entry["id"].is_string()) call.id = entry["id"].get<std::string>();
            if (entry.contains("function") && entry["function"].is_object()) {
                const json& function = entry["function"];
                if (function.contains("name") && function["name"].is_string())
                    call.name += function["name"].get<std::string>();
                if (function.contains("arguments") && function["arguments"].is_string())
                    call.argumentsRaw += function["arguments"].get<std::string>();
            }
        }
        return true;
    }

    std::string refusalChunk(const std::string& content, const std::string& refusal,
                             std::string_view eol) const {
        ordered_json chunk = ordered_json::object();
        for (const char* key : {"id", "object", "created", "model", "service_tier", "system_fingerprint"}) {
            if (_meta.contains(key)) chunk[key] = _meta[key];
        }
        if (!chunk.contains("object")) chunk["object"] = "chat.completion.chunk";
        ordered_json delta = {{"content", content}};
        if (!refusal.empty()) delta["refusal"] = refusal;
        chunk["choices"] = ordered_json::array(
            {{{"index", 0}, {"delta", delta}, {"logprobs", nullptr}, {"finish_reason", nullptr}}});
        if (_usageKey) chunk["usage"] = nullptr;
        return formatSseEvent("", compact(chunk), eol);
    }

    mutable ResponseView _msg;
    std::map<int, ToolCall> _calls;  // keyed by the upstream tool_calls[].index
    json _meta = json::object();
    bool _metaSeen = false;
    bool _usageKey = false;
    bool _hideUsage = false;
    bool _holding = false;
    bool _finishHeld = false;
    bool _complete = false;
    int _releasedCalls = 0;
    int _firstUnreleasedIndex = 0;
    std::vector<SseEvent> _held;
};

json errorObject(ProxyErrorKind kind, std::string_view message) {
    std::string type = "api_error";
    json code = nullptr;
    switch (kind) {
        case ProxyErrorKind::BadRequest:
            type = "invalid_request_error";
            break;
        case ProxyErrorKind::LimitExceeded:
            type = "rate_limit_exceeded";
            code = "token_cost_limit_exceeded";
            break;
        case ProxyErrorKind::UpstreamUnreachable:
            code = "upstream_unreachable";
            break;
        case ProxyErrorKind::UpstreamTimeout:
            code = "upstream_timeout";
            break;
        case ProxyErrorKind::NotFound:
            type = "invalid_request_error";
            code = "not_found";
            break;
        case ProxyErrorKind::PayloadTooLarge:
            type = "invalid_request_error";
            code = "request_too_large";
            break;
        case ProxyErrorKind::Unavailable:
            code = "service_unavailable";
            break;
        default:
            break;
    }
    return {{"error", {{"message", message}, {"type", type}, {"param", nullptr}, {"code", code}}}};
}

/// `text` with `replaced` bytes at `at` replaced by `insert`.
std::string spliced(std::string_view text, std::size_t at, std::size_t replaced, std::string_view insert) {
    std::string out;
    out.reserve(text.size() + insert.size());
    out.append(text.substr(0, at)).append(insert).append(text.substr(at + replaced));
    return out;
}

/// `text` with `member` added to the object at [open, close) (valid JSON, '{' at open): after its last
/// member, before the whitespace that precedes the '}', with a comma unless the object is empty.
std::string withMember(std::string_view text, std::size_t open, std::size_t close, std::string_view member) {
    std::size_t at = close - 1;  // the '}'
    while (at > open + 1 && isJsonSpace(text[at - 1])) --at;
    const bool empty = at == open + 1;
    return spliced(text, at, 0, (empty ? "" : ",") + std::string(member));
}

class OpenAiAdapter final : public ProviderAdapter {
  public:
    Provider provider() const override { return Provider::OpenAi; }

    RequestView parseRequest(const json& body, const RouteInfo&) const override {
        if (!body.is_object()) badRequest("openai", "body must be a JSON object");
        if (!body.contains("messages") || !body["messages"].is_array())
            badRequest("openai", "messages must be an array");
        RequestView view;
        if (body.contains("model") && body["model"].is_string())
            view.model = body["model"].get<std::string>();
        view.stream = body.contains("stream") && body["stream"].is_boolean() && body["stream"].get<bool>();
        view.choiceCount = intField(body, "n", 1);
        if (body.contains("tools") && body["tools"].is_array()) {
            view.hasTools = !body["tools"].empty();
            for (const auto& tool : body["tools"]) {
                std::string type = textField(tool, "type", "function");
                if (type == "function" && tool.contains("function") && tool["function"].is_object()) {
                    const json& function = tool["function"];
                    DeclaredTool declared{
                        textField(function, "name"), textField(function, "description"),
                        function.contains("parameters") ? function["parameters"] : json::object()};
                    if (!declared.name.empty()) view.tools.push_back(std::move(declared));
                } else if (type == "custom" && tool.contains("custom") && tool["custom"].is_object()) {
                    const json& custom = tool["custom"];
                    DeclaredTool declared{textField(custom, "name"), textField(custom, "description"),
                                          custom.contains("format") ? custom["format"] : json::object()};
                    if (!declared.name.empty()) view.tools.push_back(std::move(declared));
                }
            }
        }
        const json& messages = body["messages"];
        for (const auto& message : messages) {
            if (!message.is_object() || !message.contains("tool_calls") || !message["tool_calls"].is_array())
                continue;
            for (const auto& entry : message["tool_calls"]) {
                ToolCall call;
                readToolCall(entry, call);
                if (!call.id.empty()) view.toolCallNames[call.id] = call.name;
            }
        }
        for (std::size_t i = 0; i < messages.size(); ++i) {
            const json& message = messages[i];
            if (!message.is_object())
                badRequest("openai", "messages[" + std::to_string(i) + "] must be an object");
            std::string role = textField(message, "role");
            std::string text = message.contains("content") ? contentText(message["content"]) : std::string();
            view.text += role + ": " + text + "\n";
            if (role != "tool") continue;
            ToolResult result;
            result.toolCallId = textField(message, "tool_call_id");
            auto name = view.toolCallNames.find(result.toolCallId);
            if (name != view.toolCallNames.end()) result.toolName = name->second;
            result.content = parseMaybeJson(text);
            result.location.messageIndex = i;
            view.toolResults.push_back(std::move(result));
        }
        return view;
    }

    // The same reads as parseRequest, on simdjson's document, for requests without tool calls or tool
    // results in their history (those, and every malformed request, take parseRequest).
    std::optional<RequestView> parseRequestText(std::string_view text, const RouteInfo&,
                                                std::optional<nlohmann::json>* document) const override {
        RequestView view;
        bool simple = false;
        const bool parsed = readWithSimdjson(text, [&](Element body) {
            // Declined: the caller takes parseRequest on the DOM, converted from this parse (not parsed
            // again).
            auto decline = [&] {
                if (document) *document = toNlohmann(body);
            };
            auto messages = member(body, "messages");  // nullopt too when the body is no object
            if (!messages || messages->type() != ElementType::ARRAY) return decline();
            for (auto message : simdjson::dom::array(*messages)) {
                if (message.type() != ElementType::OBJECT || member(message, "tool_calls")) return decline();
                std::string role = textOf(message, "role");
                if (role == "tool") return decline();
                auto content = member(message, "content");
                std::string text = content ? contentTextOf(*content) : std::string();
                view.text += role + ": " + text + "\n";
            }
            view.model = textOf(body, "model");
            auto stream = member(body, "stream");
            view.stream = stream && stream->type() == ElementType::BOOL && bool(*stream);
            view.choiceCount = intOf(body, "n", 1);
            if (auto tools = member(body, "tools"); tools && tools->type() == ElementType::ARRAY) {
                simdjson::dom::array list(*tools);
                view.hasTools = list.begin() != list.end();
                for (auto tool : list) {
                    const std::string type = textOf(tool, "type", "function");
                    const char* inner = type == "function" ? "function"
                                        : type == "custom" ? "custom"
                                                           : nullptr;
                    if (!inner) continue;
                    auto spec = member(tool, inner);
                    if (!spec || spec->type() != ElementType::OBJECT) continue;
                    // A function's JSON schema is its `parameters`, a custom tool's its `format`.
                    auto schema = member(*spec, type == "function" ? "parameters" : "format");
                    DeclaredTool declared{textOf(*spec, "name"), textOf(*spec, "description"),
                                          schema ? toNlohmann(*schema) : json::object()};
                    if (!declared.name.empty()) view.tools.push_back(std::move(declared));
                }
            }
            simple = true;
        });
        if (!parsed || !simple) return std::nullopt;
        return view;
    }

    json rewriteToolResult(const json& body, const ToolResultLocation& location,
                           const json& content) const override {
        json copy = body;
        if (!copy.contains("messages") || location.messageIndex >= copy["messages"].size() ||
            textField(copy["messages"][location.messageIndex], "role") != "tool") {
            throw Poco::InvalidArgumentException(
                "openai rewriteToolResult",
                "messages[" + std::to_string(location.messageIndex) + "] is not a tool message");
        }
        copy["messages"][location.messageIndex]["content"] =
            content.is_string() ? content : json(compact(content));
        return copy;
    }

    ResponseView parseResponse(const json& body) const override {
        ResponseView view;
        view.id = textField(body, "id");
        view.model = textField(body, "model");
        if (body.contains("usage") && body["usage"].is_object()) {
            const json& usage = body["usage"];
            if (auto tokens = tokenCount(usage, "prompt_tokens")) view.usage.inputTokens = *tokens;
            if (auto tokens = tokenCount(usage, "completion_tokens")) view.usage.outputTokens = *tokens;
        }
        if (!body.contains("choices") || !body["choices"].is_array() || body["choices"].empty()) return view;
        const json& choice = body["choices"][0];
        if (choice.contains("finish_reason") && choice["finish_reason"].is_string())
            view.finishReason = choice["finish_reason"].get<std::string>();
        if (!choice.contains("message") || !choice["message"].is_object()) return view;
        const json& message = choice["message"];
        if (message.contains("content")) view.text = contentText(message["content"]);
        if (message.contains("tool_calls") && message["tool_calls"].is_array()) {
            for (const auto& entry : message["tool_calls"]) {
                ToolCall call;
                readToolCall(entry, call);
                view.toolCalls.push_back(std::move(call));
            }
        }
        return view;
    }

    // The same reads as parseResponse, on simdjson's document (see the helpers above).
    std::optional<ResponseView> parseResponseText(std::string_view text) const override {
        ResponseView view;
        std::vector<bool> custom;
        bool object = false;
        const bool parsed = readWithSimdjson(text, [&](Element body) {
            if (body.type() != ElementType::OBJECT) return;
            object = true;
            view.id = textOf(body, "id");
            view.model = textOf(body, "model");
            readUsageOf(body, view.usage);
            auto choices = member(body, "choices");
            if (!choices || choices->type() != ElementType::ARRAY) return;
            simdjson::dom::array list(*choices);
            if (list.size() == 0) return;
            Element choice = list.at(0).value_unsafe();
            if (auto reason = member(choice, "finish_reason");
                reason && reason->type() == ElementType::STRING)
                view.finishReason = std::string(std::string_view(*reason));
            auto message = member(choice, "message");
            if (!message || message->type() != ElementType::OBJECT) return;
            if (auto content = member(*message, "content")) view.text = contentTextOf(*content);
            auto calls = member(*message, "tool_calls");
            if (!calls || calls->type() != ElementType::ARRAY) return;
            for (auto entry : simdjson::dom::array(*calls)) {
                bool isCustom = false;
                readToolCallOf(entry, view.toolCalls.emplace_back(), isCustom);
                custom.push_back(isCustom);
            }
        });
        if (!parsed || !object) return std::nullopt;
        // The document is gone: the arguments can be parsed now.
        for (std::size_t i = 0; i < view.toolCalls.size(); ++i) {
            ToolCall& call = view.toolCalls[i];
            if (custom[i]) {
                call.arguments = call.argumentsRaw;
                call.argumentsValid = true;
            } else {
                finalizeArguments(call, false);
            }
        }
        return view;
    }

    // Partially blocked: the remaining calls keep finish_reason "tool_calls" and the content messages of the
    // blocked calls are appended to the message text, so the agent sees why some calls are missing. `refusal`
    // is set only when every call was blocked, because SDKs treat a refusal as the answer to the whole turn.
    json blockResponse(const json& body, const std::vector<BlockedCall>& blocked) const override {
        json copy = body;
        if (!copy.contains("choices") || !copy["choices"].is_array()) return copy;
        for (auto& choice : copy["choices"]) {
            if (!choice.contains("message") || !choice["message"].is_object()) continue;
            json& message = choice["message"];
            if (!message.contains("tool_calls") || !message["tool_calls"].is_array()) continue;
            json kept = json::array();
            std::string content;
            std::string refusal;
            for (const auto& entry : message["tool_calls"]) {
                if (const BlockedCall* block = findBlocked(blocked, textField(entry, "id"))) {
                    content += block->contentMessage;
                    refusal += block->refusalMessage;
                } else {
                    kept.push_back(entry);
                }
            }
            if (kept.size() == message["tool_calls"].size()) continue;
            if (kept.empty()) {
                message.erase("tool_calls");
                message["content"] = content;
                message["refusal"] = refusal;
                choice["finish_reason"] = "stop";
            } else {
                std::string existing = message.contains("content") && message["content"].is_string()
                                           ? message["content"].get<std::string>()
                                           : std::string();
                message["content"] = existing + content;
                message["tool_calls"] = std::move(kept);
            }
        }
        return copy;
    }

    std::unique_ptr<StreamAssembler> newStreamAssembler() const override {
        return std::make_unique<OpenAiStreamAssembler>();
    }

    // Chat completions stream their usage (a last chunk with "choices":[] and the usage object) only with
    // stream_options.include_usage=true, which the openai SDKs do not send by default: without it a stream's
    // tokens, cost and limit usage would go unrecorded.
    std::optional<std::string> withStreamUsage(std::string_view text) const override {
        static constexpr std::string_view kInclude = R"("include_usage":true)";
        static const std::string kOptionsValue = "{" + std::string(kInclude) + "}";
        static const std::string kOptions = R"("stream_options":)" + kOptionsValue;
        // The text is valid JSON (parsed before): its root spans from the first to the last non-space byte,
        // after a byte order mark (which parseJson skips). Only the top level is scanned, once, and then the
        // stream_options object alone.
        const std::size_t bom = text.rfind("\xEF\xBB\xBF", 0) == 0 ? 3 : 0;
        std::size_t open = bom;
        while (open < text.size() && isJsonSpace(text[open])) ++open;
        std::size_t close = text.size();
        while (close > open && isJsonSpace(text[close - 1])) --close;
        if (open >= close || text[open] != '{') return std::nullopt;
        auto options = locateJsonValue(text.substr(bom), {{"stream_options"}});
        if (!options) return withMember(text, open, close, kOptions);
        const std::size_t begin = bom + options->first;
        const std::string_view value = text.substr(begin, options->second - options->first);
        if (value == "null") return spliced(text, begin, value.size(), kOptionsValue);
        if (value.empty() || value.front() != '{')
            return std::nullopt;  // not an object: left for the upstream to refuse
        auto include = locateJsonValue(value, {{"include_usage"}});
        if (!include) return withMember(text, begin, begin + value.size(), kInclude);
        const std::string_view current = value.substr(include->first, include->second - include->first);
        if (current != "false" && current != "null") return std::nullopt;  // true already, or not a boolean
        return spliced(text, begin + include->first, current.size(), "true");
    }

    std::string errorBody(ProxyErrorKind kind, std::string_view message) const override {
        return compact(errorObject(kind, message));
    }

    // openai-node raises an APIError for a data event whose JSON has an `error` member.
    std::string sseError(ProxyErrorKind kind, std::string_view message) const override {
        return formatSseEvent("", compact(errorObject(kind, message)));
    }
};

}  // namespace

const ProviderAdapter& openAiAdapter() {
    static const OpenAiAdapter adapter;
    return adapter;
}

}  // namespace archestra::proxy
