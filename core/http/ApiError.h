// ApiError: the exception every handler throws for a client-visible failure; becomes
// {"error":{"message","type"}}.
#pragma once

#include <stdexcept>
#include <string>

namespace archestra::http {

/// Thrown by handlers and middleware; the dispatcher turns it into the JSON error body with its status.
/// Types follow the original's vocabulary (reference-api.md §0).
class ApiError : public std::runtime_error {
  public:
    ApiError(int status, std::string type, const std::string& message)
        : std::runtime_error(message), _status(status), _type(std::move(type)) {}

    int status() const { return _status; }
    const std::string& type() const { return _type; }

    static ApiError badRequest(const std::string& message) { return {400, "api_validation_error", message}; }
    static ApiError unauthenticated(const std::string& message = "Unauthenticated") {
        return {401, "api_authentication_error", message};
    }
    static ApiError forbidden(const std::string& message = "Forbidden") {
        return {403, "api_authorization_error", message};
    }
    static ApiError notFound(const std::string& message) { return {404, "api_not_found_error", message}; }
    static ApiError methodNotAllowed(const std::string& message) {
        return {405, "api_method_not_allowed_error", message};
    }
    static ApiError conflict(const std::string& message) { return {409, "api_conflict_error", message}; }
    static ApiError payloadTooLarge(const std::string& message) {
        return {413, "api_payload_too_large_error", message};
    }
    static ApiError tooManyRequests(const std::string& message) {
        return {429, "api_rate_limit_error", message};
    }
    static ApiError internal(const std::string& message) {
        return {500, "api_internal_server_error", message};
    }
    static ApiError unavailable(const std::string& message) {
        return {503, "api_service_unavailable_error", message};
    }

  private:
    int _status;
    std::string _type;
};

}  // namespace archestra::http
