// Tests of MCP OAuth without a network or database: the PKCE challenge (RFC 7636 appendix B), the metadata
// URLs of RFC 9728 / RFC 8414, discovery through a scripted HTTP exchange (401 challenge -> protected
// resource metadata -> authorization server metadata; the catalog's endpoints as the fallback; a 400 naming
// what was asked), and the token refresh: ahead of expiry, after a 401, a refused refresh, a plain
// (non-OAuth) token; RFC 7009 revocation of a secret's tokens.
#include <cppunit/extensions/HelperMacros.h>

#include "core/db/Database.h"
#include "core/http/ApiError.h"
#include "core/mcp/McpOAuth.h"
#include "core/secrets/SecretStore.h"

#include <chrono>
#include <map>
#include <mutex>

using namespace archestra;
using nlohmann::json;

namespace {

class MemorySecrets : public secrets::SecretStore {
  public:
    std::map<std::string, json> values;
    std::string create(const std::string&, const json& value) override {
        std::string id = "00000000-0000-4000-8000-00000000000" + std::to_string(values.size());
        values[id] = value;
        return id;
    }
    int reads = 0;
    std::optional<json> get(const std::string& id) override {
        ++reads;
        auto it = values.find(id);
        return it == values.end() ? std::nullopt : std::optional<json>(it->second);
    }
    bool update(const std::string& id, const json& value) override {
        values[id] = value;
        return true;
    }
    bool remove(const std::string& id) override { return values.erase(id) > 0; }
};

struct Exchange {
    std::string method, url, body;
    std::vector<std::pair<std::string, std::string>> headers;
};

/// A scripted web: url -> response; every request recorded.
struct ScriptedWeb {
    std::map<std::string, mcp::OAuthHttpResponse> routes;
    std::vector<Exchange> seen;
    mcp::OAuthHttp http() {
        return [this](const std::string& method, const std::string& url,
                      const std::vector<std::pair<std::string, std::string>>& headers,
                      const std::string& body) -> std::optional<mcp::OAuthHttpResponse> {
            seen.push_back({method, url, body, headers});
            auto it = routes.find(method + " " + url);
            if (it == routes.end()) return mcp::OAuthHttpResponse{404, "", ""};
            return it->second;
        };
    }
};

std::int64_t now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

class McpOAuthTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(McpOAuthTest);
    CPPUNIT_TEST(pkceChallengeMatchesRfc7636);
    CPPUNIT_TEST(metadataUrlsAndChallenge);
    CPPUNIT_TEST(discoveryFollowsTheChallengeToTheAuthorizationServer);
    CPPUNIT_TEST(discoveryFallsBackToTheCatalogEndpoints);
    CPPUNIT_TEST(discoveryFailureNamesWhatWasAsked);
    CPPUNIT_TEST(discoveryRefusesServersWithoutS256);
    CPPUNIT_TEST(refreshAheadOfExpiryAndAfterA401);
    CPPUNIT_TEST(refusedRefreshAndPlainTokens);
    CPPUNIT_TEST(revocationOfBothTokensNeverThrows);
    CPPUNIT_TEST_SUITE_END();

    db::Database _db{"host=127.0.0.1 port=1 dbname=none"};  // never connected: these paths use no SQL
    ScriptedWeb _web;
    std::shared_ptr<MemorySecrets> _secrets;
    std::unique_ptr<mcp::McpOAuth> _oauth;

  public:
    void setUp() override {
        _web = ScriptedWeb{};
        _secrets = std::make_shared<MemorySecrets>();
        _oauth = makeOAuth();
    }

    std::unique_ptr<mcp::McpOAuth> makeOAuth() {
        mcp::McpOAuth::Options options;
        options.redirectUri = "http://localhost:3000/oauth-callback";
        options.http = _web.http();
        return std::make_unique<mcp::McpOAuth>(
            _db, [this] { return std::static_pointer_cast<secrets::SecretStore>(_secrets); }, options);
    }

