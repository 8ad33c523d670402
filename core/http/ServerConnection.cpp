// ServerConnection: the HTTP/1.1 keep-alive loop for one client connection (see ServerConnection.h).
#include "core/http/ServerConnection.h"

#include <Poco/Delegate.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponseImpl.h>
#include <Poco/Net/HTTPServerSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/StreamSocketImpl.h>
#include <Poco/String.h>

#include <poll.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace archestra::http {

namespace {

/// HTTPServerSession with access to its read buffer: a pipelined request already read needs no wait.
class Session : public Poco::Net::HTTPServerSession {
  public:
    using HTTPServerSession::HTTPServerSession;
    bool hasBufferedBytes() const { return buffered() > 0; }
};

/// Waits up to `timeout_us` for the next request's first byte; false on timeout (the connection closes).
bool awaitRequest(const Poco::Net::StreamSocket& socket, Poco::Int64 timeout_us) {
    pollfd entry{socket.impl()->sockfd(), POLLIN, 0};
    const int timeout_ms = static_cast<int>(std::max<Poco::Int64>(0, timeout_us / 1000));
    int n = 0;
    do {
        n = ::poll(&entry, 1, timeout_ms);
    } while (n < 0 && errno == EINTR);
    return n > 0;
}

/// Deadlines of the request heads being read, across every listener. The parse runs inside Poco (blocking
/// reads through non-virtual calls), so the deadline is enforced from outside: one thread shuts down the
/// socket of a head that is late, the blocked read returns, and the parse fails like any truncated request.
/// A connection registers once (a map node under the mutex); each request then only stores its deadline in
/// the connection's atomic slot and clears it after the head, so the hot path takes no lock and allocates
/// nothing (a lock per head was a contended futex with many connection threads).
class HeaderDeadlines {
  public:
    using Clock = std::chrono::steady_clock;
    /// 0: no head being read.
    using Slot = std::atomic<Clock::rep>;

    static HeaderDeadlines& instance() {
        // Leaked on purpose: connection threads may still unregister while static destructors run at exit.
        static auto* deadlines = new HeaderDeadlines;
        return *deadlines;
    }

    std::shared_ptr<Slot> enroll(const void* key, const Poco::Net::StreamSocket& socket) {
        auto slot = std::make_shared<Slot>(0);
        std::lock_guard lock(_mutex);
        _connections[key] = {socket, slot};
        if (!_thread.joinable()) _thread = std::thread([this] { watch(); });
        return slot;
    }

    void leave(const void* key) {
        std::lock_guard lock(_mutex);
        _connections.erase(key);
    }

  private:
    struct Entry {
        Poco::Net::StreamSocket socket;
        std::shared_ptr<Slot> deadline;
    };

    void watch() {
        std::unique_lock lock(_mutex);
        for (;;) {
            _wake.wait_for(lock, std::chrono::milliseconds(250));
            const auto now = Clock::now().time_since_epoch().count();
            for (auto& [key, entry] : _connections) {
                auto deadline = entry.deadline->load(std::memory_order_relaxed);
                if (deadline == 0 || deadline > now) continue;
                // Once, and only for the head that was late: a connection that meanwhile finished it and
                // armed the next one changed the slot, and the exchange fails.
                if (!entry.deadline->compare_exchange_strong(deadline, 0)) continue;
                try {
                    entry.socket.shutdown();
                } catch (...) {  // already closed by the client
                }
            }
        }
    }

    std::mutex _mutex;
    std::condition_variable _wake;
    std::map<const void*, Entry> _connections;
    std::thread _thread;
};

/// A connection's enrolment with the deadline watcher, for its lifetime.
class HeaderDeadlineSlot {
  public:
    HeaderDeadlineSlot(const void* key, const Poco::Net::StreamSocket& socket)
        : _key(key), _slot(HeaderDeadlines::instance().enroll(key, socket)) {}
    ~HeaderDeadlineSlot() { HeaderDeadlines::instance().leave(_key); }
    HeaderDeadlineSlot(const HeaderDeadlineSlot&) = delete;
    HeaderDeadlineSlot& operator=(const HeaderDeadlineSlot&) = delete;

