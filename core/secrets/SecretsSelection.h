// Chooses the secrets backend plugin and its config from ARCHESTRA_SECRETS_MANAGER and the Vault settings,
// falling back to the database backend (with the reason) when Vault cannot be used.
#pragma once

#include <optional>
#include <string>

namespace archestra::config {
class Settings;
}

namespace archestra::secrets {

/// What start-up should create. Value type.
struct SecretsSelection {
    std::string requested;   ///< what ARCHESTRA_SECRETS_MANAGER asked for: "DB" or "Vault"
    std::string plugin;      ///< plugin key, e.g. "secrets.db"
    std::string factory;     ///< factory name within the plugin: "db" or "vault"
    std::string configJson;  ///< config object for the factory (may hold secrets: never log it)
    /// Set when Vault was requested but the database backend is used instead: what is missing or wrong.
    std::optional<std::string> fallbackReason;
};

/// Pure function of the settings (no I/O). `authSecret` keys the database backend's encryption.
/// Vault needs ARCHESTRA_ENTERPRISE_LICENSE_ACTIVATED=true, an address and the credentials of its auth method
/// (TOKEN: a token; K8S: a role; AWS: a role); otherwise the result is the database backend plus the reason.
SecretsSelection selectSecretsBackend(const config::Settings& settings, const std::string& authSecret);

/// `name` as the backends store it: characters outside [A-Za-z0-9_] become '_', a leading character that is
/// not a letter or '_' gets a '_' in front, at most 64 characters, and "secret" for an empty name.
std::string sanitizeSecretName(const std::string& name);

}  // namespace archestra::secrets
