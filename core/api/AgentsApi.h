// /api/agents: profiles ("agents" in the API) with their teams and labels (reference-api.md §1, §2.2, §4).
#pragma once

#include "core/auth/AuthService.h"
#include "core/http/Router.h"

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace archestra::api {

/// POST /api/agents's operation (also the MCP gateway's archestra__create_profile): validates the body (name,
/// teams of `organizationId`, labels, flags) and returns the new profile; ApiError 400 naming the field. The
/// caller runs the change hook.
nlohmann::json createAgent(db::Database& db, const std::string& organizationId, const nlohmann::json& body);
/// One profile as GET /api/agents/{id} shows it, without visibility rules (the caller applies its own).
std::optional<nlohmann::json> findAgentById(db::Database& db, const std::string& id);

/// `onChange` runs after every successful write (create, update, delete, default creation) so the proxy can
/// drop its cached profiles; the API module does not depend on the proxy.
void registerAgentRoutes(http::Router& router, std::shared_ptr<auth::AuthService> auth,
                         std::function<void()> onChange);

}  // namespace archestra::api
