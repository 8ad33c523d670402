// Plugin entry: factories, the registrar the host hands to the entry point, and the ARCHESTRA_PLUGIN macro.
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>

#include "archestra/sdk/abi.h"
#include "archestra/sdk/host.h"
#include "archestra/sdk/orchestrator.h"
#include "archestra/sdk/result.h"
#include "archestra/sdk/secrets.h"
#include "archestra/sdk/sso.h"
#include "archestra/sdk/telemetry.h"

/// Marks a symbol as exported even though plugins build with -fvisibility=hidden.
#define ARCHESTRA_SDK_EXPORT __attribute__((visibility("default")))

namespace archestra::sdk {

// Exceptions and the boundary: the host wraps every call into a plugin's instances and factories and turns an
// escaped exception into an Internal error naming the plugin and the call (logged as a warning), but that is
// a safety net, not the contract: return fail(...) instead. One place the host cannot catch anything is a
// destructor: destructors are implicitly noexcept in C++11 and later, so an exception leaving the destructor
// of an instance (SecretsBackend, SsoProvider, Orchestrator, McpChannel, TelemetryExporter) or of anything it
// owns calls std::terminate and ends the whole platform. Catch everything inside destructors (and in
// close()).

/// How to make instances of `Interface`. Value type, append-only (struct_size).
/// The plugin fills it in its entry point and gives it to the Registrar, which copies it; the host keeps the
/// copy (and so `create`, whose code lives in the plugin) only while the plugin's library stays loaded.
template <class Interface>
struct Factory {
    std::uint32_t struct_size = sizeof(Factory);
    /// Name configuration selects the factory by, unique within its kind ([a-z0-9_-]+), usually the plugin
    /// name.
    std::string name;
    /// One line for `--list-plugins` and logs.
    std::string description;
    /// JSON Schema (subset: type, properties, required, enum, items, additionalProperties) of the config
    /// object. The host validates config against it before create(); create() may assume a valid shape.
    std::string config_schema_json = R"({"type":"object"})";
    /// Makes an instance from `config_json` (JSON object text). `host` outlives the instance.
    /// Called by the host on any thread, never concurrently for the same factory. Must not throw (the host
    /// catches anyway and reports Internal). The returned instance is owned by the host.
    std::function<Result<std::unique_ptr<Interface>>(Host& host, const std::string& config_json)> create;
};

using SecretsFactory = Factory<SecretsBackend>;
using SsoFactory = Factory<SsoProvider>;
using OrchestratorFactory = Factory<Orchestrator>;
using TelemetryFactory = Factory<TelemetryExporter>;

/// Collects a plugin's factories inside its entry point. Owned by the host; valid only during the entry call
/// (do not keep it). Not thread-safe: call it from the entry point's thread only.
/// A factory whose kind differs from the plugin's declared kind, or whose name is taken, is refused (Status).
class Registrar {
  public:
    virtual ~Registrar() = default;
    virtual Status addSecrets(SecretsFactory factory) = 0;
    virtual Status addSso(SsoFactory factory) = 0;
    virtual Status addOrchestrator(OrchestratorFactory factory) = 0;
    virtual Status addTelemetry(TelemetryFactory factory) = 0;
};

/// Signature of the entry point the `archestra_plugin_entry` alias points to. Called once, after the ABI
/// checks, on the host's start-up thread. Returns an error instead of throwing.
using PluginEntryFn = Status(Registrar& registrar);

}  // namespace archestra::sdk

/// Low level: emits `extern "C" archestra_plugin_info()` with explicit values. Plugins use ARCHESTRA_PLUGIN;
/// this exists so loader tests can build deliberately incompatible fixtures.
#define ARCHESTRA_PLUGIN_INFO_FUNCTION(NAME, KIND, VERSION, ABI_MAJOR, ABI_MINOR, FINGERPRINT) \
    extern "C" ARCHESTRA_SDK_EXPORT const ArchestraPluginInfo* archestra_plugin_info(void) {   \
        static const ArchestraPluginInfo info = {sizeof(ArchestraPluginInfo),                  \
                                                 (ABI_MAJOR),                                  \
                                                 (ABI_MINOR),                                  \
                                                 (FINGERPRINT),                                \
                                                 (NAME),                                       \
                                                 (KIND),                                       \
                                                 (VERSION)};                                   \
        return &info;                                                                          \
    }

/// Low level: exports `archestra_plugin_entry` as a Boost.DLL alias (the same layout BOOST_DLL_ALIAS emits:
/// an exported `const void*` in section "boostdll" holding the function's address), so the host can use
/// boost::dll::import_alias while the SDK headers stay free of Boost. FN must be a PluginEntryFn.
#define ARCHESTRA_PLUGIN_ENTRY_ALIAS(FN)                                                          \
    namespace archestra_sdk_autoaliases {                                                         \
    extern "C" ARCHESTRA_SDK_EXPORT const void* archestra_plugin_entry;                           \
    __attribute__((section("boostdll"), used)) const void* archestra_plugin_entry =               \
        reinterpret_cast<const void*>(                                                            \
            reinterpret_cast<std::intptr_t>(static_cast<::archestra::sdk::PluginEntryFn*>(&FN))); \
    }

/// Declares a plugin with explicit name, kind and version; REGISTER_FN is
/// `archestra::sdk::Status REGISTER_FN(archestra::sdk::Registrar&)`. Any exception it throws is caught here
/// and returned as an Internal error, so none crosses into the host.
#define ARCHESTRA_PLUGIN_DECLARE(NAME, KIND, VERSION, REGISTER_FN)                                        \
    ARCHESTRA_PLUGIN_INFO_FUNCTION(NAME, KIND, VERSION, ARCHESTRA_SDK_ABI_MAJOR, ARCHESTRA_SDK_ABI_MINOR, \
                                   ARCHESTRA_SDK_BUILD_FINGERPRINT)                                       \
    namespace {                                                                                           \
    ::archestra::sdk::Status archestraPluginEntry(::archestra::sdk::Registrar& registrar) noexcept {      \
        try {                                                                                             \
            return REGISTER_FN(registrar);                                                                \
        } catch (const std::exception& e) {                                                               \
            return ::archestra::sdk::fail(::archestra::sdk::ErrorCode::Internal,                          \
                                          std::string("uncaught exception: ") + e.what());                \
        } catch (...) {                                                                                   \
            return ::archestra::sdk::fail(::archestra::sdk::ErrorCode::Internal,                          \
                                          "uncaught non-standard exception");                             \
        }                                                                                                 \
    }                                                                                                     \
    }                                                                                                     \
    ARCHESTRA_PLUGIN_ENTRY_ALIAS(archestraPluginEntry)

/// Declares the plugin of this library; the one line every plugin writes (once, in one .cpp):
///   ARCHESTRA_PLUGIN(registerFactories)
/// Name, kind and version come from archestra_add_plugin() (compile definitions ARCHESTRA_PLUGIN_NAME,
/// ARCHESTRA_PLUGIN_KIND, ARCHESTRA_PLUGIN_VERSION), the same values it writes into plugin.json.
#define ARCHESTRA_PLUGIN(REGISTER_FN)                                                                \
    ARCHESTRA_PLUGIN_DECLARE(ARCHESTRA_PLUGIN_NAME, ARCHESTRA_PLUGIN_KIND, ARCHESTRA_PLUGIN_VERSION, \
                             REGISTER_FN)
