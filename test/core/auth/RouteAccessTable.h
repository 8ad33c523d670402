// THE expected access of every /api route: "public", "authenticated" or "resource:action" from the permission
// table (core/auth/Permissions.cpp). RoleMatrixTest walks every route registered by app::registerRoutes and
// fails for a route missing here, for a declaration that differs, and for any caller the platform treats
// differently from what this entry and the permission table say. Add one line per new route.
#pragma once

#include <map>
#include <string>

namespace archestra::test {

inline const std::map<std::string, std::string>& expectedRouteAccess() {
    static const std::map<std::string, std::string> table = {
        // accounts and access (issue 4)
        {"POST /api/auth/sign-in/email", "public"},
        {"POST /api/auth/sign-up/email", "public"},
        {"POST /api/auth/sign-out", "public"},
        {"GET /api/auth/get-session", "public"},
        {"POST /api/auth/change-password", "authenticated"},
        {"POST /api/auth/api-key/create", "authenticated"},
        {"GET /api/auth/api-key/list", "authenticated"},
        {"GET /api/auth/api-key/get", "authenticated"},
        {"POST /api/auth/api-key/update", "authenticated"},
        {"POST /api/auth/api-key/delete", "authenticated"},
        {"GET /api/auth/default-credentials-status", "public"},
        {"GET /api/features", "public"},
        {"POST /api/auth/organization/invite-member", "invitation:create"},
        {"POST /api/auth/organization/cancel-invitation", "invitation:cancel"},
        {"POST /api/auth/organization/accept-invitation", "authenticated"},
        {"GET /api/auth/organization/list-invitations", "invitation:create"},
        {"GET /api/auth/organization/list-members", "member:read"},
        {"POST /api/auth/organization/update-member-role", "member:update"},
        {"POST /api/auth/organization/remove-member", "member:delete"},
        {"GET /api/auth/organization/get-full-organization", "organization:read"},
        {"GET /api/invitation/{id}/check", "public"},
        {"GET /api/roles", "organization:read"},
        {"POST /api/roles", "organization:update"},
        {"GET /api/roles/{roleId}", "organization:read"},
        {"PUT /api/roles/{roleId}", "organization:update"},
        {"DELETE /api/roles/{roleId}", "organization:update"},
        {"GET /api/user/permissions", "authenticated"},
        {"GET /api/teams", "team:read"},
        // secrets backend and MCP gateway tokens (issue 8, issue 4)
        {"GET /api/secrets/type", "organization:read"},
        {"POST /api/secrets/check-connectivity", "organization:update"},
        {"GET /api/tokens", "team:read"},
        {"GET /api/tokens/{tokenId}/value", "team:update"},
        {"POST /api/tokens/{tokenId}/rotate", "team:update"},
        {"POST /api/teams", "team:create"},
        {"GET /api/teams/{id}", "team:read"},
        {"PUT /api/teams/{id}", "team:update"},
        {"DELETE /api/teams/{id}", "team:delete"},
        {"GET /api/teams/{id}/members", "team:read"},
        {"POST /api/teams/{id}/members", "team:update"},
        {"DELETE /api/teams/{id}/members/{userId}", "team:update"},
        {"GET /api/organization", "organization:read"},
        {"PATCH /api/organization", "organization:update"},
        {"GET /api/organization/onboarding-status", "authenticated"},
        // profiles (issue 7)
        {"GET /api/agents", "profile:read"},
        {"GET /api/agents/all", "profile:read"},
        {"GET /api/agents/default", "profile:read"},
        {"POST /api/agents", "profile:create"},
        {"GET /api/agents/{id}", "profile:read"},
        {"PUT /api/agents/{id}", "profile:update"},
        {"DELETE /api/agents/{id}", "profile:delete"},
        {"GET /api/agents/labels/keys", "profile:read"},
        {"GET /api/agents/labels/values", "profile:read"},
        // guardrail policies
        {"GET /api/autonomy-policies/operators", "policy:read"},
        {"GET /api/autonomy-policies/tool-invocation", "policy:read"},
        {"POST /api/autonomy-policies/tool-invocation", "policy:create"},
        {"GET /api/autonomy-policies/tool-invocation/{id}", "policy:read"},
        {"PUT /api/autonomy-policies/tool-invocation/{id}", "policy:update"},
        {"DELETE /api/autonomy-policies/tool-invocation/{id}", "policy:delete"},
        {"GET /api/trusted-data-policies", "policy:read"},
        {"POST /api/trusted-data-policies", "policy:create"},
        {"GET /api/trusted-data-policies/{id}", "policy:read"},
        {"PUT /api/trusted-data-policies/{id}", "policy:update"},
        {"DELETE /api/trusted-data-policies/{id}", "policy:delete"},
        // observability (proxy)
        {"GET /api/interactions", "interaction:read"},
        {"GET /api/interactions/external-agent-ids", "interaction:read"},
        {"GET /api/interactions/{interactionId}", "interaction:read"},
        // tools, costs, limits, optimization, statistics (issues 6 and 7)
        {"GET /api/tools", "tool:read"},
        {"GET /api/tools/unassigned", "tool:read"},
        {"GET /api/agent-tools", "tool:read"},
        {"PATCH /api/agent-tools/{id}", "tool:update"},
        {"POST /api/agent-tools/bulk-update", "tool:update"},
        {"GET /api/agents/{agentId}/tools", "profile:read"},
        {"POST /api/agents/{agentId}/tools/{toolId}", "profile:update"},
        {"DELETE /api/agents/{agentId}/tools/{toolId}", "profile:update"},
        {"POST /api/agents/tools/bulk-assign", "profile:update"},
        {"GET /api/token-prices", "tokenPrice:read"},
        {"POST /api/token-prices", "tokenPrice:create"},
        {"GET /api/token-prices/{id}", "tokenPrice:read"},
        {"PUT /api/token-prices/{id}", "tokenPrice:update"},
        {"DELETE /api/token-prices/{id}", "tokenPrice:delete"},
        {"GET /api/limits", "limit:read"},
        {"POST /api/limits", "limit:create"},
        {"GET /api/limits/{id}", "limit:read"},
        {"PATCH /api/limits/{id}", "limit:update"},
        {"DELETE /api/limits/{id}", "limit:delete"},
        {"GET /api/optimization-rules", "profile:read"},
        {"POST /api/optimization-rules", "profile:create"},
        {"PUT /api/optimization-rules/{id}", "profile:update"},
        {"DELETE /api/optimization-rules/{id}", "profile:delete"},
        {"GET /api/statistics/teams", "interaction:read"},
        {"GET /api/statistics/agents", "interaction:read"},
        {"GET /api/statistics/models", "interaction:read"},
        {"GET /api/statistics/overview", "interaction:read"},
        {"GET /api/statistics/cost-savings", "interaction:read"},
    };
    return table;
}

}  // namespace archestra::test
