// HttpListener: one listening socket served by a Poco TCPServer thread pool (ServerConnection per client),
// feeding a Dispatcher.
#pragma once

#include "core/http/Dispatcher.h"
#include "core/http/ServerConnection.h"

#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/TCPServer.h>
#include <Poco/ThreadPool.h>

#include <memory>
#include <string>

namespace archestra::http {

struct ListenerOptions {
    std::string name;  ///< "api", "ui", "metrics"
    std::string address = "0.0.0.0";
    int port = 0;          ///< 0: an ephemeral port (tests)
    int maxThreads = 256;  ///< one thread serves one connection at a time (Poco's model)
    int maxQueued = 1024;  ///< accepted connections waiting for a thread
    int keepAliveTimeout_s = 75;
    int maxKeepAliveRequests = 0;  ///< 0: unlimited
    /// A request head (request line + headers) must arrive whole within this time of its first byte; a
    /// client trickling it (slowloris) is disconnected instead of holding a thread.
    int headerTimeout_s = 30;
    /// Longest wait for the next bytes of a request body (and for the first request on a new connection).
    int readTimeout_s = 60;
};

/// Owns the socket, the thread pool and the Poco server. start() binds; stop() stops accepting and waits
/// (bounded) for in-flight requests.
class HttpListener {
  public:
    HttpListener(ListenerOptions options, Dispatcher& dispatcher);
    ~HttpListener();

    /// Binds and starts serving; throws Poco::Net::NetException naming the address when the port is taken.
    void start();
    /// Stops accepting, then waits up to `grace_ms` for open requests to finish before aborting them.
    void stop(long grace_ms);
    int port() const { return _boundPort; }
    const ListenerOptions& options() const { return _options; }
    int currentConnections() const;
    /// Threads of this listener's pool: created (bounded by maxThreads) and running a connection or waiting
    /// for the next one (Poco's dispatcher keeps a thread for params' idle time).
    int poolThreads() const;
    int busyPoolThreads() const;

  private:
    ListenerOptions _options;
    Dispatcher& _dispatcher;
    std::unique_ptr<Poco::ThreadPool> _pool;
    std::shared_ptr<ServerStopSignal> _stopSignal;
    std::unique_ptr<Poco::Net::TCPServer> _server;  ///< Poco's HTTPServer with our ServerConnection
    int _boundPort = 0;
};

}  // namespace archestra::http
