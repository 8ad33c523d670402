// Team and organisation tokens: generation, hashing and the one-lookup validation the MCP gateway uses.
#include "core/auth/TeamTokens.h"

#include "core/auth/Tokens.h"
#include "core/db/Database.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <Poco/Exception.h>

namespace archestra::auth {

namespace {
constexpr const char* kPrefix = "archestra_";
constexpr std::size_t kPrefixLength = 10;

std::string toHex(const unsigned char* bytes, std::size_t length) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    out.reserve(length * 2);
    for (std::size_t i = 0; i < length; ++i) {
        out.push_back(digits[bytes[i] >> 4]);
        out.push_back(digits[bytes[i] & 0x0f]);
    }
    return out;
}
}  // namespace

std::string generateTeamTokenValue() {
    unsigned char bytes[16];
    if (RAND_bytes(bytes, sizeof bytes) != 1)
        throw Poco::SystemException("OpenSSL RAND_bytes failed while generating a team token");
    return kPrefix + toHex(bytes, sizeof bytes);
}

bool looksLikeTeamToken(const std::string& token) {
    if (token.size() != kTeamTokenLength || token.compare(0, kPrefixLength, kPrefix) != 0) return false;
    for (std::size_t i = kPrefixLength; i < token.size(); ++i) {
        char c = token[i];
        bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (!hex) return false;
    }
    return true;
}

std::string teamTokenHash(const std::string& token) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (EVP_Digest(token.data(), token.size(), digest, &length, EVP_sha256(), nullptr) != 1)
        throw Poco::SystemException("OpenSSL SHA-256 failed while hashing a team token");
    return toHex(digest, length);
}

std::optional<TeamTokenIdentity> validateTeamToken(db::Database& db, const std::string& token) {
    // Malformed values never reach the database: no lookup an attacker could use to probe timing or load.
    if (!looksLikeTeamToken(token)) return std::nullopt;
    std::string hash = teamTokenHash(token);
    auto rows = db.query(
        "SELECT id::text, organization_id, team_id, is_organization_token, token_hash,"
        " (last_used_at IS NULL OR last_used_at < now() - interval '60 seconds') AS stale"
        " FROM team_token WHERE token_hash = $1",
        {hash});
    if (rows.empty()) return std::nullopt;
    const auto& row = rows.front();
    // The index found the row by equality already; the constant-time comparison keeps the final decision
    // independent of how many leading characters match should the lookup ever become a prefix scan.
    if (!constantTimeEquals(row.str("token_hash"), hash)) return std::nullopt;
    TeamTokenIdentity identity;
    identity.tokenId = row.str("id");
    identity.organizationId = row.str("organization_id");
    if (!row.isNull("team_id")) identity.teamId = row.str("team_id");
    identity.isOrganizationToken = row.boolean("is_organization_token");
    // Writing on every gateway call would turn each tool call into a row update; once a minute is plenty
    // for "last used" in the UI.
    if (row.boolean("stale")) {
        try {
            db.execute("UPDATE team_token SET last_used_at = now() WHERE id = $1::uuid", {identity.tokenId});
        } catch (const Poco::Exception&) {
            // A failed bookkeeping write must not refuse a valid token.
        }
    }
    return identity;
}

}  // namespace archestra::auth
