// secrets.vault plugin: secret values in HashiCorp Vault's KV engine (v1 or v2), one `secret` row per value
// (is_vault = true) so ids stay database-backed; token, Kubernetes and AWS IAM auth with renewal and
// re-login.
#include <Poco/Base64Encoder.h>
#include <Poco/DateTime.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include <openssl/rand.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>

#include "SigV4.h"
#include "archestra/sdk/plugin.h"

namespace {

using namespace archestra::sdk;
using archestra::vault::AwsCredentials;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct VaultConfig {
    std::string address, authMethod, token, secretPath, metadataPath, caFile;
    int kvVersion = 2;
    std::string k8sRole, k8sTokenPath, k8sMountPoint;
    std::string awsRole, awsMountPoint, awsRegion, awsStsEndpoint, awsIamServerId;
};

struct VaultReply {
    int status = 0;
    json body;
};

std::string base64(const std::string& raw) {
    std::ostringstream out;
    Poco::Base64Encoder encoder(out);
    encoder.rdbuf()->setLineLength(0);
    encoder << raw;
    encoder.close();
    return out.str();
}

std::string newUuid() {
    unsigned char raw[16];
    if (RAND_bytes(raw, sizeof raw) != 1) return "";
    raw[6] = static_cast<unsigned char>((raw[6] & 0x0f) | 0x40);
    raw[8] = static_cast<unsigned char>((raw[8] & 0x3f) | 0x80);
    std::string hex = archestra::vault::toHex(std::string(reinterpret_cast<char*>(raw), sizeof raw));
    return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) +
           "-" + hex.substr(20);
}

