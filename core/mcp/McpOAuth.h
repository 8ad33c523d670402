// McpOAuth: OAuth 2.1 for remote MCP servers, as the MCP authorization spec asks. Discovery (protected
// resource metadata, RFC 9728 -> authorization server metadata, RFC 8414 / OpenID discovery, the catalog's
// oauthConfig as the fallback), dynamic client registration (RFC 7591), the authorization code flow with PKCE
// S256 and the `resource` parameter (RFC 8707), tokens kept in the secrets backend and refreshed before they
// expire (or once after a 401). /api/oauth/initiate and /api/oauth/callback.
#pragma once

#include "core/http/Router.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace archestra::db {
class Database;
}
namespace archestra::secrets {
class SecretStore;
}

namespace archestra::mcp {

class McpRegistry;

/// Where to authorize for one MCP server (what discovery found, or the catalog's oauthConfig supplied).
struct OAuthEndpoints {
    std::string issuer;
    std::string authorizationEndpoint;
    std::string tokenEndpoint;
    std::string registrationEndpoint;  ///< empty when the server offers no dynamic registration
    std::string revocationEndpoint;    ///< RFC 7009; empty when the server advertises none
    std::string resource;              ///< RFC 8707 resource indicator (the MCP server's canonical URL)
    std::vector<std::string> scopesSupported;
    std::vector<std::string> tried;  ///< metadata URLs asked, for error messages
};

/// An HTTP exchange as McpOAuth needs it (injectable for unit tests).
struct OAuthHttpResponse {
    int status = 0;
    std::string body;
    std::string wwwAuthenticate;
};
using OAuthHttp = std::function<std::optional<OAuthHttpResponse>(
    const std::string& method, const std::string& url,
    const std::vector<std::pair<std::string, std::string>>& headers, const std::string& body)>;

/// `resource_metadata` of a `WWW-Authenticate: Bearer ...` challenge, or "" (RFC 9728 §5.1).
std::string resourceMetadataFromChallenge(const std::string& header);
/// The well-known URLs to ask for protected resource metadata of `serverUrl`, in order (RFC 9728 §3.1).
std::vector<std::string> protectedResourceMetadataUrls(const std::string& serverUrl);
/// The well-known URLs to ask for authorization server metadata of `issuer`, in order (RFC 8414 §3.1 and
/// OpenID Connect Discovery, as the MCP spec lists them).
std::vector<std::string> authorizationServerMetadataUrls(const std::string& issuer);
/// application/x-www-form-urlencoded body of `fields`.
std::string formEncode(const std::vector<std::pair<std::string, std::string>>& fields);
/// base64url(SHA-256(verifier)) without padding: the PKCE S256 challenge (RFC 7636 §4.2).
std::string pkceChallenge(const std::string& verifier);

class McpOAuth {
  public:
    struct Options {
        std::string redirectUri;            ///< <Admin UI>/oauth-callback
        std::int64_t stateTtl_s = 600;      ///< how long an initiated flow may be completed
        std::int64_t refreshBefore_s = 60;  ///< refresh this long before the access token expires
        std::int64_t httpTimeout_ms = 10000;
        OAuthHttp http;  ///< empty: the platform's HTTP client
    };

    McpOAuth(db::Database& db, std::function<std::shared_ptr<secrets::SecretStore>()> secrets,
             Options options);

    /// Starts a flow for catalog item `catalogId` (and, for a re-authorization, installation `serverId`) on
    /// behalf of `userId`. Throws http::ApiError (400 naming the problem).
    nlohmann::json initiate(const std::string& userId, const std::string& catalogId,
                            const std::optional<std::string>& serverId);
    /// Completes a flow: the state must be this user's, unexpired and unused; the code is exchanged with the
    /// verifier; the tokens go into a new secret row. Returns {success, catalogId, name, accessToken,
    /// refreshToken?, expiresIn?, secretId} (and serverId when an installation was re-authorized).
    nlohmann::json callback(const std::string& userId, const std::string& code, const std::string& state);

    /// The Authorization header value for the installation secret `secretId`: the stored access token,
    /// refreshed first when it expires within refreshBefore_s, or when `rejected` (a token the server just
    /// answered 401 to) is still the stored one. nullopt when the secret holds no access token.
    std::optional<std::string> authorization(const std::string& secretId, const std::string& rejected = "");

    /// Revokes (RFC 7009) the refresh and access tokens kept in installation secret `secretId` at the
    /// authorization server's revocation endpoint, when it advertises one. Never throws: a failure is logged
    /// (an uninstall must not fail because the authorization server is down). Call before removing the
    /// secret. Returns how many tokens the server accepted for revocation.
    int revoke(const std::string& secretId) noexcept;

    /// Set by the app: called with the installation id whose secret changed on a re-authorization.
    void onServerReauthorized(std::function<void(const std::string&)> callback) {
        _reauthorized = std::move(callback);
    }

    /// Discovery alone (exposed for tests).
    OAuthEndpoints discover(const std::string& serverUrl, const nlohmann::json& oauthConfig);

  private:
    std::optional<OAuthHttpResponse> send(const std::string& method, const std::string& url,
                                          const std::vector<std::pair<std::string, std::string>>& headers,
                                          const std::string& body);
    std::optional<nlohmann::json> fetchJson(const std::string& url);
    std::shared_ptr<secrets::SecretStore> store();
    /// Performs a refresh_token grant; updates `value` and the secret; false (value untouched) on failure.
    bool refresh(const std::string& secretId, nlohmann::json& value);
    /// refresh() serialised across replicas: under a PostgreSQL advisory lock on the secret id, the secret
    /// is read again first; when another replica refreshed it meanwhile (its access token is no longer the
    /// one in `value`), its tokens are taken instead of spending the (rotated, now invalid) refresh token.
    bool refreshShared(const std::string& secretId, nlohmann::json& value);
    /// revoke() of one secret value (exposed through revoke).
    int revokeValue(const std::string& secretId, const nlohmann::json& value);
    /// Client credentials stored for a flow: client_id, client_secret (may be empty), auth method.
    nlohmann::json registerClient(const OAuthEndpoints& endpoints, const std::string& clientName,
                                  const std::string& scope);

    db::Database& _db;
    std::function<std::shared_ptr<secrets::SecretStore>()> _secrets;
    Options _options;
    std::function<void(const std::string&)> _reauthorized;
    std::mutex _mutex;
    std::map<std::string, std::shared_ptr<std::mutex>> _refreshLocks;  ///< secret id -> one refresh at a time
    std::map<std::string, nlohmann::json> _registrations;  ///< registration endpoint + redirect -> client
    std::map<std::string, nlohmann::json> _cache;  ///< secret id -> its value as last read or refreshed
};

/// POST /api/oauth/initiate and /api/oauth/callback (mcpServer:create, like installing).
void registerOAuthRoutes(http::Router& router, std::shared_ptr<McpOAuth> oauth);

}  // namespace archestra::mcp
