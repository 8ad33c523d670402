// Upstream client pool: keep-alive HTTP(S) sessions to the LLM providers, reused across requests.
#include "core/proxy/upstream/UpstreamPool.h"

#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/String.h>

#include <poll.h>

#include <cerrno>

namespace archestra::proxy {

namespace {

/// Whether an idle pooled connection can still carry a request, by one poll(2) that does not wait. Not when
/// the upstream closed or reset it while it sat in the pool (FIN, RST or an error already on the socket: the
/// common stale keep-alive case, caught before a byte of the request is sent, see sendUpstream in
/// LlmProxy.cpp), nor, on plain HTTP, when the upstream sent bytes nobody asked for (the connection is off a
/// message boundary). On TLS, bytes alone may be a post-handshake message (a session ticket) that OpenSSL
/// consumes on the next read.
bool stillOpen(Poco::Net::HTTPClientSession& session) noexcept {
    try {
        pollfd entry{session.socket().impl()->sockfd(), POLLIN | POLLRDHUP, 0};
        int n = 0;
        do {
            n = ::poll(&entry, 1, 0);
        } while (n < 0 && errno == EINTR);
        if (n == 0) return true;
        if (n < 0 || (entry.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0) return false;
        return session.secure();
    } catch (...) {
        return false;
    }
}

}  // namespace

POCO_IMPLEMENT_EXCEPTION(UpstreamUnreachableException, Poco::IOException, "Upstream unreachable")
POCO_IMPLEMENT_EXCEPTION(UpstreamTimeoutException, Poco::IOException, "Upstream timeout")
POCO_IMPLEMENT_EXCEPTION(UpstreamTargetException, Poco::InvalidArgumentException,
                         "Bad upstream request target")

void checkRequestTarget(const std::string& target) {
    for (std::size_t i = 0; i < target.size(); ++i) {
        const auto byte = static_cast<unsigned char>(target[i]);
        if (byte > 0x20 && byte != 0x7F) continue;
        static constexpr char kHex[] = "0123456789ABCDEF";
        throw UpstreamTargetException(
            "the upstream request path must not contain spaces or control bytes; "
            "byte 0x" +
            std::string{kHex[byte >> 4], kHex[byte & 0xF]} + " at offset " + std::to_string(i) +
            " of the path");
    }
}

UpstreamEndpoint UpstreamEndpoint::parse(const std::string& baseUrl) {
    Poco::URI uri(baseUrl);
    std::string scheme = Poco::toLower(uri.getScheme());
    if ((scheme != "http" && scheme != "https") || uri.getHost().empty())
        throw Poco::InvalidArgumentException("upstream base URL '" + baseUrl +
                                             "': expected an absolute http:// or https:// URL");
    UpstreamEndpoint endpoint;
    endpoint.scheme = scheme;
    endpoint.host = uri.getHost();
    endpoint.port = uri.getPort();
    endpoint.basePath = uri.getPath();
    while (!endpoint.basePath.empty() && endpoint.basePath.back() == '/') endpoint.basePath.pop_back();
    return endpoint;
}

std::optional<std::string> UpstreamEndpoint::cleartextWarning(const std::string& setting) const {
    if (tls()) return std::nullopt;
    const std::string name = Poco::toLower(host);
    if (name == "localhost" || name == "::1" || name == "[::1]" || name.rfind("127.", 0) == 0)
        return std::nullopt;
    return setting + " is plain http:// to " + host +
           ": the provider keys clients send cross the network in clear text. Use https:// unless that host "
           "is on a network you trust";
}

UpstreamPool::UpstreamPool(UpstreamOptions options) : _options(std::move(options)) {
    Poco::Net::initializeSSL();
    Poco::Net::Context::Params params;
    // Client side: verify the peer chain. STRICT rather than RELAXED because Poco skips the host name check
    // for a name that resolves to a loopback address in RELAXED mode (UpstreamTlsTest caught it).
    params.verificationMode = Poco::Net::Context::VERIFY_STRICT;
    params.loadDefaultCAs = true;         // the system CA store
    params.caLocation = _options.caFile;  // plus an operator-provided bundle
    params.cipherList = "HIGH:!aNULL:!MD5:!RC4";
    _tls = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params);
    _tls->enableExtendedCertificateVerification(true);  // host name must match the certificate
}

UpstreamPool::~UpstreamPool() {
    clear();
    _tls = nullptr;
}

std::unique_ptr<Poco::Net::HTTPClientSession> UpstreamPool::create(const UpstreamEndpoint& endpoint) const {
    std::unique_ptr<Poco::Net::HTTPClientSession> session;
    if (endpoint.tls())
        session = std::make_unique<Poco::Net::HTTPSClientSession>(endpoint.host, endpoint.port, _tls);
    else
        session = std::make_unique<Poco::Net::HTTPClientSession>(endpoint.host, endpoint.port);
    session->setKeepAlive(true);
    session->setKeepAliveTimeout(Poco::Timespan(_options.keepAlive_s, 0));
    session->setTimeout(Poco::Timespan(_options.connectTimeout_ms * 1000),
                        Poco::Timespan(_options.idleTimeout_ms * 1000),
                        Poco::Timespan(_options.idleTimeout_ms * 1000));
    return session;
}

UpstreamSession UpstreamPool::acquire(const UpstreamEndpoint& endpoint) {
    UpstreamSession result;
    result.key = endpoint.key();
    for (;;) {
        std::unique_ptr<Poco::Net::HTTPClientSession> idle;
        {
            std::lock_guard lock(_mutex);
            auto it = _idle.find(result.key);
            if (it == _idle.end() || it->second.empty()) break;
            idle = std::move(it->second.back());
            it->second.pop_back();
        }
        if (stillOpen(*idle)) {
            result.session = std::move(idle);
            result.reused = true;
            return result;
        }
        ++_staleDropped;  // closed by its destructor; try the next one
    }
    result.session = create(endpoint);
    return result;
}

void UpstreamPool::release(UpstreamSession session) {
    if (!session.session || !session.session->connected()) return;
    std::lock_guard lock(_mutex);
    auto& idle = _idle[session.key];
    if (idle.size() < _options.maxIdlePerEndpoint) idle.push_back(std::move(session.session));
}

void UpstreamPool::clear() {
    std::map<std::string, std::vector<std::unique_ptr<Poco::Net::HTTPClientSession>>> idle;
    {
        std::lock_guard lock(_mutex);
        idle.swap(_idle);
    }
}

std::size_t UpstreamPool::idleSessions() const {
    std::lock_guard lock(_mutex);
    std::size_t total = 0;
    for (const auto& [key, sessions] : _idle) total += sessions.size();
    return total;
}

}  // namespace archestra::proxy
