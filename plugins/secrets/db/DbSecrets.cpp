// secrets.db plugin: keeps secret values in table `secret`, each encrypted with AES-256-GCM under a key
// derived (HKDF-SHA256) from the platform's auth secret, with a random nonce per write and the row id as
// associated data, so the table never holds plaintext and a ciphertext moved to another row does not decrypt.
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "archestra/sdk/plugin.h"

namespace {

using namespace archestra::sdk;
using nlohmann::json;

constexpr int kKeyBytes = 32;
constexpr int kNonceBytes = 12;
constexpr int kTagBytes = 16;
const char* kTimestampSql = "to_char(%s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";

std::string timestamp(const std::string& column) {
    char buffer[160];
    std::snprintf(buffer, sizeof buffer, kTimestampSql, column.c_str());
    return buffer;
}

std::string toHex(const unsigned char* bytes, std::size_t length) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < length; ++i) {
        out.push_back(digits[bytes[i] >> 4]);
        out.push_back(digits[bytes[i] & 0x0f]);
    }
    return out;
}

std::string base64(const std::string& raw) {
    std::string out(4 * ((raw.size() + 2) / 3) + 1, '\0');
    int length =
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                        reinterpret_cast<const unsigned char*>(raw.data()), static_cast<int>(raw.size()));
    out.resize(static_cast<std::size_t>(length));
    return out;
}

std::optional<std::string> unbase64(const std::string& text) {
    if (text.size() % 4 != 0) return std::nullopt;
    std::string out(text.size() / 4 * 3 + 1, '\0');
    int length =
        EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                        reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
    if (length < 0) return std::nullopt;
    std::size_t padding = 0;
    if (!text.empty() && text.back() == '=') ++padding;
    if (text.size() > 1 && text[text.size() - 2] == '=') ++padding;
    out.resize(static_cast<std::size_t>(length) - padding);
    return out;
}

/// HKDF-SHA256(ikm, salt, info) -> `length` bytes; empty on an OpenSSL failure.
std::string hkdf(const std::string& ikm, const std::string& salt, const std::string& info,
                 std::size_t length) {
    std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
        EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr), EVP_PKEY_CTX_free);
    std::string out(length, '\0');
    std::size_t outLength = length;
    auto bytes = [](const std::string& s) { return reinterpret_cast<const unsigned char*>(s.data()); };
    if (!ctx || EVP_PKEY_derive_init(ctx.get()) <= 0 ||
        EVP_PKEY_CTX_set_hkdf_md(ctx.get(), EVP_sha256()) <= 0 ||
        EVP_PKEY_CTX_set1_hkdf_salt(ctx.get(), bytes(salt), static_cast<int>(salt.size())) <= 0 ||
        EVP_PKEY_CTX_set1_hkdf_key(ctx.get(), bytes(ikm), static_cast<int>(ikm.size())) <= 0 ||
        EVP_PKEY_CTX_add1_hkdf_info(ctx.get(), bytes(info), static_cast<int>(info.size())) <= 0 ||
        EVP_PKEY_derive(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &outLength) <= 0 ||
        outLength != length)
        return "";
    return out;
}

