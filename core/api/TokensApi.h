// /api/tokens: the organisation token and one token per team for the MCP gateway (list, reveal, rotate).
#pragma once

#include "core/http/Router.h"

#include <memory>
#include <string>

namespace archestra::auth {
class AuthService;
}
namespace archestra::db {
class Database;
}
namespace archestra::secrets {
class SecretStore;
}

namespace archestra::api {

/// Creates the organisation token of `organizationId` and a token for each of its teams that has none.
/// Values go into `secrets` (`{"token": value}`); team_token keeps the id, the first 14 characters and the
/// SHA-256 for validation. A secret whose row could not be written is deleted again (no orphans).
void ensureTeamTokens(db::Database& db, secrets::SecretStore& secrets, const std::string& organizationId);

void registerTokenRoutes(http::Router& router, std::shared_ptr<auth::AuthService> auth,
                         std::shared_ptr<secrets::SecretStore> secrets);

}  // namespace archestra::api
