// PluginSecretStore: maps SecretStore calls onto the secrets plugin and its Result errors onto exceptions.
#include "core/secrets/PluginSecretStore.h"

#include "archestra/sdk/secrets.h"
#include "core/plugins/PluginManager.h"

#include <stdexcept>

namespace archestra::secrets {

namespace {

[[noreturn]] void raise(const sdk::Error& error, const std::string& what) {
    if (error.code == sdk::ErrorCode::InvalidArgument)
        throw std::invalid_argument(what + ": " + error.message);
    throw SecretsUnavailableError(what + ": " + error.message);
}

nlohmann::json parseValue(const std::string& text, const std::string& id) {
    try {
        return nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception&) {
        throw SecretsUnavailableError("secret " + id + " holds a value that is not JSON");
    }
}

}  // namespace

PluginSecretStore::PluginSecretStore(std::shared_ptr<sdk::SecretsBackend> backend, SecretsSelection selection,
                                     std::string unavailableReason)
    : _backend(std::move(backend)),
      _selection(std::move(selection)),
      _unavailableReason(std::move(unavailableReason)) {
    _selection.configJson.clear();  // may hold the auth secret or a Vault token; not needed after creation
}

sdk::SecretsBackend& PluginSecretStore::backend() {
    if (!_backend)
        throw SecretsUnavailableError("The secrets backend is not available: " + _unavailableReason);
    return *_backend;
}

std::string PluginSecretStore::create(const std::string& name, const nlohmann::json& value) {
    auto result = backend().create(sanitizeSecretName(name), value.dump());
    if (!result.ok()) raise(result.error(), "could not store secret '" + sanitizeSecretName(name) + "'");
    return result.value().id;
}

std::optional<nlohmann::json> PluginSecretStore::get(const std::string& id) {
    auto result = backend().get(id);
    if (!result.ok()) {
        if (result.error().code == sdk::ErrorCode::NotFound) return std::nullopt;
        raise(result.error(), "could not read secret " + id);
    }
    return parseValue(result.value().value_json, id);
}

bool PluginSecretStore::update(const std::string& id, const nlohmann::json& value) {
    auto result = backend().update(id, value.dump());
    if (!result.ok()) {
        if (result.error().code == sdk::ErrorCode::NotFound) return false;
        raise(result.error(), "could not update secret " + id);
    }
    return true;
}

bool PluginSecretStore::remove(const std::string& id) {
    auto result = backend().remove(id);
    if (!result.ok()) {
        if (result.error().code == sdk::ErrorCode::NotFound) return false;
        raise(result.error(), "could not delete secret " + id);
    }
    return result.value();
}

SecretsDescription PluginSecretStore::describe() {
    SecretsDescription description;
    description.type = _selection.factory == "vault" ? "Vault" : "DB";
    if (_backend) {
        auto result = _backend->describe();
        if (result.ok()) {
            description.type = result.value().type;
            description.meta = result.value().meta;
        } else {
            description.meta["Error"] = result.error().message;  // e.g. the plugin threw: say which and where
        }
    } else {
        description.meta["Unavailable"] = _unavailableReason;
    }
    if (_selection.fallbackReason) description.meta["Fallback reason"] = *_selection.fallbackReason;
    return description;
}

long long PluginSecretStore::checkConnectivity() {
    auto result = backend().checkConnectivity();
    if (!result.ok()) raise(result.error(), "secrets backend connectivity check failed");
    return result.value().secret_count;
}

std::shared_ptr<PluginSecretStore> createSecretStore(plugins::PluginManager& plugins,
                                                     const SecretsSelection& selection) {
    auto created = plugins.createSecrets(selection.factory, selection.configJson);
    if (!created.ok()) {
        std::string reason = "plugin " + selection.plugin + " could not be used: " + created.error().message;
        if (created.error().code == sdk::ErrorCode::NotFound)
            reason += " (is the plugin installed? ARCHESTRA_PLUGINS_DIR lists where plugins are looked for)";
        return std::make_shared<PluginSecretStore>(nullptr, selection, reason);
    }
    return std::make_shared<PluginSecretStore>(std::move(created).value(), selection);
}

}  // namespace archestra::secrets
