// Kubernetes object bodies for MCP servers and the reading of pod status (see reference-ops.md §6).
#include "KubeResources.h"

#include <Poco/Base64Encoder.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <sstream>

namespace archestra::k8s {

using nlohmann::json;

namespace {

std::string base64(const std::string& value) {
    std::ostringstream out;
    Poco::Base64Encoder encoder(out);
    encoder.rdbuf()->setLineLength(0);  // one line: the API rejects embedded newlines in data values
    encoder << value;
    encoder.close();
    return out.str();
}

bool alnum(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0;
}

json labels(const sdk::McpServerSpec& spec) {
    return {{"app", "mcp-server"},
            {"mcp-server-id", labelValue(spec.server_id)},
            {"mcp-server-name", labelValue(spec.name)}};
}

}  // namespace

std::string rfc1123(const std::string& text) {
    std::string out;
    for (char c : text) {
        unsigned char u = static_cast<unsigned char>(c);
        char lower = static_cast<char>(std::tolower(u));
        if (std::isspace(u)) lower = '-';
        if (!(std::isalnum(static_cast<unsigned char>(lower)) || lower == '-' || lower == '.')) continue;
        if (!std::isalnum(static_cast<unsigned char>(lower)) && !out.empty() && !alnum(out.back()))
            continue;  // collapse runs of '-' and '.'
        out += lower;
    }
    while (!out.empty() && !alnum(out.back())) out.pop_back();
    std::size_t start = 0;
    while (start < out.size() && !alnum(out[start])) ++start;
    return out.substr(start);
}

std::string labelValue(const std::string& text) {
    std::string out;
    for (char c : text) out += alnum(c) || c == '.' || c == '_' || c == '-' ? c : '-';
    if (out.size() > 63) out.resize(63);
    while (!out.empty() && !alnum(out.back())) out.pop_back();
    std::size_t start = 0;
    while (start < out.size() && !alnum(out[start])) ++start;
    return out.substr(start);
}

std::string podName(const sdk::McpServerSpec& spec) {
    std::string name = rfc1123(spec.name);
    if (name.empty()) name = rfc1123(spec.server_id);
    std::string pod = "mcp-" + name;
    if (pod.size() > 253) pod.resize(253);
    while (!alnum(pod.back())) pod.pop_back();
    return pod;
}

std::string secretName(const std::string& serverId) {
    return "mcp-server-" + serverId + "-secrets";
}

std::string serviceName(const std::string& pod) {
    return pod + "-service";
}

json buildPod(const sdk::McpServerSpec& spec, const std::string& baseImage) {
    std::set<std::string> secretKeys(spec.secret_env_keys.begin(), spec.secret_env_keys.end());
    json env = json::array();
    for (const auto& [key, value] : spec.env) {
        if (secretKeys.count(key))
            env.push_back(
                {{"name", key},
                 {"valueFrom", {{"secretKeyRef", {{"name", secretName(spec.server_id)}, {"key", key}}}}}});
        else
            env.push_back({{"name", key}, {"value", value}});
    }
    json container = {{"name", "mcp-server"},
                      {"image", spec.image.empty() ? baseImage : spec.image},
                      {"env", env},
                      {"stdin", true},
                      {"tty", false}};
    if (!spec.command.empty()) container["command"] = json::array({spec.command});
    if (!spec.arguments.empty()) container["args"] = spec.arguments;
    if (spec.transport == "streamable-http")
        container["ports"] = json::array({{{"containerPort", spec.http_port}, {"protocol", "TCP"}}});
    return {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata", {{"name", podName(spec)}, {"labels", labels(spec)}}},
            {"spec", {{"containers", json::array({container})}, {"restartPolicy", "Always"}}}};
}

json buildSecret(const sdk::McpServerSpec& spec) {
    json data = json::object();
    for (const auto& key : spec.secret_env_keys)
        if (auto it = spec.env.find(key); it != spec.env.end()) data[key] = base64(it->second);
    return {{"apiVersion", "v1"},
            {"kind", "Secret"},
            {"metadata", {{"name", secretName(spec.server_id)}, {"labels", labels(spec)}}},
            {"type", "Opaque"},
            {"data", data}};
}

json buildService(const sdk::McpServerSpec& spec, bool inCluster) {
    return {
        {"apiVersion", "v1"},
        {"kind", "Service"},
        {"metadata", {{"name", serviceName(podName(spec))}, {"labels", labels(spec)}}},
        {"spec",
         {{"selector", {{"app", "mcp-server"}, {"mcp-server-id", labelValue(spec.server_id)}}},
          {"ports",
           json::array({{{"port", spec.http_port}, {"targetPort", spec.http_port}, {"protocol", "TCP"}}})},
          {"type", inCluster ? "ClusterIP" : "NodePort"}}}};
}

std::string serviceEndpoint(const sdk::McpServerSpec& spec, const std::string& ns, bool inCluster,
                            const json& service) {
    std::string path = spec.http_path.empty() ? "/mcp" : spec.http_path;
    if (inCluster)
        return "http://" + serviceName(podName(spec)) + "." + ns +
               ".svc.cluster.local:" + std::to_string(spec.http_port) + path;
    int nodePort = 0;
    try {
        nodePort = service.at("spec").at("ports").at(0).value("nodePort", 0);
    } catch (const std::exception&) {
    }
    if (nodePort == 0) return "";
    return "http://localhost:" + std::to_string(nodePort) + path;
}

sdk::McpServerStatus podStatus(const json& pod) {
    static const std::set<std::string> fatal = {
        "CrashLoopBackOff",     "ImagePullBackOff",  "ErrImagePull",    "CreateContainerConfigError",
        "CreateContainerError", "RunContainerError", "InvalidImageName"};
    sdk::McpServerStatus status;
    status.runtime_name = pod.value("/metadata/name"_json_pointer, std::string());
    const json empty = json::object();
    const json& st = pod.contains("status") && pod["status"].is_object() ? pod["status"] : empty;
    std::string phase = st.value("phase", std::string("Pending"));
    if (st.contains("containerStatuses") && st["containerStatuses"].is_array()) {
        for (const auto& container : st["containerStatuses"]) {
            const json& state = container.value("state", json::object());
            if (state.contains("waiting") && state["waiting"].is_object()) {
                std::string reason = state["waiting"].value("reason", std::string());
                if (fatal.count(reason)) {
                    status.state = sdk::McpServerState::Failed;
                    status.message = "Pod failed";
                    std::string message = state["waiting"].value("message", std::string());
                    status.error = reason + (message.empty() ? "" : ": " + message);
                    return status;
                }
            }
        }
    }
    if (phase == "Running") {
        status.state = sdk::McpServerState::Running;
        status.message = "Pod is running";
    } else if (phase == "Succeeded") {
        status.state = sdk::McpServerState::Succeeded;
        status.message = "Pod succeeded";
    } else if (phase == "Failed") {
        status.state = sdk::McpServerState::Failed;
        status.message = "Pod failed";
        std::string reason = st.value("reason", std::string());
        std::string message = st.value("message", std::string());
        status.error = reason.empty() && message.empty() ? "Pod failed"
                                                         : reason + (message.empty() ? "" : ": " + message);
    } else {
        status.state = sdk::McpServerState::Pending;
        status.message = "Pod is starting";
    }
    return status;
}

}  // namespace archestra::k8s