bool isUuid(const std::string& id) {
    if (id.size() != 36) return false;
    for (std::size_t i = 0; i < id.size(); ++i) {
        char c = id[i];
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash != (c == '-')) return false;
        if (!dash && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return true;
}

std::string errorsOf(const VaultReply& reply) {
    std::string out;
    if (reply.body.is_object() && reply.body.contains("errors") && reply.body["errors"].is_array())
        for (const auto& e : reply.body["errors"])
            out += (out.empty() ? "" : "; ") + (e.is_string() ? e.get<std::string>() : e.dump());
    return std::to_string(reply.status) + (out.empty() ? "" : ": " + out);
}

class VaultSecrets : public SecretsBackend {
  public:
    VaultSecrets(Host& host, VaultConfig config) : _host(host), _config(std::move(config)) {
        while (!_config.address.empty() && _config.address.back() == '/') _config.address.pop_back();
        _uri = Poco::URI(_config.address);
        if (_config.authMethod == "TOKEN") _token = _config.token;
    }

    Result<SecretRecord> create(const std::string& name, const std::string& value_json) override {
        return guarded<SecretRecord>([&]() -> Result<SecretRecord> {
            std::string id = newUuid();
            if (id.empty())
                return fail(ErrorCode::Internal, "secrets.vault: the random number generator failed");
            auto sql = executor();
            if (!sql.ok()) return sql.error();
            auto inserted = sql.value()->execute(
                "INSERT INTO secret (id, name, secret, is_vault) VALUES ($1::uuid, $2, '{}'::jsonb, true) "
                "RETURNING " +
                    columns(),
                {id, name});
            if (!inserted.ok()) return inserted.error();
            Result<bool> written = fail(ErrorCode::Internal, "not written");
            try {
                written = write(name, id, value_json);
            } catch (const Poco::Exception& e) {
                written = fail(ErrorCode::Unavailable,
                               "Vault at " + _config.address + " is unreachable: " + e.displayText());
            }
            if (!written.ok()) {
                // No row may point at a value Vault does not hold.
                (void)sql.value()->execute("DELETE FROM secret WHERE id = $1::uuid", {id});
                return written.error();
            }
            SecretRecord record = recordOf(inserted.value().rows.at(0));
            record.value_json = value_json;
            return record;
        });
    }

    Result<SecretRecord> get(const std::string& id) override {
        return guarded<SecretRecord>([&]() -> Result<SecretRecord> {
            auto row = loadRow(id);
            if (!row.ok()) return row.error();
            SecretRecord record = std::move(row).value();
            auto reply = request("GET", dataPath(record.name, id), nullptr);
            if (!reply.ok()) return reply.error();
            if (reply.value().status == 404)
                return fail(ErrorCode::NotFound,
                            "secret '" + id + "' has no value in Vault at " + dataPath(record.name, id));
            if (reply.value().status != 200)
                return fail(ErrorCode::Unavailable,
                            "Vault read of secret '" + id + "' failed: " + errorsOf(reply.value()));
            const json& body = reply.value().body;
            const json* value = nullptr;
            if (_config.kvVersion == 2 && body.contains("data") && body["data"].is_object() &&
                body["data"].contains("data"))
                value = &body["data"]["data"]["value"];
            else if (_config.kvVersion == 1 && body.contains("data") && body["data"].is_object())
                value = &body["data"]["value"];
            if (!value || !value->is_string())
                return fail(ErrorCode::Internal,
                            "Vault answered secret '" + id + "' without a string data value");
            record.value_json = value->get<std::string>();
            return record;
        });
    }

    Result<SecretRecord> update(const std::string& id, const std::string& value_json) override {
        return guarded<SecretRecord>([&]() -> Result<SecretRecord> {
            auto row = loadRow(id);
            if (!row.ok()) return row.error();
            SecretRecord record = std::move(row).value();
            auto written = write(record.name, id, value_json);
            if (!written.ok()) return written.error();
            auto sql = executor();
            if (!sql.ok()) return sql.error();
            (void)sql.value()->execute(
                "UPDATE secret SET secret = '{}'::jsonb, updated_at = now() WHERE id = $1::uuid", {id});
            record.value_json = value_json;
            return record;
        });
    }

    Result<bool> remove(const std::string& id) override {
        return guarded<bool>([&]() -> Result<bool> {
            auto row = loadRow(id);
            if (!row.ok()) {
                if (row.error().code == ErrorCode::NotFound) return false;
                return row.error();
            }
            std::string path =
                _config.kvVersion == 2 ? metadataPath(row.value().name, id) : dataPath(row.value().name, id);
            auto reply = request("DELETE", path, nullptr);
            if (!reply.ok()) return reply.error();
            int status = reply.value().status;
            if (status != 204 && status != 200 && status != 404)
                return fail(ErrorCode::Unavailable,
                            "Vault delete of secret '" + id + "' failed: " + errorsOf(reply.value()));
            auto sql = executor();
            if (!sql.ok()) return sql.error();
            auto deleted = sql.value()->execute("DELETE FROM secret WHERE id = $1::uuid", {id});
            if (!deleted.ok()) return deleted.error();
            return deleted.value().affected_rows > 0;
        });
    }

    Result<SecretsConnectivity> checkConnectivity() override {
        return guarded<SecretsConnectivity>([&]() -> Result<SecretsConnectivity> {
            std::string path = _config.kvVersion == 2 ? _config.metadataPath : _config.secretPath;
            auto reply = request("GET", path + "?list=true", nullptr);
            if (!reply.ok()) return reply.error();
            SecretsConnectivity connectivity;
            if (reply.value().status == 404) return connectivity;
            if (reply.value().status != 200)
                return fail(ErrorCode::Unavailable,
                            "Vault LIST " + path + " failed: " + errorsOf(reply.value()));
            const json& body = reply.value().body;
            if (body.contains("data") && body["data"].contains("keys") && body["data"]["keys"].is_array())
                connectivity.secret_count = static_cast<std::int64_t>(body["data"]["keys"].size());
            return connectivity;
        });
    }

    Result<SecretsDescription> describe() override {
        SecretsDescription description;
        description.type = "Vault";
        description.meta["KV Version"] = std::to_string(_config.kvVersion);
        description.meta["Secret Path"] = _config.secretPath;
        if (_config.kvVersion == 2) description.meta["Metadata Path"] = _config.metadataPath;
        description.meta["Auth Method"] = _config.authMethod;
        if (_config.authMethod == "K8S") {
            description.meta["Kubernetes Token Path"] = _config.k8sTokenPath;
            description.meta["Kubernetes Mount Point"] = _config.k8sMountPoint;
        }
        if (_config.authMethod == "AWS") {
            description.meta["AWS Mount Point"] = _config.awsMountPoint;
            description.meta["AWS Region"] = _config.awsRegion;
        }
        return description;
    }

  private:
    template <class T, class F>
    Result<T> guarded(F&& f) {
        try {
            return f();
        } catch (const Poco::Exception& e) {
            return fail(ErrorCode::Unavailable,
                        "Vault at " + _config.address + " is unreachable: " + e.displayText());
        } catch (const std::exception& e) {
            return fail(ErrorCode::Internal, std::string("secrets.vault: ") + e.what());
        }
    }

    static std::string columns() {
        const char* ts = "to_char(%s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";
        char created[128], updated[128];
        std::snprintf(created, sizeof created, ts, "created_at");
        std::snprintf(updated, sizeof updated, ts, "updated_at");
        return std::string("id::text, name, is_vault, ") + created + ", " + updated;
    }

    static SecretRecord recordOf(const SqlRow& row) {
        SecretRecord record;
        record.id = row.at(0).value_or("");
        record.name = row.at(1).value_or("");
        record.external = row.at(2).value_or("f") == "t";
        record.created_at = row.at(3).value_or("");
        record.updated_at = row.at(4).value_or("");
        return record;
    }

    Result<SqlExecutor*> executor() {
        SqlExecutor* sql = _host.sql();
        if (!sql) return fail(ErrorCode::Unavailable, "secrets.vault: the platform offers no database");
        return sql;
    }

    Result<SecretRecord> loadRow(const std::string& id) {
        if (!isUuid(id)) return fail(ErrorCode::NotFound, "secret '" + id + "' not found (not a UUID)");
        auto sql = executor();
        if (!sql.ok()) return sql.error();
        auto rows = sql.value()->execute("SELECT " + columns() + " FROM secret WHERE id = $1::uuid", {id});
        if (!rows.ok()) return rows.error();
        if (rows.value().rows.empty()) return fail(ErrorCode::NotFound, "secret '" + id + "' not found");
        SecretRecord record = recordOf(rows.value().rows.front());
        if (!record.external)
            return fail(ErrorCode::Unavailable,
                        "secret '" + id +
                            "' is kept in the database (secrets.db), but the active secrets "
                            "backend is Vault; recreate it");
        return record;
    }

    std::string dataPath(const std::string& name, const std::string& id) const {
        return _config.secretPath + "/" + name + "-" + id;
    }
    std::string metadataPath(const std::string& name, const std::string& id) const {
        return _config.metadataPath + "/" + name + "-" + id;
    }

    Result<bool> write(const std::string& name, const std::string& id, const std::string& value_json) {
        json body =
            _config.kvVersion == 2 ? json{{"data", {{"value", value_json}}}} : json{{"value", value_json}};
        auto reply = request("POST", dataPath(name, id), body);
        if (!reply.ok()) return reply.error();
        if (reply.value().status != 200 && reply.value().status != 204)
            return fail(ErrorCode::Unavailable,
                        "Vault write of secret '" + id + "' failed: " + errorsOf(reply.value()));
        return true;
    }

    /// One HTTP exchange with Vault; Poco exceptions propagate (the guard turns them into Unavailable).
    VaultReply send(const std::string& method, const std::string& path, const json& body,
                    const std::string& token) {
        std::unique_ptr<Poco::Net::HTTPClientSession> session;
        if (_uri.getScheme() == "https") {
            // Certificates are verified (chain and host name); the CA file adds to or replaces the system
            // store.
            Poco::Net::Context::Ptr context =
                new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, "", "", _config.caFile,
                                       Poco::Net::Context::VERIFY_RELAXED, 9, _config.caFile.empty(),
                                       "ALL:!ADH:!LOW:!EXP:!MD5:@STRENGTH");
            session =
                std::make_unique<Poco::Net::HTTPSClientSession>(_uri.getHost(), _uri.getPort(), context);
        } else {
            session = std::make_unique<Poco::Net::HTTPClientSession>(_uri.getHost(), _uri.getPort());
        }
        session->setTimeout(Poco::Timespan(10, 0));
        Poco::Net::HTTPRequest request(method, "/v1/" + path, Poco::Net::HTTPMessage::HTTP_1_1);
        request.setHost(_uri.getHost(), _uri.getPort());
        if (!token.empty()) request.set("X-Vault-Token", token);
        std::string payload = body.is_null() ? "" : body.dump();
        if (!payload.empty()) {
            request.setContentType("application/json");
            request.setContentLength(static_cast<std::streamsize>(payload.size()));
        }
        std::ostream& out = session->sendRequest(request);
        out << payload;
        Poco::Net::HTTPResponse response;
        std::istream& in = session->receiveResponse(response);
        std::string text;
        Poco::StreamCopier::copyToString(in, text);
        VaultReply reply;
        reply.status = static_cast<int>(response.getStatus());
        reply.body = text.empty() ? json::object() : json::parse(text, nullptr, false);
        if (reply.body.is_discarded()) reply.body = json::object();
        return reply;
    }

    /// A request with a valid token: logs in or renews first when needed, and logs in again once on a 403.
    Result<VaultReply> request(const std::string& method, const std::string& path, const json& body) {
        auto token = currentToken(false);
        if (!token.ok()) return token.error();
        VaultReply reply = send(method, path, body, token.value());
        if (reply.status == 403) {
            if (_config.authMethod == "TOKEN")
                return fail(
                    ErrorCode::PermissionDenied,
                    "Vault refused the configured token (403); check ARCHESTRA_HASHICORP_VAULT_TOKEN");
            token = currentToken(true);
            if (!token.ok()) return token.error();
            reply = send(method, path, body, token.value());
            if (reply.status == 403)
                return fail(ErrorCode::PermissionDenied,
                            "Vault refused access to " + path + " after a fresh login (403)");
        }
        return reply;
    }

    /// The token to use. Renews it (renew-self) once two thirds of its TTL have passed and logs in again when
    /// renewal is impossible; `forceLogin` after a 403.
    Result<std::string> currentToken(bool forceLogin) {
        std::lock_guard lock(_tokenMutex);
        if (_config.authMethod == "TOKEN") return _token;
        auto now = Clock::now();
        if (!forceLogin && !_token.empty()) {
            if (_ttl.count() == 0 || now < _renewAt) return _token;
            if (_renewable) {
                VaultReply renewed = send("POST", "auth/token/renew-self", json::object(), _token);
                if (renewed.status == 200 && renewed.body.contains("auth")) {
                    adopt(renewed.body["auth"], now);
                    return _token;
                }
            }
        }
        return login(now);
    }

    void adopt(const json& auth, Clock::time_point now) {
        _token = auth.value("client_token", _token);
        _ttl = std::chrono::seconds(auth.value("lease_duration", 0));
        _renewable = auth.value("renewable", false);
        _renewAt = now + _ttl * 2 / 3;
    }

    Result<std::string> login(Clock::time_point now) {
        json body;
        std::string mount;
        if (_config.authMethod == "K8S") {
            std::ifstream file(_config.k8sTokenPath);
            if (!file)
                return fail(ErrorCode::Unavailable,
                            "Kubernetes service account token file '" + _config.k8sTokenPath +
                                "' cannot be read (ARCHESTRA_HASHICORP_VAULT_K8S_TOKEN_PATH)");
            std::stringstream text;
            text << file.rdbuf();
            std::string jwt = text.str();
            while (!jwt.empty() && std::isspace(static_cast<unsigned char>(jwt.back()))) jwt.pop_back();
            while (!jwt.empty() && std::isspace(static_cast<unsigned char>(jwt.front()))) jwt.erase(0, 1);
            body = {{"role", _config.k8sRole}, {"jwt", jwt}};
            mount = _config.k8sMountPoint;
        } else if (_config.authMethod == "AWS") {
            AwsCredentials credentials;
            const char* id = std::getenv("AWS_ACCESS_KEY_ID");
            const char* secret = std::getenv("AWS_SECRET_ACCESS_KEY");
            const char* session = std::getenv("AWS_SESSION_TOKEN");
            if (!id || !secret || !*id || !*secret)
                return fail(
                    ErrorCode::Unavailable,
                    "AWS IAM auth needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment");
            credentials = {id, secret, session ? session : ""};
            std::map<std::string, std::string> extra;
            if (!_config.awsIamServerId.empty()) extra["x-vault-aws-iam-server-id"] = _config.awsIamServerId;
            std::string url = _config.awsStsEndpoint;
            if (url.empty() || url.back() != '/') url += "/";
            std::string amzDate = Poco::DateTimeFormatter::format(Poco::DateTime(), "%Y%m%dT%H%M%SZ");
            auto signedRequest =
                archestra::vault::signPost(url, "Action=GetCallerIdentity&Version=2011-06-15", "sts",
                                           _config.awsRegion, credentials, amzDate, extra);
            json headers = json::object();
            for (const auto& [name, value] : signedRequest.headers) headers[name] = json::array({value});
            body = {{"role", _config.awsRole},
                    {"iam_http_request_method", "POST"},
                    {"iam_request_url", base64(signedRequest.url)},
                    {"iam_request_body", base64(signedRequest.body)},
                    {"iam_request_headers", base64(headers.dump())}};
            mount = _config.awsMountPoint;
        } else {
            return fail(ErrorCode::InvalidArgument,
                        "secrets.vault: unknown auth method '" + _config.authMethod + "'");
        }
        VaultReply reply = send("POST", "auth/" + mount + "/login", body, "");
        if (reply.status != 200 || !reply.body.contains("auth") || !reply.body["auth"].is_object()) {
            _token.clear();
            return fail(reply.status == 403 || reply.status == 400 ? ErrorCode::PermissionDenied
                                                                   : ErrorCode::Unavailable,
                        "Vault " + _config.authMethod + " login at auth/" + mount +
                            "/login failed: " + errorsOf(reply));
        }
        adopt(reply.body["auth"], now);
        _host.logger().log(LogLevel::Info, "logged in to Vault with " + _config.authMethod +
                                               " auth (token TTL " + std::to_string(_ttl.count()) + " s)");
        return _token;
    }

    Host& _host;
    VaultConfig _config;
    Poco::URI _uri;
    std::mutex _tokenMutex;
    std::string _token;
    std::chrono::seconds _ttl{0};
    bool _renewable = false;
    Clock::time_point _renewAt{};
};

