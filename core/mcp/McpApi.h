// /api/internal_mcp_catalog (private registry) and /api/mcp_server (installations) routes (reference-api.md
// §1, §2.2).
#pragma once

#include "core/auth/AuthService.h"
#include "core/http/Router.h"
#include "core/mcp/McpRegistry.h"

#include <memory>

namespace archestra::mcp {

void registerMcpRoutes(http::Router& router, std::shared_ptr<auth::AuthService> auth,
                       std::shared_ptr<McpRegistry> registry);

}  // namespace archestra::mcp
