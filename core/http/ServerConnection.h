// ServerConnection: the HTTP/1.1 keep-alive loop for one client connection (Poco's HTTPServerConnection, made
// cheaper per request for the LLM proxy's hot path).
#pragma once

#include <Poco/BasicEvent.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/TCPServerConnection.h>
#include <Poco/Net/TCPServerConnectionFactory.h>

#include <atomic>
#include <memory>

namespace archestra::http {

/// Serves the requests of one connection with the same semantics as Poco's HTTPServerConnection (keep-alive,
/// Expect: 100-continue, 400 on a malformed request, 500 when a handler throws before answering), minus three
/// costs measured under load: waiting for the next request with one poll(2) instead of Poco's epoll instance
/// per wait (epoll_create + epoll_ctl + epoll_wait + close), TCP_NODELAY once per connection (a streamed
/// event or a response written in two parts is not held back by Nagle's algorithm), and the Date header
/// formatted once per second instead of per response. Unlike Poco's, a request head must arrive whole within
/// a deadline (Poco's receive timeout applies per read, so a client sending one byte a second held a thread
/// for hours).
/// Fired by the listener when it stops (argument: abort the requests in progress); every open connection
/// listens. Shared so that a connection outliving the server never touches a destroyed event.
struct ServerStopSignal {
    Poco::BasicEvent<const bool> stopped;
};

class ServerConnection : public Poco::Net::TCPServerConnection {
  public:
    ServerConnection(const Poco::Net::StreamSocket& socket, Poco::Net::HTTPServerParams::Ptr params,
                     Poco::Net::HTTPRequestHandlerFactory::Ptr factory,
                     std::shared_ptr<ServerStopSignal> stop, int headerTimeout_s);
    ~ServerConnection() override;
    void run() override;

  private:
    void onServerStopped(const bool& abortCurrent);

    Poco::Net::HTTPServerParams::Ptr _params;
    Poco::Net::HTTPRequestHandlerFactory::Ptr _factory;
    std::shared_ptr<ServerStopSignal> _stop;
    std::atomic<bool> _stopped{false};
    int _headerTimeout_s;
};

/// The accepted connection's socket, moved to a socket object that looks up its local and peer address once:
/// Poco's request constructor asks for both on every request (getpeername + getsockname, two of the ~9.3
/// system calls of a proxied call), and they cannot change while the connection lives. `accepted` is left
/// without a descriptor (it no longer closes it); the returned socket owns it.
Poco::Net::StreamSocket withCachedAddresses(const Poco::Net::StreamSocket& accepted);

class ServerConnectionFactory : public Poco::Net::TCPServerConnectionFactory {
  public:
    ServerConnectionFactory(Poco::Net::HTTPServerParams::Ptr params,
                            Poco::Net::HTTPRequestHandlerFactory::Ptr factory, int headerTimeout_s)
        : _params(std::move(params)),
          _factory(std::move(factory)),
          _stop(std::make_shared<ServerStopSignal>()),
          _headerTimeout_s(headerTimeout_s) {}
    Poco::Net::TCPServerConnection* createConnection(const Poco::Net::StreamSocket& socket) override {
        return new ServerConnection(withCachedAddresses(socket), _params, _factory, _stop, _headerTimeout_s);
    }
    /// What HTTPServer::stopAll does: every open connection ends (at once when `abortCurrent`).
    std::shared_ptr<ServerStopSignal> stopSignal() const { return _stop; }

  private:
    Poco::Net::HTTPServerParams::Ptr _params;
    Poco::Net::HTTPRequestHandlerFactory::Ptr _factory;
    std::shared_ptr<ServerStopSignal> _stop;
    int _headerTimeout_s;
};

}  // namespace archestra::http
