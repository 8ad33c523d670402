// /api/organization: the (single) organisation's settings.
#pragma once

#include "core/auth/AuthService.h"
#include "core/http/Router.h"

#include <memory>

namespace archestra::api {

void registerOrganizationRoutes(http::Router& router, std::shared_ptr<auth::AuthService> auth);

}  // namespace archestra::api
