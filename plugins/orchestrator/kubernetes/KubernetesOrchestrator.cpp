// orchestrator.kubernetes: runs each MCP server as a pod (plus a Secret for its secret environment values and
// a Service for streamable-HTTP servers) through the Kubernetes REST API, and speaks JSON-RPC to stdio
// servers through the pods/attach WebSocket (channel.k8s.io framing: 0 stdin, 1 stdout, 2 stderr, 3 error).
#include "KubeClient.h"
#include "KubeConfig.h"
#include "KubeResources.h"

#include "archestra/sdk/plugin.h"

#include <Poco/Net/NetException.h>
#include <Poco/URI.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

namespace {

using namespace archestra::sdk;
using archestra::k8s::KubeClient;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxInboxLines = 10000;
constexpr std::size_t kMaxLineBytes = 64 * 1024 * 1024;
constexpr auto kReadyTimeout = std::chrono::seconds(60);
constexpr auto kDeleteTimeout = std::chrono::seconds(30);

std::string encode(const std::string& text) {
    std::string out;
    Poco::URI::encode(text, "?#[]@!$&'()*+,;=/:", out);
    return out;
}

/// One attach session: a single I/O thread owns the WebSocket's reads (TLS objects must not read and write
/// concurrently, so writers take the same mutex only between frames).
class AttachChannel : public McpChannel {
  public:
    AttachChannel(std::unique_ptr<Poco::Net::WebSocket> socket, std::string pod, Host& host)
        : _socket(std::move(socket)), _pod(std::move(pod)), _host(host) {
        _socket->setReceiveTimeout(Poco::Timespan(10, 0));
        _reader = std::thread([this] { readLoop(); });
    }
    ~AttachChannel() override {
        close();
        if (_reader.joinable()) _reader.join();
    }

    Status send(const std::string& line) override {
        std::string frame;
        frame.reserve(line.size() + 2);
        frame += '\0';  // channel 0: stdin
        frame += line;
        frame += '\n';
        std::lock_guard io(_io);
        if (_closed) return fail(ErrorCode::Unavailable, "attach to pod " + _pod + " is closed: " + reason());
        try {
            _socket->sendFrame(frame.data(), static_cast<int>(frame.size()),
                               Poco::Net::WebSocket::FRAME_BINARY);
            return okStatus();
        } catch (const Poco::Exception& error) {
            markClosed("sending to pod " + _pod + " failed: " + error.displayText());
            return fail(ErrorCode::Unavailable, reason());
        }
    }

    Result<std::optional<std::string>> receive(std::int64_t timeout_ms) override {
        std::unique_lock lock(_mutex);
        _arrived.wait_for(lock, std::chrono::milliseconds(std::max<std::int64_t>(timeout_ms, 0)),
                          [this] { return !_inbox.empty() || _closed; });
        if (!_inbox.empty()) {
            std::string line = std::move(_inbox.front());
            _inbox.pop_front();
            return std::optional<std::string>(std::move(line));
        }
        if (_closed) return fail(ErrorCode::Unavailable, "attach to pod " + _pod + " ended: " + _reason);
        return std::optional<std::string>();
    }

    void close() noexcept override {
        bool wasOpen = !_closed.exchange(true);
        if (wasOpen) {
            std::lock_guard lock(_mutex);
            if (_reason.empty()) _reason = "closed by the platform";
        }
        _arrived.notify_all();
    }

  private:
    std::string reason() {
        std::lock_guard lock(_mutex);
        return _reason;
    }

    void markClosed(const std::string& why) {
        {
            std::lock_guard lock(_mutex);
            if (_reason.empty()) _reason = why;
        }
        _closed = true;
        _arrived.notify_all();
    }

