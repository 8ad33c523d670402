// Who is calling the MCP gateway and what they may do: a team or organisation token, a platform API key, or
// (legacy /v1/mcp) the bare profile id.
#pragma once

#include "core/auth/Permissions.h"
#include "core/http/Principal.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace archestra::gateway {

/// A valid `archestra_` team or organisation token (core/auth's TeamTokenIdentity, adapted at wiring time so
/// the gateway builds without the token store).
struct TokenIdentity {
    std::string tokenId;
    std::string organizationId;
    std::optional<std::string> teamId;
    bool isOrganizationToken = false;
};

struct Caller {
    enum class Kind { Invalid = 0, ProfileId, OrganizationToken, TeamToken, ApiKey };
    Kind kind = Kind::Invalid;
    std::string organizationId;
    std::optional<std::string> teamId;    ///< team tokens
    std::string tokenId;                  ///< team/organisation tokens
    std::optional<http::Principal> user;  ///< API keys
    /// What the built-in tools may do for this caller. Tokens act for an organisation or a team rather than
    /// a person, so they carry a built-in role's permissions: the organisation token (created by admins for
    /// org-wide use) those of `admin`, a team token and the legacy profile-id bearer those of `member`. An
    /// API key carries its user's role.
    auth::PermissionMap permissions;
    std::string role;  ///< the role whose permissions apply, for messages

    bool allows(const std::string& resource, const std::string& action) const {
        return auth::allows(permissions, resource, action);
    }
    std::string describe() const;
    /// Discovery's tokenAuth object ({tokenId, teamId, isOrganizationToken}); null when not a token.
    nlohmann::json tokenAuthJson() const;
    /// Stored with the session (who opened it).
    nlohmann::json toJson() const;
};

}  // namespace archestra::gateway
