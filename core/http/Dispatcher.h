// Dispatcher: the middleware chain every request on a listener passes through, in front of the Router.
#pragma once

#include "core/http/ApiError.h"
#include "core/http/Context.h"
#include "core/http/Router.h"

#include <Poco/Logger.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

namespace archestra::http {

/// Establishes the caller and decides access. Implemented by core/auth; called concurrently from worker
/// threads.
class Authenticator {
  public:
    virtual ~Authenticator() = default;
    /// The caller, or nullopt when the request carries no credentials. Throws ApiError for bad credentials.
    virtual std::optional<Principal> authenticate(Context& context) = 0;
    /// Throws ApiError (403) when `principal` may not use a route declared with `access`.
    virtual void authorize(const Principal& principal, const Access& access, Context& context) = 0;
};

/// Sees every finished request (metrics, tracing). Must be cheap and thread-safe.
class RequestObserver {
  public:
    virtual ~RequestObserver() = default;
    /// Before routing, on the thread that will serve the request (tracing sets its span context here).
    virtual void onRequestStart(const Context& /*context*/) {}
    virtual void onRequestDone(const Context& context, int status, double seconds) = 0;
};

/// Which browser origins may call the API with credentials.
struct CorsPolicy {
    /// Exact origins allowed (ARCHESTRA_FRONTEND_URL). Empty: any http(s)://localhost or 127.0.0.1 port.
    std::vector<std::string> origins;
    bool isAllowed(const std::string& origin) const;
};

struct DispatcherOptions {
    std::string name = "api";              ///< listener name for logs
    std::size_t maxBodyBytes = 50u << 20;  ///< default body limit (routes may lower or raise it)
    CorsPolicy cors;
};

/// Runs request id, CORS, routing (404/405), UUID checks, authentication, authorization, the handler and
/// error mapping. Immutable once listeners start; safe for concurrent use.
class Dispatcher {
  public:
    Dispatcher(const Router& router, DispatcherOptions options);

    void setAuthenticator(std::shared_ptr<Authenticator> authenticator) {
        _authenticator = std::move(authenticator);
    }
    void addObserver(std::shared_ptr<RequestObserver> observer) { _observers.push_back(std::move(observer)); }
    /// Maps exceptions of other modules (e.g. database unavailable -> 503) to an ApiError.
    void addExceptionMapper(std::function<std::optional<ApiError>(const std::exception&)> mapper) {
        _mappers.push_back(std::move(mapper));
    }
    /// Called when no route matches (static files on the UI listener); returns true when it answered.
    void setFallback(std::function<bool(Context&)> fallback) { _fallback = std::move(fallback); }

    void handle(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response);

    const Router& router() const { return _router; }
    /// Requests currently being handled (not idle keep-alive connections).
    int inFlight() const { return _inFlight.load(); }

  private:
    void dispatch(Context& context);
    void applyCors(Context& context) const;
    void answerError(Context& context, int status, const std::string& type, const std::string& message);

    const Router& _router;
    DispatcherOptions _options;
    std::shared_ptr<Authenticator> _authenticator;
    std::vector<std::shared_ptr<RequestObserver>> _observers;
    std::vector<std::function<std::optional<ApiError>(const std::exception&)>> _mappers;
    std::function<bool(Context&)> _fallback;
    Poco::Logger& _logger;
    std::atomic<int> _inFlight{0};
};

/// Adapts a Dispatcher to Poco's handler factory.
class DispatcherFactory : public Poco::Net::HTTPRequestHandlerFactory {
  public:
    explicit DispatcherFactory(Dispatcher& dispatcher) : _dispatcher(dispatcher) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest& request) override;

  private:
    Dispatcher& _dispatcher;
};

/// A fresh random UUID v4 (thread-safe, not for secrets).
std::string newRequestId();

/// A fresh UUID v7 (RFC 9562): the Unix time in milliseconds, then random bits; thread-safe, not for secrets.
/// For the ids of append-mostly tables (interactions): new keys land at the right edge of the primary key's
/// B-tree instead of on a random leaf, so an insert touches the pages already in cache, and ids sort by time.
std::string newTimeOrderedId();

}  // namespace archestra::http
