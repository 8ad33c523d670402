// Small helpers shared by the provider adapters (internal to core/proxy/adapters).
#pragma once

#include "core/proxy/adapters/ProviderAdapter.h"

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace archestra::proxy::detail {

/// Parsed JSON when `text` is a JSON document, otherwise the text itself as a JSON string.
nlohmann::json parseMaybeJson(const std::string& text);

/// Fills arguments/argumentsValid of a call from its argumentsRaw.
void finalizeArguments(ToolCall& call, bool emptyMeansObject);

const BlockedCall* findBlocked(const std::vector<BlockedCall>& blocked, std::string_view id);

/// Serialises a JSON value the way the providers do: compact, UTF-8 kept as is, invalid UTF-8 replaced.
std::string compact(const nlohmann::json& value);
/// Rewritten stream events keep the upstream key order, so they read like their neighbours.
std::string compact(const nlohmann::ordered_json& value);

// Typed field reads that never throw: a field of the wrong type reads as absent. nlohmann's value() throws
// type_error on a type mismatch, which would turn a malformed body or stream event into an internal error
// (found by fuzz_proxy).
template <class Json>
std::string textField(const Json& object, const char* key, std::string fallback = {}) {
    if (!object.is_object()) return fallback;
    auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->template get<std::string>() : fallback;
}

template <class Json>
long long intField(const Json& object, const char* key, long long fallback) {
    if (!object.is_object()) return fallback;
    auto it = object.find(key);
    return it != object.end() && it->is_number_integer() ? it->template get<long long>() : fallback;
}

template <class Json>
bool boolField(const Json& object, const char* key, bool fallback) {
    if (!object.is_object()) return fallback;
    auto it = object.find(key);
    return it != object.end() && it->is_boolean() ? it->template get<bool>() : fallback;
}

/// A token count: a non-negative integer, or a float that is a whole number in range (some providers send
/// 12.0); anything else reads as absent. A float outside int64 converted with get<int64_t>() is undefined
/// behaviour (found by fuzz_proxy).
template <class Json>
std::optional<std::int64_t> tokenCount(const Json& object, const char* key) {
    if (!object.is_object()) return std::nullopt;
    auto it = object.find(key);
    if (it == object.end()) return std::nullopt;
    if (it->is_number_unsigned()) {
        auto value = it->template get<std::uint64_t>();
        if (value > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
        return static_cast<std::int64_t>(value);
    }
    if (it->is_number_integer()) {
        auto value = it->template get<std::int64_t>();
        return value >= 0 ? std::optional<std::int64_t>(value) : std::nullopt;
    }
    if (it->is_number_float()) {
        double value = it->template get<double>();
        if (!(value >= 0 && value <= 9007199254740992.0) ||
            value != static_cast<double>(static_cast<std::int64_t>(value)))
            return std::nullopt;
        return static_cast<std::int64_t>(value);
    }
    return std::nullopt;
}

/// Throws Poco::DataFormatException naming the provider and what was wrong.
[[noreturn]] void badRequest(std::string_view provider, std::string_view what);

/// Concatenation of the `text` of the blocks of type "text" in an array (OpenAI parts, Anthropic blocks).
std::string joinTextBlocks(const nlohmann::json& blocks);

}  // namespace archestra::proxy::detail
