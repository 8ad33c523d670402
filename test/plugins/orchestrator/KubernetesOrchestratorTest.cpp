// orchestrator.kubernetes without a cluster: which configuration wins (in-cluster, explicit kubeconfig,
// $KUBECONFIG, ~/.kube/config), what is read from it (token, client certificate and key, CA; data and file
// forms), and the exact Pod, Secret and Service bodies and pod-status reading (reference-ops.md §6).
#include "KubeConfig.h"
#include "KubeResources.h"

#include <Poco/Base64Encoder.h>
#include <cppunit/extensions/HelperMacros.h>

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace archestra;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string b64(const std::string& text) {
    std::ostringstream out;
    Poco::Base64Encoder encoder(out);
    encoder.rdbuf()->setLineLength(0);
    encoder << text;
    encoder.close();
    return out.str();
}

void write(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
}

std::string kubeconfig(const std::string& server, const std::string& user,
                       const std::string& cluster_extra = "") {
    return "apiVersion: v1\nkind: Config\nclusters:\n- name: c1\n  cluster:\n    server: " + server + "\n" +
           cluster_extra + "users:\n- name: u1\n  user:\n" + user +
           "contexts:\n- name: other\n  context: {cluster: nope, user: nope}\n- name: ctx\n  context:\n"
           "    cluster: c1\n    user: u1\n    namespace: team-a\ncurrent-context: ctx\n";
}

/// A scratch directory per test, removed afterwards.
struct Scratch {
    fs::path root;
    Scratch() {
        root = fs::temp_directory_path() /
               ("k8s-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
        fs::create_directories(root);
    }
    ~Scratch() {
        std::error_code ec;
        fs::remove_all(root, ec);
    }
    static int& counter() {
        static int n = 0;
        return n;
    }
};

std::string errorOf(const k8s::KubeConfigInputs& inputs) {
    try {
        k8s::loadKubeConfig(inputs);
    } catch (const k8s::KubeConfigError& error) {
        return error.what();
    }
    return "";
}

sdk::McpServerSpec sampleSpec() {
    sdk::McpServerSpec spec;
    spec.server_id = "0b5c6a39-3f1e-4c5e-9d0a-6f9c1a2b3c4d";
    spec.name = "My GitHub Server!";
    spec.image = "ghcr.io/example/github-mcp:1.2";
    spec.command = "node";
    spec.arguments = {"server.js", "--stdio"};
    spec.env = {{"LOG_LEVEL", "debug"}, {"GITHUB_TOKEN", "ghp_secret value"}};
    spec.secret_env_keys = {"GITHUB_TOKEN"};
    return spec;
}

}  // namespace

class KubernetesOrchestratorTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(KubernetesOrchestratorTest);
    CPPUNIT_TEST(kubeconfigTokenAndCaData);
    CPPUNIT_TEST(kubeconfigClientCertificateFiles);
    CPPUNIT_TEST(kubeconfigErrorsNameTheField);
    CPPUNIT_TEST(precedenceInClusterFirstWhenEnabled);
    CPPUNIT_TEST(precedenceExplicitThenEnvThenHome);
    CPPUNIT_TEST(inClusterNeedsHostAndToken);
    CPPUNIT_TEST(names);
    CPPUNIT_TEST(podSpecContents);
    CPPUNIT_TEST(podSpecBaseImageAndHttp);
    CPPUNIT_TEST(secretAndService);
    CPPUNIT_TEST(podStatusReading);
    CPPUNIT_TEST_SUITE_END();

  public:
    void kubeconfigTokenAndCaData() {
        auto config = k8s::parseKubeConfig(
            kubeconfig("https://k8s.example:6443/", "    token: abc.def\n",
                       "    certificate-authority-data: " + b64("-----BEGIN CERTIFICATE-----\nX\n") + "\n"),
            "/nowhere", "test.yaml");
        CPPUNIT_ASSERT_EQUAL(std::string("https://k8s.example:6443"), config.server);
        CPPUNIT_ASSERT_EQUAL(std::string("abc.def"), config.token);
        CPPUNIT_ASSERT_EQUAL(std::string("-----BEGIN CERTIFICATE-----\nX\n"), config.caPem);
        CPPUNIT_ASSERT(config.clientCertPem.empty());
        CPPUNIT_ASSERT_EQUAL(std::string("team-a"), config.contextNamespace);
        CPPUNIT_ASSERT(!config.inCluster);
        CPPUNIT_ASSERT(!config.insecureSkipTlsVerify);
    }

    void kubeconfigClientCertificateFiles() {
        Scratch s;
        write(s.root / "certs/client.crt", "CERT");
        write(s.root / "certs/client.key", "KEY");
        write(s.root / "certs/ca.crt", "CA");
        write(s.root / "tok", "file-token\n");
        auto config = k8s::parseKubeConfig(
            kubeconfig("https://10.0.0.1",
                       "    client-certificate: certs/client.crt\n    client-key: certs/client.key\n"
                       "    tokenFile: tok\n",
                       "    certificate-authority: certs/ca.crt\n    insecure-skip-tls-verify: true\n"),
            s.root.string(), "x");
        CPPUNIT_ASSERT_EQUAL(std::string("CERT"), config.clientCertPem);
        CPPUNIT_ASSERT_EQUAL(std::string("KEY"), config.clientKeyPem);
        CPPUNIT_ASSERT_EQUAL(std::string("CA"), config.caPem);
        CPPUNIT_ASSERT_EQUAL(std::string("file-token"), config.token);
        CPPUNIT_ASSERT(config.insecureSkipTlsVerify);
        // The -data form wins over the file form.
        auto data =
            k8s::parseKubeConfig(kubeconfig("https://10.0.0.1", "    client-certificate-data: " + b64("C2") +
                                                                    "\n    client-key-data: " + b64("K2") +
                                                                    "\n    client-certificate: /missing\n"),
                                 s.root.string(), "x");
        CPPUNIT_ASSERT_EQUAL(std::string("C2"), data.clientCertPem);
        CPPUNIT_ASSERT_EQUAL(std::string("K2"), data.clientKeyPem);
    }

    void kubeconfigErrorsNameTheField() {
        auto message = [](const std::string& yaml) {
            try {
                k8s::parseKubeConfig(yaml, "", "cfg.yaml");
            } catch (const k8s::KubeConfigError& error) {
                return std::string(error.what());
            }
            return std::string();
        };
        std::string m = message("apiVersion: v1\ncurrent-context: gone\ncontexts: []\n");
        CPPUNIT_ASSERT_MESSAGE(m, m.find("cfg.yaml") != std::string::npos &&
                                      m.find("current-context 'gone'") != std::string::npos);
        m = message(kubeconfig("ftp://x", "    token: t\n"));
        CPPUNIT_ASSERT_MESSAGE(m, m.find("server 'ftp://x'") != std::string::npos);
        m = message(kubeconfig("https://x", "    client-certificate-data: " + b64("C") + "\n"));
        CPPUNIT_ASSERT_MESSAGE(m, m.find("client-key") != std::string::npos);
        m = message(kubeconfig("https://x", "    exec:\n      command: aws\n"));
        CPPUNIT_ASSERT_MESSAGE(m, m.find("exec") != std::string::npos);
        m = message(kubeconfig("https://x", "    token: t\n", "    certificate-authority-data: '!!!'\n"));
        CPPUNIT_ASSERT_MESSAGE(m, m.find("certificate-authority-data") != std::string::npos);
        m = message("clusters: [\n");
        CPPUNIT_ASSERT_MESSAGE(m, m.find("not valid YAML") != std::string::npos);
    }

    void precedenceInClusterFirstWhenEnabled() {
        Scratch s;
        write(s.root / "sa/token", "sa-token\n");
        write(s.root / "sa/ca.crt", "SA-CA");
        write(s.root / "sa/namespace", "platform-ns\n");
        write(s.root / "explicit.yaml", kubeconfig("https://explicit", "    token: explicit\n"));
        k8s::KubeConfigInputs inputs;
        inputs.serviceAccountDir = (s.root / "sa").string();
        inputs.serviceHost = "10.96.0.1";
        inputs.servicePort = "443";
        inputs.explicitPath = (s.root / "explicit.yaml").string();
        inputs.loadFromCluster = true;
        auto config = k8s::loadKubeConfig(inputs);
        CPPUNIT_ASSERT(config.inCluster);
        CPPUNIT_ASSERT_EQUAL(std::string("https://10.96.0.1:443"), config.server);
        CPPUNIT_ASSERT_EQUAL(std::string("sa-token"), config.token);
        CPPUNIT_ASSERT_EQUAL(std::string("SA-CA"), config.caPem);
        CPPUNIT_ASSERT_EQUAL(std::string("platform-ns"), config.contextNamespace);
        CPPUNIT_ASSERT_EQUAL(std::string("in-cluster"), config.source);
        inputs.serviceHost = "fd00::1";
        CPPUNIT_ASSERT_EQUAL(std::string("https://[fd00::1]:443"), k8s::loadKubeConfig(inputs).server);
        // The setting off: the explicit kubeconfig wins although the cluster's files are there.
        inputs.loadFromCluster = false;
        config = k8s::loadKubeConfig(inputs);
        CPPUNIT_ASSERT(!config.inCluster);
        CPPUNIT_ASSERT_EQUAL(std::string("explicit"), config.token);
        CPPUNIT_ASSERT_EQUAL(inputs.explicitPath, config.source);
        // ... and with nothing else configured, the in-cluster files are the last resort.
        inputs.explicitPath.clear();
        CPPUNIT_ASSERT(k8s::loadKubeConfig(inputs).inCluster);
    }

    void precedenceExplicitThenEnvThenHome() {
        Scratch s;
        write(s.root / "explicit.yaml", kubeconfig("https://explicit", "    token: explicit\n"));
        write(s.root / "env.yaml", kubeconfig("https://env", "    token: env\n"));
        write(s.root / "home/.kube/config", kubeconfig("https://home", "    token: home\n"));
        k8s::KubeConfigInputs inputs;
        inputs.serviceAccountDir = (s.root / "no-sa").string();
        inputs.explicitPath = (s.root / "explicit.yaml").string();
        inputs.kubeconfigEnv = (s.root / "missing.yaml").string() + ":" + (s.root / "env.yaml").string();
        inputs.home = (s.root / "home").string();
        CPPUNIT_ASSERT_EQUAL(std::string("explicit"), k8s::loadKubeConfig(inputs).token);
        inputs.explicitPath.clear();
        CPPUNIT_ASSERT_EQUAL(std::string("env"), k8s::loadKubeConfig(inputs).token);  // first existing entry
        inputs.kubeconfigEnv.clear();
        CPPUNIT_ASSERT_EQUAL(std::string("home"), k8s::loadKubeConfig(inputs).token);
        inputs.home = (s.root / "nobody").string();
        std::string m = errorOf(inputs);
        CPPUNIT_ASSERT_MESSAGE(m, m.find("no Kubernetes configuration found") != std::string::npos);
        // An explicit path that cannot be read is an error, not a silent fall-through.
        inputs.explicitPath = (s.root / "typo.yaml").string();
        write(s.root / "home/.kube/config", kubeconfig("https://home", "    token: home\n"));
        inputs.home = (s.root / "home").string();
        m = errorOf(inputs);
        CPPUNIT_ASSERT_MESSAGE(m, m.find("ARCHESTRA_ORCHESTRATOR_KUBECONFIG") != std::string::npos &&
                                      m.find("typo.yaml") != std::string::npos);
    }

    void inClusterNeedsHostAndToken() {
        Scratch s;
        k8s::KubeConfigInputs inputs;
        inputs.serviceAccountDir = (s.root / "sa").string();
        inputs.serviceHost = "10.96.0.1";
        inputs.servicePort = "443";
        CPPUNIT_ASSERT(!k8s::inClusterAvailable(inputs));  // no token file
        write(s.root / "sa/token", "t");
        CPPUNIT_ASSERT(k8s::inClusterAvailable(inputs));
        inputs.serviceHost.clear();
        CPPUNIT_ASSERT(!k8s::inClusterAvailable(inputs));  // token but no service host
        write(s.root / "home/.kube/config", kubeconfig("https://home", "    token: home\n"));
        inputs.home = (s.root / "home").string();
        CPPUNIT_ASSERT_EQUAL(std::string("https://home"), k8s::loadKubeConfig(inputs).server);
    }

    void names() {
        CPPUNIT_ASSERT_EQUAL(std::string("my-githubserver"),
                             k8s::rfc1123("  My GitHub_Server!! "));  // "_" is dropped
        CPPUNIT_ASSERT_EQUAL(std::string("a-b.c"), k8s::rfc1123("A - -B..C-"));
        auto spec = sampleSpec();
        CPPUNIT_ASSERT_EQUAL(std::string("mcp-my-github-server"), k8s::podName(spec));
        spec.name = std::string(300, 'x');
        CPPUNIT_ASSERT_EQUAL(std::size_t(253), k8s::podName(spec).size());
        CPPUNIT_ASSERT_EQUAL(std::string("mcp-server-0b5c6a39-3f1e-4c5e-9d0a-6f9c1a2b3c4d-secrets"),
                             k8s::secretName(spec.server_id));
        CPPUNIT_ASSERT_EQUAL(std::string("mcp-x-service"), k8s::serviceName("mcp-x"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(63), k8s::labelValue(std::string(100, 'a')).size());
        CPPUNIT_ASSERT_EQUAL(std::string("My-GitHub-Server"), k8s::labelValue("My GitHub Server!"));
    }

    void podSpecContents() {
        auto spec = sampleSpec();
        json pod = k8s::buildPod(spec, "base:0.0.3");
        CPPUNIT_ASSERT_EQUAL(std::string("Pod"), pod["kind"].get<std::string>());
        CPPUNIT_ASSERT(!pod["metadata"].contains("namespace"));
        CPPUNIT_ASSERT_EQUAL(json({{"app", "mcp-server"},
                                   {"mcp-server-id", spec.server_id},
                                   {"mcp-server-name", "My-GitHub-Server"}}),
                             pod["metadata"]["labels"]);
        CPPUNIT_ASSERT_EQUAL(std::string("Always"), pod["spec"]["restartPolicy"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), pod["spec"]["containers"].size());
        const json& c = pod["spec"]["containers"][0];
        CPPUNIT_ASSERT_EQUAL(std::string("mcp-server"), c["name"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("ghcr.io/example/github-mcp:1.2"), c["image"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(json::array({"node"}), c["command"]);
        CPPUNIT_ASSERT_EQUAL(json::array({"server.js", "--stdio"}), c["args"]);
        CPPUNIT_ASSERT_EQUAL(true, c["stdin"].get<bool>());
        CPPUNIT_ASSERT_EQUAL(false, c["tty"].get<bool>());
        CPPUNIT_ASSERT(!c.contains("ports"));
        CPPUNIT_ASSERT(!c.contains("resources") && !c.contains("securityContext"));
        CPPUNIT_ASSERT(!pod["spec"].contains("serviceAccountName"));
        json expectedEnv = json::array(
            {{{"name", "GITHUB_TOKEN"},
              {"valueFrom",
               {{"secretKeyRef",
                 {{"name", "mcp-server-" + spec.server_id + "-secrets"}, {"key", "GITHUB_TOKEN"}}}}}},
             {{"name", "LOG_LEVEL"}, {"value", "debug"}}});
        CPPUNIT_ASSERT_EQUAL(expectedEnv, c["env"]);
        // The secret value never appears in the pod.
        CPPUNIT_ASSERT(pod.dump().find("ghp_secret") == std::string::npos);
    }

    void podSpecBaseImageAndHttp() {
        auto spec = sampleSpec();
        spec.image.clear();
        spec.command.clear();
        spec.arguments.clear();
        spec.transport = "streamable-http";
        spec.http_port = 3001;
        json c =
            k8s::buildPod(spec, "europe-docker.pkg.dev/x/mcp-server-base:0.0.3")["spec"]["containers"][0];
        CPPUNIT_ASSERT_EQUAL(std::string("europe-docker.pkg.dev/x/mcp-server-base:0.0.3"),
                             c["image"].get<std::string>());
        CPPUNIT_ASSERT(!c.contains("command"));  // the image's CMD runs
        CPPUNIT_ASSERT(!c.contains("args"));
        CPPUNIT_ASSERT_EQUAL(json::array({{{"containerPort", 3001}, {"protocol", "TCP"}}}), c["ports"]);
    }

    void secretAndService() {
        auto spec = sampleSpec();
        json secret = k8s::buildSecret(spec);
        CPPUNIT_ASSERT_EQUAL(std::string("Opaque"), secret["type"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(k8s::secretName(spec.server_id), secret["metadata"]["name"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(json({{"GITHUB_TOKEN", b64("ghp_secret value")}}), secret["data"]);
        spec.transport = "streamable-http";
        spec.http_port = 8080;
        spec.http_path = "/rpc";
        json cluster = k8s::buildService(spec, true);
        CPPUNIT_ASSERT_EQUAL(std::string("mcp-my-github-server-service"),
                             cluster["metadata"]["name"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("ClusterIP"), cluster["spec"]["type"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(json({{"app", "mcp-server"}, {"mcp-server-id", spec.server_id}}),
                             cluster["spec"]["selector"]);
        CPPUNIT_ASSERT_EQUAL(json::array({{{"port", 8080}, {"targetPort", 8080}, {"protocol", "TCP"}}}),
                             cluster["spec"]["ports"]);
        CPPUNIT_ASSERT_EQUAL(std::string("NodePort"),
                             k8s::buildService(spec, false)["spec"]["type"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(
            std::string("http://mcp-my-github-server-service.mcp.svc.cluster.local:8080/rpc"),
            k8s::serviceEndpoint(spec, "mcp", true, json::object()));
        json created = {{"spec", {{"ports", json::array({{{"port", 8080}, {"nodePort", 31234}}})}}}};
        CPPUNIT_ASSERT_EQUAL(std::string("http://localhost:31234/rpc"),
                             k8s::serviceEndpoint(spec, "mcp", false, created));
    }

    void podStatusReading() {
        auto status = [](const json& st) {
            return k8s::podStatus({{"metadata", {{"name", "mcp-x"}}}, {"status", st}});
        };
        auto running = status({{"phase", "Running"}});
        CPPUNIT_ASSERT(running.state == sdk::McpServerState::Running);
        CPPUNIT_ASSERT_EQUAL(std::string("Pod is running"), running.message);
        CPPUNIT_ASSERT_EQUAL(std::string("mcp-x"), running.runtime_name);
        CPPUNIT_ASSERT(status({{"phase", "Pending"}}).state == sdk::McpServerState::Pending);
        CPPUNIT_ASSERT(k8s::podStatus(json::object()).state == sdk::McpServerState::Pending);
        auto pull = status({{"phase", "Pending"},
                            {"containerStatuses",
                             json::array({{{"name", "mcp-server"},
                                           {"state",
                                            {{"waiting",
                                              {{"reason", "ImagePullBackOff"},
                                               {"message", "Back-off pulling image \"nope:1\""}}}}}}})}});
        CPPUNIT_ASSERT(pull.state == sdk::McpServerState::Failed);
        CPPUNIT_ASSERT_EQUAL(std::string("ImagePullBackOff: Back-off pulling image \"nope:1\""), pull.error);
        auto crash = status({{"phase", "Running"},
                             {"containerStatuses",
                              json::array({{{"state", {{"waiting", {{"reason", "CrashLoopBackOff"}}}}}}})}});
        CPPUNIT_ASSERT(crash.state == sdk::McpServerState::Failed);
        CPPUNIT_ASSERT_EQUAL(std::string("CrashLoopBackOff"), crash.error);
        auto creating =
            status({{"phase", "Pending"},
                    {"containerStatuses",
                     json::array({{{"state", {{"waiting", {{"reason", "ContainerCreating"}}}}}}})}});
        CPPUNIT_ASSERT(creating.state == sdk::McpServerState::Pending);
        auto failed = status({{"phase", "Failed"}, {"reason", "Evicted"}, {"message", "low memory"}});
        CPPUNIT_ASSERT(failed.state == sdk::McpServerState::Failed);
        CPPUNIT_ASSERT_EQUAL(std::string("Evicted: low memory"), failed.error);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(KubernetesOrchestratorTest);
