// Reading and checking plugin.json before any plugin code is loaded.
#include "core/plugins/Manifest.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "archestra/sdk/abi.h"
#include "core/plugins/PluginManager.h"

namespace archestra::plugins {

bool isKnownKind(const std::string& kind) {
    return kind == "secrets" || kind == "sso" || kind == "orchestrator" || kind == "telemetry";
}

namespace {

std::string stringField(const nlohmann::json& doc, const std::string& path, const char* field,
                        bool required) {
    auto it = doc.find(field);
    if (it == doc.end()) {
        if (!required) return {};
        throw PluginException("manifest " + path + ": field '" + field + "' is missing; expected a string");
    }
    if (!it->is_string())
        throw PluginException("manifest " + path + ": field '" + field + "' is " + it->dump() +
                              "; expected a string");
    return it->get<std::string>();
}

std::uint32_t abiField(const nlohmann::json& abi, const std::string& path, const char* field) {
    auto it = abi.find(field);
    if (it == abi.end() || !it->is_number_unsigned())
        throw PluginException("manifest " + path + ": field 'abi." + field + "' is " +
                              (it == abi.end() ? std::string("missing") : it->dump()) +
                              "; expected a non-negative integer");
    return it->get<std::uint32_t>();
}

}  // namespace

PluginManifest readManifest(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw PluginException("manifest " + path + ": cannot be read; expected a readable plugin.json");
    std::stringstream text;
    text << in.rdbuf();
    nlohmann::json doc;
    try {
        doc = nlohmann::json::parse(text.str());
    } catch (const nlohmann::json::exception& e) {
        throw PluginException("manifest " + path + ": is not valid JSON (" + e.what() + ")");
    }
    if (!doc.is_object())
        throw PluginException("manifest " + path + ": expected a JSON object, got " + doc.type_name());

    PluginManifest m;
    m.name = stringField(doc, path, "name", true);
    m.kind = stringField(doc, path, "kind", true);
    m.version = stringField(doc, path, "version", true);
    m.description = stringField(doc, path, "description", false);
    m.file = stringField(doc, path, "file", true);

    static const std::regex namePattern("[a-z0-9][a-z0-9_-]*");
    if (!std::regex_match(m.name, namePattern))
        throw PluginException("manifest " + path + ": name '" + m.name +
                              "' is invalid; expected [a-z0-9][a-z0-9_-]*");
    if (!isKnownKind(m.kind))
        throw PluginException("manifest " + path + ": kind '" + m.kind +
                              "' is unknown; expected one of secrets, sso, orchestrator, telemetry");
    if (m.version.empty())
        throw PluginException("manifest " + path + ": version is empty; expected e.g. \"1.0.0\"");
    if (m.file.empty() || m.file.find('/') != std::string::npos || m.file == "." || m.file == "..")
        throw PluginException("manifest " + path + ": file '" + m.file +
                              "' is invalid; expected a library file name in the manifest's directory");

    auto abi = doc.find("abi");
    if (abi == doc.end() || !abi->is_object())
        throw PluginException("manifest " + path + ": field 'abi' is " +
                              (abi == doc.end() ? std::string("missing") : abi->dump()) +
                              "; expected {\"major\": N, \"minor\": N}");
    m.abi_major = abiField(*abi, path, "major");
    m.abi_minor = abiField(*abi, path, "minor");
    return m;
}

void checkManifestAbi(const PluginManifest& m, const std::string& path) {
    const std::string plugin = "plugin '" + m.key() + "' (" + path + ")";
    if (m.abi_major != sdk::kAbiMajor)
        throw PluginException(plugin + ": manifest ABI major is " + std::to_string(m.abi_major) +
                              "; expected " + std::to_string(sdk::kAbiMajor) + " (the host's)");
    if (m.abi_minor > sdk::kAbiMinor)
        throw PluginException(plugin + ": manifest ABI minor is " + std::to_string(m.abi_minor) +
                              "; expected at most " + std::to_string(sdk::kAbiMinor) + " (the host's)");
}

}  // namespace archestra::plugins
