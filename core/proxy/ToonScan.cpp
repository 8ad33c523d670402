// The baseline scans (SSE2 on x86-64, plain loops elsewhere) and the choice among the per-CPU builds.
#include "core/proxy/ToonScan.h"

#include "core/proxy/ToonScanKernels.h"

namespace archestra::proxy::toon::scan {

#if defined(__x86_64__)
// Defined by ToonScanTarget.h in ToonScanAvx2.cpp and ToonScanAvx512.cpp (compiled for those targets;
// called only after the CPU check below).
inline namespace avx2 {
Kernels kernels();
}
inline namespace avx512 {
Kernels kernels();
}
#endif

namespace {

// Cloned for CPUs with POPCNT but without AVX2 (an ifunc picks the clone at load time): x86-64's baseline has
// no popcount instruction, and the library call it otherwise makes per mask was a third of this function's
// time. Not under ThreadSanitizer: the ifunc resolver runs during relocation, before the TSan runtime is up,
// and its instrumented entry crashes every binary that links this file (seen in the first tsan run).
#if defined(__x86_64__) && defined(__GLIBC__) && !defined(__SANITIZE_THREAD__)
__attribute__((target_clones("default", "popcnt")))
#endif
std::size_t
estimateTokensBaseline(std::string_view text) {
    return estimateTokens(text);
}

}  // namespace

std::size_t stringEndBaseline(std::string_view s, std::size_t i) {
    return stringEnd(s, i);
}

std::vector<Kernels> supported() {
    std::vector<Kernels> all;
#if defined(__x86_64__)
    // A plain CPUID check, not an ifunc: ifunc resolvers run before ThreadSanitizer's runtime is up.
    __builtin_cpu_init();
    const bool bitOps = __builtin_cpu_supports("popcnt") && __builtin_cpu_supports("bmi");
    if (bitOps && __builtin_cpu_supports("avx512bw")) all.push_back(avx512::kernels());
    if (bitOps && __builtin_cpu_supports("avx2")) all.push_back(avx2::kernels());
#endif
    all.push_back({"baseline", &estimateTokensBaseline, &stringEndBaseline});
    return all;
}

const Kernels& best() {
    static const Kernels chosen = supported().front();
    return chosen;
}

}  // namespace archestra::proxy::toon::scan
