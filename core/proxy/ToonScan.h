// The TOON step's two linear scans, compiled once per instruction set (core/proxy/ToonScan*.cpp) and picked
// at run time by the CPU: the token estimate (the whole text, twice per tool result) and the end of a JSON
// string (locating a tool result in the raw body walks over the escaped result itself).
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace archestra::proxy::toon::scan {

struct Kernels {
    const char* name;                                             ///< the target ("avx2,bmi,popcnt", ...)
    std::size_t (*estimateTokens)(std::string_view text);         ///< see toon::estimateTokens
    std::size_t (*stringEnd)(std::string_view s, std::size_t i);  ///< see stringEndBaseline
};

/// The fastest set this CPU runs (chosen once; AVX-512BW, then AVX2, then the SSE2 baseline).
const Kernels& best();

/// Every set this CPU can run, fastest first (the differential test checks each one).
std::vector<Kernels> supported();

/// `s[i]` is the opening quote of a JSON string: the index just after its closing quote, or npos when the
/// string is not closed.
std::size_t stringEndBaseline(std::string_view s, std::size_t i);

}  // namespace archestra::proxy::toon::scan
