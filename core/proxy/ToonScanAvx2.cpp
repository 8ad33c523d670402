// The TOON scans for CPUs with AVX2 (Haswell, Zen and later): two 32-byte compares per question and block.
#define ARCHESTRA_TOON_AVX2
#include "core/proxy/ToonScanTarget.h"
