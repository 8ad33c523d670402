// /api/teams: teams of the caller's organisation and their members (reference-api.md §1, §2.2).
#pragma once

#include "core/auth/AuthService.h"
#include "core/http/Router.h"

#include <memory>

namespace archestra::api {

void registerTeamRoutes(http::Router& router, std::shared_ptr<auth::AuthService> auth);

}  // namespace archestra::api
