// /api/mcp_server_installation_requests: members ask for an MCP server to be added to the private registry;
// admins approve (which adds the catalog item) or decline, with notes on both sides (reference-api.md §1).
#pragma once

#include "core/auth/AuthService.h"
#include "core/http/Router.h"
#include "core/mcp/McpRegistry.h"

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>

namespace archestra::mcp {

/// Adds a catalog item from a body shaped like POST /api/internal_mcp_catalog and returns it; throws
/// http::ApiError (400 naming the field) when the body is not a valid catalog item.
using CatalogCreator = std::function<nlohmann::json(const nlohmann::json& body)>;

void registerInstallationRequestRoutes(http::Router& router, std::shared_ptr<auth::AuthService> auth,
                                       std::shared_ptr<McpRegistry> registry,
                                       CatalogCreator createCatalogItem);

}  // namespace archestra::mcp
