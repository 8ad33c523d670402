// The permission model: resources, actions and what each built-in role may do (reference-api.md §3.4).
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <set>
#include <string>
#include <vector>

namespace archestra::auth {

/// resource -> allowed actions. The JSON form ({"team":["read"]}) is what /api/roles and
/// /api/user/permissions exchange.
using PermissionMap = std::map<std::string, std::set<std::string>>;

/// Every resource with the actions it supports, in declaration order. THE table: routes name a
/// resource:action from here (Access::permission), and tests derive expectations from it.
const std::vector<std::pair<std::string, std::vector<std::string>>>& permissionCatalog();

/// admin, editor, member.
const std::vector<std::string>& builtInRoles();
bool isBuiltInRole(const std::string& role);

/// The permissions of a built-in role; empty for any other name.
const PermissionMap& builtInPermissions(const std::string& role);

/// True when `permissions` grants resource:action.
bool allows(const PermissionMap& permissions, const std::string& resource, const std::string& action);

/// True when resource:action appears in the catalog (a route declaring anything else is a bug).
bool isKnownPermission(const std::string& resource, const std::string& action);

nlohmann::json toJson(const PermissionMap& permissions);
/// Parses {"resource":["action",...]}; throws std::invalid_argument naming the unknown resource or action.
PermissionMap permissionsFromJson(const nlohmann::json& json);

}  // namespace archestra::auth
