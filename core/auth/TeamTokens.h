// Team and organisation tokens of the MCP gateway (`archestra_` + 32 hex): format, hashing and validation.
#pragma once

#include <optional>
#include <string>

namespace archestra::db {
class Database;
}

namespace archestra::auth {

/// Who a valid team/organisation token belongs to.
struct TeamTokenIdentity {
    std::string tokenId;
    std::string organizationId;
    std::optional<std::string> teamId;  ///< nullopt for the organisation token
    bool isOrganizationToken = false;
};

/// Length of a token value: "archestra_" plus 32 lowercase hex characters.
inline constexpr std::size_t kTeamTokenLength = 42;
/// Characters of the value kept in team_token.token_start (shown in lists).
inline constexpr std::size_t kTeamTokenStartLength = 14;

/// A fresh token value from OpenSSL's CSPRNG: "archestra_" + 32 hex.
std::string generateTeamTokenValue();
/// True when `token` has the shape of a token value (prefix, length, hex digits).
bool looksLikeTeamToken(const std::string& token);
/// SHA-256 of `token` as 64 lowercase hex characters: what team_token.token_hash holds.
std::string teamTokenHash(const std::string& token);

/// The identity of `token`, or nullopt when it is malformed or unknown. One indexed lookup by hash (never
/// decrypts stored tokens), a constant-time comparison of the hash, and a last_used_at update at most once a
/// minute per token. Throws db::DatabaseUnavailableException when the database is away.
std::optional<TeamTokenIdentity> validateTeamToken(db::Database& db, const std::string& token);

}  // namespace archestra::auth
