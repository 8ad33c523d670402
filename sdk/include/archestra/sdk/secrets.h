// Secrets backend interface: where named secret values (JSON text) are stored (database, Vault, ...).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "archestra/sdk/result.h"

namespace archestra::sdk {

/// One stored secret. Value type, append-only (struct_size).
struct SecretRecord {
    std::uint32_t struct_size = sizeof(SecretRecord);
    std::string id;          ///< UUID v4 assigned by the backend on create
    std::string name;        ///< sanitised name ([A-Za-z0-9_], <= 64 chars)
    std::string value_json;  ///< the secret value as JSON text (usually an object)
    bool external = false;   ///< true when the value lives outside the platform database (e.g. Vault)
    std::string created_at;  ///< RFC 3339 UTC
    std::string updated_at;  ///< RFC 3339 UTC
};

/// Result of a connectivity check. Value type, append-only (struct_size).
struct SecretsConnectivity {
    std::uint32_t struct_size = sizeof(SecretsConnectivity);
    std::int64_t secret_count = 0;  ///< secrets visible in the backend
};

/// User-visible description of the backend (GET /api/secrets/type). Value type, append-only.
struct SecretsDescription {
    std::uint32_t struct_size = sizeof(SecretsDescription);
    std::string type;                         ///< e.g. "DB", "Vault"
    std::map<std::string, std::string> meta;  ///< e.g. {"KV Version": "2"}; never secret values
};

/// A secrets backend instance. Created by a SecretsFactory; owned by the host (destroyed before the plugin is
/// unloaded). Thread-safe: the host calls it from many request threads at once. Methods never throw.
class SecretsBackend {
  public:
    virtual ~SecretsBackend() = default;
    /// Stores `value_json` under `name` (sanitised by the backend). Returns the new record.
    virtual Result<SecretRecord> create(const std::string& name, const std::string& value_json) = 0;
    /// The secret with `id`; NotFound if there is none.
    virtual Result<SecretRecord> get(const std::string& id) = 0;
    /// Replaces the value of secret `id`; NotFound if there is none.
    virtual Result<SecretRecord> update(const std::string& id, const std::string& value_json) = 0;
    /// Deletes secret `id`; returns false if there was none.
    virtual Result<bool> remove(const std::string& id) = 0;
    /// Checks the backend is reachable and counts its secrets (Unimplemented where that makes no sense).
    virtual Result<SecretsConnectivity> checkConnectivity() = 0;
    /// Type and non-secret settings, for operators.
    virtual Result<SecretsDescription> describe() = 0;
};

}  // namespace archestra::sdk
