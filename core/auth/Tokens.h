// Random tokens, hashes and signatures used by sessions and API keys (OpenSSL underneath).
#pragma once

#include <string>

namespace archestra::auth {

/// `length` characters drawn uniformly from `alphabet` with OpenSSL's CSPRNG.
std::string randomString(const std::string& alphabet, std::size_t length);
/// [A-Za-z], the alphabet of API keys after their prefix.
std::string randomLetters(std::size_t length);
/// [A-Za-z0-9], the alphabet of session tokens and text ids.
std::string randomAlphanumeric(std::size_t length);

/// SHA-256 of `text`, base64url without padding: how API keys (and our session tokens) are stored.
std::string sha256Base64Url(const std::string& text);
/// HMAC-SHA256(key, text) in standard base64 with padding, as better-auth signs cookies.
std::string hmacSha256Base64(const std::string& key, const std::string& text);
/// Compares without an early exit, so timing does not reveal the common prefix.
bool constantTimeEquals(const std::string& a, const std::string& b);

/// "token.signature" as better-auth writes a signed cookie value (before URL encoding).
std::string signCookieValue(const std::string& token, const std::string& secret);
/// The token of a signed cookie value (URL-decoded first), or "" when the signature does not verify.
std::string verifyCookieValue(const std::string& cookieValue, const std::string& secret);

}  // namespace archestra::auth
