// plugin.json: the manifest beside each plugin library, read and checked before the library is opened.
#pragma once

#include <cstdint>
#include <string>

namespace archestra::plugins {

/// The parsed plugin.json. Value type.
struct PluginManifest {
    std::string name;         ///< [a-z0-9][a-z0-9_-]*
    std::string kind;         ///< secrets | sso | orchestrator | telemetry
    std::string version;      ///< non-empty
    std::string description;  ///< optional
    std::uint32_t abi_major = 0;
    std::uint32_t abi_minor = 0;
    std::string file;  ///< library file name, in the manifest's directory
    /// kind + "." + name, e.g. "secrets.db": how configuration selects a plugin.
    std::string key() const { return kind + "." + name; }
};

/// Reads and checks the manifest at `path`: JSON shape, name pattern, kind, file a plain file name.
/// Throws PluginException naming the file, the field, the value and what was expected.
PluginManifest readManifest(const std::string& path);

/// Checks the manifest's ABI against the host's (major equal, minor <= host); throws PluginException.
void checkManifestAbi(const PluginManifest& manifest, const std::string& path);

/// True for the four kinds the SDK defines.
bool isKnownKind(const std::string& kind);

}  // namespace archestra::plugins
