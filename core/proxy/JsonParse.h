// JSON text to nlohmann::json through simdjson: the same document as nlohmann::json::parse, for a fraction of
// its instructions (its lexer copies every byte twice and calls through an adapter per byte). And back:
// nlohmann::json to compact text, the same bytes as its dump() for a fraction of its instructions.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <string_view>

namespace simdjson::dom {
class element;
}

namespace archestra::proxy {

/// The value nlohmann::json::parse(text) returns, with the same types (a non-negative integer is
/// number_unsigned, a negative one number_integer, anything with a fraction or exponent number_float) and the
/// same last-one-wins rule for a repeated key. Text simdjson refuses (or that it reads differently: a byte
/// order mark, an integer beyond 64 bits, nesting deeper than 1024) goes to nlohmann::json::parse itself, so
/// errors are nlohmann's: throws nlohmann::json::parse_error / out_of_range exactly as it would.
nlohmann::json parseJson(std::string_view text);

/// Like nlohmann::json::parse(text, nullptr, false): a discarded value instead of an exception.
nlohmann::json parseJsonOrDiscarded(std::string_view text);

/// Calls `read` with the root of `text` parsed by simdjson, when parseJson(text) would take its simdjson path
/// (the same document: see above); false without calling it otherwise (not JSON, or text left to nlohmann).
/// For readers that need a few fields and no DOM. The element lives only during the call, and `read` must not
/// parse JSON itself (parseJson and this reuse the thread's parser, which would overwrite the document).
bool readWithSimdjson(std::string_view text, const std::function<void(simdjson::dom::element)>& read);

/// A part of a document read by readWithSimdjson as nlohmann::json: the value parseJson gives that part.
nlohmann::json toNlohmann(simdjson::dom::element element);

/// The text value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) returns (compact, UTF-8 kept
/// as is, invalid UTF-8 replaced by U+FFFD), byte for byte. nlohmann's serializer decodes every byte of every
/// string through its UTF-8 state machine and writes through a virtual call per piece; here a string that is
/// valid UTF-8 (checked at once by simdjson) is escaped by util::appendJsonString, which copies the runs
/// between escapes whole. What nlohmann formats its own way goes to nlohmann for that value alone: a string
/// that is not valid UTF-8, a floating-point number, a binary or discarded value.
std::string compactJson(const nlohmann::json& value);
std::string compactJson(const nlohmann::ordered_json& value);
/// compactJson(value) appended to `out`.
void appendCompactJson(std::string& out, const nlohmann::json& value);
void appendCompactJson(std::string& out, const nlohmann::ordered_json& value);

}  // namespace archestra::proxy