    void readLoop() {
        while (!_closed) {
            try {
                // Wait for data without holding the I/O mutex, so writers get through meanwhile.
                if (_socket->available() <= 0 &&
                    !_socket->poll(Poco::Timespan(0, 100 * 1000), Poco::Net::Socket::SELECT_READ))
                    continue;
                int flags = 0;
                int n;
                Poco::Buffer<char> buffer(0);
                {
                    std::lock_guard io(_io);
                    n = _socket->receiveFrame(buffer, flags);
                    int opcode = flags & Poco::Net::WebSocket::FRAME_OP_BITMASK;
                    if (opcode == Poco::Net::WebSocket::FRAME_OP_PING) {
                        _socket->sendFrame(buffer.begin(), n,
                                           static_cast<int>(Poco::Net::WebSocket::FRAME_FLAG_FIN) |
                                               static_cast<int>(Poco::Net::WebSocket::FRAME_OP_PONG));
                        continue;
                    }
                    if (n == 0 && flags == 0) {
                        markClosed("the API server closed the connection");
                        break;
                    }
                    if (opcode == Poco::Net::WebSocket::FRAME_OP_CLOSE) {
                        markClosed("the API server closed the attach session");
                        break;
                    }
                }
                if (n <= 0) continue;
                handleFrame(static_cast<unsigned char>(buffer[0]), std::string(buffer.begin() + 1, n - 1));
            } catch (const Poco::TimeoutException&) {
                continue;
            } catch (const Poco::Exception& error) {
                markClosed("reading from pod " + _pod + " failed: " + error.displayText());
                break;
            }
        }
        try {
            std::lock_guard io(_io);
            _socket->shutdown();
        } catch (...) {
        }
    }

    void handleFrame(unsigned char channel, const std::string& data) {
        if (channel == 1) {
            std::lock_guard lock(_mutex);
            _partial += data;
            for (std::size_t nl = _partial.find('\n'); nl != std::string::npos; nl = _partial.find('\n')) {
                std::string line = _partial.substr(0, nl);
                _partial.erase(0, nl + 1);
                if (!line.empty() && line.back() == '\r') line.pop_back();
                std::size_t start = line.find_first_not_of(" \t");
                if (start == std::string::npos || line[start] != '{') continue;  // non-JSON output is skipped
                if (_inbox.size() >= kMaxInboxLines) _inbox.pop_front();
                _inbox.push_back(line.substr(start));
            }
            if (_partial.size() > kMaxLineBytes) _partial.clear();
            _arrived.notify_all();
        } else if (channel == 2) {
            // stderr also reaches the pod log, which is what /logs reads; keep it out of the JSON-RPC stream.
        } else if (channel == 3) {
            auto status = json::parse(data, nullptr, false);
            std::string message = status.is_object() ? status.value("message", std::string()) : data;
            if (status.is_object() && status.value("status", std::string()) == "Success")
                markClosed("the container's process ended");
            else
                markClosed("the API server reported: " + (message.empty() ? data : message));
        }
    }

    std::unique_ptr<Poco::Net::WebSocket> _socket;
    std::string _pod;
    Host& _host;
    std::mutex _io;
    std::mutex _mutex;
    std::condition_variable _arrived;
    std::deque<std::string> _inbox;
    std::string _partial;
    std::string _reason;
    std::atomic<bool> _closed{false};
    std::thread _reader;
};

struct ServerEntry {
    McpServerSpec spec;
    std::string pod;
    std::string endpoint;  ///< streamable-http only
};

class KubernetesOrchestrator : public Orchestrator {
  public:
    KubernetesOrchestrator(Host& host, archestra::k8s::KubeConfig config, std::string ns,
                           std::string baseImage)
        : _host(host), _client(std::move(config)), _ns(std::move(ns)), _baseImage(std::move(baseImage)) {}

    /// Lists pods once so a misconfiguration shows in the log at start-up (it does not stop the plugin: the
    /// cluster may come later).
    void probe() {
        try {
            auto res = _client.request("GET", base() + "/pods?limit=1");
            if (res.status != 200)
                _host.logger().log(LogLevel::Warning, "orchestrator.kubernetes: listing pods in namespace '" +
                                                          _ns + "' failed: HTTP " +
                                                          std::to_string(res.status) + " " + res.message());
            else
                _host.logger().log(LogLevel::Info,
                                   "orchestrator.kubernetes: API server " + _client.config().server + " (" +
                                       _client.config().source + "), namespace '" + _ns + "'");
        } catch (const std::exception& error) {
            _host.logger().log(LogLevel::Warning, std::string("orchestrator.kubernetes: ") + error.what());
        }
    }

