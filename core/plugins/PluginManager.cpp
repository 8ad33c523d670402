// The plugin loader: manifest check, dlopen, compiled-in ABI check, explicit registration, per-kind
// registries.
#include "core/plugins/PluginManager.h"

#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/dll/import.hpp>
#include <boost/dll/shared_library.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "core/plugins/ConfigSchema.h"
#include "core/plugins/GuardedInstances.h"
#include "core/plugins/Manifest.h"

namespace archestra::plugins {

POCO_IMPLEMENT_EXCEPTION(PluginException, Poco::RuntimeException, "Plugin error")

namespace fs = std::filesystem;

template <class I>
struct PluginManager::FactoryEntry {
    std::shared_ptr<LoadedPlugin> plugin;  // declared first: outlives `factory`, whose code is in the plugin
    sdk::Factory<I> factory;
    nlohmann::json schema;
};

namespace {

constexpr const char* kManifestName = "plugin.json";

std::string octalMode(mode_t mode) {
    std::ostringstream out;
    out << '0' << std::oct << (mode & 07777);
    return out.str();
}

// Refuses files and directories that someone other than the platform's user (or root) could have planted.
void checkPermissions(const std::string& who, const std::string& what, const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        throw PluginException(who + ": cannot stat " + what + " " + path + ": " + std::strerror(errno));
    if (st.st_mode & S_IWOTH)
        throw PluginException(who + ": " + what + " " + path + " is world-writable (mode " +
                              octalMode(st.st_mode) + "); expected no write permission for others");
    if (st.st_uid != 0 && st.st_uid != ::geteuid())
        throw PluginException(who + ": " + what + " " + path + " is owned by uid " +
                              std::to_string(st.st_uid) + "; expected root (0) or the platform's user (uid " +
                              std::to_string(::geteuid()) + ")");
}

bool isSharedLibrary(const fs::path& p) {
    return p.extension() == ".so";
}

std::shared_ptr<sdk::SecretsBackend> wrap(std::shared_ptr<LoadedPlugin> p,
                                          std::unique_ptr<sdk::SecretsBackend> i) {
    return std::make_shared<GuardedSecrets>(std::move(p), std::move(i));
}
std::shared_ptr<sdk::SsoProvider> wrap(std::shared_ptr<LoadedPlugin> p, std::unique_ptr<sdk::SsoProvider> i) {
    return std::make_shared<GuardedSso>(std::move(p), std::move(i));
}
std::shared_ptr<sdk::Orchestrator> wrap(std::shared_ptr<LoadedPlugin> p,
                                        std::unique_ptr<sdk::Orchestrator> i) {
    return std::make_shared<GuardedOrchestrator>(std::move(p), std::move(i));
}
std::shared_ptr<sdk::TelemetryExporter> wrap(std::shared_ptr<LoadedPlugin> p,
                                             std::unique_ptr<sdk::TelemetryExporter> i) {
    return std::make_shared<GuardedTelemetry>(std::move(p), std::move(i));
}

}  // namespace

// Collects the factories one plugin registers; the manager commits them only if the whole load succeeds, so a
// half-registered plugin leaves nothing behind.
class PluginManager::RegistrarImpl : public sdk::Registrar {
  public:
    RegistrarImpl(PluginManager& manager, std::shared_ptr<LoadedPlugin> plugin, std::string kind)
        : _manager(manager), _plugin(std::move(plugin)), _kind(std::move(kind)) {}

    sdk::Status addSecrets(sdk::SecretsFactory f) override {
        return add(secrets, "secrets", *_manager._secrets, std::move(f));
    }
    sdk::Status addSso(sdk::SsoFactory f) override { return add(sso, "sso", *_manager._sso, std::move(f)); }
    sdk::Status addOrchestrator(sdk::OrchestratorFactory f) override {
        return add(orchestrators, "orchestrator", *_manager._orchestrators, std::move(f));
    }
    sdk::Status addTelemetry(sdk::TelemetryFactory f) override {
        return add(telemetry, "telemetry", *_manager._telemetry, std::move(f));
    }

