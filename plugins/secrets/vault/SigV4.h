// AWS Signature Version 4 for the sts:GetCallerIdentity request Vault's AWS IAM auth method verifies.
#pragma once

#include <map>
#include <string>

namespace archestra::vault {

/// AWS credentials (from the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN).
struct AwsCredentials {
    std::string accessKeyId;
    std::string secretAccessKey;
    std::string sessionToken;  ///< empty for long-lived keys
};

/// A signed POST: the headers (lower-case names, including authorization) to send with `body` to `url`.
struct SignedRequest {
    std::string url;
    std::string body;
    std::map<std::string, std::string> headers;
};

/// Signs `POST url` with `body` for `service` in `region` at `amzDate` (YYYYMMDD'T'HHMMSS'Z'); `extraHeaders`
/// (lower-case names) are signed too. The URL's path must be "/" or empty (STS).
SignedRequest signPost(const std::string& url, const std::string& body, const std::string& service,
                       const std::string& region, const AwsCredentials& credentials,
                       const std::string& amzDate, const std::map<std::string, std::string>& extraHeaders);

std::string sha256Hex(const std::string& data);
std::string hmacSha256(const std::string& key, const std::string& data);
std::string toHex(const std::string& bytes);

}  // namespace archestra::vault
