// Provider-independent parts of the adapter layer: names, error statuses, adapter lookup and shared helpers.
#include "core/proxy/adapters/ProviderAdapter.h"

#include "core/proxy/JsonParse.h"
#include "core/proxy/adapters/AdapterSupport.h"

#include <Poco/Exception.h>

namespace archestra::proxy {

std::string_view providerName(Provider provider) {
    switch (provider) {
        case Provider::OpenAi:
            return "openai";
        case Provider::Anthropic:
            return "anthropic";
        case Provider::Gemini:
            return "gemini";
        case Provider::Invalid:
            break;
    }
    return "invalid";
}

int httpStatus(ProxyErrorKind kind) {
    switch (kind) {
        case ProxyErrorKind::BadRequest:
            return 400;
        case ProxyErrorKind::LimitExceeded:
            return 429;
        case ProxyErrorKind::UpstreamUnreachable:
            return 502;
        case ProxyErrorKind::UpstreamTimeout:
            return 504;
        case ProxyErrorKind::NotFound:
            return 404;
        case ProxyErrorKind::PayloadTooLarge:
            return 413;
        case ProxyErrorKind::Unavailable:
            return 503;
        case ProxyErrorKind::Internal:
        case ProxyErrorKind::Invalid:
            break;
    }
    return 500;
}

ProxyErrorKind proxyErrorKindFor(int status) {
    switch (status) {
        case 400:
            return ProxyErrorKind::BadRequest;
        case 404:
            return ProxyErrorKind::NotFound;
        case 413:
            return ProxyErrorKind::PayloadTooLarge;
        case 502:
            return ProxyErrorKind::UpstreamUnreachable;
        case 503:
            return ProxyErrorKind::Unavailable;
        case 504:
            return ProxyErrorKind::UpstreamTimeout;
        default:
            return ProxyErrorKind::Internal;
    }
}

const ProviderAdapter& adapterFor(Provider provider) {
    switch (provider) {
        case Provider::OpenAi:
            return openAiAdapter();
        case Provider::Anthropic:
            return anthropicAdapter();
        case Provider::Gemini:
            return geminiAdapter();
        case Provider::Invalid:
            break;
    }
    throw Poco::InvalidArgumentException("adapterFor", "provider must be openai, anthropic or gemini");
}

namespace detail {

nlohmann::json parseMaybeJson(const std::string& text) {
    nlohmann::json parsed = parseJsonOrDiscarded(text);
    if (parsed.is_discarded()) return nlohmann::json(text);
    return parsed;
}

void finalizeArguments(ToolCall& call, bool emptyMeansObject) {
    if (call.argumentsRaw.empty() && emptyMeansObject) {
        call.arguments = nlohmann::json::object();
        call.argumentsValid = true;
        return;
    }
    nlohmann::json parsed = parseJsonOrDiscarded(call.argumentsRaw);
    call.argumentsValid = !parsed.is_discarded();
    call.arguments = call.argumentsValid ? std::move(parsed) : nlohmann::json(call.argumentsRaw);
}

const BlockedCall* findBlocked(const std::vector<BlockedCall>& blocked, std::string_view id) {
    for (const auto& call : blocked) {
        if (call.toolCallId == id) return &call;
    }
    return nullptr;
}

// The same bytes as value.dump(-1, ' ', false, replace), by the faster writer (JsonParse.h).
std::string compact(const nlohmann::json& value) {
    return compactJson(value);
}

std::string compact(const nlohmann::ordered_json& value) {
    return compactJson(value);
}

void badRequest(std::string_view provider, std::string_view what) {
    throw Poco::DataFormatException(std::string(provider) + " request", std::string(what));
}

std::string joinTextBlocks(const nlohmann::json& blocks) {
    std::string text;
    if (!blocks.is_array()) return text;
    for (const auto& block : blocks) {
        if (block.is_object() && textField(block, "type") == "text" && block.contains("text") &&
            block["text"].is_string()) {
            text += block["text"].get<std::string>();
        }
    }
    return text;
}

}  // namespace detail
}  // namespace archestra::proxy
