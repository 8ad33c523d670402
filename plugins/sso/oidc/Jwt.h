// JSON Web Token signature checks against JSON Web Keys, on OpenSSL (no claims logic: OidcProvider does it).
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace archestra::plugins::oidc {

/// base64url without padding -> bytes; throws std::invalid_argument on bad input.
std::string base64UrlDecode(const std::string& text);
/// bytes -> base64url without padding.
std::string base64UrlEncode(const std::string& bytes);
/// SHA-256 of `text` (raw bytes).
std::string sha256(const std::string& text);
/// `length` bytes from OpenSSL's CSPRNG, base64url encoded.
std::string randomToken(std::size_t bytes);

/// A compact JWS split into its parts.
struct CompactJws {
    nlohmann::json header;
    nlohmann::json payload;
    std::string signingInput;  ///< "<header>.<payload>" as received
    std::string signature;     ///< raw bytes
};

/// Splits and decodes; throws std::invalid_argument naming what is malformed.
CompactJws parseJws(const std::string& token);

/// True when `signature` over `input` verifies with the public key in `jwk` (kty RSA or EC) for `alg`
/// (RS256/384/512, PS256/384/512, ES256/384/512). Throws std::invalid_argument for an unsupported alg or
/// a key that does not fit it. Symmetric and "none" algorithms are never accepted.
bool verifySignature(const std::string& alg, const nlohmann::json& jwk, const std::string& input,
                     const std::string& signature);

}  // namespace archestra::plugins::oidc
