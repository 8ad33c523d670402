// Where the auth secret (cookie signing key) comes from: env, else a file in the data directory, else
// generated.
#pragma once

#include <optional>
#include <string>

namespace Poco {
class Logger;
}

namespace archestra::db {

/// ARCHESTRA_AUTH_SECRET when set (>= 32 chars, else Poco::InvalidArgumentException naming the variable);
/// else the content of <dataDir>/.auth_secret; else 64 random alphanumerics from OpenSSL's CSPRNG, written to
/// that file with mode 0600. The secret itself is never logged.
std::string resolveAuthSecret(const std::optional<std::string>& fromEnv, const std::string& dataDir,
                              Poco::Logger& logger);

}  // namespace archestra::db