std::string randomBytes(int count) {
    std::string out(static_cast<std::size_t>(count), '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), count) != 1) return "";
    return out;
}

std::string newUuid() {
    std::string raw = randomBytes(16);
    if (raw.size() != 16) return "";
    raw[6] = static_cast<char>((raw[6] & 0x0f) | 0x40);
    raw[8] = static_cast<char>((raw[8] & 0x3f) | 0x80);
    std::string hex = toHex(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
    return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) +
           "-" + hex.substr(20);
}

bool isUuid(const std::string& id) {
    if (id.size() != 36) return false;
    for (std::size_t i = 0; i < id.size(); ++i) {
        char c = id[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return false;
        }
    }
    return true;
}

class DbSecrets : public SecretsBackend {
  public:
    DbSecrets(Host& host, std::string key, std::string keyId)
        : _host(host), _key(std::move(key)), _keyId(std::move(keyId)) {}

    Result<SecretRecord> create(const std::string& name, const std::string& value_json) override {
        std::string id = newUuid();
        if (id.empty()) return fail(ErrorCode::Internal, "secrets.db: the random number generator failed");
        auto sealed = seal(id, value_json);
        if (!sealed.ok()) return sealed.error();
        return one(
            "INSERT INTO secret (id, name, secret, is_vault) VALUES ($1::uuid, $2, $3::jsonb, false) "
            "RETURNING " +
                columns(),
            {id, name, sealed.value()}, id);
    }

    Result<SecretRecord> get(const std::string& id) override {
        if (!isUuid(id)) return fail(ErrorCode::NotFound, "secret '" + id + "' not found (not a UUID)");
        return one("SELECT " + columns() + " FROM secret WHERE id = $1::uuid", {id}, id);
    }

    Result<SecretRecord> update(const std::string& id, const std::string& value_json) override {
        if (!isUuid(id)) return fail(ErrorCode::NotFound, "secret '" + id + "' not found (not a UUID)");
        auto sealed = seal(id, value_json);
        if (!sealed.ok()) return sealed.error();
        return one(
            "UPDATE secret SET secret = $2::jsonb, is_vault = false, updated_at = now() WHERE id = $1::uuid "
            "RETURNING " +
                columns(),
            {id, sealed.value()}, id);
    }

    Result<bool> remove(const std::string& id) override {
        if (!isUuid(id)) return false;
        auto sql = executor();
        if (!sql.ok()) return sql.error();
        auto result = sql.value()->execute("DELETE FROM secret WHERE id = $1::uuid", {id});
        if (!result.ok()) return result.error();
        return result.value().affected_rows > 0;
    }

    Result<SecretsConnectivity> checkConnectivity() override {
        auto sql = executor();
        if (!sql.ok()) return sql.error();
        // Also counts the secrets sealed under another key: a data directory lost with its generated
        // .auth_secret (a container recreated without its volume) leaves every stored value unreadable, and
        // each read only says so for its own secret. Warned once per count (the platform calls this at
        // start-up and from its readiness probe); it stops once they are recreated or the old secret returns.
        auto result = sql.value()->execute(
            "SELECT count(*), count(*) FILTER (WHERE NOT is_vault AND secret->>'kid' IS DISTINCT FROM $1) "
            "FROM secret",
            {_keyId});
        if (!result.ok()) return result.error();
        SecretsConnectivity connectivity;
        connectivity.secret_count = std::stoll(result.value().rows.at(0).at(0).value_or("0"));
        std::int64_t unreadable = std::stoll(result.value().rows.at(0).at(1).value_or("0"));
        if (_unreadableWarned.exchange(unreadable) != unreadable && unreadable > 0)
            _host.logger().log(
                LogLevel::Warning,
                std::to_string(unreadable) + " of " + std::to_string(connectivity.secret_count) +
                    " stored secrets were encrypted under a different ARCHESTRA_AUTH_SECRET (key id now " +
                    _keyId +
                    ") and cannot be read: provider keys, tokens and MCP server secrets among them fail. "
                    "Restore the previous secret (ARCHESTRA_AUTH_SECRET, or the data directory's "
                    ".auth_secret; "
                    "mount the data directory as a volume so it survives a new container), or recreate "
                    "those secrets");
        return connectivity;
    }

    Result<SecretsDescription> describe() override {
        SecretsDescription description;
        description.type = "DB";
        description.meta["Encryption"] = "AES-256-GCM (key derived from ARCHESTRA_AUTH_SECRET)";
        return description;
    }

  private:
    static std::string columns() {
        return "id::text, name, secret::text, is_vault, " + timestamp("created_at") + ", " +
               timestamp("updated_at");
    }

    Result<SqlExecutor*> executor() {
        SqlExecutor* sql = _host.sql();
        if (!sql) return fail(ErrorCode::Unavailable, "secrets.db: the platform offers no database");
        return sql;
    }

    /// Runs a statement returning at most one secret row and opens its value.
    Result<SecretRecord> one(const std::string& statement, const std::vector<SqlValue>& params,
                             const std::string& id) {
        auto sql = executor();
        if (!sql.ok()) return sql.error();
        auto result = sql.value()->execute(statement, params);
        if (!result.ok()) return result.error();
        if (result.value().rows.empty()) return fail(ErrorCode::NotFound, "secret '" + id + "' not found");
        const SqlRow& row = result.value().rows.front();
        SecretRecord record;
        record.id = row.at(0).value_or("");
        record.name = row.at(1).value_or("");
        record.created_at = row.at(4).value_or("");
        record.updated_at = row.at(5).value_or("");
        if (row.at(3).value_or("f") == "t")
            return fail(ErrorCode::Unavailable,
                        "secret '" + id +
                            "' is kept in HashiCorp Vault, but the active secrets backend is "
                            "the database (ARCHESTRA_SECRETS_MANAGER)");
        auto opened = open(record.id, row.at(2).value_or("{}"));
        if (!opened.ok()) return opened.error();
        record.value_json = std::move(opened).value();
        return record;
    }

    Result<std::string> seal(const std::string& id, const std::string& plaintext) {
        std::string nonce = randomBytes(kNonceBytes);
        if (nonce.empty()) return fail(ErrorCode::Internal, "secrets.db: the random number generator failed");
        std::string aad = "archestra-secret:" + id;
        std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                            EVP_CIPHER_CTX_free);
        std::string out(plaintext.size() + kTagBytes, '\0');
        int length = 0, finalLength = 0;
        auto u = [](const std::string& s) { return reinterpret_cast<const unsigned char*>(s.data()); };
        auto w = [](std::string& s, std::size_t at = 0) {
            return reinterpret_cast<unsigned char*>(s.data()) + at;
        };
        if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) != 1 ||
            EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, u(_key), u(nonce)) != 1 ||
            EVP_EncryptUpdate(ctx.get(), nullptr, &length, u(aad), static_cast<int>(aad.size())) != 1 ||
            EVP_EncryptUpdate(ctx.get(), w(out), &length, u(plaintext), static_cast<int>(plaintext.size())) !=
                1 ||
            EVP_EncryptFinal_ex(ctx.get(), w(out, static_cast<std::size_t>(length)), &finalLength) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes,
                                w(out, static_cast<std::size_t>(length + finalLength))) != 1)
            return fail(ErrorCode::Internal, "secrets.db: AES-256-GCM encryption failed");
        json envelope = {
            {"v", 1}, {"alg", "AES-256-GCM"}, {"kid", _keyId}, {"nonce", base64(nonce)}, {"ct", base64(out)}};
        return envelope.dump();
    }

    Result<std::string> open(const std::string& id, const std::string& stored) {
        json envelope = json::parse(stored, nullptr, false);
        if (envelope.is_discarded() || !envelope.is_object() || envelope.value("alg", "") != "AES-256-GCM" ||
            !envelope.contains("ct") || !envelope.contains("nonce") || !envelope["ct"].is_string() ||
            !envelope["nonce"].is_string())
            return fail(ErrorCode::Internal,
                        "secret '" + id +
                            "' is not in the encrypted format of secrets.db (expected an "
                            "AES-256-GCM envelope); recreate it");
        if (envelope.value("kid", "") != _keyId)
            return fail(ErrorCode::PermissionDenied,
                        "secret '" + id + "' was encrypted under a different ARCHESTRA_AUTH_SECRET (key id " +
                            envelope.value("kid", "?") + ", current " + _keyId +
                            "); restore the previous auth secret or recreate the secret");
        auto nonce = unbase64(envelope["nonce"].get<std::string>());
        auto sealed = unbase64(envelope["ct"].get<std::string>());
        if (!nonce || !sealed || nonce->size() != kNonceBytes || sealed->size() < kTagBytes)
            return fail(ErrorCode::Internal,
                        "secret '" + id + "' has a damaged envelope (nonce or ciphertext)");
        std::string aad = "archestra-secret:" + id;
        std::string ciphertext = sealed->substr(0, sealed->size() - kTagBytes);
        std::string tag = sealed->substr(sealed->size() - kTagBytes);
        std::string out(ciphertext.size() + 1, '\0');
        int length = 0, finalLength = 0;
        auto u = [](const std::string& s) { return reinterpret_cast<const unsigned char*>(s.data()); };
        std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                            EVP_CIPHER_CTX_free);
        bool ok = ctx && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
                  EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) == 1 &&
                  EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, u(_key), u(*nonce)) == 1 &&
                  EVP_DecryptUpdate(ctx.get(), nullptr, &length, u(aad), static_cast<int>(aad.size())) == 1 &&
                  EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &length,
                                    u(ciphertext), static_cast<int>(ciphertext.size())) == 1 &&
                  EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) == 1 &&
                  EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + length,
                                      &finalLength) == 1;
        if (!ok)
            return fail(
                ErrorCode::PermissionDenied,
                "secret '" + id +
                    "' failed authentication (AES-256-GCM tag mismatch): the stored ciphertext was modified "
                    "or belongs to another row");
        out.resize(static_cast<std::size_t>(length + finalLength));
        return out;
    }

    Host& _host;
    std::string _key;
    std::string _keyId;
    std::atomic<std::int64_t> _unreadableWarned{0};
};

