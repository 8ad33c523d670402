// Secrets backend selection: ARCHESTRA_SECRETS_MANAGER, the enterprise flag and the Vault variables.
#include "core/secrets/SecretsSelection.h"

#include "core/config/Settings.h"

#include <Poco/String.h>
#include <nlohmann/json.hpp>

#include <vector>

namespace archestra::secrets {

namespace {

SecretsSelection databaseBackend(const std::string& requested, const std::string& authSecret,
                                 std::optional<std::string> fallbackReason) {
    SecretsSelection selection;
    selection.requested = requested;
    selection.plugin = "secrets.db";
    selection.factory = "db";
    selection.configJson = nlohmann::json{{"authSecret", authSecret}}.dump();
    selection.fallbackReason = std::move(fallbackReason);
    return selection;
}

std::string joined(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
    return out;
}

}  // namespace

SecretsSelection selectSecretsBackend(const config::Settings& settings, const std::string& authSecret) {
    if (Poco::toUpper(settings.get("ARCHESTRA_SECRETS_MANAGER")) != "VAULT")
        return databaseBackend("DB", authSecret, std::nullopt);

    if (!settings.enterprise())
        return databaseBackend("Vault", authSecret,
                               "ARCHESTRA_SECRETS_MANAGER=Vault needs the enterprise licence "
                               "(ARCHESTRA_ENTERPRISE_LICENSE_ACTIVATED=true)");

    const std::string prefix = "ARCHESTRA_HASHICORP_VAULT_";
    auto get = [&](const std::string& suffix) { return settings.get(prefix + suffix); };
    std::string method = Poco::toUpper(get("AUTH_METHOD"));
    if (method.empty()) method = "TOKEN";
    std::vector<std::string> missing;
    if (get("ADDR").empty()) missing.push_back(prefix + "ADDR (or HASHICORP_VAULT_ADDR)");
    if (method == "TOKEN" && get("TOKEN").empty())
        missing.push_back(prefix + "TOKEN (or HASHICORP_VAULT_TOKEN)");
    if (method == "K8S" && get("K8S_ROLE").empty()) missing.push_back(prefix + "K8S_ROLE");
    if (method == "AWS" && get("AWS_ROLE").empty()) missing.push_back(prefix + "AWS_ROLE");
    if (!missing.empty())
        return databaseBackend(
            "Vault", authSecret,
            "Vault (auth method " + method + ") is not configured: missing " + joined(missing));

    int kvVersion = get("KV_VERSION") == "1" ? 1 : 2;
    std::string secretPath = get("SECRET_PATH");
    if (secretPath.empty()) secretPath = kvVersion == 2 ? "secret/data/archestra" : "secret/archestra";
    std::string metadataPath = get("SECRET_METADATA_PATH");
    if (metadataPath.empty() && kvVersion == 2) {
        metadataPath = secretPath;
        auto at = metadataPath.find("/data/");
        if (at != std::string::npos) {
            metadataPath.replace(at, 6, "/metadata/");
        } else if (metadataPath.size() >= 5 &&
                   metadataPath.compare(metadataPath.size() - 5, 5, "/data") == 0) {
            metadataPath.replace(metadataPath.size() - 5, 5, "/metadata");
        }
    }
    nlohmann::json config = {{"address", get("ADDR")},
                             {"authMethod", method},
                             {"kvVersion", kvVersion},
                             {"secretPath", secretPath},
                             {"metadataPath", metadataPath},
                             {"k8sRole", get("K8S_ROLE")},
                             {"k8sTokenPath", get("K8S_TOKEN_PATH")},
                             {"k8sMountPoint", get("K8S_MOUNT_POINT")},
                             {"awsRole", get("AWS_ROLE")},
                             {"awsMountPoint", get("AWS_MOUNT_POINT")},
                             {"awsRegion", get("AWS_REGION")},
                             {"awsStsEndpoint", get("AWS_STS_ENDPOINT")},
                             {"awsIamServerId", get("AWS_IAM_SERVER_ID")},
                             {"caFile", get("CA_FILE")}};
    if (method == "TOKEN") config["token"] = get("TOKEN");
    SecretsSelection selection;
    selection.requested = "Vault";
    selection.plugin = "secrets.vault";
    selection.factory = "vault";
    selection.configJson = config.dump();
    return selection;
}

std::string sanitizeSecretName(const std::string& name) {
    std::string out;
    for (char c : name) {
        bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
        out.push_back(keep ? c : '_');
    }
    if (out.empty()) return "secret";
    char first = out.front();
    if (!((first >= 'A' && first <= 'Z') || (first >= 'a' && first <= 'z') || first == '_'))
        out.insert(0, "_");
    if (out.size() > 64) out.resize(64);
    return out;
}

}  // namespace archestra::secrets
