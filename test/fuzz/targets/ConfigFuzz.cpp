// libFuzzer harness for what the platform reads at start-up: the settings (environment + properties file,
// validated), plugin.json manifests and a plugin's configuration checked against the schema it declares.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>

#include <Poco/AutoPtr.h>
#include <Poco/Exception.h>
#include <Poco/Util/PropertyFileConfiguration.h>

#include "core/config/Settings.h"
#include "core/plugins/ConfigSchema.h"
#include "core/plugins/Manifest.h"
#include "core/plugins/PluginManager.h"
#include "test/fuzz/targets/Invariant.h"

namespace archestra::plugins {
// PluginManager.cpp (which defines it) pulls in the loader and Boost.DLL; the manifest reader only throws it.
POCO_IMPLEMENT_EXCEPTION(PluginException, Poco::RuntimeException, "Plugin error")
}  // namespace archestra::plugins

using namespace archestra;

using archestra::fuzz::violated;

namespace {

// Input: "NAME=value" lines for the environment, then a line "--", then a properties file. Load either
// succeeds or throws SettingsException; on success no secret value appears in the --help table, and an
// error message never carries a secret value either.
void fuzzSettings(std::string_view input) {
    std::string text(input);
    std::string envPart = text, filePart;
    if (auto cut = text.find("\n--\n"); cut != std::string::npos) {
        envPart = text.substr(0, cut);
        filePart = text.substr(cut + 4);
    }
    std::map<std::string, std::string> env;
    std::istringstream lines(envPart);
    for (std::string line; std::getline(lines, line);)
        if (auto eq = line.find('='); eq != std::string::npos && eq > 0)
            env[line.substr(0, eq)] = line.substr(eq + 1);
    Poco::AutoPtr<Poco::Util::PropertyFileConfiguration> file;
    try {
        std::istringstream props(filePart);
        file = new Poco::Util::PropertyFileConfiguration(props);
    } catch (const Poco::Exception&) {
        return;  // Poco refuses the file before we see it
    }
    // What the platform shows for these settings: describe() when they load, else the error message.
    auto shown = [&](const std::map<std::string, std::string>& environment, bool& loaded) {
        try {
            config::Settings settings = config::Settings::load(environment, file.get());
            loaded = true;
            return settings.describe();
        } catch (const config::SettingsException& e) {
            loaded = false;
            return e.message();
        }
    };
    // A secret's value must never be shown, unless the same text is also the value (or a default) of a
    // setting that is not secret, which may be shown: `publicText` holds those.
    std::string publicText = filePart + "\n";
    for (const auto& spec : config::Settings::specs()) {
        publicText += spec.name + "\n" + spec.description + "\n";  // --help prints every name and description
        for (const auto& allowed : spec.allowed) publicText += allowed + "\n";
        if (!spec.secret) publicText += spec.defaultValue + "\n";
    }
    for (const auto& [name, value] : env) {
        bool secret = false;
        for (const auto& spec : config::Settings::specs())
            if (spec.name == name) secret = spec.secret;
        if (!secret) publicText += value + "\n";
    }
    bool loaded = false;
    const std::string output = shown(env, loaded);
    for (const auto& spec : config::Settings::specs()) {
        if (!spec.secret) continue;
        auto it = env.find(spec.name);
        if (it == env.end() || it->second.size() < 12 || output.find(it->second) == std::string::npos)
            continue;
        if (publicText.find(it->second) != std::string::npos) continue;
        // The text may also be the message's own wording (a secret set to "port number 1-65535" next to a
        // bad port): shown again with this secret changed at every character, a leak no longer shows the
        // text; wording that does not come from the secret still does.
        auto changed = env;
        for (char& c : changed[spec.name]) c = c == 'Q' ? 'R' : 'Q';
        bool loadedChanged = false;
        if (shown(changed, loadedChanged).find(it->second) != std::string::npos) continue;
        std::fprintf(stderr, "shown: %s\n", output.c_str());
        violated(loaded ? "a secret setting's value is printed by describe()"
                        : "a settings error message carries a secret value");
    }
}

// The manifest reader takes a path: the input goes to a per-process scratch file.
void fuzzManifest(std::string_view input) {
    static const std::string path = "/tmp/archestra-fuzz-manifest-" + std::to_string(::getpid()) + ".json";
    {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out.write(input.data(), static_cast<std::streamsize>(input.size()));
    }
    try {
        plugins::PluginManifest manifest = plugins::readManifest(path);
        if (manifest.name.empty() || manifest.file.empty() || !plugins::isKnownKind(manifest.kind))
            violated("readManifest accepted a manifest without name, file or a known kind");
        if (manifest.file.find('/') != std::string::npos) violated("readManifest accepted a path as file");
        try {
            plugins::checkManifestAbi(manifest, path);
        } catch (const plugins::PluginException&) {
        }
    } catch (const plugins::PluginException&) {
    }
}

// {"schema": ..., "value": ...}: validateJsonSchema throws nothing, every message names the path it is about,
// and a schema that is not an object (or an empty one) accepts anything.
void fuzzConfigSchema(std::string_view input) {
    nlohmann::json doc = nlohmann::json::parse(input.begin(), input.end(), nullptr, false);
    if (doc.is_discarded() || !doc.is_object() || !doc.contains("schema") || !doc.contains("value")) return;
    for (const auto& message : plugins::validateJsonSchema(doc["schema"], doc["value"]))
        if (!message.starts_with("$")) violated("a plugin configuration error without its path");
    if (!plugins::validateJsonSchema(nlohmann::json::object(), doc["value"]).empty())
        violated("the empty schema refused a value");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0] % 3) {
        case 0:
            fuzzSettings(rest);
            break;
        case 1:
            fuzzManifest(rest);
            break;
        default:
            fuzzConfigSchema(rest);
            break;
    }
    return 0;
}
