// ABI version and build fingerprint of the plugin SDK: what the host checks before it runs any plugin code.
#pragma once

#include <cstdint>

/// @file
/// The plugin boundary is a C++ ABI (virtual classes, std::string, std::function), so a plugin must be built
/// with the same compiler, standard library and C++ standard as the host. The loader checks, in this order:
///   1. plugin.json (before dlopen): abi.major == host major, abi.minor <= host minor;
///   2. the compiled-in ArchestraPluginInfo (after dlopen, before any other plugin code runs):
///      the same ABI rule plus an exact match of the build fingerprint.
///
/// Breaking SDK versions (kept in this one place; bump ARCHESTRA_SDK_ABI_MAJOR for every entry):
///   ABI 1.0  first release.
/// Additive changes (a new virtual at the END of an interface is NOT additive; a new field at the end of a
/// size-tagged struct or a new interface is) bump ARCHESTRA_SDK_ABI_MINOR.

/// ABI major: host and plugin must be equal. Parsed by sdk/cmake/ArchestraSDKFunctions.cmake; keep the
/// format.
#define ARCHESTRA_SDK_ABI_MAJOR 1
/// ABI minor: the host's must be >= the plugin's. Parsed by sdk/cmake/ArchestraSDKFunctions.cmake.
#define ARCHESTRA_SDK_ABI_MINOR 0

#define ARCHESTRA_SDK_STRINGIFY_(x) #x
#define ARCHESTRA_SDK_STRINGIFY(x) ARCHESTRA_SDK_STRINGIFY_(x)

// Compiler part of the fingerprint. Clang also defines __GNUC__, so it is tested first.
#if defined(__clang__)
#define ARCHESTRA_SDK_FP_COMPILER \
    "clang-" ARCHESTRA_SDK_STRINGIFY(__clang_major__) "." ARCHESTRA_SDK_STRINGIFY(__clang_minor__)
#elif defined(__GNUC__)
#define ARCHESTRA_SDK_FP_COMPILER \
    "gcc-" ARCHESTRA_SDK_STRINGIFY(__GNUC__) "." ARCHESTRA_SDK_STRINGIFY(__GNUC_MINOR__)
#else
#define ARCHESTRA_SDK_FP_COMPILER "unknown-compiler"
#endif

// Standard library part: <cstdint> above pulls in the library's configuration macros.
#if defined(_LIBCPP_VERSION)
#define ARCHESTRA_SDK_FP_STDLIB "libc++-" ARCHESTRA_SDK_STRINGIFY(_LIBCPP_VERSION)
#elif defined(__GLIBCXX__)
#define ARCHESTRA_SDK_FP_STDLIB "libstdc++-" ARCHESTRA_SDK_STRINGIFY(__GLIBCXX__)
#else
#define ARCHESTRA_SDK_FP_STDLIB "unknown-stdlib"
#endif

/// The build fingerprint as a string literal, e.g. "gcc-12.2/libstdc++-20230507/c++202002L".
/// Evaluated in the translation unit that expands it, so host and plugin each carry their own.
#define ARCHESTRA_SDK_BUILD_FINGERPRINT \
    ARCHESTRA_SDK_FP_COMPILER "/" ARCHESTRA_SDK_FP_STDLIB "/c++" ARCHESTRA_SDK_STRINGIFY(__cplusplus)

extern "C" {

/// What a plugin says about itself, returned by its `archestra_plugin_info` function.
/// Plain C layout frozen for every ABI major, so the host can read it from a plugin built against any SDK.
/// Ownership: all pointers refer to static storage inside the plugin; valid while the library is loaded.
/// Thread-safety: immutable.
struct ArchestraPluginInfo {
    std::uint32_t
        struct_size;  ///< sizeof(ArchestraPluginInfo) as the plugin saw it; fields grow only at the end
    std::uint32_t abi_major;  ///< ARCHESTRA_SDK_ABI_MAJOR the plugin was built with
    std::uint32_t abi_minor;  ///< ARCHESTRA_SDK_ABI_MINOR the plugin was built with
    const char* fingerprint;  ///< ARCHESTRA_SDK_BUILD_FINGERPRINT of the plugin's build
    const char* name;         ///< plugin name, must equal plugin.json "name"
    const char* kind;         ///< "secrets" | "sso" | "orchestrator" | "telemetry"; equals plugin.json "kind"
    const char* version;      ///< plugin version, must equal plugin.json "version"
};

/// Signature of the info function every plugin exports under the name `archestra_plugin_info`.
typedef const ArchestraPluginInfo* (*ArchestraPluginInfoFn)(void);
}

namespace archestra::sdk {

/// ABI major of this SDK (see ARCHESTRA_SDK_ABI_MAJOR).
inline constexpr std::uint32_t kAbiMajor = ARCHESTRA_SDK_ABI_MAJOR;
/// ABI minor of this SDK (see ARCHESTRA_SDK_ABI_MINOR).
inline constexpr std::uint32_t kAbiMinor = ARCHESTRA_SDK_ABI_MINOR;
/// Build fingerprint of the translation unit that includes this header.
inline constexpr const char* kBuildFingerprint = ARCHESTRA_SDK_BUILD_FINGERPRINT;
/// Exported name of the info function (extern "C").
inline constexpr const char* kInfoSymbol = "archestra_plugin_info";
/// Exported name of the Boost.DLL alias that points at the entry point.
inline constexpr const char* kEntrySymbol = "archestra_plugin_entry";

/// True when the size-tagged struct `s` was created by code that knew about `member`.
/// Structs crossing the boundary carry `struct_size`; readers call this before reading a field added later.
template <class S, class F>
bool hasField(const S& s, F S::*member) noexcept {
    const auto offset = static_cast<std::uint64_t>(reinterpret_cast<const char*>(&(s.*member)) -
                                                   reinterpret_cast<const char*>(&s));
    return offset + sizeof(F) <= s.struct_size;
}

}  // namespace archestra::sdk
