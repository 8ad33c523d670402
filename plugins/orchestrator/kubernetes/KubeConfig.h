// Where the Kubernetes API is and how to authenticate to it: in-cluster service account or a kubeconfig file.
#pragma once

#include <stdexcept>
#include <string>

namespace archestra::k8s {

/// A failure to load a cluster configuration; the message names the file and the field.
class KubeConfigError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// The resolved connection settings of one cluster. Value type.
struct KubeConfig {
    std::string server;  ///< API server base URL, e.g. https://10.0.0.1:443
    std::string token;   ///< bearer token; empty when a client certificate is used
    std::string caPem;   ///< CA certificate(s) the server's certificate must chain to; empty: system CAs
    std::string clientCertPem;  ///< client certificate (PEM); empty when none
    std::string clientKeyPem;   ///< its private key (PEM)
    bool insecureSkipTlsVerify = false;
    bool inCluster = false;        ///< loaded from the pod's service account
    std::string source;            ///< "in-cluster" or the kubeconfig path, for logs and errors
    std::string contextNamespace;  ///< namespace of the current context (or the service account's), if any
};

/// What the loader looks at; fromEnvironment() fills it from the process, tests fill it by hand.
struct KubeConfigInputs {
    bool loadFromCluster = true;  ///< ARCHESTRA_ORCHESTRATOR_LOAD_KUBECONFIG_FROM_CURRENT_CLUSTER
    std::string explicitPath;     ///< ARCHESTRA_ORCHESTRATOR_KUBECONFIG
    std::string kubeconfigEnv;    ///< $KUBECONFIG (':'-separated list)
    std::string home;             ///< $HOME
    std::string serviceHost;      ///< $KUBERNETES_SERVICE_HOST
    std::string servicePort;      ///< $KUBERNETES_SERVICE_PORT
    std::string serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";

    static KubeConfigInputs fromEnvironment(bool loadFromCluster, const std::string& explicitPath);
};

/// The in-cluster configuration exists: service host and port set and the service account token readable.
bool inClusterAvailable(const KubeConfigInputs& inputs);

/// Picks and loads a configuration, in this order: in-cluster (only when loadFromCluster and it is
/// available), the explicit kubeconfig, the first existing file of $KUBECONFIG, ~/.kube/config, and finally
/// in-cluster again (as client libraries' default loading does). Throws KubeConfigError when none is found or
/// the chosen one is unusable.
KubeConfig loadKubeConfig(const KubeConfigInputs& inputs);

/// Parses kubeconfig YAML text (current-context; token, tokenFile, client-certificate(-data),
/// client-key(-data), certificate-authority(-data), insecure-skip-tls-verify). Relative file references are
/// resolved against `baseDir`. Throws KubeConfigError naming `source` and the field.
KubeConfig parseKubeConfig(const std::string& yamlText, const std::string& baseDir,
                           const std::string& source);

}  // namespace archestra::k8s
