// Principal: who is making a request, as established by the authenticator.
#pragma once

#include <string>

namespace archestra::http {

/// How the caller proved who they are.
enum class AuthMethod { Invalid = 0, Session, ApiKey };

/// The authenticated caller. Filled by the Authenticator; handlers read it through Context::principal().
struct Principal {
    std::string userId;
    std::string email;
    std::string name;
    std::string organizationId;
    std::string role;  ///< admin | editor | member | a custom role id
    AuthMethod method = AuthMethod::Invalid;
    std::string sessionId;  ///< set for Session
    std::string apiKeyId;   ///< set for ApiKey
};

/// What a route requires. Declared with the route so the permission test and OpenAPI see the same thing.
struct Access {
    enum class Kind { Invalid = 0, Public, Authenticated, Permission };
    Kind kind = Kind::Invalid;
    std::string resource;  ///< e.g. "profile"
    std::string action;    ///< e.g. "read"

    static Access publicRoute() { return {Kind::Public, "", ""}; }
    static Access authenticated() { return {Kind::Authenticated, "", ""}; }
    static Access permission(std::string resource, std::string action) {
        return {Kind::Permission, std::move(resource), std::move(action)};
    }
};

}  // namespace archestra::http
