// The TOON scans for CPUs with AVX-512BW (Skylake-SP, Ice Lake, Zen 4 and later): one 64-byte compare per
// question and block, straight into a mask register.
#define ARCHESTRA_TOON_AVX512
#include "core/proxy/ToonScanTarget.h"
