// Who is calling the MCP gateway (see Caller.h).
#include "core/gateway/Caller.h"

namespace archestra::gateway {

std::string Caller::describe() const {
    switch (kind) {
        case Kind::OrganizationToken:
            return "the organization token (role " + role + ")";
        case Kind::TeamToken:
            return "the token of team " + teamId.value_or("?") + " (role " + role + ")";
        case Kind::ApiKey:
            return "the API key of " + (user ? user->email : std::string("?")) + " (role " + role + ")";
        case Kind::ProfileId:
            return "the legacy profile-id bearer (role " + role + ")";
        case Kind::Invalid:
            break;
    }
    return "an unauthenticated caller";
}

nlohmann::json Caller::tokenAuthJson() const {
    if (kind != Kind::OrganizationToken && kind != Kind::TeamToken) return nullptr;
    return {{"tokenId", tokenId},
            {"teamId", teamId ? nlohmann::json(*teamId) : nlohmann::json(nullptr)},
            {"isOrganizationToken", kind == Kind::OrganizationToken}};
}

nlohmann::json Caller::toJson() const {
    static const char* const names[] = {"invalid", "profileId", "organizationToken", "teamToken", "apiKey"};
    nlohmann::json out = {
        {"kind", names[static_cast<int>(kind)]}, {"organizationId", organizationId}, {"role", role}};
    if (teamId) out["teamId"] = *teamId;
    if (!tokenId.empty()) out["tokenId"] = tokenId;
    if (user) out["userId"] = user->userId;
    return out;
}

}  // namespace archestra::gateway
