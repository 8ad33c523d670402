// /api/agent-tools and /api/agents/{agentId}/tools: which profile may use which tool, and with what trust
// settings (reference-api.md §1, §2.2).
#pragma once

#include "core/auth/AuthService.h"
#include "core/http/Router.h"

#include <functional>
#include <memory>

namespace archestra::api {

/// `onChange` runs after every successful write (the proxy reloads its tool settings).
void registerAgentToolRoutes(http::Router& router, std::shared_ptr<auth::AuthService> auth,
                             std::function<void()> onChange);

}  // namespace archestra::api
