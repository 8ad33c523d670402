// /api/limits: token-cost and call-count limits per organisation, team or profile, with their current usage
// (reference-api.md §1, reference-proxy.md §2.5).
#pragma once

#include "core/auth/AuthService.h"
#include "core/http/Router.h"

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace archestra::api {

struct LimitHooks {
    std::function<void()> onChange;    ///< after a write (the proxy reloads its limits)
    std::function<void()> beforeRead;  ///< before a list: reset the limits whose period is over
};

/// Filters of a limit list; unset or empty matches everything. Values are not validated here.
struct LimitFilter {
    std::optional<std::string> entityType;
    std::optional<std::string> entityId;
    std::optional<std::string> limitType;
};

/// The operations behind the routes (also used by the MCP gateway's built-in limit tools), with the routes'
/// validation and JSON shapes; ApiError on bad input (400 naming the field) or a missing limit (404). The
/// caller runs the change hook after a write.
nlohmann::json listLimits(db::Database& db, const LimitFilter& filter);
nlohmann::json getLimit(db::Database& db, const std::string& id);
nlohmann::json createLimit(db::Database& db, const nlohmann::json& body);
nlohmann::json updateLimit(db::Database& db, const std::string& id, const nlohmann::json& body);
void deleteLimit(db::Database& db, const std::string& id);

void registerLimitRoutes(http::Router& router, std::shared_ptr<auth::AuthService> auth, LimitHooks hooks);

}  // namespace archestra::api
