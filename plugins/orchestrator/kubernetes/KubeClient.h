// A small Kubernetes REST client over Poco Net: JSON requests with the configured credentials, TLS verified
// against the cluster's CA, and the WebSocket upgrade the pods/attach subresource needs.
#pragma once

#include "KubeConfig.h"

#include <Poco/Net/Context.h>
#include <Poco/Net/WebSocket.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace Poco::Net {
class HTTPClientSession;
}

namespace archestra::k8s {

/// The API server could not be reached or spoke no HTTP.
class KubeUnavailable : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// Talks to one API server. Thread-safe: every request uses its own connection.
class KubeClient {
  public:
    struct Response {
        int status = 0;
        std::string body;
        /// The `message` of a Kubernetes Status body, else the body itself (shortened).
        std::string message() const;
    };

    /// Builds the TLS context from the configuration; throws KubeConfigError for unusable certificates.
    explicit KubeClient(KubeConfig config, int timeoutMs = 10000);

    /// One request; `path` starts with /api. Throws KubeUnavailable when there is no HTTP answer.
    Response request(const std::string& method, const std::string& path, const std::string& body = "",
                     const std::string& contentType = "application/json") const;

    /// Upgrades `path` to a WebSocket offering `protocols` (comma-separated); `chosen` receives the server's
    /// pick. Throws KubeUnavailable, or std::runtime_error with the server's answer when it refuses.
    std::unique_ptr<Poco::Net::WebSocket> openWebSocket(const std::string& path, const std::string& protocols,
                                                        std::string& chosen) const;

    const KubeConfig& config() const { return _config; }

  private:
    std::unique_ptr<Poco::Net::HTTPClientSession> session() const;

    KubeConfig _config;
    int _timeoutMs;
    std::string _host;
    unsigned short _port = 0;
    bool _https = true;
    Poco::Net::Context::Ptr _tls;
};

}  // namespace archestra::k8s
