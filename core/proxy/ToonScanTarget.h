// The scans of ToonScanKernels.h compiled for one instruction set: included once by ToonScanAvx2.cpp /
// ToonScanAvx512.cpp after they define ARCHESTRA_TOON_AVX2 or ARCHESTRA_TOON_AVX512. Their functions are
// called only after ToonScan.cpp's CPU check. The standard headers come before the target switch, so no
// library inline function is compiled for the target (the linker could keep that copy for every caller).
#pragma once

#include "core/proxy/ToonScan.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>

#if defined(ARCHESTRA_TOON_AVX512)
#define ARCHESTRA_TOON_TARGET "avx512f,avx512bw,avx2,bmi,popcnt"
#else
#define ARCHESTRA_TOON_TARGET "avx2,bmi,popcnt"
#endif
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target(ARCHESTRA_TOON_TARGET))), apply_to = function)
#else
#pragma GCC push_options
#if defined(ARCHESTRA_TOON_AVX512)  // GCC does not expand macros in this pragma
#pragma GCC target("avx512f,avx512bw,avx2,bmi,popcnt")
#else
#pragma GCC target("avx2,bmi,popcnt")
#endif
#endif

#include "core/proxy/ToonScanKernels.h"

namespace archestra::proxy::toon::scan {
inline namespace ARCHESTRA_TOON_ISA {

namespace {

std::size_t estimateTokensEntry(std::string_view text) {
    return estimateTokens(text);
}

std::size_t stringEndEntry(std::string_view s, std::size_t i) {
    return stringEnd(s, i);
}

}  // namespace

/// This instruction set's scans (declared in ToonScan.cpp).
Kernels kernels() {
    return {ARCHESTRA_TOON_TARGET, &estimateTokensEntry, &stringEndEntry};
}

}  // namespace ARCHESTRA_TOON_ISA
}  // namespace archestra::proxy::toon::scan

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif
