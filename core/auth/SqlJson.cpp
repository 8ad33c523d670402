// Request-body field readers shared by the auth, organisation and team routes.
#include "core/auth/SqlJson.h"

#include "core/http/ApiError.h"

namespace archestra::auth {

std::optional<std::string> optionalStringField(const nlohmann::json& body, const std::string& field) {
    auto it = body.find(field);
    if (it == body.end() || it->is_null()) return std::nullopt;
    if (!it->is_string())
        throw http::ApiError::badRequest("Field '" + field + "': expected a string, got " + it->dump());
    return it->get<std::string>();
}

std::string requiredStringField(const nlohmann::json& body, const std::string& field) {
    auto value = optionalStringField(body, field);
    if (!value || value->empty())
        throw http::ApiError::badRequest("Field '" + field + "': expected a non-empty string");
    return *value;
}

std::optional<bool> optionalBoolField(const nlohmann::json& body, const std::string& field) {
    auto it = body.find(field);
    if (it == body.end() || it->is_null()) return std::nullopt;
    if (!it->is_boolean())
        throw http::ApiError::badRequest("Field '" + field + "': expected a boolean, got " + it->dump());
    return it->get<bool>();
}

}  // namespace archestra::auth
