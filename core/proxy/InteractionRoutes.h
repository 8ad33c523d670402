// Read API of the interaction log: /api/interactions, /api/interactions/{interactionId},
// /api/interactions/external-agent-ids.
#pragma once

namespace archestra::db {
class Database;
}
namespace archestra::http {
class Router;
}

namespace archestra::proxy {

void registerInteractionRoutes(http::Router& router, db::Database& database);

}  // namespace archestra::proxy
