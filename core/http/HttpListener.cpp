// HttpListener: socket, thread pool and graceful stop.
#include "core/http/HttpListener.h"

#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Thread.h>

#include <chrono>

namespace archestra::http {

HttpListener::HttpListener(ListenerOptions options, Dispatcher& dispatcher)
    : _options(std::move(options)), _dispatcher(dispatcher) {}

HttpListener::~HttpListener() {
    if (_server) stop(0);
}

void HttpListener::start() {
    Poco::Net::SocketAddress address(_options.address, static_cast<Poco::UInt16>(_options.port));
    Poco::Net::ServerSocket socket;
    try {
        socket.bind(address, true, true);
        socket.listen(1024);
    } catch (const Poco::Exception& error) {
        throw Poco::Net::NetException("cannot listen for " + _options.name + " on " + address.toString() +
                                      ": " + error.displayText());
    }
    _boundPort = socket.address().port();

    // One owner handle shared by the connection factory and the server (two AutoPtrs adopting the same raw
    // pointer would each release it: a double free when the server is destroyed).
    Poco::Net::HTTPServerParams::Ptr params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(_options.maxThreads);
    params->setMaxQueued(_options.maxQueued);
    params->setKeepAlive(true);
    params->setKeepAliveTimeout(Poco::Timespan(_options.keepAliveTimeout_s, 0));
    params->setMaxKeepAliveRequests(_options.maxKeepAliveRequests);
    params->setTimeout(Poco::Timespan(_options.readTimeout_s, 0));
    params->setThreadIdleTime(Poco::Timespan(30, 0));
    params->setServerName("archestra-platform");

    _pool = std::make_unique<Poco::ThreadPool>(2, _options.maxThreads, 60, 0);
    auto* connections =
        new ServerConnectionFactory(params, new DispatcherFactory(_dispatcher), _options.headerTimeout_s);
    _stopSignal = connections->stopSignal();
    _server = std::make_unique<Poco::Net::TCPServer>(connections, *_pool, socket, params);
    _server->start();
}

void HttpListener::stop(long grace_ms) {
    if (!_server) return;
    // stop() closes the listening socket; open connections finish their current request.
    _server->stop();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
    // Idle keep-alive connections would wait for their timeout: only in-flight requests earn the grace
    // period.
    while (_dispatcher.inFlight() > 0 && std::chrono::steady_clock::now() < deadline) {
        Poco::Thread::sleep(20);
    }
    _stopSignal->stopped(this, true);  // what HTTPServer::stopAll does: abort the open connections
    _server.reset();
    _pool->joinAll();
    _pool.reset();
}

int HttpListener::poolThreads() const {
    return _pool ? _pool->allocated() : 0;
}

int HttpListener::busyPoolThreads() const {
    return _pool ? _pool->used() : 0;
}

int HttpListener::currentConnections() const {
    return _server ? _server->currentConnections() : 0;
}

}  // namespace archestra::http
