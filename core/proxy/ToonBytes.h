// Byte classification 64 bytes at a time for the TOON step's linear scans (token estimate, locating a value
// in the raw body): each question about a block of 64 bytes ("which are quotes?", "which are letters?")
// becomes a 64-bit mask, bit i for byte i, so runs and escapes are counted with bit arithmetic instead of a
// branch per byte.
//
// One Block64 per instruction set, each in its own inline namespace so that the copies compiled for different
// CPUs never merge at link time (they are inline functions with the same name otherwise): SSE2 (every x86-64
// CPU; a plain loop elsewhere) by default, AVX2 or AVX-512BW when the including file defines
// ARCHESTRA_TOON_AVX2 / ARCHESTRA_TOON_AVX512 and compiles for that target (core/proxy/ToonScan*.cpp;
// ToonScan.h picks one at run time).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__) || defined(__SSE2__)
#include <immintrin.h>
#endif

#if defined(ARCHESTRA_TOON_AVX512)
#define ARCHESTRA_TOON_ISA avx512
#elif defined(ARCHESTRA_TOON_AVX2)
#define ARCHESTRA_TOON_ISA avx2
#else
#define ARCHESTRA_TOON_ISA baseline
#endif

namespace archestra::proxy::toon::bytes {
inline namespace ARCHESTRA_TOON_ISA {

#if !defined(ARCHESTRA_TOON_AVX512) && (defined(ARCHESTRA_TOON_AVX2) || defined(__SSE2__))
/// The vector operations Block64 needs, written once with the compiler's vector extensions for the width at
/// hand (32 bytes with AVX2, 16 with SSE2); a block is kLanes vectors. Only the mask extraction is an
/// intrinsic per width.
namespace lane {
#if defined(ARCHESTRA_TOON_AVX2)
constexpr int kWidth = 32;
#else
constexpr int kWidth = 16;
#endif
constexpr int kLanes = 64 / kWidth;
typedef unsigned char Vec __attribute__((vector_size(kWidth)));

inline Vec load(const unsigned char* p) {
    Vec v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
/// Bytes b with lo <= b <= lo + width (unsigned): b - lo wraps below lo to large values.
inline Vec within(Vec v, unsigned char lo, unsigned char width) {
    return reinterpret_cast<Vec>(v - lo <= width);
}
inline std::uint64_t topBits(Vec v) {
#if defined(ARCHESTRA_TOON_AVX2)
    return static_cast<std::uint32_t>(_mm256_movemask_epi8(reinterpret_cast<__m256i>(v)));
#else
    return static_cast<std::uint32_t>(_mm_movemask_epi8(reinterpret_cast<__m128i>(v)));
#endif
}
}  // namespace lane
#endif

/// 64 bytes starting at `p` (all 64 must be readable; see Block64::tail for the end of a text).
class Block64 {
  public:
    explicit Block64(const unsigned char* p) {
#if defined(ARCHESTRA_TOON_AVX512)
        _v = _mm512_loadu_si512(p);
#elif defined(ARCHESTRA_TOON_AVX2) || defined(__SSE2__)
        // Spelled out: the loop was not unrolled at -O2, and the block went through the stack.
        _v[0] = lane::load(p);
        _v[1] = lane::load(p + lane::kWidth);
        if constexpr (lane::kLanes == 4) {
            _v[2] = lane::load(p + 2 * lane::kWidth);
            _v[3] = lane::load(p + 3 * lane::kWidth);
        }
#else
        std::memcpy(_b, p, 64);
#endif
    }

    /// The last `n` (< 64) bytes of a text, zero-filled; `valid()` masks the bytes that exist.
    static Block64 tail(const unsigned char* p, std::size_t n) {
        unsigned char buffer[64] = {};
        std::memcpy(buffer, p, n);
        return Block64(buffer);
    }
    static std::uint64_t validBits(std::size_t n) {
        return n >= 64 ? ~0ULL : (1ULL << n) - 1;
    }

    /// Bytes equal to `c`.
    std::uint64_t eq(unsigned char c) const {
#if defined(ARCHESTRA_TOON_AVX512)
        return scalar(_mm512_cmpeq_epi8_mask(_v, _mm512_set1_epi8(static_cast<char>(c))));
#elif defined(ARCHESTRA_TOON_AVX2) || defined(__SSE2__)
        return combine([&](lane::Vec v) { return reinterpret_cast<lane::Vec>(v == c); });
#else
        return scalar([&](unsigned char b) { return b == c; });
#endif
    }

    /// Bytes b with lo <= b <= hi (unsigned).
    std::uint64_t range(unsigned char lo, unsigned char hi) const {
#if defined(ARCHESTRA_TOON_AVX512)
        return scalar(_mm512_cmple_epu8_mask(_mm512_sub_epi8(_v, _mm512_set1_epi8(static_cast<char>(lo))),
                                             _mm512_set1_epi8(static_cast<char>(hi - lo))));
#elif defined(ARCHESTRA_TOON_AVX2) || defined(__SSE2__)
        return combine([&](lane::Vec v) { return lane::within(v, lo, static_cast<unsigned char>(hi - lo)); });
#else
        return scalar([&](unsigned char b) { return b >= lo && b <= hi; });
#endif
    }

    /// ASCII letters (A-Z, a-z).
    std::uint64_t letters() const {
#if defined(ARCHESTRA_TOON_AVX512)
        const __m512i folded = _mm512_or_si512(_v, _mm512_set1_epi8(0x20));
        return scalar(
            _mm512_cmple_epu8_mask(_mm512_sub_epi8(folded, _mm512_set1_epi8('a')), _mm512_set1_epi8(25)));
#elif defined(ARCHESTRA_TOON_AVX2) || defined(__SSE2__)
        return combine([&](lane::Vec v) { return lane::within(v | 0x20, 'a', 25); });
#else
        return scalar([](unsigned char b) { return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z'); });
#endif
    }

    /// Bytes >= 0x80 (the bytes of non-ASCII UTF-8 sequences).
    std::uint64_t high() const {
#if defined(ARCHESTRA_TOON_AVX512)
        return scalar(_mm512_movepi8_mask(_v));
#elif defined(ARCHESTRA_TOON_AVX2) || defined(__SSE2__)
        return combine([&](lane::Vec v) { return v; });
#else
        return scalar([](unsigned char b) { return b >= 0x80; });
#endif
    }

  private:
#if defined(ARCHESTRA_TOON_AVX512)
    // The mask as a plain integer, opaque to the optimiser: otherwise GCC folds the caller's `& ~carry` into
    // a masked compare, which puts the compare on the loop-carried chain of the string scan (2.5x slower).
    static std::uint64_t scalar(__mmask64 mask) {
        std::uint64_t bits = _cvtmask64_u64(mask);
        asm("" : "+r"(bits));
        return bits;
    }
    __m512i _v;
#elif defined(ARCHESTRA_TOON_AVX2) || defined(__SSE2__)
    /// f applied to each vector, the top bits of the results as one mask. Spelled out per width rather than
    /// looped: the loop was not unrolled at -O2 (a variable shift per lane).
    template <class F>
    std::uint64_t combine(F f) const {
        if constexpr (lane::kLanes == 2)
            return lane::topBits(f(_v[0])) | lane::topBits(f(_v[1])) << 32;
        else
            return lane::topBits(f(_v[0])) | lane::topBits(f(_v[1])) << 16 | lane::topBits(f(_v[2])) << 32 |
                   lane::topBits(f(_v[3])) << 48;
    }
    lane::Vec _v[lane::kLanes];
#else
    template <class F>
    std::uint64_t scalar(F f) const {
        std::uint64_t m = 0;
        for (int i = 0; i < 64; ++i)
            if (f(_b[i])) m |= 1ULL << i;
        return m;
    }
    unsigned char _b[64];
#endif
};

/// Which bytes of a block are escaped by a backslash inside a JSON string: the byte after each backslash
/// run of odd length (a run of even length escapes itself). `carry` (in/out) says whether the block's first
/// byte is escaped by a run that ended the previous block. Runs are found by adding each run's lowest bit
/// to the run (the carry lands just past the run); a run's length is odd when its start and its end-plus-one
/// differ in parity, so runs starting on even and on odd bits are added separately and filtered by the
/// parity of where the carry landed.
inline std::uint64_t escapedBytes(std::uint64_t backslashes, std::uint64_t& carry) {
    constexpr std::uint64_t kEven = 0x5555555555555555ULL;  // bits 0, 2, 4, ...
    constexpr std::uint64_t kOdd = ~kEven;
    const std::uint64_t escapedFirst = carry;
    const std::uint64_t b = backslashes & ~escapedFirst;  // an escaped backslash escapes nothing
    const std::uint64_t starts = b & ~(b << 1);
    std::uint64_t fromEven = 0, fromOdd = 0;
    __builtin_add_overflow(b, starts & kEven, &fromEven);  // a run reaching bit 63 from an even bit: even
    const bool oddRunAtEnd = __builtin_add_overflow(b, starts & kOdd, &fromOdd);
    carry = oddRunAtEnd ? 1 : 0;
    return escapedFirst | (fromEven & ~b & kOdd) | (fromOdd & ~b & kEven);
}

}  // namespace ARCHESTRA_TOON_ISA
}  // namespace archestra::proxy::toon::bytes