    Result<McpServerStatus> start(const McpServerSpec& spec) override {
        try {
            return startOrThrow(spec);
        } catch (const archestra::k8s::KubeUnavailable& error) {
            return fail(ErrorCode::Unavailable, error.what());
        } catch (const std::exception& error) {
            return fail(ErrorCode::Internal, error.what());
        }
    }

    Status stop(const std::string& server_id) override {
        try {
            return stopOrThrow(server_id);
        } catch (const archestra::k8s::KubeUnavailable& error) {
            return fail(ErrorCode::Unavailable, error.what());
        } catch (const std::exception& error) {
            return fail(ErrorCode::Internal, error.what());
        }
    }

    Result<McpServerStatus> restart(const McpServerSpec& spec) override {
        auto stopped = stop(spec.server_id);
        if (!stopped.ok() && stopped.error().code != ErrorCode::NotFound) return stopped.error();
        return start(spec);
    }

    Result<McpServerStatus> status(const std::string& server_id) override {
        try {
            auto pod = findPod(server_id);
            if (!pod) {
                McpServerStatus s;
                s.state = McpServerState::NotCreated;
                s.message = "Pod not created";
                return s;
            }
            auto s = archestra::k8s::podStatus(*pod);
            std::lock_guard lock(_mutex);
            if (auto it = _servers.find(server_id);
                it != _servers.end() && s.state == McpServerState::Running)
                s.endpoint_url = it->second.endpoint;
            return s;
        } catch (const std::exception& error) {
            return fail(ErrorCode::Unavailable, error.what());
        }
    }

    Result<std::string> logs(const std::string& server_id, int lines) override {
        try {
            auto pod = findPod(server_id);
            if (!pod) return fail(ErrorCode::NotFound, "MCP server '" + server_id + "' has no pod");
            std::string name = pod->value("/metadata/name"_json_pointer, std::string());
            auto res =
                _client.request("GET", base() + "/pods/" + encode(name) +
                                           "/log?container=mcp-server&tailLines=" + std::to_string(lines));
            if (res.status == 200) return res.body;
            // A container that never started (e.g. its image cannot be pulled) has no log yet.
            if (res.status == 400) return std::string();
            return fail(ErrorCode::Unavailable,
                        "logs of pod " + name + ": HTTP " + std::to_string(res.status) + " " + res.message());
        } catch (const std::exception& error) {
            return fail(ErrorCode::Unavailable, error.what());
        }
    }

    Result<std::unique_ptr<McpChannel>> connect(const std::string& server_id) override {
        try {
            // The pod must run before attach can reach its process; fail at once on a state that will not
            // heal.
            auto deadline = Clock::now() + kReadyTimeout;
            std::string name;
            while (true) {
                auto pod = findPod(server_id);
                if (!pod) return fail(ErrorCode::NotFound, "MCP server '" + server_id + "' has no pod");
                auto s = archestra::k8s::podStatus(*pod);
                name = s.runtime_name;
                if (s.state == McpServerState::Running) break;
                if (s.state == McpServerState::Failed)
                    return fail(ErrorCode::Unavailable, "pod " + name + " failed: " + s.error);
                if (s.state == McpServerState::Succeeded)
                    return fail(ErrorCode::Unavailable, "pod " + name + " has exited");
                if (Clock::now() > deadline)
                    return fail(ErrorCode::Unavailable, "pod " + name + " did not start running within 60 s");
                std::this_thread::sleep_for(std::chrono::milliseconds(500));
            }
            {
                // A streamable-HTTP server is spoken to through its Service, not attach: tell the caller so
                // (its status now carries the endpoint, and the registry retries over HTTP).
                std::lock_guard lock(_mutex);
                if (auto it = _servers.find(server_id);
                    it != _servers.end() && it->second.spec.transport == "streamable-http")
                    return fail(ErrorCode::Unavailable, "pod " + name + " serves streamable HTTP at '" +
                                                            it->second.endpoint + "', not stdio");
            }
            std::string chosen;
            auto socket =
                _client.openWebSocket(base() + "/pods/" + encode(name) +
                                          "/attach?container=mcp-server&stdin=true&stdout=true&stderr=true"
                                          "&tty=false",
                                      "v4.channel.k8s.io,channel.k8s.io", chosen);
            if (chosen != "v4.channel.k8s.io" && chosen != "channel.k8s.io")
                return fail(ErrorCode::Unavailable, "pod " + name +
                                                        ": the API server chose the attach protocol '" +
                                                        chosen + "', expected (v4.)channel.k8s.io");
            return std::unique_ptr<McpChannel>(
                std::make_unique<AttachChannel>(std::move(socket), name, _host));
        } catch (const std::exception& error) {
            return fail(ErrorCode::Unavailable, error.what());
        }
    }

