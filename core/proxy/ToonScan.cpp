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

std::size_t estimateTokensBaseline(std::string_view text) {
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
