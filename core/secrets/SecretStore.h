// SecretStore: what core code (tokens, MCP servers, catalog, chat keys) uses to keep secret values; backed by
// the active secrets plugin (secrets.db or secrets.vault) through the SDK's SecretsBackend.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <stdexcept>
#include <string>

namespace archestra::secrets {

/// The active backend could not be reached or refused the operation (mapped to 503 at the HTTP boundary).
class SecretsUnavailableError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// Stores secret values (JSON) by id. Thread-safe. Implementations never return or log a value except from
/// get().
class SecretStore {
  public:
    virtual ~SecretStore() = default;
    /// Stores `value` under `name` (sanitised by the backend) and returns the new secret's id (UUID).
    virtual std::string create(const std::string& name, const nlohmann::json& value) = 0;
    /// The value of secret `id`, or nullopt when there is none.
    virtual std::optional<nlohmann::json> get(const std::string& id) = 0;
    /// Replaces the value of secret `id`; returns false when there is none.
    virtual bool update(const std::string& id, const nlohmann::json& value) = 0;
    /// Deletes secret `id`; returns false when there was none.
    virtual bool remove(const std::string& id) = 0;
};

}  // namespace archestra::secrets
