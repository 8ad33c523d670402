// libFuzzer harness for the TOON encoder (core/proxy/Toon.cpp) and the JSON value locator of tool-result
// compression (core/proxy/ToonCompression.cpp: locateJsonValue). The input is JSON text (or not). Checked:
// - encodeJson never throws; it answers only for text nlohmann also accepts as JSON;
// - it answers exactly as the previous encoder (test/core/proxy/ToonReferenceEncoder.h: simdjson's DOM read
//   through dom::element) does: the same text, or nullopt for both;
// - its output is valid UTF-8 and no JSON is left in it: outside quoted strings a '{' only opens a tabular
//   header's field list (right after "[N]") and a '[' only a length "[N]"; quoted strings are closed;
// - the token estimate never exceeds the byte count (every token consumes at least one byte), and every build
//   of the scans this CPU runs (AVX-512BW, AVX2, baseline) answers alike;
// - encode() of the parsed value gives the same text as encodeJson() when the document has no duplicate keys;
// - locateJsonValue finds every value on a path chosen from the document, and the bytes it returns parse to
//   exactly that value.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/proxy/Toon.h"
#include "core/proxy/ToonCompression.h"
#include "core/proxy/ToonScan.h"
#include "test/core/proxy/ToonReferenceEncoder.h"
#include "test/fuzz/targets/Invariant.h"

using namespace archestra::proxy;
using nlohmann::json;

using archestra::fuzz::violated;