    void pkceChallengeMatchesRfc7636() {
        CPPUNIT_ASSERT_EQUAL(std::string("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
                             mcp::pkceChallenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
    }

    void metadataUrlsAndChallenge() {
        auto prm = mcp::protectedResourceMetadataUrls("https://mcp.example.com/tenant/mcp/");
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), prm.size());
        CPPUNIT_ASSERT_EQUAL(
            std::string("https://mcp.example.com/.well-known/oauth-protected-resource/tenant/mcp"), prm[0]);
        CPPUNIT_ASSERT_EQUAL(std::string("https://mcp.example.com/.well-known/oauth-protected-resource"),
                             prm[1]);
        auto root = mcp::authorizationServerMetadataUrls("https://as.example.com");
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), root.size());
        CPPUNIT_ASSERT_EQUAL(std::string("https://as.example.com/.well-known/oauth-authorization-server"),
                             root[0]);
        CPPUNIT_ASSERT_EQUAL(std::string("https://as.example.com/.well-known/openid-configuration"), root[1]);
        auto tenant = mcp::authorizationServerMetadataUrls("https://as.example.com/realms/x");
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), tenant.size());
        CPPUNIT_ASSERT_EQUAL(
            std::string("https://as.example.com/.well-known/oauth-authorization-server/realms/x"), tenant[0]);
        CPPUNIT_ASSERT_EQUAL(std::string("https://as.example.com/.well-known/openid-configuration/realms/x"),
                             tenant[1]);
        CPPUNIT_ASSERT_EQUAL(std::string("https://as.example.com/realms/x/.well-known/openid-configuration"),
                             tenant[2]);
        CPPUNIT_ASSERT_EQUAL(std::string("https://m/prm"),
                             mcp::resourceMetadataFromChallenge(
                                 R"(Bearer realm="x", resource_metadata="https://m/prm", scope="a b")"));
        CPPUNIT_ASSERT_EQUAL(
            std::string("https://m/prm"),
            mcp::resourceMetadataFromChallenge("Bearer resource_metadata=https://m/prm, x=y"));
        CPPUNIT_ASSERT_EQUAL(std::string(), mcp::resourceMetadataFromChallenge("Bearer realm=\"x\""));
        CPPUNIT_ASSERT_EQUAL(std::string("a=1&b=x%20y%2Fz%26"),
                             mcp::formEncode({{"a", "1"}, {"b", "x y/z&"}}));
    }

    void discoveryFollowsTheChallengeToTheAuthorizationServer() {
        _web.routes["POST https://mcp.example.com/mcp"] = {
            401, "", R"(Bearer resource_metadata="https://mcp.example.com/custom-prm")"};
        _web.routes["GET https://mcp.example.com/custom-prm"] = {
            200,
            json{{"resource", "https://mcp.example.com/mcp"},
                 {"authorization_servers", {"https://as.example.com/tenant"}},
                 {"scopes_supported", {"mcp:read", "mcp:write"}}}
                .dump(),
            ""};
        _web.routes["GET https://as.example.com/.well-known/oauth-authorization-server/tenant"] = {
            200,
            json{{"issuer", "https://as.example.com/tenant"},
                 {"authorization_endpoint", "https://as.example.com/tenant/authorize"},
                 {"token_endpoint", "https://as.example.com/tenant/token"},
                 {"registration_endpoint", "https://as.example.com/tenant/register"},
                 {"code_challenge_methods_supported", {"S256"}}}
                .dump(),
            ""};
        auto found = _oauth->discover("https://mcp.example.com/mcp", json::object());
        CPPUNIT_ASSERT_EQUAL(std::string("https://as.example.com/tenant"), found.issuer);
        CPPUNIT_ASSERT_EQUAL(std::string("https://as.example.com/tenant/authorize"),
                             found.authorizationEndpoint);
        CPPUNIT_ASSERT_EQUAL(std::string("https://as.example.com/tenant/token"), found.tokenEndpoint);
        CPPUNIT_ASSERT_EQUAL(std::string("https://as.example.com/tenant/register"),
                             found.registrationEndpoint);
        CPPUNIT_ASSERT_EQUAL(std::string("https://mcp.example.com/mcp"), found.resource);
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), found.scopesSupported.size());
        // The MCP protocol version header goes with metadata requests (MCP authorization spec).
        bool versioned = false;
        for (const auto& e : _web.seen)
            if (e.url == "https://mcp.example.com/custom-prm")
                for (const auto& [k, v] : e.headers) versioned |= k == "MCP-Protocol-Version";
        CPPUNIT_ASSERT(versioned);
    }

    void discoveryFallsBackToTheCatalogEndpoints() {
        json config = {{"authorization_endpoint", "https://legacy.example.com/oauth/authorize"},
                       {"token_endpoint", "https://legacy.example.com/oauth/token"}};
        auto found = _oauth->discover("https://legacy.example.com/mcp", config);
        CPPUNIT_ASSERT_EQUAL(std::string("https://legacy.example.com/oauth/authorize"),
                             found.authorizationEndpoint);
        CPPUNIT_ASSERT_EQUAL(std::string("https://legacy.example.com/oauth/token"), found.tokenEndpoint);
        CPPUNIT_ASSERT(found.registrationEndpoint.empty());
        CPPUNIT_ASSERT_EQUAL(std::string("https://legacy.example.com"), found.issuer);
        // It looked for metadata first, at the well-known places.
        bool askedPrm = false, askedAs = false;
        for (const auto& e : _web.seen) {
            askedPrm |= e.url == "https://legacy.example.com/.well-known/oauth-protected-resource/mcp";
            askedAs |= e.url == "https://legacy.example.com/.well-known/oauth-authorization-server";
        }
        CPPUNIT_ASSERT(askedPrm && askedAs);
    }

    void discoveryFailureNamesWhatWasAsked() {
        try {
            _oauth->discover("https://nothing.example.com/mcp", json::object());
            CPPUNIT_FAIL("expected a 400");
        } catch (const http::ApiError& error) {
            CPPUNIT_ASSERT_EQUAL(400, error.status());
            std::string message = error.what();
            CPPUNIT_ASSERT(
                message.find("https://nothing.example.com/.well-known/oauth-authorization-server") !=
                std::string::npos);
            CPPUNIT_ASSERT(message.find("oauthConfig.token_endpoint") != std::string::npos);
        }
    }

    void discoveryRefusesServersWithoutS256() {
        _web.routes["GET https://plain.example.com/.well-known/oauth-authorization-server"] = {
            200,
            json{{"authorization_endpoint", "https://plain.example.com/a"},
                 {"token_endpoint", "https://plain.example.com/t"},
                 {"code_challenge_methods_supported", {"plain"}}}
                .dump(),
            ""};
        try {
            _oauth->discover("https://plain.example.com/mcp", json::object());
            CPPUNIT_FAIL("expected a 400");
        } catch (const http::ApiError& error) {
            CPPUNIT_ASSERT_EQUAL(400, error.status());
            CPPUNIT_ASSERT(std::string(error.what()).find("S256") != std::string::npos);
        }
    }

    json oauthSecret(std::int64_t refreshAt) {
        return {{"access_token", "old-access"},
                {"refresh_token", "refresh-1"},
                {"expires_at", refreshAt + 60},
                {"refresh_at", refreshAt},
                {"oauth",
                 {{"token_endpoint", "https://as.example.com/token"},
                  {"resource", "https://mcp.example.com/mcp"},
                  {"client", {{"client_id", "c1"}, {"client_secret", ""}, {"auth_method", "none"}}}}}};
    }

    void refreshAheadOfExpiryAndAfterA401() {
        _secrets->values["s1"] = oauthSecret(now() + 3600);
        // Not due: the stored token, no request.
        CPPUNIT_ASSERT_EQUAL(std::string("Bearer old-access"), _oauth->authorization("s1").value());
        CPPUNIT_ASSERT(_web.seen.empty());

        _web.routes["POST https://as.example.com/token"] = {
            200,
            json{{"access_token", "new-access"}, {"refresh_token", "refresh-2"}, {"expires_in", 3600}}.dump(),
            ""};
        // Cached: the backend is not read again while the token is not due.
        int reads = _secrets->reads;
        CPPUNIT_ASSERT_EQUAL(std::string("Bearer old-access"), _oauth->authorization("s1").value());
        CPPUNIT_ASSERT_EQUAL(reads, _secrets->reads);

        // Due (refresh_at passed): refreshed with the refresh token and the resource; rotation stored.
        _secrets->values["s1"] = oauthSecret(now() - 1);
        _oauth = makeOAuth();  // a fresh process: nothing cached
        CPPUNIT_ASSERT_EQUAL(std::string("Bearer new-access"), _oauth->authorization("s1").value());
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), _web.seen.size());
        const std::string& body = _web.seen[0].body;
        CPPUNIT_ASSERT(body.find("grant_type=refresh_token") != std::string::npos);
        CPPUNIT_ASSERT(body.find("refresh_token=refresh-1") != std::string::npos);
        CPPUNIT_ASSERT(body.find("resource=https%3A%2F%2Fmcp.example.com%2Fmcp") != std::string::npos);
        CPPUNIT_ASSERT(body.find("client_id=c1") != std::string::npos);
        const json& stored = _secrets->values["s1"];
        CPPUNIT_ASSERT_EQUAL(std::string("new-access"), stored["access_token"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("refresh-2"), stored["refresh_token"].get<std::string>());
        std::int64_t refreshAt = stored["refresh_at"].get<std::int64_t>();
        CPPUNIT_ASSERT(refreshAt >= now() + 3600 - 61 && refreshAt <= now() + 3600 - 59);  // 60 s ahead

        // A 401 to a token that is no longer the stored one: the stored one, no refresh.
        CPPUNIT_ASSERT_EQUAL(std::string("Bearer new-access"),
                             _oauth->authorization("s1", "old-access").value());
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), _web.seen.size());
        // A 401 to the stored token: one refresh.
        _web.routes["POST https://as.example.com/token"] = {
            200, json{{"access_token", "third-access"}, {"expires_in", 30}}.dump(), ""};
        CPPUNIT_ASSERT_EQUAL(std::string("Bearer third-access"),
                             _oauth->authorization("s1", "new-access").value());
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), _web.seen.size());
        CPPUNIT_ASSERT_EQUAL(std::string("refresh-2"),
                             _secrets->values["s1"]["refresh_token"].get<std::string>());
        // A 30 s token is refreshed half-way, not 60 s early (which would be on every call).
        refreshAt = _secrets->values["s1"]["refresh_at"].get<std::int64_t>();
        CPPUNIT_ASSERT(refreshAt >= now() + 14 && refreshAt <= now() + 16);
    }

    void refusedRefreshAndPlainTokens() {
        _secrets->values["s1"] = oauthSecret(now() - 1);
        _web.routes["POST https://as.example.com/token"] = {
            400, json{{"error", "invalid_grant"}, {"error_description", "refresh token expired"}}.dump(), ""};
        // Due but refused: the current token is still offered (the server may accept it a little longer).
        CPPUNIT_ASSERT_EQUAL(std::string("Bearer old-access"), _oauth->authorization("s1").value());
        // After a 401 with a refused refresh: nothing better, so the caller reports the 401.
        CPPUNIT_ASSERT(!_oauth->authorization("s1", "old-access").has_value());
        CPPUNIT_ASSERT_EQUAL(std::string("refresh-1"),
                             _secrets->values["s1"]["refresh_token"].get<std::string>());

        _secrets->values["plain"] = {{"access_token", "pasted-token"}};
        CPPUNIT_ASSERT_EQUAL(std::string("Bearer pasted-token"), _oauth->authorization("plain").value());
        CPPUNIT_ASSERT(!_oauth->authorization("plain", "pasted-token").has_value());
        CPPUNIT_ASSERT(!_oauth->authorization("missing").has_value());
        _secrets->values["env"] = {{"environmentValues", json::object()}};
        CPPUNIT_ASSERT(!_oauth->authorization("env").has_value());
    }

    void revocationOfBothTokensNeverThrows() {
        json secret = oauthSecret(now() + 3600);
        secret["oauth"]["revocation_endpoint"] = "https://as.example.com/revoke";
        _secrets->values["s1"] = secret;
        _web.routes["POST https://as.example.com/revoke"] = {200, "", ""};
        CPPUNIT_ASSERT_EQUAL(2, _oauth->revoke("s1"));
        CPPUNIT_ASSERT_EQUAL(size_t(2), _web.seen.size());
        CPPUNIT_ASSERT_EQUAL(std::string("token=refresh-1&token_type_hint=refresh_token&client_id=c1"),
                             _web.seen[0].body);
        CPPUNIT_ASSERT_EQUAL(std::string("token=old-access&token_type_hint=access_token&client_id=c1"),
                             _web.seen[1].body);

        // The server refuses or cannot be reached: logged, nothing thrown, nothing counted.
        _web.seen.clear();
        _web.routes["POST https://as.example.com/revoke"] = {
            503, json{{"error", "temporarily_unavailable"}}.dump(), ""};
        CPPUNIT_ASSERT_EQUAL(0, _oauth->revoke("s1"));
        CPPUNIT_ASSERT_EQUAL(size_t(2), _web.seen.size());
        mcp::McpOAuth::Options options;
        options.http = [](const std::string&, const std::string&,
                          const std::vector<std::pair<std::string, std::string>>&,
                          const std::string&) -> std::optional<mcp::OAuthHttpResponse> {
            return std::nullopt;
        };
        mcp::McpOAuth unreachable(
            _db, [this] { return std::static_pointer_cast<secrets::SecretStore>(_secrets); }, options);
        CPPUNIT_ASSERT_EQUAL(0, unreachable.revoke("s1"));
        mcp::McpOAuth noBackend(
            _db, [] { return std::shared_ptr<secrets::SecretStore>(); }, options);
        CPPUNIT_ASSERT_EQUAL(0, noBackend.revoke("s1"));

        // A secret stored before the endpoint was kept: the issuer's metadata names it.
        _web.seen.clear();
        _web.routes["POST https://as.example.com/revoke"] = {200, "", ""};
        _web.routes["GET https://as.example.com/.well-known/oauth-authorization-server"] = {
            200,
            json{{"issuer", "https://as.example.com"},
                 {"token_endpoint", "https://as.example.com/token"},
                 {"revocation_endpoint", "https://as.example.com/revoke"}}
                .dump(),
            ""};
        json old = oauthSecret(now() + 3600);
        old["oauth"]["issuer"] = "https://as.example.com";
        _secrets->values["s2"] = old;
        CPPUNIT_ASSERT_EQUAL(2, _oauth->revoke("s2"));
        CPPUNIT_ASSERT_EQUAL(size_t(3), _web.seen.size());

        // A server without a revocation endpoint, a plain token, a missing secret: no request at all.
        _web.seen.clear();
        json none = oauthSecret(now() + 3600);
        none["oauth"]["revocation_endpoint"] = "";
        _secrets->values["s3"] = none;
        _secrets->values["plain"] = {{"access_token", "pasted-token"}};
        CPPUNIT_ASSERT_EQUAL(0, _oauth->revoke("s3"));
        CPPUNIT_ASSERT_EQUAL(0, _oauth->revoke("plain"));
        CPPUNIT_ASSERT_EQUAL(0, _oauth->revoke("missing"));
        CPPUNIT_ASSERT(_web.seen.empty());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(McpOAuthTest);
