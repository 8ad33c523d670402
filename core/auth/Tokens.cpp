// Random tokens, hashes and signatures (OpenSSL).
#include "core/auth/Tokens.h"

#include <Poco/Exception.h>
#include <Poco/URI.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

namespace archestra::auth {
namespace {

std::string base64(const unsigned char* data, std::size_t length, bool url) {
    std::string out((length + 2) / 3 * 4 + 1, '\0');
    int written =
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(length));
    out.resize(static_cast<std::size_t>(written));
    if (url) {
        for (char& c : out) {
            if (c == '+')
                c = '-';
            else if (c == '/')
                c = '_';
        }
        while (!out.empty() && out.back() == '=') out.pop_back();
    }
    return out;
}

}  // namespace

std::string randomString(const std::string& alphabet, std::size_t length) {
    // Rejection sampling keeps the distribution uniform for alphabets that do not divide 256.
    const unsigned limit = 256 - (256 % alphabet.size());
    std::string out;
    out.reserve(length);
    while (out.size() < length) {
        unsigned char buffer[64];
        if (RAND_bytes(buffer, sizeof buffer) != 1)
            throw Poco::SystemException("OpenSSL RAND_bytes failed while generating a token");
        for (unsigned char b : buffer) {
            if (b < limit && out.size() < length) out.push_back(alphabet[b % alphabet.size()]);
        }
    }
    return out;
}

std::string randomLetters(std::size_t length) {
    return randomString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", length);
}

std::string randomAlphanumeric(std::size_t length) {
    return randomString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", length);
}

std::string sha256Base64Url(const std::string& text) {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
    return base64(digest, sizeof digest, true);
}

std::string hmacSha256Base64(const std::string& key, const std::string& text) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
             reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest, &length) == nullptr)
        throw Poco::SystemException("OpenSSL HMAC-SHA256 failed");
    return base64(digest, length, false);
}

bool constantTimeEquals(const std::string& a, const std::string& b) {
    if (a.size() != b.size()) return false;
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string signCookieValue(const std::string& token, const std::string& secret) {
    return token + "." + hmacSha256Base64(secret, token);
}

std::string verifyCookieValue(const std::string& cookieValue, const std::string& secret) {
    std::string decoded;
    try {
        Poco::URI::decode(cookieValue, decoded);
    } catch (const Poco::Exception&) {
        return "";
    }
    auto dot = decoded.rfind('.');
    if (dot == std::string::npos || dot == 0) return "";
    std::string token = decoded.substr(0, dot);
    std::string signature = decoded.substr(dot + 1);
    if (!constantTimeEquals(signature, hmacSha256Base64(secret, token))) return "";
    return token;
}

}  // namespace archestra::auth
