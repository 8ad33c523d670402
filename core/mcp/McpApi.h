// /api/internal_mcp_catalog (private registry) and /api/mcp_server (installations) routes (reference-api.md
// §1, §2.2).
#pragma once

#include "core/auth/AuthService.h"
#include "core/http/Router.h"
#include "core/mcp/McpRegistry.h"

#include <nlohmann/json.hpp>

#include <memory>

namespace archestra::mcp {

/// POST /api/internal_mcp_catalog's work without the HTTP exchange (installation requests reuse it on
/// approval): validates `body` (http::ApiError 400 naming the field), moves its secrets to the store, inserts
/// the item and returns it as the API shows it.
nlohmann::json createCatalogItem(McpRegistry& registry, const nlohmann::json& body);

void registerMcpRoutes(http::Router& router, std::shared_ptr<auth::AuthService> auth,
                       std::shared_ptr<McpRegistry> registry);

}  // namespace archestra::mcp
