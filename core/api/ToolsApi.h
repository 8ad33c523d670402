// /api/tools: every tool row (proxy-discovered and MCP) with its profile and MCP server (reference-api.md
// §1).
#pragma once

#include "core/auth/AuthService.h"
#include "core/http/Router.h"

#include <memory>
#include <string>

namespace archestra::api {

/// SQL rendering the tool row `t` (joined as ToolsApi does: `ta` its profile, `m` its MCP server) as the
/// Tool JSON object; shared with the agent-tool routes so both read the same shape.
std::string toolJsonSql();
/// `FROM tools t LEFT JOIN agents ta ... LEFT JOIN mcp_server m ...` for toolJsonSql().
std::string toolFromSql();
/// The Tool JSON schema of the OpenAPI document.
nlohmann::json toolSchema();

void registerToolRoutes(http::Router& router, std::shared_ptr<auth::AuthService> auth);

}  // namespace archestra::api