namespace {

bool validUtf8(std::string_view s) {
    try {
        (void)json(std::string(s)).dump();  // strict: throws type_error 316 on invalid UTF-8
        return true;
    } catch (const json::type_error&) {
        return false;
    }
}

/// Outside quoted strings: '{' only right after "[digits]", '[' only as "[digits]"; quotes balanced per line.
void checkNoJsonLeft(const std::string& out) {
    std::size_t i = 0;
    bool afterLength = false;
    while (i < out.size()) {
        char c = out[i];
        if (c == '"') {
            ++i;
            while (i < out.size() && out[i] != '"') {
                if (out[i] == '\n') violated("a quoted string runs past the end of its line", out);
                i += out[i] == '\\' ? 2 : 1;
            }
            if (i >= out.size()) violated("unterminated quoted string", out);
            ++i;
            afterLength = false;
            continue;
        }
        if (c == '[') {
            std::size_t j = i + 1;
            while (j < out.size() && out[j] >= '0' && out[j] <= '9') ++j;
            if (j == i + 1 || j >= out.size() || out[j] != ']')
                violated("unquoted '[' that is not a length", out);
            i = j + 1;
            afterLength = true;
            continue;
        }
        if (c == '{') {
            if (!afterLength) violated("unquoted '{' outside a tabular header", out);
            // The field list runs to the matching '}' (field names may be quoted).
            ++i;
            while (i < out.size() && out[i] != '}') {
                if (out[i] == '"') {
                    ++i;
                    while (i < out.size() && out[i] != '"') i += out[i] == '\\' ? 2 : 1;
                }
                ++i;
            }
            if (i >= out.size()) violated("tabular header without '}'", out);
            ++i;
            afterLength = false;
            continue;
        }
        if (c == '}' || c == ']') violated("unquoted closing bracket", out);
        afterLength = false;
        ++i;
    }
}

bool hasDuplicateKeys(std::string_view text) {
    bool duplicate = false;
    // The callback sees each key of an object; one set of keys per open object.
    std::vector<std::vector<std::string>> open;
    json::parser_callback_t cb = [&](int, json::parse_event_t event, json& parsed) {
        if (event == json::parse_event_t::object_start) open.emplace_back();
        if (event == json::parse_event_t::object_end && !open.empty()) open.pop_back();
        if (event == json::parse_event_t::key && !open.empty()) {
            auto key = parsed.get<std::string>();
            for (const auto& k : open.back())
                if (k == key) duplicate = true;
            open.back().push_back(std::move(key));
        }
        return true;
    };
    (void)json::parse(text, cb, false);
    return duplicate;
}

void checkLocate(std::string_view text, const json& doc, std::uint64_t seed) {
    std::vector<JsonPathStep> path;
    const json* at = &doc;
    for (int depth = 0; depth < 8 && (at->is_object() || at->is_array()) && !at->empty(); ++depth) {
        if (seed % 5 == 0) break;  // stop here sometimes: paths of every length
        std::size_t pick = (seed / 5) % at->size();
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        JsonPathStep step;
        if (at->is_array()) {
            step.isIndex = true;
            step.index = pick;
            at = &(*at)[pick];
        } else {
            auto it = at->begin();
            std::advance(it, static_cast<std::ptrdiff_t>(pick));
            step.key = it.key();
            at = &it.value();
        }
        path.push_back(std::move(step));
    }
    auto range = locateJsonValue(text, path);
    if (!range) violated("locateJsonValue did not find a path that exists", text);
    if (range->first > range->second || range->second > text.size()) violated("range out of bounds", text);
    json found = json::parse(text.substr(range->first, range->second - range->first), nullptr, false);
    if (found.is_discarded() || found != *at)
        violated("the located bytes are not the value at the path", text);
    // A path that does not exist: one key/index more than the leaf has.
    std::vector<JsonPathStep> missing = path;
    JsonPathStep extra;
    if (at->is_array()) {
        extra.isIndex = true;
        extra.index = at->size();
    } else {
        extra.key = "\x01no such key\x02";
    }
    missing.push_back(extra);
    if (locateJsonValue(text, missing)) violated("locateJsonValue found a path that does not exist", text);
}

/// Every build of the scans this CPU runs (AVX-512BW, AVX2, baseline) gives the same estimate and, when the
/// input starts with a quote, the same end of that string as the build in use.
void checkEveryScanBuild(std::string_view text, std::size_t tokens) {
    static const auto builds = toon::scan::supported();
    const std::size_t end = text.empty() || text[0] != '"' ? 0 : builds.front().stringEnd(text, 0);
    for (const auto& build : builds) {
        if (build.estimateTokens(text) != tokens) violated("the scan builds disagree on the estimate", text);
        if (end != 0 && build.stringEnd(text, 0) != end)
            violated("the scan builds disagree on the end of a string", text);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);

    std::optional<std::string> out;
    try {
        out = toon::encodeJson(text);
    } catch (...) {
        violated("encodeJson threw", text);
    }
    const auto expected = toon_reference::encodeJson(text);
    if (expected.has_value() != out.has_value())
        violated(out ? "encodeJson accepted what the reference encoder refused"
                     : "encodeJson refused what the reference encoder accepted",
                 text);
    if (out && *out != *expected) violated("encodeJson differs from the reference encoder", text);
    const std::size_t tokens = toon::estimateTokens(text);
    if (tokens > text.size()) violated("more tokens than bytes (input)", text);
    checkEveryScanBuild(text, tokens);

    json doc = json::parse(text, nullptr, false);
    if (!out) return 0;
    if (doc.is_discarded()) violated("encodeJson accepted text that is not JSON", text);
    if (!validUtf8(*out)) violated("TOON output is not valid UTF-8", *out);
    if (toon::estimateTokens(*out) > out->size()) violated("more tokens than bytes (output)", *out);
    checkNoJsonLeft(*out);

    if (!hasDuplicateKeys(text)) {
        nlohmann::ordered_json ordered = nlohmann::ordered_json::parse(text, nullptr, false);
        std::string again;
        try {
            again = toon::encode(ordered);
        } catch (...) {
            violated("encode threw on a parsed document", text);
        }
        if (again != *out) violated("encode(parsed) differs from encodeJson(text)", text);
        std::uint64_t seed = size;
        for (std::size_t i = 0; i < size; ++i) seed = seed * 31 + data[i];
        checkLocate(text, doc, seed);
    }
    return 0;
}