  private:
    std::string base() const { return "/api/v1/namespaces/" + encode(_ns); }

    static json parse(const KubeClient::Response& res) {
        auto parsed = json::parse(res.body, nullptr, false);
        return parsed.is_discarded() ? json::object() : parsed;
    }

    [[noreturn]] static void failed(const std::string& what, const KubeClient::Response& res) {
        throw std::runtime_error(what + ": HTTP " + std::to_string(res.status) + " " + res.message());
    }

    /// The pod of `server_id`: by the remembered name, else by its label (after a platform restart).
    std::optional<json> findPod(const std::string& server_id) {
        std::string name;
        {
            std::lock_guard lock(_mutex);
            if (auto it = _servers.find(server_id); it != _servers.end()) name = it->second.pod;
        }
        if (!name.empty()) {
            auto res = _client.request("GET", base() + "/pods/" + encode(name));
            if (res.status == 200) return parse(res);
            if (res.status != 404) failed("reading pod " + name, res);
            return std::nullopt;
        }
        auto pods = listByLabel("pods", server_id);
        if (pods.empty()) return std::nullopt;
        return pods.front();
    }

    std::vector<json> listByLabel(const std::string& kind, const std::string& server_id) {
        auto res = _client.request(
            "GET", base() + "/" + kind +
                       "?labelSelector=" + encode("mcp-server-id=" + archestra::k8s::labelValue(server_id)));
        if (res.status != 200) failed("listing " + kind, res);
        std::vector<json> out;
        json body = parse(res);
        if (body.contains("items") && body["items"].is_array())
            for (const auto& item : body["items"]) out.push_back(item);
        return out;
    }

    Result<McpServerStatus> startOrThrow(const McpServerSpec& spec) {
        namespace k8s = archestra::k8s;
        std::string pod = k8s::podName(spec);
        bool inCluster = _client.config().inCluster;

        // Secret first: the pod's secretKeyRefs need it. An existing one is replaced with the current values.
        json secret = k8s::buildSecret(spec);
        std::string secretName = k8s::secretName(spec.server_id);
        auto created = _client.request("POST", base() + "/secrets", secret.dump());
        if (created.status == 409) {
            created = _client.request("PUT", base() + "/secrets/" + encode(secretName), secret.dump());
            if (created.status != 200) failed("replacing secret " + secretName, created);
        } else if (created.status != 201 && created.status != 200) {
            failed("creating secret " + secretName, created);
        }

        auto existing = _client.request("GET", base() + "/pods/" + encode(pod));
        bool create = true;
        if (existing.status == 200) {
            auto s = k8s::podStatus(parse(existing));
            if (s.state == McpServerState::Failed || s.state == McpServerState::Succeeded) {
                deletePod(pod);  // a failed pod is replaced
            } else {
                create = false;  // running or starting: reuse it
            }
        } else if (existing.status != 404) {
            failed("reading pod " + pod, existing);
        }
        json podBody;
        if (create) {
            auto res = _client.request("POST", base() + "/pods", k8s::buildPod(spec, _baseImage).dump());
            if (res.status != 201 && res.status != 200 && res.status != 409)
                failed("creating pod " + pod, res);
            podBody = parse(res);
            _host.logger().log(LogLevel::Info, "orchestrator.kubernetes: created pod " + pod +
                                                   " for MCP server '" + spec.name + "'");
        } else {
            podBody = parse(existing);
        }

        std::string endpoint;
        if (spec.transport == "streamable-http") {
            std::string service = k8s::serviceName(pod);
            auto res =
                _client.request("POST", base() + "/services", k8s::buildService(spec, inCluster).dump());
            if (res.status == 409) res = _client.request("GET", base() + "/services/" + encode(service));
            if (res.status != 200 && res.status != 201) failed("creating service " + service, res);
            endpoint = k8s::serviceEndpoint(spec, _ns, inCluster, parse(res));
        }
        {
            std::lock_guard lock(_mutex);
            _servers[spec.server_id] = ServerEntry{spec, pod, endpoint};
        }
        auto s = k8s::podStatus(podBody);
        if (s.runtime_name.empty()) s.runtime_name = pod;
        if (s.state == McpServerState::Running) s.endpoint_url = endpoint;
        return s;
    }

