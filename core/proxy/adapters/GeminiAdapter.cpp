// Gemini generateContent / streamGenerateContent adapter: views, blocked shapes, stream assembly, error
// bodies.
#include "core/proxy/JsonParse.h"
#include "core/proxy/adapters/AdapterSupport.h"
#include "core/proxy/adapters/ProviderAdapter.h"

#include <Poco/Exception.h>

#include <map>

namespace archestra::proxy {
namespace {

using nlohmann::json;
using namespace detail;

// Gemini function calls usually carry no id: the n-th call of a name in a conversation answers to the n-th
// functionResponse of that name, so "<name>#<n>" identifies both sides consistently.
class CallIds {
  public:
    template <typename Json>
    std::string next(const Json& functionPart) {
        if (functionPart.contains("id") && functionPart["id"].is_string() &&
            !functionPart["id"].template get<std::string>().empty())
            return functionPart["id"].template get<std::string>();
        std::string name = textField(functionPart, "name");
        return name + "#" + std::to_string(_counts[name]++);
    }

  private:
    std::map<std::string, int> _counts;
};

void readUsage(const json& body, Usage& usage) {
    if (!body.contains("usageMetadata") || !body["usageMetadata"].is_object()) return;
    const json& meta = body["usageMetadata"];
    if (auto tokens = tokenCount(meta, "promptTokenCount")) usage.inputTokens = *tokens;
    // Thinking tokens are billed as output.
    auto candidates = tokenCount(meta, "candidatesTokenCount");
    auto thoughts = tokenCount(meta, "thoughtsTokenCount");
    if (candidates || thoughts) usage.outputTokens = candidates.value_or(0) + thoughts.value_or(0);
}

const json* firstCandidateParts(const json& body) {
    if (!body.contains("candidates") || !body["candidates"].is_array() || body["candidates"].empty())
        return nullptr;
    const json& candidate = body["candidates"][0];
    if (!candidate.contains("content") || !candidate["content"].contains("parts") ||
        !candidate["content"]["parts"].is_array())
        return nullptr;
    return &candidate["content"]["parts"];
}

// Reads one response body (whole or one stream chunk) into `view`; returns the ids of the calls it contained.
std::vector<std::string> readResponse(const json& body, ResponseView& view, CallIds& ids) {
    std::vector<std::string> callIds;
    if (body.contains("responseId")) view.id = textField(body, "responseId");
    if (body.contains("modelVersion")) view.model = textField(body, "modelVersion");
    readUsage(body, view.usage);
    if (body.contains("candidates") && body["candidates"].is_array() && !body["candidates"].empty()) {
        const json& candidate = body["candidates"][0];
        if (candidate.contains("finishReason") && candidate["finishReason"].is_string())
            view.finishReason = candidate["finishReason"].get<std::string>();
    }
    const json* parts = firstCandidateParts(body);
    if (!parts) return callIds;
    for (const auto& part : *parts) {
        if (part.contains("functionCall") && part["functionCall"].is_object()) {
            const json& functionCall = part["functionCall"];
            ToolCall call;
            call.id = ids.next(functionCall);
            call.name = textField(functionCall, "name");
            call.arguments = functionCall.contains("args") ? functionCall["args"] : json::object();
            call.argumentsRaw = compact(call.arguments);
            call.argumentsValid = true;
            callIds.push_back(call.id);
            view.toolCalls.push_back(std::move(call));
        } else if (part.contains("text") && part["text"].is_string()) {
            (boolField(part, "thought", false) ? view.thinking : view.text) +=
                part["text"].get<std::string>();
        }
    }
    return callIds;
}

// Replaces blocked functionCall parts of every candidate by text parts; `ids` must continue the numbering of
// the stream/response. Returns whether anything changed.
template <typename Json>
bool blockParts(Json& body, const std::vector<BlockedCall>& blocked, CallIds& ids) {
    bool changed = false;
    if (!body.contains("candidates") || !body["candidates"].is_array()) return false;
    bool first = true;
    for (auto& candidate : body["candidates"]) {
        CallIds otherIds;
        CallIds& candidateIds =
            first ? ids : otherIds;  // only the first candidate continues the stream numbering
        first = false;
        if (!candidate.contains("content") || !candidate["content"].contains("parts")) continue;
        for (auto& part : candidate["content"]["parts"]) {
            if (!part.contains("functionCall") || !part["functionCall"].is_object()) continue;
            if (const BlockedCall* call = findBlocked(blocked, candidateIds.next(part["functionCall"]))) {
                part = Json{{"text", call->contentMessage}};
                changed = true;
            }
        }
    }
    return changed;
}

class GeminiStreamAssembler final : public StreamAssembler {
  public:
    StreamAction feed(SseEvent& event) override {
        json chunk = event.hasData ? parseJsonOrDiscarded(event.data) : json();
        std::vector<std::string> callIds;
        bool finish = false;
        if (chunk.is_object()) {
            // Text is appended per chunk; tool calls accumulate in _msg directly.
            callIds = readResponse(chunk, _msg, _ids);
            finish = chunk.contains("candidates") && chunk["candidates"].is_array() &&
                     !chunk["candidates"].empty() && chunk["candidates"][0].contains("finishReason");
        }
        if (finish) _complete = true;
        if (!_holding && callIds.empty()) return StreamAction::Pass;
        _holding = true;
        _held.push_back(event);
        if (finish) _finishHeld = true;
        return StreamAction::Hold;
    }

