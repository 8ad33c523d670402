// Router: route declarations (path templates, access rule, OpenAPI facts) and matching of method + path.
#pragma once

#include "core/http/Principal.h"

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace archestra::http {

class Context;
using Handler = std::function<void(Context&)>;

/// One query parameter, for validation and the OpenAPI document.
struct QueryParam {
    std::string name;
    nlohmann::json schema;  ///< JSON schema, e.g. {"type":"integer","minimum":1}
    bool required = false;
    std::string description = {};
};

/// Everything known about a route. The same declaration drives matching, access control and /openapi.json.
struct RouteSpec {
    std::string method;       ///< GET, POST, PUT, PATCH, DELETE, or "*" for any
    std::string path;         ///< template: /api/agents/{id}; a final "/*" matches the rest (param "*")
    std::string operationId;  ///< OpenAPI operationId (the original's, e.g. createAgent)
    std::string tag;          ///< OpenAPI tag
    std::string summary;
    Access access;
    nlohmann::json requestBody = nullptr;  ///< JSON schema of the body, null when none
    nlohmann::json response = nullptr;     ///< JSON schema of the 200 body
    std::vector<QueryParam> query = {};
    bool hidden = false;           ///< left out of the OpenAPI document (proxy pass-through)
    std::size_t maxBodyBytes = 0;  ///< 0: the listener's default
    /// Path parameters whose value must be a UUID v4 (400 otherwise, before the handler runs).
    std::vector<std::string> uuidParams = {};
    /// The JSON body of every error answered on this route (status, type, message); null: the platform's
    /// {"error":{"message","type"}}. The LLM proxy's routes answer in their provider's shape, so an SDK reads
    /// a 404 or a 413 the way it reads the provider's own errors.
    std::function<std::string(int status, const std::string& type, const std::string& message)> errorBody =
        nullptr;
};

struct Route {
    RouteSpec spec;
    Handler handler;
};

/// A template segment: literal, or {name} with optional literal prefix/suffix (e.g. {model}:generateContent).
struct Segment {
    std::string prefix;
    std::string param;  ///< empty: literal segment (prefix holds it)
    std::string suffix;
    bool rest = false;  ///< "*"
};

struct RouteMatch {
    const Route* route = nullptr;
    std::map<std::string, std::string> params;
    /// Set when the path matched some route but not for this method (405).
    std::vector<std::string> allowedMethods;
};

/// Holds the routes of one listener. Built at start-up, then read-only (thread-safe for concurrent matching).
class Router {
  public:
    /// Adds a route; throws std::invalid_argument on a malformed template or a duplicate method+path.
    void add(RouteSpec spec, Handler handler);

    RouteMatch match(const std::string& method, const std::string& path) const;

    const std::vector<std::unique_ptr<Route>>& routes() const { return _routes; }

  private:
    struct Compiled {
        const Route* route;
        std::vector<Segment> segments;
        int specificity;
    };
    /// Tries one compiled route against the path's parts; keeps the best match or notes a 405 method.
    void consider(const Compiled& compiled, const std::string& method, const std::vector<std::string>& parts,
                  RouteMatch& best, int& bestScore, std::vector<std::string>& allowed) const;

    std::vector<std::unique_ptr<Route>> _routes;
    std::vector<Compiled> _compiled;
    /// Positions in _compiled by first segment when that is a literal: only those can match a path that
    /// starts with it (the proxy's paths skip the ~hundreds of /api routes). Routes starting with a
    /// parameter or "*", or with no segment, may match any path and are always tried. Both lists are in
    /// declaration order, which decides between equally specific matches.
    std::unordered_map<std::string, std::vector<std::size_t>> _byFirstLiteral;
    std::vector<std::size_t> _anyFirst;
};

/// Splits a path into segments ("/a/b/" -> a, b). Percent-decoding is left to the caller.
std::vector<std::string> splitPath(const std::string& path);

/// True for a canonical UUID v4 string.
bool isUuidV4(const std::string& text);

/// True for a canonical UUID string of version 1 to 8 with the RFC 9562 variant (what path parameters take:
/// most ids are v4 from gen_random_uuid(), interaction ids are v7).
bool isUuid(const std::string& text);

}  // namespace archestra::http
