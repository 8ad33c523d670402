// Small helpers shared by the provider adapters (internal to core/proxy/adapters).
#pragma once

#include "core/proxy/adapters/ProviderAdapter.h"

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

/// Throws Poco::DataFormatException naming the provider and what was wrong.
[[noreturn]] void badRequest(std::string_view provider, std::string_view what);

/// Concatenation of the `text` of the blocks of type "text" in an array (OpenAI parts, Anthropic blocks).
std::string joinTextBlocks(const nlohmann::json& blocks);

}  // namespace archestra::proxy::detail