    bool readyToRelease() const override { return _holding && (_finishHeld || _complete); }
    bool complete() const override { return _complete; }
    bool holding() const override { return _holding; }
    const ResponseView& message() const override { return _msg; }

    std::string release(const std::vector<BlockedCall>& blocked) override {
        std::string out;
        for (const auto& event : _held) {
            nlohmann::ordered_json chunk = event.hasData
                                               ? nlohmann::ordered_json::parse(event.data, nullptr, false)
                                               : nlohmann::ordered_json();
            if (!chunk.is_object() || !blockParts(chunk, blocked, _releaseIds)) {
                out += event.raw;
                continue;
            }
            if (event.jsonArrayElement)  // the array's separators as received, then the rewritten element
                out += event.raw.substr(0, event.raw.size() - event.data.size()) + compact(chunk);
            else
                out += formatSseEvent(event.event, compact(chunk), sseLineEnding(event.raw));
        }
        _held.clear();
        _holding = false;
        _finishHeld = false;
        return out;
    }

  private:
    ResponseView _msg;
    CallIds _ids;
    CallIds _releaseIds;  // numbering of calls as release() walks the held chunks
    bool _holding = false;
    bool _finishHeld = false;
    bool _complete = false;
    std::vector<SseEvent> _held;
};

json errorObject(ProxyErrorKind kind, std::string_view message) {
    std::string status = "INTERNAL";
    switch (kind) {
        case ProxyErrorKind::BadRequest:
            status = "INVALID_ARGUMENT";
            break;
        case ProxyErrorKind::LimitExceeded:
            status = "RESOURCE_EXHAUSTED";
            break;
        case ProxyErrorKind::UpstreamUnreachable:
            status = "UNAVAILABLE";
            break;
        case ProxyErrorKind::UpstreamTimeout:
            status = "DEADLINE_EXCEEDED";
            break;
        case ProxyErrorKind::NotFound:
            status = "NOT_FOUND";
            break;
        case ProxyErrorKind::PayloadTooLarge:
            status = "INVALID_ARGUMENT";  // what Google answers for a payload over its limit
            break;
        case ProxyErrorKind::Unavailable:
            status = "UNAVAILABLE";
            break;
        default:
            break;
    }
    json error = {{"code", httpStatus(kind)}, {"message", message}, {"status", status}};
    // "code" is the HTTP status in Google's shape, so the token-cost reason goes where Google puts machine-
    // readable reasons: a google.rpc.ErrorInfo in "details" (its reason, the OpenAI route's code).
    if (kind == ProxyErrorKind::LimitExceeded)
        error["details"] = json::array({{{"@type", "type.googleapis.com/google.rpc.ErrorInfo"},
                                         {"reason", "token_cost_limit_exceeded"},
                                         {"domain", "archestra.ai"}}});
    return {{"error", error}};
}

class GeminiAdapter final : public ProviderAdapter {
  public:
    Provider provider() const override { return Provider::Gemini; }

