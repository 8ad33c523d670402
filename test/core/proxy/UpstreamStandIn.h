// A local upstream stand-in for the proxy's integration tests: a Poco HTTPServer on 127.0.0.1 that answers
// with a scripted (recorded) provider response and remembers every request it received.
#pragma once

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace archestra::proxy::test {

struct StandInReply {
    int status = 200;
    std::string contentType = "application/json";
    std::string body;
    std::map<std::string, std::string> headers;
    long firstByteDelay_ms = 0;
    bool chunked = false;  ///< stream `body` in pieces of `chunkBytes`, flushed one by one
    std::size_t chunkBytes = 64;
    /// > 0: after this many body bytes the connection is closed without ending the body (a provider dropping
    /// the connection midway); works with and without `chunked`.
    std::size_t dropAfterBytes = 0;
    /// > 0: after this many body bytes (with `chunked`) the stand-in goes silent for `pause_ms`, then goes
    /// on.
    std::size_t pauseAfterBytes = 0;
    long pause_ms = 0;
    /// Reads the request whole, then closes the connection without a byte of answer (an upstream that died
    /// while working on the request).
    bool closeWithoutAnswer = false;
};

struct StandInRequest {
    std::string method;
    std::string uri;
    std::map<std::string, std::string> headers;  ///< lower-cased names
    std::string body;
};

class UpstreamStandIn {
  public:
    /// `keepAliveTimeout_ms` > 0: idle keep-alive connections are closed after that long (Poco's default: 10
    /// s).
    explicit UpstreamStandIn(long keepAliveTimeout_ms = 0) {
        Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
        auto* params = new Poco::Net::HTTPServerParams;
        params->setMaxThreads(32);
        params->setKeepAlive(true);
        if (keepAliveTimeout_ms > 0) params->setKeepAliveTimeout(Poco::Timespan(keepAliveTimeout_ms * 1000));
        _server = std::make_unique<Poco::Net::HTTPServer>(new Factory(*this), socket, params);
        _server->start();
        _port = socket.address().port();
    }
    ~UpstreamStandIn() { _server->stopAll(true); }

    int port() const { return _port; }
    std::string baseUrl(const std::string& path = "") const {
        return "http://127.0.0.1:" + std::to_string(_port) + path;
    }
    void reply(StandInReply reply) {
        std::lock_guard lock(_mutex);
        _reply = std::move(reply);
    }
    /// Replies used once each, in order, before falling back to reply() (a scripted conversation).
    void queue(std::vector<StandInReply> replies) {
        std::lock_guard lock(_mutex);
        for (auto& r : replies) _queue.push_back(std::move(r));
    }
    std::vector<StandInRequest> requests() const {
        std::lock_guard lock(_mutex);
        return _requests;
    }
    void clearRequests() {
        std::lock_guard lock(_mutex);
        _requests.clear();
    }
    StandInRequest last() const {
        std::lock_guard lock(_mutex);
        return _requests.empty() ? StandInRequest{} : _requests.back();
    }
    std::size_t count() const {
        std::lock_guard lock(_mutex);
        return _requests.size();
    }
    /// Requests whose response writing failed or was cut (the proxy cancelled them).
    int aborted() const { return _aborted.load(); }

  private:
    class Handler : public Poco::Net::HTTPRequestHandler {
      public:
        explicit Handler(UpstreamStandIn& owner) : _owner(owner) {}
        void handleRequest(Poco::Net::HTTPServerRequest& request,
                           Poco::Net::HTTPServerResponse& response) override {
            StandInRequest seen;
            seen.method = request.getMethod();
            seen.uri = request.getURI();
            for (const auto& [name, value] : request) {
                std::string lower;
                for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                seen.headers[lower] = value;
            }
            Poco::StreamCopier::copyToString(request.stream(), seen.body);
            StandInReply reply;
            {
                std::lock_guard lock(_owner._mutex);
                _owner._requests.push_back(seen);
                if (!_owner._queue.empty()) {
                    reply = std::move(_owner._queue.front());
                    _owner._queue.erase(_owner._queue.begin());
                } else {
                    reply = _owner._reply;
                }
            }
            if (reply.closeWithoutAnswer) {
                dynamic_cast<Poco::Net::HTTPServerRequestImpl&>(request).detachSocket().close();
                return;
            }
            if (reply.firstByteDelay_ms > 0)
                std::this_thread::sleep_for(std::chrono::milliseconds(reply.firstByteDelay_ms));
            response.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(reply.status));
            response.setContentType(reply.contentType);
            for (const auto& [name, value] : reply.headers) response.set(name, value);
            if (!reply.chunked && reply.dropAfterBytes == 0) {
                response.sendBuffer(reply.body.data(), reply.body.size());
                return;
            }
            if (reply.chunked)
                response.setChunkedTransferEncoding(true);
            else
                response.setContentLength(static_cast<std::streamsize>(reply.body.size()));
            std::ostream& out = response.send();
            const std::size_t end = reply.dropAfterBytes > 0
                                        ? std::min(reply.dropAfterBytes, reply.body.size())
                                        : reply.body.size();
            for (std::size_t pos = 0; pos < end; pos += reply.chunkBytes) {
                out.write(reply.body.data() + pos,
                          static_cast<std::streamsize>(std::min(reply.chunkBytes, end - pos)));
                out.flush();
                if (!out.good()) {
                    ++_owner._aborted;
                    return;
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
                if (reply.pauseAfterBytes > 0 && pos < reply.pauseAfterBytes &&
                    pos + reply.chunkBytes >= reply.pauseAfterBytes)
                    std::this_thread::sleep_for(std::chrono::milliseconds(reply.pause_ms));
            }
            if (reply.dropAfterBytes > 0) {
                // Detached so that Poco writes no terminating chunk; closing it is the drop.
                auto& impl = dynamic_cast<Poco::Net::HTTPServerRequestImpl&>(request);
                impl.detachSocket().close();
            }
        }

      private:
        UpstreamStandIn& _owner;
    };
    class Factory : public Poco::Net::HTTPRequestHandlerFactory {
      public:
        explicit Factory(UpstreamStandIn& owner) : _owner(owner) {}
        Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
            return new Handler(_owner);
        }

      private:
        UpstreamStandIn& _owner;
    };

    std::unique_ptr<Poco::Net::HTTPServer> _server;
    int _port = 0;
    mutable std::mutex _mutex;
    StandInReply _reply;
    std::vector<StandInReply> _queue;
    std::vector<StandInRequest> _requests;
    std::atomic<int> _aborted{0};
};

}  // namespace archestra::proxy::test
