// /api/limits: token-cost and call-count limits per organisation, team or profile, with their current usage
// (reference-api.md §1, reference-proxy.md §2.5).
#pragma once

#include "core/auth/AuthService.h"
#include "core/http/Router.h"

#include <functional>
#include <memory>

namespace archestra::api {

struct LimitHooks {
    std::function<void()> onChange;    ///< after a write (the proxy reloads its limits)
    std::function<void()> beforeRead;  ///< before a list: reset the limits whose period is over
};

void registerLimitRoutes(http::Router& router, std::shared_ptr<auth::AuthService> auth, LimitHooks hooks);

}  // namespace archestra::api