    RequestView parseRequest(const json& body, const RouteInfo& route) const override {
        if (!body.is_object()) badRequest("gemini", "body must be a JSON object");
        if (!body.contains("contents") || !body["contents"].is_array())
            badRequest("gemini", "contents must be an array");
        RequestView view;
        view.model = route.model;
        view.stream = route.streamRoute;
        if (body.contains("generationConfig") && body["generationConfig"].is_object())
            view.choiceCount = intField(body["generationConfig"], "candidateCount", 1);
        if (body.contains("tools") && body["tools"].is_array()) {
            view.hasTools = !body["tools"].empty();
            for (const auto& tool : body["tools"]) {
                if (!tool.is_object() || !tool.contains("functionDeclarations") ||
                    !tool["functionDeclarations"].is_array())
                    continue;
                for (const auto& declaration : tool["functionDeclarations"]) {
                    json parameters = declaration.contains("parameters") ? declaration["parameters"]
                                      : declaration.contains("parametersJsonSchema")
                                          ? declaration["parametersJsonSchema"]
                                          : json::object();
                    DeclaredTool declared{textField(declaration, "name"),
                                          textField(declaration, "description"), std::move(parameters)};
                    if (!declared.name.empty()) view.tools.push_back(std::move(declared));
                }
            }
        }
        if (body.contains("systemInstruction") && body["systemInstruction"].contains("parts"))
            view.text += "system: " + partsText(body["systemInstruction"]["parts"]) + "\n";
        CallIds callIds;
        CallIds responseIds;
        const json& contents = body["contents"];
        for (std::size_t i = 0; i < contents.size(); ++i) {
            const json& content = contents[i];
            if (!content.is_object())
                badRequest("gemini", "contents[" + std::to_string(i) + "] must be an object");
            const json parts =
                content.contains("parts") && content["parts"].is_array() ? content["parts"] : json::array();
            view.text += textField(content, "role", "user") + ": " + partsText(parts) + "\n";
            for (std::size_t p = 0; p < parts.size(); ++p) {
                const json& part = parts[p];
                if (!part.is_object()) continue;
                if (part.contains("functionCall") && part["functionCall"].is_object()) {
                    view.toolCallNames[callIds.next(part["functionCall"])] =
                        textField(part["functionCall"], "name");
                } else if (part.contains("functionResponse") && part["functionResponse"].is_object()) {
                    const json& response = part["functionResponse"];
                    ToolResult result;
                    result.toolCallId = responseIds.next(response);
                    // The response names its function itself; the call is only needed to confirm it.
                    auto name = view.toolCallNames.find(result.toolCallId);
                    result.toolName =
                        name != view.toolCallNames.end() ? name->second : textField(response, "name");
                    result.content = response.contains("response") ? response["response"] : json::object();
                    result.location = {i, p};
                    view.toolResults.push_back(std::move(result));
                }
            }
        }
        return view;
    }

    json rewriteToolResult(const json& body, const ToolResultLocation& location,
                           const json& content) const override {
        json copy = body;
        json* part = nullptr;
        if (copy.contains("contents") && location.messageIndex < copy["contents"].size()) {
            json& entry = copy["contents"][location.messageIndex];
            if (entry.contains("parts") && entry["parts"].is_array() &&
                location.partIndex < entry["parts"].size())
                part = &entry["parts"][location.partIndex];
        }
        if (!part || !part->is_object() || !part->contains("functionResponse")) {
            throw Poco::InvalidArgumentException(
                "gemini rewriteToolResult", "contents[" + std::to_string(location.messageIndex) + "].parts[" +
                                                std::to_string(location.partIndex) +
                                                "] is not a functionResponse");
        }
        (*part)["functionResponse"]["response"] = content.is_object() ? content : json{{"content", content}};
        return copy;
    }

    ResponseView parseResponse(const json& body) const override {
        ResponseView view;
        CallIds ids;
        readResponse(body, view, ids);
        return view;
    }

    // Blocked functionCall parts become text parts. finishReason needs no change: Gemini reports STOP for
    // function calls and plain text alike.
    json blockResponse(const json& body, const std::vector<BlockedCall>& blocked) const override {
        json copy = body;
        CallIds ids;
        blockParts(copy, blocked, ids);
        return copy;
    }

    std::unique_ptr<StreamAssembler> newStreamAssembler() const override {
        return std::make_unique<GeminiStreamAssembler>();
    }

    std::string errorBody(ProxyErrorKind kind, std::string_view message) const override {
        return compact(errorObject(kind, message));
    }

    std::string sseError(ProxyErrorKind kind, std::string_view message) const override {
        return formatSseEvent("", compact(errorObject(kind, message)), "\r\n");
    }

  private:
    static std::string partsText(const json& parts) {
        std::string text;
        if (!parts.is_array()) return text;
        for (const auto& part : parts) {
            if (part.is_object() && part.contains("text") && part["text"].is_string())
                text += part["text"].get<std::string>();
        }
        return text;
    }
};

}  // namespace

const ProviderAdapter& geminiAdapter() {
    static const GeminiAdapter adapter;
    return adapter;
}

}  // namespace archestra::proxy
