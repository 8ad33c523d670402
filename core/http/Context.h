// Context: one request as a handler sees it (params, body, JSON helpers, the caller) and its response.
#pragma once

#include "core/http/Principal.h"
#include "core/http/Router.h"

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace archestra::http {

/// Per-request state. Lives on the worker thread's stack for the duration of one request; not shared.
class Context {
  public:
    Context(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response, std::string path,
            std::string rawQuery, std::size_t maxBodyBytes);

    Poco::Net::HTTPServerRequest& request() { return _request; }
    Poco::Net::HTTPServerResponse& response() { return _response; }
    /// The client connection's socket descriptor, for poll(2); -1 when the request did not come from a
    /// network connection (a test's in-memory request) or the socket is gone.
    int clientSocket() noexcept;

    const std::string& method() const { return _request.getMethod(); }
    /// Decoded path without the query string.
    const std::string& path() const { return _path; }
    const std::string& rawQuery() const { return _rawQuery; }
    const Route* route() const { return _route; }
    void setRoute(const Route* route, std::map<std::string, std::string> params);

    /// A path parameter declared in the route template; empty when absent.
    const std::string& param(const std::string& name) const;
    /// A query parameter (first occurrence, decoded).
    std::optional<std::string> query(const std::string& name) const;
    /// Query parameter as integer within [min,max]; 400 naming the parameter otherwise.
    std::optional<long long> queryInt(const std::string& name, long long min, long long max) const;
    /// A request header; empty when absent.
    std::string header(const std::string& name) const;

    /// The whole body, read once; 413 when it exceeds the route's limit.
    const std::string& body();
    /// The body parsed as JSON; 400 naming the position when it is not JSON. An empty body is an error.
    const nlohmann::json& json();
    /// The body as a JSON object (400 when it is another type); an empty body gives {}.
    const nlohmann::json& jsonObject();

    const std::string& requestId() const { return _requestId; }
    void setRequestId(std::string id) { _requestId = std::move(id); }
    const std::string& clientAddress() const { return _clientAddress; }

    const Principal* principal() const { return _principal ? &*_principal : nullptr; }
    /// The caller, or 401 when the route was reached without one (a route declared Public).
    const Principal& requirePrincipal() const;
    void setPrincipal(Principal principal) { _principal = std::move(principal); }

    /// Sends a JSON body with the given status.
    void sendJson(int status, const nlohmann::json& body);
    /// Sends bytes with a content type.
    void send(int status, const std::string& contentType, const std::string& body);
    /// Sends the error body: the route's own shape (RouteSpec::errorBody) or the standard one.
    void sendError(int status, const std::string& type, const std::string& message);
    bool responded() const { return _response.sent(); }
    int status() const { return static_cast<int>(_response.getStatus()); }

    std::chrono::steady_clock::time_point startedAt() const { return _startedAt; }

    /// True when the request carries a body (Content-Length > 0 or chunked).
    bool hasBody() const;
    /// Drains the unread part of the body (keep-alive needs it); returns false when it was too big to drain.
    bool drainBody();

  private:
    Poco::Net::HTTPServerRequest& _request;
    Poco::Net::HTTPServerResponse& _response;
    std::string _path;
    std::string _rawQuery;
    std::size_t _maxBodyBytes;
    const Route* _route = nullptr;
    std::map<std::string, std::string> _params;
    std::optional<std::string> _body;
    std::optional<nlohmann::json> _json;
    std::string _requestId;
    std::string _clientAddress;
    std::optional<Principal> _principal;
    std::chrono::steady_clock::time_point _startedAt;
};

}  // namespace archestra::http
