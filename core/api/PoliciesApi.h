// /api/autonomy-policies (tool invocation) and /api/trusted-data-policies: guardrail policy CRUD
// (reference-api.md §1, §2.2, §4).
#pragma once

#include "core/auth/AuthService.h"
#include "core/http/Router.h"

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <string>

namespace archestra::api {

/// The two policy kinds, for callers outside the HTTP routes (the MCP gateway's built-in tools).
enum class PolicyKindId { Invalid = 0, ToolInvocation, TrustedData };

/// The routes' own operations (same validation, SQL and JSON shapes). They throw http::ApiError: 400 naming
/// the field, 404 for an unknown id. They do not run `onChange`: the caller invalidates what it cached.
nlohmann::json listPolicies(db::Database& db, PolicyKindId kind);
nlohmann::json getPolicy(db::Database& db, PolicyKindId kind, const std::string& id);
nlohmann::json createPolicy(db::Database& db, PolicyKindId kind, const nlohmann::json& body);
/// Partial update: fields left out keep their stored value.
nlohmann::json updatePolicy(db::Database& db, PolicyKindId kind, const std::string& id,
                            const nlohmann::json& body);
void deletePolicy(db::Database& db, PolicyKindId kind, const std::string& id);

/// `onChange` runs after every successful write so the proxy can drop what it cached about agent tools and
/// their policies; the API module does not depend on the proxy.
void registerPolicyRoutes(http::Router& router, std::shared_ptr<auth::AuthService> auth,
                          std::function<void()> onChange);

}  // namespace archestra::api