Status registerFactories(Registrar& registrar) {
    SecretsFactory factory;
    factory.name = "vault";
    factory.description = "secrets in HashiCorp Vault KV v1/v2";
    factory.config_schema_json =
        R"({"type":"object","required":["address","authMethod","kvVersion","secretPath"],
        "properties":{"address":{"type":"string","minLength":1},"authMethod":{"type":"string","enum":["TOKEN","K8S","AWS"]},
        "token":{"type":"string"},"kvVersion":{"type":"integer","enum":[1,2]},"secretPath":{"type":"string","minLength":1},
        "metadataPath":{"type":"string"},"caFile":{"type":"string"},"k8sRole":{"type":"string"},
        "k8sTokenPath":{"type":"string"},"k8sMountPoint":{"type":"string"},"awsRole":{"type":"string"},
        "awsMountPoint":{"type":"string"},"awsRegion":{"type":"string"},"awsStsEndpoint":{"type":"string"},
        "awsIamServerId":{"type":"string"}}})";
    factory.create = [](Host& host,
                        const std::string& config_json) -> Result<std::unique_ptr<SecretsBackend>> {
        json c = json::parse(config_json, nullptr, false);
        if (c.is_discarded()) return fail(ErrorCode::InvalidArgument, "secrets.vault: config is not JSON");
        VaultConfig config;
        config.address = c.value("address", "");
        config.authMethod = c.value("authMethod", "TOKEN");
        config.token = c.value("token", "");
        config.kvVersion = c.value("kvVersion", 2);
        config.secretPath = c.value("secretPath", "");
        config.metadataPath = c.value("metadataPath", "");
        config.caFile = c.value("caFile", "");
        config.k8sRole = c.value("k8sRole", "");
        config.k8sTokenPath = c.value("k8sTokenPath", "/var/run/secrets/kubernetes.io/serviceaccount/token");
        config.k8sMountPoint = c.value("k8sMountPoint", "kubernetes");
        config.awsRole = c.value("awsRole", "");
        config.awsMountPoint = c.value("awsMountPoint", "aws");
        config.awsRegion = c.value("awsRegion", "us-east-1");
        config.awsStsEndpoint = c.value("awsStsEndpoint", "https://sts.amazonaws.com");
        config.awsIamServerId = c.value("awsIamServerId", "");
        if (config.kvVersion == 2 && config.metadataPath.empty())
            return fail(ErrorCode::InvalidArgument, "secrets.vault: metadataPath is required for KV v2");
        if (config.authMethod == "TOKEN" && config.token.empty())
            return fail(ErrorCode::InvalidArgument, "secrets.vault: TOKEN auth needs a token");
        Poco::URI uri(config.address);
        if (uri.getScheme() != "http" && uri.getScheme() != "https")
            return fail(ErrorCode::InvalidArgument,
                        "secrets.vault: address '" + config.address + "' must be an http:// or https:// URL");
        return std::unique_ptr<SecretsBackend>(std::make_unique<VaultSecrets>(host, std::move(config)));
    };
    return registrar.addSecrets(std::move(factory));
}

}  // namespace

ARCHESTRA_PLUGIN(registerFactories)
