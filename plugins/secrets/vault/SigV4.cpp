// AWS Signature Version 4 (HMAC-SHA256 key chain, canonical request) with OpenSSL.
#include "SigV4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <Poco/URI.h>

namespace archestra::vault {

std::string toHex(const std::string& bytes) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 0x0f]);
    }
    return out;
}

std::string sha256Hex(const std::string& data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
    return toHex(std::string(reinterpret_cast<char*>(digest), length));
}

std::string hmacSha256(const std::string& key, const std::string& data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &length);
    return std::string(reinterpret_cast<char*>(digest), length);
}

SignedRequest signPost(const std::string& url, const std::string& body, const std::string& service,
                       const std::string& region, const AwsCredentials& credentials,
                       const std::string& amzDate, const std::map<std::string, std::string>& extraHeaders) {
    Poco::URI uri(url);
    // Host as the client sends it: the port only when it is not the scheme's default.
    std::string host = uri.getHost();
    bool defaultPort = (uri.getScheme() == "https" && uri.getPort() == 443) ||
                       (uri.getScheme() == "http" && uri.getPort() == 80);
    if (!defaultPort) host += ":" + std::to_string(uri.getPort());
    std::string path = uri.getPath().empty() ? "/" : uri.getPath();
    std::map<std::string, std::string> headers = extraHeaders;
    headers["host"] = host;
    headers["content-type"] = "application/x-www-form-urlencoded; charset=utf-8";
    headers["x-amz-date"] = amzDate;
    if (!credentials.sessionToken.empty()) headers["x-amz-security-token"] = credentials.sessionToken;

    std::string canonicalHeaders, signedHeaders;
    for (const auto& [name, value] : headers) {  // std::map: sorted by lower-case name, as SigV4 requires
        canonicalHeaders += name + ":" + value + "\n";
        signedHeaders += (signedHeaders.empty() ? "" : ";") + name;
    }
    std::string canonicalRequest =
        "POST\n" + path + "\n\n" + canonicalHeaders + "\n" + signedHeaders + "\n" + sha256Hex(body);
    std::string date = amzDate.substr(0, 8);
    std::string scope = date + "/" + region + "/" + service + "/aws4_request";
    std::string stringToSign =
        "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + sha256Hex(canonicalRequest);
    std::string key = hmacSha256("AWS4" + credentials.secretAccessKey, date);
    key = hmacSha256(key, region);
    key = hmacSha256(key, service);
    key = hmacSha256(key, "aws4_request");
    std::string signature = toHex(hmacSha256(key, stringToSign));
    headers["authorization"] = "AWS4-HMAC-SHA256 Credential=" + credentials.accessKeyId + "/" + scope +
                               ", SignedHeaders=" + signedHeaders + ", Signature=" + signature;
    return {url, body, headers};
}

}  // namespace archestra::vault
