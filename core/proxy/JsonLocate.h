// Positions in JSON text without parsing it into a tree: where the value at a path starts and ends, so that a
// caller can splice bytes into a body it forwards (the TOON compression of tool results, the OpenAI
// stream_options splice) and leave every other byte as the client sent it.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace archestra::proxy {

/// JSON's insignificant whitespace (RFC 8259: space, tab, line feed, carriage return).
inline bool isJsonSpace(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/// One step of a path into a JSON document: an object key or an array index.
struct JsonPathStep {
    std::string key;  ///< used when !isIndex
    std::size_t index = 0;
    bool isIndex = false;
};

/// The byte range [first, second) of the value at `path` inside the JSON text `raw`, which must be valid JSON
/// (text that is not may give nullopt or a range that means nothing). Keys are compared decoded
/// ("stream\u005foptions" is stream_options) and a duplicated key resolves to its last occurrence, as the
/// parsers read them. An empty path gives the root value. Nullopt when the path does not exist.
std::optional<std::pair<std::size_t, std::size_t>> locateJsonValue(std::string_view raw,
                                                                   const std::vector<JsonPathStep>& path);

}  // namespace archestra::proxy
