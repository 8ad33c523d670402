// Kubernetes cluster configuration loading: service account files or kubeconfig YAML (parsed with yaml-cpp).
#include "KubeConfig.h"

#include <Poco/Base64Decoder.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace archestra::k8s {

namespace {

std::string envOr(const char* name) {
    const char* value = std::getenv(name);
    return value ? value : "";
}

bool readable(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return !path.empty() && in.good();
}

std::string readFile(const std::string& path, const std::string& what) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw KubeConfigError("cannot read " + what + " '" + path + "'");
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

std::string trim(std::string text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
    std::size_t start = 0;
    while (start < text.size() && std::isspace(static_cast<unsigned char>(text[start]))) ++start;
    return text.substr(start);
}

std::string base64Decode(const std::string& text, const std::string& field) {
    try {
        std::istringstream in(text);
        Poco::Base64Decoder decoder(in);
        std::ostringstream out;
        out << decoder.rdbuf();
        std::string decoded = out.str();
        if (decoded.empty() && !trim(text).empty()) throw KubeConfigError("");
        return decoded;
    } catch (const std::exception&) {
        throw KubeConfigError(field + ": not valid base64");
    }
}

std::string resolvePath(const std::string& path, const std::string& baseDir) {
    if (path.empty() || path.front() == '/' || baseDir.empty()) return path;
    return (std::filesystem::path(baseDir) / path).string();
}

/// The `name`d entry of a kubeconfig list (clusters, users, contexts), or an undefined node.
YAML::Node namedEntry(const YAML::Node& list, const std::string& name) {
    if (!list || !list.IsSequence()) return YAML::Node(YAML::NodeType::Undefined);
    for (const auto& item : list)
        if (item["name"] && item["name"].as<std::string>("") == name) return item;
    return YAML::Node(YAML::NodeType::Undefined);
}

std::string text(const YAML::Node& node, const char* key) {
    if (!node || !node.IsMap() || !node[key] || !node[key].IsScalar()) return "";
    return node[key].as<std::string>("");
}

KubeConfig loadInCluster(const KubeConfigInputs& inputs) {
    KubeConfig config;
    std::string host = inputs.serviceHost;
    if (host.find(':') != std::string::npos) host = "[" + host + "]";  // IPv6 literal
    config.server = "https://" + host + ":" + inputs.servicePort;
    config.token = trim(readFile(inputs.serviceAccountDir + "/token", "service account token"));
    if (config.token.empty())
        throw KubeConfigError("service account token '" + inputs.serviceAccountDir + "/token' is empty");
    std::string ca = inputs.serviceAccountDir + "/ca.crt";
    if (readable(ca)) config.caPem = readFile(ca, "service account CA");
    if (std::string ns = inputs.serviceAccountDir + "/namespace"; readable(ns))
        config.contextNamespace = trim(readFile(ns, "service account namespace"));
    config.inCluster = true;
    config.source = "in-cluster";
    return config;
}

KubeConfig loadFile(const std::string& path) {
    std::string body = readFile(path, "kubeconfig");
    return parseKubeConfig(body, std::filesystem::path(path).parent_path().string(), path);
}

}  // namespace

KubeConfigInputs KubeConfigInputs::fromEnvironment(bool loadFromCluster, const std::string& explicitPath) {
    KubeConfigInputs inputs;
    inputs.loadFromCluster = loadFromCluster;
    inputs.explicitPath = explicitPath;
    inputs.kubeconfigEnv = envOr("KUBECONFIG");
    inputs.home = envOr("HOME");
    inputs.serviceHost = envOr("KUBERNETES_SERVICE_HOST");
    inputs.servicePort = envOr("KUBERNETES_SERVICE_PORT");
    return inputs;
}

bool inClusterAvailable(const KubeConfigInputs& inputs) {
    return !inputs.serviceHost.empty() && !inputs.servicePort.empty() &&
           readable(inputs.serviceAccountDir + "/token");
}

KubeConfig loadKubeConfig(const KubeConfigInputs& inputs) {
    if (inputs.loadFromCluster && inClusterAvailable(inputs)) return loadInCluster(inputs);
    if (!inputs.explicitPath.empty()) {
        if (!readable(inputs.explicitPath))
            throw KubeConfigError("ARCHESTRA_ORCHESTRATOR_KUBECONFIG: cannot read kubeconfig '" +
                                  inputs.explicitPath + "'");
        return loadFile(inputs.explicitPath);
    }
    std::stringstream list(inputs.kubeconfigEnv);
    for (std::string item; std::getline(list, item, ':');)
        if (readable(item)) return loadFile(item);
    if (!inputs.home.empty() && readable(inputs.home + "/.kube/config"))
        return loadFile(inputs.home + "/.kube/config");
    if (inClusterAvailable(inputs)) return loadInCluster(inputs);
    throw KubeConfigError(
        "no Kubernetes configuration found (in-cluster service account, ARCHESTRA_ORCHESTRATOR_KUBECONFIG, "
        "$KUBECONFIG or ~/.kube/config)");
}