    std::size_t count() const {
        return secrets.size() + sso.size() + orchestrators.size() + telemetry.size();
    }

    std::string firstError;
    std::vector<FactoryEntry<sdk::SecretsBackend>> secrets;
    std::vector<FactoryEntry<sdk::SsoProvider>> sso;
    std::vector<FactoryEntry<sdk::Orchestrator>> orchestrators;
    std::vector<FactoryEntry<sdk::TelemetryExporter>> telemetry;

  private:
    template <class I>
    sdk::Status add(std::vector<FactoryEntry<I>>& pending, const std::string& kind,
                    const Registry<I>& committed, sdk::Factory<I> factory) {
        auto refuse = [&](std::string message) -> sdk::Status {
            if (firstError.empty()) firstError = message;
            return sdk::fail(sdk::ErrorCode::InvalidArgument, std::move(message));
        };
        const std::string what = kind + " factory '" + factory.name + "'";
        if (kind != _kind)
            return refuse("registered " + what + "; expected only " + _kind +
                          " factories (the plugin's kind)");
        static const std::regex namePattern("[a-z0-9][a-z0-9_-]*");
        if (!std::regex_match(factory.name, namePattern))
            return refuse("registered " + what + " with an invalid name; expected [a-z0-9][a-z0-9_-]*");
        if (!factory.create) return refuse("registered " + what + " without a create function");
        nlohmann::json schema;
        try {
            schema = nlohmann::json::parse(factory.config_schema_json);
        } catch (const nlohmann::json::exception& e) {
            return refuse("registered " + what + " whose config schema is not valid JSON (" + e.what() + ")");
        }
        if (!schema.is_object())
            return refuse("registered " + what + " whose config schema is " + schema.dump() +
                          "; expected a JSON Schema object");
        if (auto it = committed.find(factory.name); it != committed.end())
            return refuse("registered " + what + ", but plugin '" + it->second.plugin->key + "' (" +
                          it->second.plugin->file + ") registered that name already; expected unique names");
        for (const auto& p : pending)
            if (p.factory.name == factory.name) return refuse("registered " + what + " twice");
        pending.push_back(FactoryEntry<I>{_plugin, std::move(factory), std::move(schema)});
        return sdk::okStatus();
    }

