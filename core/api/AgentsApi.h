// /api/agents: profiles ("agents" in the API) with their teams and labels (reference-api.md §1, §2.2, §4).
#pragma once

#include "core/auth/AuthService.h"
#include "core/http/Router.h"

#include <functional>
#include <memory>

namespace archestra::api {

/// `onChange` runs after every successful write (create, update, delete, default creation) so the proxy can
/// drop its cached profiles; the API module does not depend on the proxy.
void registerAgentRoutes(http::Router& router, std::shared_ptr<auth::AuthService> auth,
                         std::function<void()> onChange);

}  // namespace archestra::api