KubeConfig parseKubeConfig(const std::string& yamlText, const std::string& baseDir,
                           const std::string& source) {
    YAML::Node root;
    try {
        root = YAML::Load(yamlText);
    } catch (const YAML::Exception& error) {
        throw KubeConfigError("kubeconfig '" + source + "': not valid YAML: " + error.what());
    }
    if (!root || !root.IsMap()) throw KubeConfigError("kubeconfig '" + source + "': expected a YAML mapping");
    auto where = [&](const std::string& field) { return "kubeconfig '" + source + "': " + field; };

    std::string contextName = text(root, "current-context");
    YAML::Node contexts = root["contexts"];
    YAML::Node context;
    if (!contextName.empty()) {
        context = namedEntry(contexts, contextName);
        if (!context)
            throw KubeConfigError(where("current-context '" + contextName + "' is not in contexts"));
    } else if (contexts && contexts.IsSequence() && contexts.size() == 1) {
        context = contexts[0];  // a single context needs no current-context
    } else {
        throw KubeConfigError(where("current-context is not set"));
    }
    YAML::Node contextBody = context["context"];
    std::string clusterName = text(contextBody, "cluster");
    std::string userName = text(contextBody, "user");
    YAML::Node cluster = namedEntry(root["clusters"], clusterName)["cluster"];
    if (!cluster)
        throw KubeConfigError(
            where("cluster '" + clusterName + "' of the current context is not in clusters"));

    KubeConfig config;
    config.source = source;
    config.contextNamespace = text(contextBody, "namespace");
    config.server = text(cluster, "server");
    if (config.server.empty())
        throw KubeConfigError(where("clusters[" + clusterName + "].cluster.server is empty"));
    while (!config.server.empty() && config.server.back() == '/') config.server.pop_back();
    if (config.server.rfind("https://", 0) != 0 && config.server.rfind("http://", 0) != 0)
        throw KubeConfigError(where("clusters[" + clusterName + "].cluster.server '" + config.server +
                                    "': expected an https:// or http:// URL"));
    std::string insecure = text(cluster, "insecure-skip-tls-verify");
    config.insecureSkipTlsVerify = insecure == "true";
    if (std::string data = text(cluster, "certificate-authority-data"); !data.empty())
        config.caPem =
            base64Decode(data, where("clusters[" + clusterName + "].cluster.certificate-authority-data"));
    else if (std::string file = text(cluster, "certificate-authority"); !file.empty())
        config.caPem = readFile(resolvePath(file, baseDir), where("certificate-authority file"));

    if (!userName.empty()) {
        YAML::Node user = namedEntry(root["users"], userName)["user"];
        if (!user)
            throw KubeConfigError(where("user '" + userName + "' of the current context is not in users"));
        config.token = text(user, "token");
        if (config.token.empty())
            if (std::string file = text(user, "tokenFile"); !file.empty())
                config.token = trim(readFile(resolvePath(file, baseDir), where("tokenFile")));
        std::string field = "users[" + userName + "].user.";
        if (std::string data = text(user, "client-certificate-data"); !data.empty())
            config.clientCertPem = base64Decode(data, where(field + "client-certificate-data"));
        else if (std::string file = text(user, "client-certificate"); !file.empty())
            config.clientCertPem = readFile(resolvePath(file, baseDir), where(field + "client-certificate"));
        if (std::string data = text(user, "client-key-data"); !data.empty())
            config.clientKeyPem = base64Decode(data, where(field + "client-key-data"));
        else if (std::string file = text(user, "client-key"); !file.empty())
            config.clientKeyPem = readFile(resolvePath(file, baseDir), where(field + "client-key"));
        if (config.clientCertPem.empty() != config.clientKeyPem.empty())
            throw KubeConfigError(where(field + "client-certificate and client-key must be given together"));
        if (user["exec"] && config.token.empty() && config.clientCertPem.empty())
            throw KubeConfigError(where(field + "exec credential plugins are not supported; use a token or a "
                                                "client certificate"));
    }
    return config;
}

}  // namespace archestra::k8s
