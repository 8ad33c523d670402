// The one permission table: catalog of resource actions and the built-in roles' grants.
#include "core/auth/Permissions.h"

#include <stdexcept>

namespace archestra::auth {
namespace {

const std::vector<std::string> kCrud = {"create", "read", "update", "delete"};

// Built-in role grants, written as "resource: actions". "*" means every action the catalog lists for the
// resource. Unlike the original these are enforced whether or not the enterprise licence is active.
// member:read is granted to every role (better-auth lets any member list the organisation's members).
const std::map<std::string, std::map<std::string, std::vector<std::string>>> kRoleGrants = {
    {"admin", {}},  // filled with the whole catalog below
    {"editor",
     {{"profile", kCrud},
      {"tool", kCrud},
      {"policy", kCrud},
      {"interaction", kCrud},
      {"dualLlmConfig", kCrud},
      {"dualLlmResult", kCrud},
      {"internalMcpCatalog", kCrud},
      {"mcpServer", kCrud},
      {"mcpServerInstallationRequest", kCrud},
      {"conversation", kCrud},
      {"limit", kCrud},
      {"tokenPrice", kCrud},
      {"prompt", kCrud},
      {"organization", {"read"}},
      {"team", {"read"}},
      {"member", {"read"}},
      {"mcpToolCall", {"read"}},
      {"chatSettings", {"read", "update"}}}},
    {"member",
     {{"profile", {"read"}},
      {"tool", kCrud},
      {"policy", kCrud},
      {"interaction", kCrud},
      {"dualLlmConfig", {"read"}},
      {"dualLlmResult", {"read"}},
      {"internalMcpCatalog", {"read"}},
      {"mcpServer", {"create", "read", "delete"}},
      {"mcpServerInstallationRequest", {"create", "read", "update"}},
      {"organization", {"read"}},
      {"team", {"read"}},
      {"member", {"read"}},
      {"mcpToolCall", {"read"}},
      {"conversation", kCrud},
      {"limit", {"read"}},
      {"tokenPrice", {"read"}},
      {"prompt", {"read"}},
      {"chatSettings", {"read"}}}},
};

std::map<std::string, PermissionMap> buildRoles() {
    std::map<std::string, PermissionMap> roles;
    for (const auto& [role, grants] : kRoleGrants) {
        PermissionMap& map = roles[role];
        if (role == "admin") {
            for (const auto& [resource, actions] : permissionCatalog())
                map[resource] = std::set<std::string>(actions.begin(), actions.end());
            continue;
        }
        for (const auto& [resource, actions] : grants) {
            for (const auto& action : actions) {
                if (!isKnownPermission(resource, action))
                    throw std::logic_error("role " + role + " grants unknown permission " + resource + ":" +
                                           action);
                map[resource].insert(action);
            }
        }
    }
    return roles;
}

}  // namespace

const std::vector<std::pair<std::string, std::vector<std::string>>>& permissionCatalog() {
    static const std::vector<std::pair<std::string, std::vector<std::string>>> catalog = {
        {"profile", {"create", "read", "update", "delete", "admin"}},
        {"tool", kCrud},
        {"policy", kCrud},
        {"interaction", kCrud},
        {"dualLlmConfig", kCrud},
        {"dualLlmResult", kCrud},
        {"organization", {"read", "update", "delete"}},
        {"ssoProvider", kCrud},
        {"member", {"create", "read", "update", "delete"}},
        {"invitation", {"create", "cancel"}},
        {"internalMcpCatalog", kCrud},
        {"mcpServer", {"create", "read", "update", "delete", "admin"}},
        {"mcpServerInstallationRequest", {"create", "read", "update", "delete", "admin"}},
        {"mcpToolCall", {"read"}},
        {"team", kCrud},
        {"conversation", kCrud},
        {"limit", kCrud},
        {"tokenPrice", kCrud},
        {"chatSettings", kCrud},
        {"prompt", kCrud},
        {"ac", kCrud},
    };
    return catalog;
}

const std::vector<std::string>& builtInRoles() {
    static const std::vector<std::string> roles = {"admin", "editor", "member"};
    return roles;
}

bool isBuiltInRole(const std::string& role) {
    return role == "admin" || role == "editor" || role == "member";
}

const PermissionMap& builtInPermissions(const std::string& role) {
    static const std::map<std::string, PermissionMap> roles = buildRoles();
    static const PermissionMap none;
    auto it = roles.find(role);
    return it == roles.end() ? none : it->second;
}

bool allows(const PermissionMap& permissions, const std::string& resource, const std::string& action) {
    auto it = permissions.find(resource);
    return it != permissions.end() && it->second.count(action) > 0;
}

bool isKnownPermission(const std::string& resource, const std::string& action) {
    for (const auto& [name, actions] : permissionCatalog()) {
        if (name != resource) continue;
        for (const auto& a : actions)
            if (a == action) return true;
        return false;
    }
    return false;
}

nlohmann::json toJson(const PermissionMap& permissions) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [resource, actions] : permissions) {
        if (actions.empty()) continue;
        // Catalog order, so clients see create/read/update/delete as the original lists them.
        nlohmann::json list = nlohmann::json::array();
        for (const auto& [name, known] : permissionCatalog()) {
            if (name != resource) continue;
            for (const auto& a : known)
                if (actions.count(a)) list.push_back(a);
        }
        out[resource] = list;
    }
    return out;
}

PermissionMap permissionsFromJson(const nlohmann::json& json) {
    if (!json.is_object())
        throw std::invalid_argument("expected an object mapping resources to arrays of actions");
    PermissionMap out;
    for (const auto& [resource, actions] : json.items()) {
        if (!actions.is_array())
            throw std::invalid_argument("resource '" + resource + "': expected an array of actions");
        for (const auto& action : actions) {
            if (!action.is_string() || !isKnownPermission(resource, action.get<std::string>()))
                throw std::invalid_argument("unknown permission " + resource + ":" +
                                            (action.is_string() ? action.get<std::string>() : action.dump()));
            out[resource].insert(action.get<std::string>());
        }
    }
    return out;
}

}  // namespace archestra::auth