    PluginManager& _manager;
    std::shared_ptr<LoadedPlugin> _plugin;
    std::string _kind;
};

PluginManager::PluginManager(sdk::Host& host)
    : _host(host),
      _secrets(std::make_unique<Registry<sdk::SecretsBackend>>()),
      _sso(std::make_unique<Registry<sdk::SsoProvider>>()),
      _orchestrators(std::make_unique<Registry<sdk::Orchestrator>>()),
      _telemetry(std::make_unique<Registry<sdk::TelemetryExporter>>()) {}

PluginManager::~PluginManager() = default;

void PluginManager::commit(RegistrarImpl& registrar) {
    for (auto& e : registrar.secrets) _secrets->emplace(e.factory.name, std::move(e));
    for (auto& e : registrar.sso) _sso->emplace(e.factory.name, std::move(e));
    for (auto& e : registrar.orchestrators) _orchestrators->emplace(e.factory.name, std::move(e));
    for (auto& e : registrar.telemetry) _telemetry->emplace(e.factory.name, std::move(e));
}

void PluginManager::addRecord(PluginRecord record, bool selected) {
    if (record.status != "loaded") {
        record.status = selected ? "failed" : "skipped";
        _host.logger().log(selected ? sdk::LogLevel::Error : sdk::LogLevel::Warning,
                           "plugin " + record.status + ": " + record.reason);
    } else {
        _host.logger().log(sdk::LogLevel::Info, "plugin '" + record.kind + "." + record.name + "' " +
                                                    record.version + " loaded from " + record.file);
    }
    std::lock_guard lock(_mutex);
    _records.push_back(std::move(record));
}

void PluginManager::loadOne(const std::string& manifest_path, const std::set<std::string>& selected) {
    const std::string dir = fs::path(manifest_path).parent_path().string();
    PluginRecord record;
    record.file = manifest_path;
    bool isSelected = false;
    try {
        checkPermissions("plugin in " + dir, "plugin directory", dir);
        checkPermissions("plugin in " + dir, "manifest", manifest_path);
        const PluginManifest manifest = readManifest(manifest_path);
        const std::string key = manifest.key();
        record.name = manifest.name;
        record.kind = manifest.kind;
        record.version = manifest.version;
        record.file = (fs::path(dir) / manifest.file).string();
        isSelected = selected.count(key) > 0;
        checkManifestAbi(manifest, manifest_path);
        const std::string who = "plugin '" + key + "' (" + record.file + ")";

        std::error_code ec;
        if (!fs::is_regular_file(record.file, ec))
            throw PluginException(who + ": library file is missing; expected '" + manifest.file +
                                  "' beside " + manifest_path);
        checkPermissions(who, "library", record.file);
        {
            std::lock_guard lock(_mutex);
            if (auto it = _loadedFiles.find(key); it != _loadedFiles.end())
                throw PluginException(who + ": duplicate plugin name '" + key + "', already loaded from " +
                                      it->second + "; expected each plugin name once");
        }

        auto library = std::make_shared<boost::dll::shared_library>();
        try {
            library->load(record.file, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
        } catch (const std::exception& e) {
            throw PluginException(who + ": cannot be loaded: " + e.what());
        }
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
        // Sanitizer builds keep every plugin mapped until the process exits (one more reference, never
        // released): a leak report written at exit then names the plugin's functions and libraries instead
        // of "<unknown module>", which is what unloaded code looks like to LeakSanitizer.
        ::dlopen(record.file.c_str(), RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
#endif
        // Only the C info function may run before the checks below have passed.
        if (!library->has(sdk::kInfoSymbol))
            throw PluginException(who + ": does not export '" + sdk::kInfoSymbol +
                                  "'; expected a library built with ARCHESTRA_PLUGIN()");
        const ArchestraPluginInfo* info = library->get<const ArchestraPluginInfo*()>(sdk::kInfoSymbol)();
        if (info == nullptr || info->struct_size < sizeof(ArchestraPluginInfo))
            throw PluginException(who + ": compiled-in plugin info has size " +
                                  std::to_string(info ? info->struct_size : 0) + "; expected at least " +
                                  std::to_string(sizeof(ArchestraPluginInfo)));
        if (info->abi_major != sdk::kAbiMajor)
            throw PluginException(who + ": compiled-in ABI major is " + std::to_string(info->abi_major) +
                                  "; expected " + std::to_string(sdk::kAbiMajor) + " (the host's)");
        if (info->abi_minor > sdk::kAbiMinor)
            throw PluginException(who + ": compiled-in ABI minor is " + std::to_string(info->abi_minor) +
                                  "; expected at most " + std::to_string(sdk::kAbiMinor) + " (the host's)");
        const std::string fingerprint = info->fingerprint ? info->fingerprint : "";
        if (fingerprint != sdk::kBuildFingerprint)
            throw PluginException(who + ": build fingerprint is '" + fingerprint + "'; expected '" +
                                  sdk::kBuildFingerprint +
                                  "' (the host's: same compiler, standard library and C++ standard)");
        auto agree = [&](const char* field, const char* compiled, const std::string& declared) {
            const std::string value = compiled ? compiled : "";
            if (value != declared)
                throw PluginException(who + ": compiled-in " + field + " is '" + value +
                                      "' but plugin.json says '" + declared + "'; expected them to agree");
        };
        agree("name", info->name, manifest.name);
        agree("kind", info->kind, manifest.kind);
        agree("version", info->version, manifest.version);
        if (!library->has(sdk::kEntrySymbol))
            throw PluginException(who + ": does not export the entry point '" + sdk::kEntrySymbol +
                                  "'; expected ARCHESTRA_PLUGIN(...) in one source file");

        auto entry = boost::dll::import_alias<sdk::PluginEntryFn>(*library, sdk::kEntrySymbol);
        auto plugin = std::make_shared<LoadedPlugin>();
        plugin->library = library;
        plugin->key = key;
        plugin->file = record.file;
        plugin->host = std::make_unique<PluginHostView>(_host, key);
        RegistrarImpl registrar(*this, plugin, manifest.kind);
        sdk::Status status;
        try {
            status = entry(registrar);
        } catch (const std::exception& e) {
            throw PluginException(who + ": entry point threw: " + e.what());
        } catch (...) {
            throw PluginException(who + ": entry point threw a non-standard exception");
        }
        // A refused registration is reported as such even when the plugin passed its Status on.
        if (!registrar.firstError.empty()) throw PluginException(who + ": " + registrar.firstError);
        if (!status.ok())
            throw PluginException(who + ": entry point returned an error: " + status.error().message);
        if (registrar.count() == 0)
            throw PluginException(who + ": entry point registered no factories; expected at least one " +
                                  manifest.kind + " factory");
        std::lock_guard lock(_mutex);
        commit(registrar);
        _loadedFiles[key] = record.file;
        record.status = "loaded";
    } catch (const PluginException& e) {
        record.reason = e.message();
    } catch (const std::exception& e) {
        record.reason = "plugin in " + dir + ": " + e.what();
    }
    addRecord(std::move(record), isSelected);
}

void PluginManager::loadDirectories(const std::vector<std::string>& dirs,
                                    const std::set<std::string>& selected) {
    for (const auto& dir : dirs) {
        std::error_code ec;
        if (!fs::exists(dir, ec)) {
            _host.logger().log(sdk::LogLevel::Debug,
                               "plugin directory " + dir + " does not exist; nothing to load");
            continue;
        }
        try {
            if (!fs::is_directory(dir, ec))
                throw PluginException("plugin directory " + dir +
                                      " is not a directory; expected a directory");
            checkPermissions("plugin directory " + dir, "directory", dir);
        } catch (const PluginException& e) {
            addRecord(PluginRecord{"", "", "", dir, "skipped", e.message()}, false);
            continue;
        }
        // The directory itself may be one plugin; each subdirectory holding a plugin.json is one plugin.
        std::vector<fs::path> pluginDirs;
        if (fs::exists(fs::path(dir) / kManifestName)) pluginDirs.push_back(dir);
        std::vector<fs::path> subdirs;
        std::vector<fs::path> unclaimedDirs;  // folders without a plugin.json
        if (!fs::exists(fs::path(dir) / kManifestName)) unclaimedDirs.push_back(dir);
        for (const auto& entry : fs::directory_iterator(dir, ec)) {
            if (!entry.is_directory()) continue;
            if (fs::exists(entry.path() / kManifestName)) {
                subdirs.push_back(entry.path());
            } else {
                unclaimedDirs.push_back(entry.path());
            }
        }
        std::sort(subdirs.begin(), subdirs.end());  // load order must not depend on the file system
        pluginDirs.insert(pluginDirs.end(), subdirs.begin(), subdirs.end());
        for (const auto& p : pluginDirs) loadOne((p / kManifestName).string(), selected);

        // A library in a folder without a manifest would otherwise vanish silently. (Next to a plugin.json,
        // other libraries may be the plugin's private dependencies, so they are left alone.)
        std::vector<fs::path> orphans;
        for (const auto& d : unclaimedDirs)
            for (const auto& entry : fs::directory_iterator(d, ec))
                if (entry.is_regular_file() && isSharedLibrary(entry.path())) orphans.push_back(entry.path());
        std::sort(orphans.begin(), orphans.end());
        for (const auto& o : orphans) {
            addRecord(PluginRecord{"", "", "", o.string(), "skipped",
                                   "library " + o.string() +
                                       " has no plugin.json naming it; expected a plugin.json "
                                       "with \"file\": \"" +
                                       o.filename().string() + "\" in the same directory"},
                      false);
        }
    }

    std::vector<PluginRecord> snapshot = records();
    for (const auto& key : selected) {
        const PluginRecord* loaded = nullptr;
        const PluginRecord* broken = nullptr;
        for (const auto& r : snapshot) {
            if (r.kind + "." + r.name != key) continue;
            if (r.status == "loaded" && !loaded) loaded = &r;
            if (r.status != "loaded" && !broken) broken = &r;
        }
        if (broken) throw PluginException("selected plugin '" + key + "' failed to load: " + broken->reason);
        if (!loaded) {
            std::string searched;
            for (const auto& d : dirs) searched += (searched.empty() ? "" : ", ") + d;
            std::string refused;
            for (const auto& r : snapshot)
                if (r.name.empty()) refused += "; refused: " + r.reason;
            throw PluginException("selected plugin '" + key + "' was not found in [" + searched +
                                  "]; expected a plugin.json with that kind and name" + refused);
        }
    }
}

void PluginManager::registerBuiltin(const std::string& name, const std::string& kind,
                                    const std::string& version,
                                    const std::function<sdk::Status(sdk::Registrar&)>& entry) {
    const std::string key = kind + "." + name;
    const std::string who = "built-in plugin '" + key + "'";
    if (!isKnownKind(kind))
        throw PluginException(who + ": kind '" + kind +
                              "' is unknown; expected secrets, sso, orchestrator or telemetry");
    {
        std::lock_guard lock(_mutex);
        if (auto it = _loadedFiles.find(key); it != _loadedFiles.end())
            throw PluginException(who + ": duplicate plugin name, already loaded from " + it->second);
    }
    auto plugin = std::make_shared<LoadedPlugin>();
    plugin->key = key;
    plugin->file = "(built-in)";
    plugin->host = std::make_unique<PluginHostView>(_host, key);
    RegistrarImpl registrar(*this, plugin, kind);
    const sdk::Status status = entry(registrar);
    if (!registrar.firstError.empty()) throw PluginException(who + ": " + registrar.firstError);
    if (!status.ok())
        throw PluginException(who + ": entry point returned an error: " + status.error().message);
    {
        std::lock_guard lock(_mutex);
        commit(registrar);
        _loadedFiles[key] = plugin->file;
    }
    addRecord(PluginRecord{name, kind, version, plugin->file, "loaded", ""}, false);
}

std::vector<PluginRecord> PluginManager::records() const {
    std::lock_guard lock(_mutex);
    return _records;
}

std::vector<std::string> PluginManager::factoryNames(const std::string& kind) const {
    std::lock_guard lock(_mutex);
    std::vector<std::string> names;
    auto collect = [&](const auto& registry) {
        for (const auto& [name, _] : registry) names.push_back(name);
    };
    if (kind == "secrets") collect(*_secrets);
    if (kind == "sso") collect(*_sso);
    if (kind == "orchestrator") collect(*_orchestrators);
    if (kind == "telemetry") collect(*_telemetry);
    return names;
}

sdk::Result<std::string> PluginManager::configSchema(const std::string& kind, const std::string& name) const {
    std::lock_guard lock(_mutex);
    std::optional<std::string> schema;
    auto find = [&](const auto& registry) {
        if (auto it = registry.find(name); it != registry.end())
            schema = it->second.factory.config_schema_json;
    };
    if (kind == "secrets") find(*_secrets);
    if (kind == "sso") find(*_sso);
    if (kind == "orchestrator") find(*_orchestrators);
    if (kind == "telemetry") find(*_telemetry);
    if (!schema) return sdk::fail(sdk::ErrorCode::NotFound, "no " + kind + " plugin named '" + name + "'");
    return *schema;
}

template <class I>
sdk::Result<std::shared_ptr<I>> PluginManager::create(const Registry<I>& registry, const char* kind,
                                                      const std::string& name,
                                                      const std::string& config_json) {
    const std::string what = std::string(kind) + " plugin '" + name + "'";
    const FactoryEntry<I>* entry = nullptr;
    {
        std::lock_guard lock(_mutex);
        auto it = registry.find(name);
        if (it == registry.end()) {
            std::string known;
            for (const auto& [n, _] : registry) known += (known.empty() ? "" : ", ") + n;
            return sdk::fail(sdk::ErrorCode::NotFound, "no " + std::string(kind) + " plugin named '" + name +
                                                           "'; expected one of [" + known + "]");
        }
        entry = &it->second;  // registries only grow during loading, so the entry stays put afterwards
    }
    nlohmann::json config;
    try {
        config = nlohmann::json::parse(config_json);
    } catch (const nlohmann::json::exception& e) {
        return sdk::fail(sdk::ErrorCode::InvalidArgument,
                         "config of " + what + " is not valid JSON: " + e.what());
    }
    const auto errors = validateJsonSchema(entry->schema, config);
    if (!errors.empty()) {
        std::string joined;
        for (const auto& e : errors) joined += (joined.empty() ? "" : "; ") + e;
        return sdk::fail(sdk::ErrorCode::InvalidArgument, "config of " + what + " is invalid: " + joined);
    }
    const auto& plugin = entry->plugin;
    auto made = guardedCall<sdk::Result<std::unique_ptr<I>>>(
        *plugin, "create", [&] { return entry->factory.create(*plugin->host, config_json); });
    if (!made.ok())
        return sdk::fail(made.error().code, "creating " + what + " failed: " + made.error().message);
    if (!made.value())
        return sdk::fail(sdk::ErrorCode::Internal,
                         "creating " + what + " failed: create() returned no instance");
    return wrap(plugin, std::move(made).value());
}

sdk::Result<std::shared_ptr<sdk::SecretsBackend>> PluginManager::createSecrets(
    const std::string& name, const std::string& config_json) {
    return create(*_secrets, "secrets", name, config_json);
}
sdk::Result<std::shared_ptr<sdk::SsoProvider>> PluginManager::createSso(const std::string& name,
                                                                        const std::string& config_json) {
    return create(*_sso, "sso", name, config_json);
}
sdk::Result<std::shared_ptr<sdk::Orchestrator>> PluginManager::createOrchestrator(
    const std::string& name, const std::string& config_json) {
    return create(*_orchestrators, "orchestrator", name, config_json);
}
sdk::Result<std::shared_ptr<sdk::TelemetryExporter>> PluginManager::createTelemetry(
    const std::string& name, const std::string& config_json) {
    return create(*_telemetry, "telemetry", name, config_json);
}

std::string formatPluginTable(const std::vector<PluginRecord>& records) {
    const std::vector<std::string> headers = {"NAME", "KIND", "VERSION", "FILE", "STATUS", "REASON"};
    std::vector<std::vector<std::string>> rows;
    for (const auto& r : records)
        rows.push_back({r.name.empty() ? "-" : r.name, r.kind.empty() ? "-" : r.kind,
                        r.version.empty() ? "-" : r.version, r.file, r.status, r.reason});
    std::vector<std::size_t> widths(headers.size());
    for (std::size_t c = 0; c < headers.size(); ++c) {
        widths[c] = headers[c].size();
        for (const auto& row : rows) widths[c] = std::max(widths[c], row[c].size());
    }
    std::ostringstream out;
    auto line = [&](const std::vector<std::string>& cells) {
        for (std::size_t c = 0; c < cells.size(); ++c) {
            if (c + 1 == cells.size()) {
                out << cells[c];  // no trailing padding on the free-text column
            } else {
                out << std::left << std::setw(static_cast<int>(widths[c])) << cells[c] << "  ";
            }
        }
        out << '\n';
    };
    line(headers);
    for (const auto& row : rows) line(row);
    return out.str();
}

}  // namespace archestra::plugins
