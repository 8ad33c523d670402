// Role mapping and group extraction over an identity provider's claims: pure functions the SSO broker uses
// after a login (reference-api.md §3.5: first matching rule wins, default role, strict mode).
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace archestra::auth::sso {

/// Evaluates one rule expression against `claims`. The expressions are the Handlebars subset the
/// original's documentation uses:
///   {{#includes <path> "value"}}true{{/includes}}  array claim contains value (or string claim equals it)
///   {{#equals <path> "value"}}true{{/equals}}      claim equals value
///   {{<path>}}                                     the claim is present and truthy
/// <path> is a dot path into the claims object (e.g. `groups`, `realm_access.roles`). Anything else is an
/// error (std::invalid_argument naming the expression), so a typo is reported when the rule is saved rather
/// than silently never matching.
bool evaluateExpression(const std::string& expression, const nlohmann::json& claims);

/// Checks the shape of a roleMapping object ({rules:[{expression,role}], defaultRole?, strictMode?,
/// skipRoleSync?}); returns the first problem ("roleMapping.rules[0].expression: ...") or "".
std::string validateRoleMapping(const nlohmann::json& roleMapping);

/// Outcome of role resolution.
struct RoleDecision {
    bool denied = false;  ///< strict mode and no rule matched
    std::string role;     ///< the role to apply when not denied
    bool matchedRule = false;
    std::string reason;  ///< why denied, for the log and the error page
};

/// First rule whose expression matches wins; otherwise defaultRole (or "member"); strictMode with no match
/// denies. A null/absent mapping gives "member".
RoleDecision resolveRole(const nlohmann::json& roleMapping, const nlohmann::json& claims);

/// Group names for team sync: from `groupsExpression` (a dot path, or a {{path}} template) when set,
/// otherwise the first present claim of groups|group|memberOf|member_of|roles|role|teams|team. Strings and
/// arrays of strings are accepted (a comma-separated string is split). Lowercased, trimmed, deduplicated.
std::vector<std::string> extractGroups(const nlohmann::json& claims, const std::string& groupsExpression);

/// The value at a dot path in `claims`, or nullptr.
const nlohmann::json* claimAt(const nlohmann::json& claims, const std::string& path);

}  // namespace archestra::auth::sso
