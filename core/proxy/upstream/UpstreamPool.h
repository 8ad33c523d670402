// Upstream client pool: keep-alive HTTP(S) sessions to the LLM providers, reused across requests.
#pragma once

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/URI.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace archestra::proxy {

/// The upstream could not be reached (connect refused, DNS, TLS handshake/verification): reported as 502.
POCO_DECLARE_EXCEPTION(, UpstreamUnreachableException, Poco::IOException)
/// The upstream did not answer within the connect or idle timeout: reported as 504.
POCO_DECLARE_EXCEPTION(, UpstreamTimeoutException, Poco::IOException)

/// A request target (path and query) that cannot go on the upstream's request line: reported as 400.
POCO_DECLARE_EXCEPTION(, UpstreamTargetException, Poco::InvalidArgumentException)

/// Throws UpstreamTargetException naming the first offending byte when `target` holds a space or a control
/// byte (0x00-0x1F, 0x7F): CR LF would end the request line and let the rest pass as headers or a second
/// request on a pooled keep-alive connection; a space or tab would split the request line. Every request
/// the proxy sends upstream goes through it, whatever validated the target before.
void checkRequestTarget(const std::string& target);

/// Where one provider lives: scheme, host, port and the base path prepended to every request path.
struct UpstreamEndpoint {
    std::string scheme;  ///< "http" or "https"
    std::string host;
    unsigned short port = 0;
    std::string basePath;  ///< no trailing slash; may be empty

    /// Throws Poco::InvalidArgumentException naming the URL when it is not an absolute http(s) URL.
    static UpstreamEndpoint parse(const std::string& baseUrl);
    std::string key() const { return scheme + "://" + host + ":" + std::to_string(port); }
    bool tls() const { return scheme == "https"; }
    /// For a plain-HTTP upstream on another host: the warning that the provider credential crosses the
    /// network in clear text (`setting` names where the URL came from). nullopt for https and for this host
    /// (localhost, 127.0.0.0/8, ::1), where plain HTTP is the usual local model server or stand-in.
    std::optional<std::string> cleartextWarning(const std::string& setting) const;
};

struct UpstreamOptions {
    long connectTimeout_ms = 10000;
    long idleTimeout_ms = 300000;  ///< longest silence while waiting for response bytes
    std::string caFile;            ///< extra CA bundle (PEM), on top of the system store
    std::size_t maxIdlePerEndpoint = 128;
    long keepAlive_s = 60;  ///< idle pooled connections older than this are not reused
};

/// A session borrowed from the pool. Return it with UpstreamPool::release() only after the whole response
/// was read (so the connection is at a message boundary); otherwise just drop it, which closes the socket.
struct UpstreamSession {
    std::unique_ptr<Poco::Net::HTTPClientSession> session;
    std::string key;
    bool reused = false;
};

/// Thread-safe. TLS sessions verify the peer certificate and host name against the system CA store (and
/// `caFile`); plain HTTP is allowed (local upstreams, test stand-ins).
class UpstreamPool {
  public:
    explicit UpstreamPool(UpstreamOptions options);
    ~UpstreamPool();
    UpstreamPool(const UpstreamPool&) = delete;
    UpstreamPool& operator=(const UpstreamPool&) = delete;

    /// An idle pooled session for the endpoint that the upstream has not closed meanwhile (those are
    /// dropped), or a new (not yet connected) one.
    UpstreamSession acquire(const UpstreamEndpoint& endpoint);
    /// Puts a session whose response was fully consumed back for reuse.
    void release(UpstreamSession session);
    /// Drops every idle session (tests, shutdown).
    void clear();

    const UpstreamOptions& options() const { return _options; }
    std::size_t idleSessions() const;
    /// Idle sessions acquire() found closed by the upstream and dropped, since the start.
    std::uint64_t staleDropped() const { return _staleDropped.load(); }

  private:
    std::unique_ptr<Poco::Net::HTTPClientSession> create(const UpstreamEndpoint& endpoint) const;

    UpstreamOptions _options;
    Poco::Net::Context::Ptr _tls;
    mutable std::mutex _mutex;
    std::map<std::string, std::vector<std::unique_ptr<Poco::Net::HTTPClientSession>>> _idle;
    std::atomic<std::uint64_t> _staleDropped{0};
};

}  // namespace archestra::proxy
