// BodyValidator: checks a JSON request body against the schema its RouteSpec declares, before the handler
// runs.
#pragma once

#include "core/http/Router.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace archestra::http {

/// Management routes (/api/...) take small JSON bodies: 1 MiB is Fastify's default body limit in the
/// original, so a 10 MB field is refused with 413 before it is read (the listener-wide limit exists for LLM
/// requests with images). A route's own maxBodyBytes wins.
constexpr std::size_t kManagementMaxBodyBytes = 1u << 20;

/// True for the management API's routes (/api/...), whose declared body schemas are enforced.
inline bool isManagementRoute(const RouteSpec& spec) {
    return spec.path.rfind("/api/", 0) == 0;
}

/// The first way `value` breaks `schema` (the OpenAPI 3.0 dialect the routes declare: type, also as an array
/// with "null"; nullable; enum; required; properties; items; min/maxLength; minimum/maximum; min/maxItems;
/// format uuid; oneOf/anyOf), as a message naming the field ("Field 'labels[0].key': expected a string, got
/// 12"); nullopt when it conforms. Unknown properties are allowed (the original strips them), and keywords it
/// does not know are ignored, so a schema can only make validation stricter where it says so.
std::optional<std::string> validateBody(const nlohmann::json& schema, const nlohmann::json& value);

}  // namespace archestra::http
