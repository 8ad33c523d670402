// scrypt password hashing via OpenSSL EVP_PBE_scrypt, in the original's storage format.
#include "core/auth/Password.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <Poco/Exception.h>

#include <vector>

namespace archestra::auth {
namespace {

constexpr uint64_t kScryptN = 16384;
constexpr uint64_t kScryptR = 16;
constexpr uint64_t kScryptP = 1;
constexpr size_t kKeyBytes = 64;
constexpr size_t kSaltBytes = 16;
// N=16384, r=16 needs 128*r*N = 32 MiB plus a little; OpenSSL's default cap is exactly 32 MiB, so raise it.
constexpr uint64_t kScryptMaxMemBytes = 64ull * 1024 * 1024;

std::string toHex(const unsigned char* data, size_t len) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    out.reserve(len * 2);
    for (size_t i = 0; i < len; ++i) {
        out.push_back(digits[data[i] >> 4]);
        out.push_back(digits[data[i] & 0x0f]);
    }
    return out;
}

int hexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool fromHex(const std::string& hex, std::vector<unsigned char>& out) {
    if (hex.size() % 2 != 0) return false;
    out.resize(hex.size() / 2);
    for (size_t i = 0; i < out.size(); ++i) {
        int hi = hexValue(hex[2 * i]), lo = hexValue(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        out[i] = static_cast<unsigned char>(hi << 4 | lo);
    }
    return true;
}

std::vector<unsigned char> scrypt(const std::string& password, const std::string& salt) {
    std::vector<unsigned char> key(kKeyBytes);
    if (EVP_PBE_scrypt(password.data(), password.size(), reinterpret_cast<const unsigned char*>(salt.data()),
                       salt.size(), kScryptN, kScryptR, kScryptP, kScryptMaxMemBytes, key.data(),
                       key.size()) != 1) {
        throw Poco::SystemException("scrypt (N=16384, r=16, p=1) failed in OpenSSL EVP_PBE_scrypt");
    }
    return key;
}

}  // namespace

std::string hashPassword(const std::string& password) {
    unsigned char saltBytes[kSaltBytes];
    if (RAND_bytes(saltBytes, sizeof saltBytes) != 1) {
        throw Poco::SystemException("OpenSSL RAND_bytes could not produce 16 bytes of salt");
    }
    std::string salt = toHex(saltBytes, sizeof saltBytes);
    auto key = scrypt(password, salt);
    return salt + ":" + toHex(key.data(), key.size());
}

bool verifyPassword(const std::string& password, const std::string& stored) {
    auto colon = stored.find(':');
    if (colon == std::string::npos || colon == 0) return false;
    std::string salt = stored.substr(0, colon);
    std::vector<unsigned char> expected;
    if (!fromHex(stored.substr(colon + 1), expected) || expected.size() != kKeyBytes) return false;
    auto actual = scrypt(password, salt);
    return CRYPTO_memcmp(actual.data(), expected.data(), kKeyBytes) == 0;
}

}  // namespace archestra::auth
