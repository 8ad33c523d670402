// Registration of the accounts-and-access routes: /api/auth/* (better-auth compatible), invitations,
// members, custom roles, /api/user/permissions and /api/features.
#pragma once

#include "core/auth/AuthService.h"
#include "core/http/Router.h"

#include <memory>

namespace archestra::auth {

/// Sign-in/up/out, session, password, API keys, default-credentials status and features.
void registerAuthRoutes(http::Router& router, std::shared_ptr<AuthService> service);
/// Organisation members, invitations, custom roles (enterprise) and the caller's permissions.
void registerMemberRoutes(http::Router& router, std::shared_ptr<AuthService> service);

/// JSON of the session/user pair for get-session, and the shared member/invitation renderings.
std::string invitationColumnsSql();
nlohmann::json invitationJson(const db::Row& row);

}  // namespace archestra::auth
