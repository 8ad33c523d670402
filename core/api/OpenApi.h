// OpenAPI 3.0.0 document generated from a Router's route declarations, and the GET /openapi.json route.
#pragma once

#include "core/http/Router.h"

#include <nlohmann/json.hpp>

#include <string>

namespace archestra::api {

struct OpenApiOptions {
    std::string title = "Archestra Platform API";
    std::string version = ARCHESTRA_VERSION;
    std::string serverUrl =
        {};  ///< servers[0].url (e.g. ARCHESTRA_API_BASE_URL); no servers entry when empty
};

/// Describes every route of `router` except hidden ones and rest ("/*") templates. Throws
/// std::invalid_argument when a described route has no operationId, an operationId is used twice, or the
/// method is "*" (a route the document cannot describe must say so with `hidden`).
nlohmann::json buildOpenApiDocument(const http::Router& router, const OpenApiOptions& options = {});

/// Adds the public GET /openapi.json route and builds its document right away, so a bad declaration fails
/// start-up instead of the first request. Call it after every other route of `router` is declared: the
/// document is a snapshot of the routes present at this moment (including /openapi.json itself).
void registerOpenApiRoute(http::Router& router, OpenApiOptions options = {});

}  // namespace archestra::api
