// Read API of the interaction log: /api/interactions, /api/interactions/{interactionId},
// /api/interactions/external-agent-ids.
#pragma once

#include <functional>

namespace archestra::db {
class Database;
}
namespace archestra::http {
class Router;
class Context;
}  // namespace archestra::http

namespace archestra::proxy {

/// Whether the caller sees every profile's interactions (profile:admin); others see only the interactions of
/// profiles assigned to one of their teams (reference-api.md: a non-admin only sees agents of its teams).
using SeesAllProfiles = std::function<bool(const http::Context&)>;

/// Without `seesAll` every caller with interaction:read sees everything (in-process tests).
void registerInteractionRoutes(http::Router& router, db::Database& database, SeesAllProfiles seesAll = {});

}  // namespace archestra::proxy
