// JSON text to nlohmann::json through simdjson: the same document as nlohmann::json::parse, for a fraction of
// its instructions (its lexer copies every byte twice and calls through an adapter per byte).
#pragma once

#include <nlohmann/json.hpp>

#include <string_view>

namespace archestra::proxy {

/// The value nlohmann::json::parse(text) returns, with the same types (a non-negative integer is
/// number_unsigned, a negative one number_integer, anything with a fraction or exponent number_float) and the
/// same last-one-wins rule for a repeated key. Text simdjson refuses (or that it reads differently: a byte
/// order mark, an integer beyond 64 bits, nesting deeper than 1024) goes to nlohmann::json::parse itself, so
/// errors are nlohmann's: throws nlohmann::json::parse_error / out_of_range exactly as it would.
nlohmann::json parseJson(std::string_view text);

/// Like nlohmann::json::parse(text, nullptr, false): a discarded value instead of an exception.
nlohmann::json parseJsonOrDiscarded(std::string_view text);

}  // namespace archestra::proxy
