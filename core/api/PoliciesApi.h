// /api/autonomy-policies (tool invocation) and /api/trusted-data-policies: guardrail policy CRUD
// (reference-api.md §1, §2.2, §4).
#pragma once

#include "core/auth/AuthService.h"
#include "core/http/Router.h"

#include <functional>
#include <memory>

namespace archestra::api {

/// `onChange` runs after every successful write so the proxy can drop what it cached about agent tools and
/// their policies; the API module does not depend on the proxy.
void registerPolicyRoutes(http::Router& router, std::shared_ptr<auth::AuthService> auth,
                          std::function<void()> onChange);

}  // namespace archestra::api
