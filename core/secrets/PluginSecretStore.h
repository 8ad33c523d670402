// PluginSecretStore: the SecretStore core code uses, backed by a secrets plugin instance
// (sdk::SecretsBackend), plus what the /api/secrets routes show (type, fallback reason, connectivity).
#pragma once

#include "core/secrets/SecretStore.h"
#include "core/secrets/SecretsSelection.h"

#include <map>
#include <memory>
#include <optional>
#include <string>

namespace archestra::sdk {
class SecretsBackend;
}
namespace archestra::plugins {
class PluginManager;
}

namespace archestra::secrets {

/// What GET /api/secrets/type shows. Value type.
struct SecretsDescription {
    std::string type;  ///< "DB" or "Vault"
    std::map<std::string, std::string>
        meta;  ///< non-secret settings; "Fallback reason" when Vault was refused
};

/// Adapter from a plugin's SecretsBackend to SecretStore. Thread-safe (the plugin instance is).
/// Errors: NotFound -> nullopt/false; InvalidArgument -> std::invalid_argument; everything else (backend
/// down, credentials refused, undecryptable value) -> SecretsUnavailableError carrying the plugin's message.
/// Without a backend (the selected plugin did not load) every call throws SecretsUnavailableError naming why.
class PluginSecretStore : public SecretStore {
  public:
    PluginSecretStore(std::shared_ptr<sdk::SecretsBackend> backend, SecretsSelection selection,
                      std::string unavailableReason = "");

    std::string create(const std::string& name, const nlohmann::json& value) override;
    std::optional<nlohmann::json> get(const std::string& id) override;
    bool update(const std::string& id, const nlohmann::json& value) override;
    bool remove(const std::string& id) override;

    /// Type and meta of the active backend (falls back to the selection when the plugin cannot say).
    SecretsDescription describe();
    /// Number of secrets the backend sees; throws SecretsUnavailableError when it cannot be reached.
    long long checkConnectivity();

    const SecretsSelection& selection() const { return _selection; }
    /// True when a backend instance exists.
    bool available() const { return _backend != nullptr; }
    /// Why there is no backend instance ("" when there is one).
    const std::string& unavailableReason() const { return _unavailableReason; }

  private:
    sdk::SecretsBackend& backend();

    std::shared_ptr<sdk::SecretsBackend> _backend;
    SecretsSelection _selection;
    std::string _unavailableReason;
};

/// Creates the selected backend through `plugins` and wraps it. A plugin that is not loaded or refuses its
/// config gives a store without backend (every call 503) and a non-empty unavailableReason(); start-up goes
/// on so the rest of the platform serves.
std::shared_ptr<PluginSecretStore> createSecretStore(plugins::PluginManager& plugins,
                                                     const SecretsSelection& selection);

}  // namespace archestra::secrets
