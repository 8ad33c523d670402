// /api/optimization-rules: model switching rules (reference-api.md §1, reference-proxy.md §2.6); the proxy
// sends the first matching rule's target model upstream.
#pragma once

#include "core/auth/AuthService.h"
#include "core/http/Router.h"

#include <functional>
#include <memory>

namespace archestra::api {

/// `onChange` runs after every write (the proxy reloads its rules).
void registerOptimizationRuleRoutes(http::Router& router, std::shared_ptr<auth::AuthService> auth,
                                    std::function<void()> onChange);

}  // namespace archestra::api