    void arm(int timeout_s) {
        const auto deadline = HeaderDeadlines::Clock::now() + std::chrono::seconds(timeout_s);
        _slot->store(deadline.time_since_epoch().count(), std::memory_order_relaxed);
    }
    void disarm() { _slot->store(0, std::memory_order_relaxed); }

  private:
    const void* _key;
    std::shared_ptr<HeaderDeadlines::Slot> _slot;
};

/// Disarms on every way out of a head parse (parsed, refused, or the socket failed).
class HeaderDeadlineGuard {
  public:
    HeaderDeadlineGuard(HeaderDeadlineSlot& slot, int timeout_s) : _slot(slot) { _slot.arm(timeout_s); }
    ~HeaderDeadlineGuard() { _slot.disarm(); }
    HeaderDeadlineGuard(const HeaderDeadlineGuard&) = delete;
    HeaderDeadlineGuard& operator=(const HeaderDeadlineGuard&) = delete;

  private:
    HeaderDeadlineSlot& _slot;
};

/// RFC 9110 IMF-fixdate of the current second, formatted once per second per thread.
const std::string& currentHttpDate() {
    thread_local std::time_t cachedSecond = 0;
    thread_local std::string cached;
    std::time_t now = std::time(nullptr);
    if (now != cachedSecond) {
        std::tm tm{};
        gmtime_r(&now, &tm);
        char buffer[64];
        std::strftime(buffer, sizeof buffer, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        cached = buffer;
        cachedSecond = now;
    }
    return cached;
}

void sendErrorResponse(Poco::Net::HTTPServerSession& session, Poco::Net::HTTPResponse::HTTPStatus status) {
    Poco::Net::HTTPServerResponseImpl response(session);
    response.setVersion(Poco::Net::HTTPMessage::HTTP_1_1);
    response.setStatusAndReason(status);
    response.setKeepAlive(false);
    response.send();
    session.setKeepAlive(false);
}

/// A connection socket that remembers its two addresses after the first lookup of each.
class CachedAddressSocketImpl : public Poco::Net::StreamSocketImpl {
  public:
    explicit CachedAddressSocketImpl(poco_socket_t fd) : StreamSocketImpl(fd) {}

    Poco::Net::SocketAddress address() override {
        if (!_local) _local = StreamSocketImpl::address();
        return *_local;
    }
    Poco::Net::SocketAddress peerAddress() override {
        if (!_peer) _peer = StreamSocketImpl::peerAddress();
        return *_peer;
    }

  private:
    std::optional<Poco::Net::SocketAddress> _local;
    std::optional<Poco::Net::SocketAddress> _peer;
};

}  // namespace

Poco::Net::StreamSocket withCachedAddresses(const Poco::Net::StreamSocket& accepted) {
    // SocketImpl::reset is protected; a pointer to it taken through a subclass may be applied to any impl.
    struct Release : Poco::Net::SocketImpl {
        static void descriptorOf(Poco::Net::SocketImpl& impl) {
            (impl.*(&Release::reset))(POCO_INVALID_SOCKET);
        }
    };
    Poco::Net::SocketImpl* impl = accepted.impl();
    Poco::Net::StreamSocket owner(new CachedAddressSocketImpl(impl->sockfd()));
    Release::descriptorOf(*impl);  // only now: one owner closes the descriptor, never two
    return owner;
}

ServerConnection::ServerConnection(const Poco::Net::StreamSocket& socket,
                                   Poco::Net::HTTPServerParams::Ptr params,
                                   Poco::Net::HTTPRequestHandlerFactory::Ptr factory,
                                   std::shared_ptr<ServerStopSignal> stop, int headerTimeout_s)
    : TCPServerConnection(socket),
      _params(std::move(params)),
      _factory(std::move(factory)),
      _stop(std::move(stop)),
      _headerTimeout_s(headerTimeout_s) {
    _stop->stopped += Poco::delegate(this, &ServerConnection::onServerStopped);
}

ServerConnection::~ServerConnection() {
    try {
        _stop->stopped -= Poco::delegate(this, &ServerConnection::onServerStopped);
    } catch (...) {
    }
}

void ServerConnection::onServerStopped(const bool& abortCurrent) {
    _stopped = true;
    if (abortCurrent) {
        try {
            // Unblocks a thread waiting in receive or poll; the loop then ends.
            socket().shutdown();
        } catch (...) {
        }
    }
}

void ServerConnection::run() {
    const std::string server = _params->getSoftwareVersion();
    const int maxRequests = _params->getMaxKeepAliveRequests();  // 0 or less: unlimited
    const Poco::Int64 keepAlive_us = _params->getKeepAliveTimeout().totalMicroseconds();
    const Poco::Int64 firstTimeout_us = _params->getTimeout().totalMicroseconds();
    try {
        socket().setNoDelay(true);
    } catch (const Poco::Exception&) {
        return;  // the client already left
    }
    Session session(socket(), _params);
    HeaderDeadlineSlot headerDeadline(this, socket());
    int served = 0;
    for (;;) {
        if (_stopped) break;
        if (served == 0) {
            if (!awaitRequest(socket(), firstTimeout_us)) break;
        } else {
            if (!session.getKeepAlive() || (maxRequests > 0 && served >= maxRequests)) break;
            if (!session.hasBufferedBytes() && !awaitRequest(socket(), keepAlive_us)) break;
        }
        if (_stopped) break;
        ++served;
        const bool canKeepAlive = maxRequests <= 0 || served < maxRequests;
        try {
            Poco::Net::HTTPServerResponseImpl response(session);
            // The head's first byte is here (awaitRequest); the whole head gets _headerTimeout_s from now.
            std::optional<HeaderDeadlineGuard> deadline(std::in_place, headerDeadline, _headerTimeout_s);
            Poco::Net::HTTPServerRequestImpl request(response, session, _params);
            deadline.reset();
            // Request smuggling: a front proxy and this server must agree where the body ends. With both
            // framings, or a transfer coding other than plain "chunked" (which Poco would ignore and fall
            // back to Content-Length), refuse and close (RFC 9112 §6.1, §6.3).
            if (request.has("Transfer-Encoding")) {
                const bool chunkedOnly = Poco::icompare(request.get("Transfer-Encoding"), "chunked") == 0;
                if (request.has("Content-Length") || !chunkedOnly) {
                    sendErrorResponse(session, chunkedOnly ? Poco::Net::HTTPResponse::HTTP_BAD_REQUEST
                                                           : Poco::Net::HTTPResponse::HTTP_NOT_IMPLEMENTED);
                    break;
                }
            }
            response.set("Date", currentHttpDate());
            response.setVersion(request.getVersion());
            response.setKeepAlive(_params->getKeepAlive() && request.getKeepAlive() && canKeepAlive);
            if (!server.empty()) response.set("Server", server);
            try {
                std::unique_ptr<Poco::Net::HTTPRequestHandler> handler(
                    _factory->createRequestHandler(request));
                if (handler) {
                    if (request.getExpectContinue() &&
                        response.getStatus() == Poco::Net::HTTPResponse::HTTP_OK)
                        response.sendContinue();
                    handler->handleRequest(request, response);
                    session.setKeepAlive(_params->getKeepAlive() && response.getKeepAlive() && canKeepAlive);
                } else {
                    sendErrorResponse(session, Poco::Net::HTTPResponse::HTTP_NOT_IMPLEMENTED);
                }
            } catch (const Poco::Exception&) {
                if (!response.sent()) {
                    try {
                        sendErrorResponse(session, Poco::Net::HTTPResponse::HTTP_INTERNAL_SERVER_ERROR);
                    } catch (...) {
                    }
                }
                throw;
            }
        } catch (const Poco::Net::NoMessageException&) {
            break;  // the client closed the connection between requests
        } catch (const Poco::Net::MessageException&) {
            try {
                sendErrorResponse(session, Poco::Net::HTTPResponse::HTTP_BAD_REQUEST);
            } catch (...) {
            }
            break;
        } catch (const Poco::Exception&) {
            break;  // network failure: this connection is done (Poco's TCPServer would only log it)
        }
    }
}

}  // namespace archestra::http
