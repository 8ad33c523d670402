// /api/dual-llm-config and /api/dual-llm-results: the quarantined/main model settings and the cached
// sanitisation results (reference-api.md §1, reference-proxy.md §2.3).
#pragma once

#include "core/auth/AuthService.h"
#include "core/http/Router.h"

#include <functional>
#include <memory>

namespace archestra::api {

/// `onChange` runs after every config write (the proxy reloads what it caches).
void registerDualLlmRoutes(http::Router& router, std::shared_ptr<auth::AuthService> auth,
                           std::function<void()> onChange);

}  // namespace archestra::api
