// /api/teams: teams of the caller's organisation and their members (reference-api.md §1, §2.2).
#pragma once

#include "core/auth/AuthService.h"
#include "core/http/Router.h"

#include <functional>
#include <memory>

namespace archestra::api {

/// `onChange` runs after a write that can change TOON compression (the proxy reloads its settings).
void registerTeamRoutes(http::Router& router, std::shared_ptr<auth::AuthService> auth,
                        std::function<void()> onChange = {});

}  // namespace archestra::api
