// TOON (Token-Oriented Object Notation) encoder and the token estimate used to price tool-result compression.
// Written from the public TOON specification (toon-format/spec, v1.x encoding rules, default options: indent
// 2, comma delimiter, no key folding, no length marker).
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace archestra::proxy::toon {

/// Encodes a JSON value as TOON. Object fields keep their encounter order (hence ordered_json):
/// - objects: `key: value` lines, nested objects as `key:` with their fields indented by two spaces;
/// - arrays of primitives inline: `key[N]: a,b,c`; empty arrays `key[0]:`;
/// - arrays of objects with the same key set and primitive values only, tabular: `key[N]{f1,f2}:` + rows;
/// - anything else as a list: `key[N]:` then `- item` lines (objects put their first field on the hyphen
/// line);
/// - strings are quoted only when the spec requires it (empty, leading/trailing space, true/false/null,
///   numeric-looking, `: " \ [ ] { }`, control characters, the delimiter, a leading hyphen);
/// - numbers in canonical decimal form (no exponent, no trailing zeros, -0 as 0; NaN/Infinity cannot occur
///   in parsed JSON).
/// No trailing newline. An empty root object encodes as the empty string.
///
/// Parses with simdjson (DOM, one reusable parser per thread): nlohmann's parser alone took ~33 µs for a 2 KB
/// tool result, over the 50 µs budget once encoding and the token estimate are added. The encoder then walks
/// simdjson's tape (its flat array of value words) directly, not through dom::element. Nullopt when the text
/// is not valid JSON (including invalid UTF-8 and integers beyond 64 bits).
std::optional<std::string> encodeJson(std::string_view jsonText);

/// The same for an in-memory value (serialised first; for tests and callers that already hold a document).
std::string encode(const nlohmann::ordered_json& value);

/// A documented estimate of the tokens a cl100k-style BPE tokenizer produces for `text` (no tokenizer library
/// is packaged for Debian): runs of letters count one token per 6 letters (rounded up: common words
/// and JSON keys are single tokens), runs of digits one
/// per 3 digits (cl100k splits numbers into groups of up to three), a run of spaces/newlines one token, every
/// other ASCII symbol one token, and non-ASCII text one token per code point. A single space before a word
/// is merged into that word's token, as BPE vocabularies do. O(n), no allocation.
std::size_t estimateTokens(std::string_view text);

}  // namespace archestra::proxy::toon
