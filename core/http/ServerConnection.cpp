// ServerConnection: the HTTP/1.1 keep-alive loop for one client connection (see ServerConnection.h).
#include "core/http/ServerConnection.h"

#include <Poco/Delegate.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponseImpl.h>
#include <Poco/Net/HTTPServerSession.h>
#include <Poco/Net/NetException.h>

#include <poll.h>

#include <cerrno>
#include <ctime>
#include <memory>
#include <string>

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

}  // namespace

ServerConnection::ServerConnection(const Poco::Net::StreamSocket& socket,
                                   Poco::Net::HTTPServerParams::Ptr params,
                                   Poco::Net::HTTPRequestHandlerFactory::Ptr factory,
                                   std::shared_ptr<ServerStopSignal> stop)
    : TCPServerConnection(socket),
      _params(std::move(params)),
      _factory(std::move(factory)),
      _stop(std::move(stop)) {
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
            Poco::Net::HTTPServerRequestImpl request(response, session, _params);
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
