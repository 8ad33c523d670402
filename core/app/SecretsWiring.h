// SecretsWiring: creates the selected secrets backend at start-up and hooks it into the platform.
#pragma once

namespace Poco {
class Logger;
}

namespace archestra::app {

struct Platform;

/// After the database object and the auth secret exist: gives plugins the SQL executor and secret lookup,
/// selects and creates the secrets backend (platform.secrets), logs a warning naming what is missing when
/// Vault falls back to the database, and adds the "secrets" readiness check.
void startSecrets(Platform& platform, Poco::Logger& log);

/// After seeding: the organisation token and one token per team, for every organisation, as the original
/// seeds them. A secrets backend that is away only logs a warning (GET /api/tokens creates them later).
void ensureSeededTokens(Platform& platform, Poco::Logger& log);

}  // namespace archestra::app
