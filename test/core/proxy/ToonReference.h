// The TOON step's functions as they were before the 64-byte-block rewrite (commit 31460a4), kept only as the
// reference of the differential test: the new code must answer exactly as these did.
#pragma once

#include "core/proxy/ToonCompression.h"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace archestra::proxy::toon_reference {

using archestra::proxy::JsonPathStep;

enum : unsigned char { kOther = 0, kLetter, kDigit, kSpace, kHigh, kContinuation };
struct ClassTable {
    unsigned char of[256] = {};
    constexpr ClassTable() {
        for (int c = 'a'; c <= 'z'; ++c) of[c] = kLetter;
        for (int c = 'A'; c <= 'Z'; ++c) of[c] = kLetter;
        for (int c = '0'; c <= '9'; ++c) of[c] = kDigit;
        for (unsigned char c : {' ', '\t', '\n', '\r', '\f', '\v'}) of[c] = kSpace;
        for (int c = 0x80; c < 0xC0; ++c) of[c] = kContinuation;
        for (int c = 0xC0; c < 0x100; ++c) of[c] = kHigh;
    }
};
inline constexpr ClassTable kClass;

inline std::size_t estimateTokens(std::string_view text) {
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    std::size_t tokens = 0, i = 0, n = text.size();
    auto cls = [&](std::size_t at) { return kClass.of[p[at]]; };
    while (i < n) {
        unsigned char k = cls(i);
        if (k == kHigh || k == kContinuation) {
            ++i;
            while (i < n && cls(i) == kContinuation) ++i;
            ++tokens;  // one per code point
        } else if (k == kLetter) {
            std::size_t start = i;
            while (i < n && cls(i) == kLetter) ++i;
            tokens += (i - start + 5) / 6;  // most words of up to six letters are one token
        } else if (k == kDigit) {
            std::size_t start = i;
            while (i < n && cls(i) == kDigit) ++i;
            tokens += (i - start + 2) / 3;
        } else if (k == kSpace) {
            std::size_t start = i;
            while (i < n && cls(i) == kSpace) ++i;
            unsigned char next = i < n ? cls(i) : static_cast<unsigned char>(kOther);
            bool mergesWithWord =
                i - start == 1 && p[start] == ' ' &&
                (next == kLetter || next == kDigit || next == kHigh || next == kContinuation);
            if (!mergesWithWord) ++tokens;
        } else {
            ++tokens;
            ++i;
        }
    }
    return tokens;
}

inline bool isWs(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

struct Scanner {
    std::string_view s;
    std::size_t i = 0;

    void ws() {
        while (i < s.size() && isWs(s[i])) ++i;
    }
    bool string() {  // at '"'; leaves i after the closing quote
        if (i >= s.size() || s[i] != '"') return false;
        for (++i; i < s.size(); ++i) {
            if (s[i] == '\\')
                ++i;
            else if (s[i] == '"')
                return ++i, true;
        }
        return false;
    }
    bool value() {  // iterative: nesting depth is not limited by the stack
        ws();
        if (i >= s.size()) return false;
        if (s[i] == '"') return string();
        if (s[i] == '{' || s[i] == '[') {
            std::size_t depth = 0;
            while (i < s.size()) {
                char c = s[i];
                if (c == '"') {
                    if (!string()) return false;
                    continue;
                }
                if (c == '{' || c == '[') ++depth;
                if (c == '}' || c == ']') {
                    if (--depth == 0) return ++i, true;
                }
                ++i;
            }
            return false;
        }
        std::size_t start = i;
        while (i < s.size() && !isWs(s[i]) && s[i] != ',' && s[i] != '}' && s[i] != ']') ++i;
        return i > start;
    }
};

/// The decoded key at the scanner (a string token), or nullopt.
inline std::optional<std::string> readKey(Scanner& scan) {
    std::size_t start = scan.i;
    if (!scan.string()) return std::nullopt;
    std::string_view token = scan.s.substr(start, scan.i - start);
    if (token.find('\\') == std::string_view::npos) return std::string(token.substr(1, token.size() - 2));
    auto decoded = nlohmann::json::parse(token, nullptr, false);
    if (!decoded.is_string()) return std::nullopt;
    return decoded.get<std::string>();
}

inline std::optional<std::pair<std::size_t, std::size_t>> locateJsonValue(
    std::string_view raw, const std::vector<JsonPathStep>& path) {
    Scanner scan{raw, 0};
    scan.ws();
    for (const auto& step : path) {
        scan.ws();
        if (scan.i >= raw.size()) return std::nullopt;
        if (step.isIndex) {
            if (raw[scan.i] != '[') return std::nullopt;
            ++scan.i;
            for (std::size_t k = 0; k < step.index; ++k) {
                if (!scan.value()) return std::nullopt;
                scan.ws();
                if (scan.i >= raw.size() || raw[scan.i] != ',') return std::nullopt;
                ++scan.i;
            }
            scan.ws();
            if (scan.i < raw.size() && raw[scan.i] == ']') return std::nullopt;
        } else {
            if (raw[scan.i] != '{') return std::nullopt;
            ++scan.i;
            std::optional<std::size_t> found;
            while (true) {
                scan.ws();
                if (scan.i >= raw.size()) return std::nullopt;
                if (raw[scan.i] == '}') break;
                auto key = readKey(scan);
                if (!key) return std::nullopt;
                scan.ws();
                if (scan.i >= raw.size() || raw[scan.i] != ':') return std::nullopt;
                ++scan.i;
                scan.ws();
                if (*key == step.key) found = scan.i;  // the last duplicate wins, as in the parsed body
                if (!scan.value()) return std::nullopt;
                scan.ws();
                if (scan.i < raw.size() && raw[scan.i] == ',') ++scan.i;
            }
            if (!found) return std::nullopt;
            scan.i = *found;
        }
    }
    scan.ws();
    std::size_t start = scan.i;
    if (!scan.value()) return std::nullopt;
    return std::make_pair(start, scan.i);
}

}  // namespace archestra::proxy::toon_reference
