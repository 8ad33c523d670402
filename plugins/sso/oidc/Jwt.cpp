// JWS signature verification with OpenSSL 3 (EVP_PKEY_fromdata for JWK public keys).
#include "Jwt.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <memory>
#include <stdexcept>

namespace archestra::plugins::oidc {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

template <class T, void (*F)(T*)>
struct Deleter {
    void operator()(T* p) const { F(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using CtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using BldPtr = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM, OSSL_PARAM_free>>;
using SigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG, ECDSA_SIG_free>>;

std::string member(const nlohmann::json& jwk, const char* name) {
    if (!jwk.contains(name) || !jwk[name].is_string())
        throw std::invalid_argument(std::string("JWK member '") + name + "' is missing");
    return base64UrlDecode(jwk[name].get<std::string>());
}

BnPtr bignum(const std::string& bytes) {
    return BnPtr(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                           static_cast<int>(bytes.size()), nullptr));
}

PkeyPtr fromParams(const char* type, OSSL_PARAM* params) {
    CtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
    EVP_PKEY* key = nullptr;
    if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
        EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        throw std::invalid_argument(std::string("the ") + type + " JWK is not a valid public key");
    return PkeyPtr(key);
}

PkeyPtr rsaKey(const nlohmann::json& jwk) {
    BnPtr n = bignum(member(jwk, "n")), e = bignum(member(jwk, "e"));
    BldPtr bld(OSSL_PARAM_BLD_new());
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get());
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get());
    ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
    return fromParams("RSA", params.get());
}

PkeyPtr ecKey(const nlohmann::json& jwk, const std::string& curve, std::size_t coordinateBytes) {
    std::string crv = jwk.value("crv", "");
    const char* group = crv == "P-256"   ? "prime256v1"
                        : crv == "P-384" ? "secp384r1"
                        : crv == "P-521" ? "secp521r1"
                                         : nullptr;
    if (!group || crv != curve)
        throw std::invalid_argument("EC JWK curve '" + crv + "' does not fit the algorithm (" + curve + ")");
    std::string x = member(jwk, "x"), y = member(jwk, "y");
    if (x.size() != coordinateBytes || y.size() != coordinateBytes)
        throw std::invalid_argument("EC JWK coordinates have the wrong length for " + curve);
    std::string point = "\x04" + x + y;
    BldPtr bld(OSSL_PARAM_BLD_new());
    OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
    OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
    ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
    return fromParams("EC", params.get());
}

/// JWS ECDSA signatures are r||s; OpenSSL verifies DER.
std::string ecdsaRawToDer(const std::string& raw, std::size_t coordinateBytes) {
    if (raw.size() != 2 * coordinateBytes)
        throw std::invalid_argument("ECDSA signature has the wrong length");
    SigPtr sig(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()),
                          static_cast<int>(coordinateBytes), nullptr);
    BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data() + coordinateBytes),
                          static_cast<int>(coordinateBytes), nullptr);
    ECDSA_SIG_set0(sig.get(), r, s);
    unsigned char* der = nullptr;
    int length = i2d_ECDSA_SIG(sig.get(), &der);
    if (length <= 0) throw std::invalid_argument("ECDSA signature cannot be encoded");
    std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(length));
    OPENSSL_free(der);
    return out;
}

}  // namespace

std::string base64UrlDecode(const std::string& text) {
    std::string out;
    unsigned buffer = 0;
    int bits = 0;
    for (char c : text) {
        if (c == '=') break;
        const char* p = std::char_traits<char>::find(kAlphabet, 64, c);
        if (!p) throw std::invalid_argument("not base64url");
        buffer = (buffer << 6) | static_cast<unsigned>(p - kAlphabet);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
        }
    }
    return out;
}

std::string base64UrlEncode(const std::string& bytes) {
    std::string out;
    unsigned buffer = 0;
    int bits = 0;
    for (unsigned char c : bytes) {
        buffer = (buffer << 8) | c;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out.push_back(kAlphabet[(buffer >> bits) & 0x3F]);
        }
    }
    if (bits > 0) out.push_back(kAlphabet[(buffer << (6 - bits)) & 0x3F]);
    return out;
}

std::string sha256(const std::string& text) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha256(), nullptr);
    return std::string(reinterpret_cast<char*>(digest), length);
}

std::string randomToken(std::size_t bytes) {
    std::string raw(bytes, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1)
        throw std::runtime_error("the random generator failed");
    return base64UrlEncode(raw);
}

CompactJws parseJws(const std::string& token) {
    auto first = token.find('.');
    auto second = first == std::string::npos ? std::string::npos : token.find('.', first + 1);
    if (second == std::string::npos || token.find('.', second + 1) != std::string::npos)
        throw std::invalid_argument("the ID token is not a compact JWS (three dot-separated parts)");
    CompactJws jws;
    try {
        jws.header = nlohmann::json::parse(base64UrlDecode(token.substr(0, first)));
        jws.payload = nlohmann::json::parse(base64UrlDecode(token.substr(first + 1, second - first - 1)));
    } catch (const nlohmann::json::exception&) {
        throw std::invalid_argument("the ID token's header or payload is not JSON");
    }
    if (!jws.header.is_object() || !jws.payload.is_object())
        throw std::invalid_argument("the ID token's header and payload must be JSON objects");
    jws.signingInput = token.substr(0, second);
    jws.signature = base64UrlDecode(token.substr(second + 1));
    return jws;
}

bool verifySignature(const std::string& alg, const nlohmann::json& jwk, const std::string& input,
                     const std::string& signature) {
    const EVP_MD* md = nullptr;
    std::string bits = alg.size() == 5 ? alg.substr(2) : "";
    md = bits == "256" ? EVP_sha256() : bits == "384" ? EVP_sha384() : bits == "512" ? EVP_sha512() : nullptr;
    const std::string family = alg.substr(0, 2);
    if (!md || (family != "RS" && family != "PS" && family != "ES"))
        throw std::invalid_argument("signing algorithm '" + alg +
                                    "' is not accepted (expected RS*, PS* or ES*)");
    const std::string kty = jwk.value("kty", "");
    PkeyPtr key;
    std::string sig = signature;
    if (family == "ES") {
        if (kty != "EC") throw std::invalid_argument("key type '" + kty + "' does not fit " + alg);
        std::size_t size = bits == "256" ? 32 : bits == "384" ? 48 : 66;
        key = ecKey(jwk, bits == "256" ? "P-256" : bits == "384" ? "P-384" : "P-521", size);
        sig = ecdsaRawToDer(signature, size);
    } else {
        if (kty != "RSA") throw std::invalid_argument("key type '" + kty + "' does not fit " + alg);
        key = rsaKey(jwk);
    }
    MdCtxPtr ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;
    if (EVP_DigestVerifyInit(ctx.get(), &pctx, md, nullptr, key.get()) != 1) return false;
    if (family == "PS") {
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
    }
    return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                            reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
}

}  // namespace archestra::plugins::oidc