Status registerFactories(Registrar& registrar) {
    SecretsFactory factory;
    factory.name = "db";
    factory.description = "secrets in the platform database, AES-256-GCM encrypted";
    factory.config_schema_json = R"({"type":"object","required":["authSecret"],"additionalProperties":false,
        "properties":{"authSecret":{"type":"string","minLength":1}}})";
    factory.create = [](Host& host,
                        const std::string& config_json) -> Result<std::unique_ptr<SecretsBackend>> {
        json config = json::parse(config_json, nullptr, false);
        if (config.is_discarded() || !config.contains("authSecret") || !config["authSecret"].is_string())
            return fail(ErrorCode::InvalidArgument, "secrets.db: config needs authSecret (string)");
        std::string secret = config["authSecret"].get<std::string>();
        std::string key = hkdf(secret, "archestra.secrets.db", "aes-256-gcm key v1", kKeyBytes);
        std::string keyIdBytes = hkdf(secret, "archestra.secrets.db", "key id v1", 6);
        if (key.empty() || keyIdBytes.empty())
            return fail(ErrorCode::Internal, "secrets.db: HKDF-SHA256 key derivation failed");
        std::string keyId =
            toHex(reinterpret_cast<const unsigned char*>(keyIdBytes.data()), keyIdBytes.size());
        return std::unique_ptr<SecretsBackend>(
            std::make_unique<DbSecrets>(host, std::move(key), std::move(keyId)));
    };
    return registrar.addSecrets(std::move(factory));
}

}  // namespace

ARCHESTRA_PLUGIN(registerFactories)
