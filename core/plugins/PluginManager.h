// Loads plugin libraries from plugin directories, keeps one registry of factories per kind, creates
// instances.
#pragma once

#include <Poco/Exception.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "archestra/sdk/plugin.h"

namespace archestra::plugins {

/// Any failure to load or use a plugin; the message names the plugin, the file, the value and what was
/// expected.
POCO_DECLARE_EXCEPTION(, PluginException, Poco::RuntimeException)

/// What happened to one plugin (or one refused file or directory). Value type.
struct PluginRecord {
    std::string name, kind, version, file;
    std::string status;  ///< "loaded" | "skipped" | "failed" (failed = selected by configuration and broken)
    std::string reason;  ///< why it was skipped or failed; empty when loaded
};

struct LoadedPlugin;

/// The plugin loader and the per-kind factory registries.
///
/// Loading (loadDirectories) runs on the start-up thread. Afterwards records(), create*() and the other const
/// queries are thread-safe. Instances returned by create*() are wrapped so that no exception escapes a plugin
/// call (it becomes an Internal error) and they keep their plugin's library loaded: they may outlive the
/// manager. `host` must outlive the manager and every instance.
class PluginManager {
  public:
    explicit PluginManager(sdk::Host& host);
    ~PluginManager();
    PluginManager(const PluginManager&) = delete;
    PluginManager& operator=(const PluginManager&) = delete;

    /// Scans each directory (a missing one is fine): the directory itself and each immediate subdirectory
    /// that holds a plugin.json is one plugin. `selected` names the plugins configuration requires, as
    /// "<kind>.<name>" (e.g. "secrets.db"). A selected plugin that is missing or fails -> PluginException
    /// with the reason (after every directory was scanned, so records() is complete); any other broken plugin
    /// is recorded as skipped with its reason and logged as a warning.
    void loadDirectories(const std::vector<std::string>& dirs, const std::set<std::string>& selected);

    /// Registers factories compiled into the host (or a test) through the same Registrar a library gets;
    /// listed with file "(built-in)". Throws PluginException if the entry fails or a name is taken.
    void registerBuiltin(const std::string& name, const std::string& kind, const std::string& version,
                         const std::function<sdk::Status(sdk::Registrar&)>& entry);

    /// Every plugin seen so far, in load order.
    std::vector<PluginRecord> records() const;

    /// Factory names registered for `kind` (sorted).
    std::vector<std::string> factoryNames(const std::string& kind) const;
    /// The config JSON Schema of factory `name` of `kind`; NotFound if there is none.
    sdk::Result<std::string> configSchema(const std::string& kind, const std::string& name) const;

    /// Create an instance by factory name from JSON config text. The config is validated against the
    /// factory's schema first. Errors (unknown name, invalid config, create() failed or threw) come back as
    /// the Result's error, with a message naming the kind, the factory and the problem.
    sdk::Result<std::shared_ptr<sdk::SecretsBackend>> createSecrets(const std::string& name,
                                                                    const std::string& config_json);
    sdk::Result<std::shared_ptr<sdk::SsoProvider>> createSso(const std::string& name,
                                                             const std::string& config_json);
    sdk::Result<std::shared_ptr<sdk::Orchestrator>> createOrchestrator(const std::string& name,
                                                                       const std::string& config_json);
    sdk::Result<std::shared_ptr<sdk::TelemetryExporter>> createTelemetry(const std::string& name,
                                                                         const std::string& config_json);

    template <class I>
    struct FactoryEntry;

  private:
    class RegistrarImpl;
    template <class I>
    using Registry = std::map<std::string, FactoryEntry<I>>;

    void loadOne(const std::string& manifest_path, const std::set<std::string>& selected);
    void commit(RegistrarImpl& registrar);
    template <class I>
    sdk::Result<std::shared_ptr<I>> create(const Registry<I>& registry, const char* kind,
                                           const std::string& name, const std::string& config_json);
    void addRecord(PluginRecord record, bool selected);

    sdk::Host& _host;
    mutable std::mutex _mutex;
    std::vector<PluginRecord> _records;
    std::map<std::string, std::string> _loadedFiles;  ///< plugin key -> library file, for duplicate messages
    std::unique_ptr<Registry<sdk::SecretsBackend>> _secrets;
    std::unique_ptr<Registry<sdk::SsoProvider>> _sso;
    std::unique_ptr<Registry<sdk::Orchestrator>> _orchestrators;
    std::unique_ptr<Registry<sdk::TelemetryExporter>> _telemetry;
};

/// Plain-text table for `--list-plugins`: columns name, kind, version, status, file, reason.
std::string formatPluginTable(const std::vector<PluginRecord>& records);

}  // namespace archestra::plugins
