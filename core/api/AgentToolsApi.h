// /api/agent-tools and /api/agents/{agentId}/tools: which profile may use which tool, and with what trust
// settings (reference-api.md §1, §2.2).
#pragma once

#include "core/auth/AuthService.h"
#include "core/http/Router.h"

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>

namespace archestra::api {

/// POST /api/agents/tools/bulk-assign's operation (also the MCP gateway's
/// archestra__bulk_assign_tools_to_profiles): {assignments:[{agentId, toolId, ...settings}]} -> {succeeded,
/// failed, duplicates}. A malformed request throws ApiError (400 naming the field) and writes nothing; the
/// caller runs the change hook when something was assigned.
nlohmann::json bulkAssignTools(db::Database& db, const nlohmann::json& body);

/// `onChange` runs after every successful write (the proxy reloads its tool settings).
void registerAgentToolRoutes(http::Router& router, std::shared_ptr<auth::AuthService> auth,
                             std::function<void()> onChange);

}  // namespace archestra::api
