// The bodies of the scans of ToonScan.h, written once over Block64 and compiled by each ToonScan*.cpp for its
// instruction set (in ToonBytes.h's per-ISA inline namespace, so the copies stay apart at link time).
#pragma once

#include "core/proxy/ToonBytes.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace archestra::proxy::toon::scan {
inline namespace ARCHESTRA_TOON_ISA {

/// Tokens of letter (step 6) or digit (step 3) runs in one block: one at each run start and one every
/// `step` bytes into a run. `run` is the mask of the class; `offset` (in/out) the position within its run of
/// the previous block's last byte modulo `step`, or -1 when that byte was not of the class.
template <int step>
[[gnu::always_inline]] inline std::size_t runTokens(std::uint64_t run, int& offset) {
    std::uint64_t starts = run & ~((run << 1) | (offset >= 0 ? 1ULL : 0ULL));
    if (offset >= 0 && (run & 1)) {  // the run continues from the previous block
        int firstToken = (step - (offset + 1) % step) % step;
        int leading = run == ~0ULL ? 64 : __builtin_ctzll(~run);
        if (firstToken < leading) starts |= 1ULL << firstToken;
    }
    std::uint64_t long_ = run;  // bytes preceded by `step` bytes of the run within this block
    for (int k = 1; k <= step; ++k) long_ &= run << k;
    std::size_t tokens = 0;
    for (std::uint64_t at = starts; at != 0; at = (at << step) & long_) tokens += __builtin_popcountll(at);
    if (run >> 63) {
        if (run == ~0ULL)
            offset = offset >= 0 ? (offset + 64) % step : 63 % step;
        else
            offset = (62 - (63 - __builtin_clzll(~run))) % step;
    } else {
        offset = -1;
    }
    return tokens;
}

inline bool isSpaceByte(unsigned char c) {
    return c == ' ' || (c >= '\t' && c <= '\r');
}
inline bool isWordByte(unsigned char c) {
    return static_cast<unsigned>((c | 0x20) - 'a') < 26u || static_cast<unsigned>(c - '0') < 10u || c >= 0x80;
}

/// toon::estimateTokens. The rules of Toon.h, over 64-byte blocks: every "other" ASCII byte is a token; a
/// non-ASCII token starts at each lead byte (>= 0xC0) and each continuation byte not preceded by a non-ASCII
/// byte; a space run is a token unless it is one ' ' followed by a word byte; letter and digit runs as in
/// runTokens. Always inlined, so that each caller's target (a POPCNT clone, AVX2, ...) applies to it.
[[gnu::always_inline]] inline std::size_t estimateTokens(std::string_view text) {
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const std::size_t n = text.size();
    std::size_t tokens = 0;
    int letterOffset = -1, digitOffset = -1;
    std::uint64_t prevHigh = 0, prevSpace = 0;
    for (std::size_t i = 0; i < n; i += 64) {
        const std::size_t left = n - i;
        const bytes::Block64 block = left >= 64 ? bytes::Block64(p + i) : bytes::Block64::tail(p + i, left);
        const std::uint64_t valid = bytes::Block64::validBits(left);
        const std::uint64_t letter = block.letters() & valid;
        const std::uint64_t digit = block.range('0', '9') & valid;
        const std::uint64_t blank = block.eq(' ') & valid;
        const std::uint64_t space = (blank | block.range('\t', '\r')) & valid;
        const std::uint64_t high = block.high() & valid;
        const std::uint64_t lead = block.range(0xC0, 0xFF) & valid;
        const std::uint64_t other = valid & ~(letter | digit | space | high);
        tokens += static_cast<std::size_t>(__builtin_popcountll(other));
        tokens +=
            static_cast<std::size_t>(__builtin_popcountll(lead | (high & ~lead & ~((high << 1) | prevHigh))));
        // The byte after the block decides the last space run.
        const bool more = left > 64;
        const std::uint64_t nextSpace = more && isSpaceByte(p[i + 64]) ? 1ULL << 63 : 0;
        const std::uint64_t nextWord = more && isWordByte(p[i + 64]) ? 1ULL << 63 : 0;
        const std::uint64_t spaceStarts = space & ~((space << 1) | prevSpace);
        const std::uint64_t single = spaceStarts & ~((space >> 1) | nextSpace);
        const std::uint64_t merged = single & blank & (((letter | digit | high) >> 1) | nextWord);
        tokens += static_cast<std::size_t>(__builtin_popcountll(spaceStarts) - __builtin_popcountll(merged));
        tokens += runTokens<6>(letter, letterOffset);
        tokens += runTokens<3>(digit, digitOffset);
        prevHigh = high >> 63;
        prevSpace = space >> 63;
    }
    return tokens;
}

/// scan::stringEndBaseline. Keys and short values end within a few bytes: byte by byte first (stopping past
/// an escaped byte, so the block loop starts unescaped), then 64 bytes at a time: the first quote that no
/// backslash run escapes ends the string (a tool result is one long string full of \" escapes).
inline std::size_t stringEnd(std::string_view s, std::size_t i) {
    if (i >= s.size() || s[i] != '"') return std::string_view::npos;
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    for (const std::size_t stop = s.size() < i + 33 ? s.size() : i + 33; ++i < stop;) {
        if (s[i] == '\\')
            ++i;
        else if (s[i] == '"')
            return i + 1;
    }
    std::uint64_t carry = 0;
    for (; i + 64 <= s.size(); i += 64) {
        const bytes::Block64 block(p + i);
        const std::uint64_t quotes = block.eq('"') & ~bytes::escapedBytes(block.eq('\\'), carry);
        if (quotes != 0) return i + static_cast<std::size_t>(__builtin_ctzll(quotes)) + 1;
    }
    if (carry && i < s.size()) ++i;
    for (; i < s.size(); ++i) {
        if (s[i] == '\\')
            ++i;
        else if (s[i] == '"')
            return i + 1;
    }
    return std::string_view::npos;
}

}  // namespace ARCHESTRA_TOON_ISA
}  // namespace archestra::proxy::toon::scan