    /// Deletes the pod and waits until the API no longer returns it.
    void deletePod(const std::string& pod) {
        auto res = _client.request("DELETE", base() + "/pods/" + encode(pod));
        if (res.status == 404) return;
        if (res.status != 200 && res.status != 202) failed("deleting pod " + pod, res);
        auto deadline = Clock::now() + kDeleteTimeout;
        while (Clock::now() < deadline) {
            if (_client.request("GET", base() + "/pods/" + encode(pod)).status == 404) return;
            std::this_thread::sleep_for(std::chrono::milliseconds(250));
        }
        throw std::runtime_error("pod " + pod + " was still there 30 s after its deletion");
    }

    Status stopOrThrow(const std::string& server_id) {
        bool known;
        {
            std::lock_guard lock(_mutex);
            known = _servers.erase(server_id) > 0;
        }
        bool found = known;
        for (const auto& pod : listByLabel("pods", server_id)) {
            found = true;
            deletePod(pod.value("/metadata/name"_json_pointer, std::string()));
        }
        for (const auto& service : listByLabel("services", server_id)) {
            found = true;
            std::string name = service.value("/metadata/name"_json_pointer, std::string());
            auto res = _client.request("DELETE", base() + "/services/" + encode(name));
            if (res.status != 200 && res.status != 202 && res.status != 404)
                failed("deleting service " + name, res);
        }
        std::string secret = archestra::k8s::secretName(server_id);
        auto res = _client.request("DELETE", base() + "/secrets/" + encode(secret));
        if (res.status == 200 || res.status == 202)
            found = true;
        else if (res.status != 404)
            failed("deleting secret " + secret, res);
        if (!found) return fail(ErrorCode::NotFound, "MCP server '" + server_id + "' has no pod");
        return okStatus();
    }

    Host& _host;
    KubeClient _client;
    std::string _ns;
    std::string _baseImage;
    std::mutex _mutex;
    std::map<std::string, ServerEntry> _servers;
};

Status registerFactories(Registrar& registrar) {
    OrchestratorFactory factory;
    factory.name = "kubernetes";
    factory.description =
        "Runs MCP servers as Kubernetes pods (attach for stdio, a Service for HTTP servers)";
    factory.config_schema_json = R"({"type":"object","properties":{
        "namespace":{"type":"string"},"baseImage":{"type":"string"},
        "loadKubeconfigFromCurrentCluster":{"type":"boolean"},"kubeconfig":{"type":"string"}}})";
    factory.create = [](Host& host, const std::string& config_json) -> Result<std::unique_ptr<Orchestrator>> {
        auto config = json::parse(config_json, nullptr, false);
        if (!config.is_object()) config = json::object();
        try {
            auto inputs = archestra::k8s::KubeConfigInputs::fromEnvironment(
                config.value("loadKubeconfigFromCurrentCluster", true),
                config.value("kubeconfig", std::string()));
            auto kube = archestra::k8s::loadKubeConfig(inputs);
            std::string ns = config.value("namespace", std::string());
            if (ns.empty()) ns = kube.contextNamespace.empty() ? "default" : kube.contextNamespace;
            std::string image = config.value("baseImage", std::string());
            auto orchestrator = std::make_unique<KubernetesOrchestrator>(host, std::move(kube), ns, image);
            orchestrator->probe();
            return std::unique_ptr<Orchestrator>(std::move(orchestrator));
        } catch (const std::exception& error) {
            return fail(ErrorCode::InvalidArgument, error.what());
        }
    };
    return registrar.addOrchestrator(std::move(factory));
}

}  // namespace

ARCHESTRA_PLUGIN(registerFactories)
