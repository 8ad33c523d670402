// Sign-in, sessions, cookies, Origin check, rate limiting and API keys through real HTTP and a real
// PostgreSQL.
#include "support/AuthTestServer.h"

#include <Poco/Thread.h>
#include <cppunit/extensions/HelperMacros.h>

#include <chrono>

using namespace archestra;
using archestra::test::AuthTestServer;
using archestra::test::httpRequest;
using nlohmann::json;

namespace {

const std::string kUnauthenticated =
    R"({"error":{"message":"Unauthenticated","type":"api_authentication_error"}})";

double secondsOf(const std::function<void()>& f) {
    auto start = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

class AuthRoutesTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(AuthRoutesTest);
    CPPUNIT_TEST(testSignInSetsHttpCookieAndSession);
    CPPUNIT_TEST(testHttpsCookieAttributes);
    CPPUNIT_TEST(testWrongPasswordAndUnknownEmailLookAlike);
    CPPUNIT_TEST(testSignOutEndsSession);
    CPPUNIT_TEST(testOriginCheck);
    CPPUNIT_TEST(testOriginCheckWithExplicitFrontend);
    CPPUNIT_TEST(testRateLimitPerAccountAndAddress);
    CPPUNIT_TEST(testApiKeysHashedAndBothHeaderForms);
    CPPUNIT_TEST(testExpiredApiKeyRejected);
    CPPUNIT_TEST(testChangePassword);
    CPPUNIT_TEST(testPublicStatusRoutes);
    CPPUNIT_TEST(testDisableBasicAuthKeepsBreakGlassAdmin);
    CPPUNIT_TEST(testSessionRefreshAfterOneDay);
    CPPUNIT_TEST_SUITE_END();

  public:
    void testSignInSetsHttpCookieAndSession() {
        AuthTestServer server("auth_signin");
        server.start();
        auto result =
            httpRequest(server.port(), "POST", "/api/auth/sign-in/email",
                        R"({"email":"Admin@Localhost.ai","password":"password"})",
                        {{"Content-Type", "application/json"}, {"Origin", "http://localhost:3000"}});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(result.body, 200, result.status);
        json body = json::parse(result.body);
        CPPUNIT_ASSERT_EQUAL(false, body["redirect"].get<bool>());
        CPPUNIT_ASSERT_EQUAL(std::string("admin@localhost.ai"), body["user"]["email"].get<std::string>());
        std::string token = body["token"].get<std::string>();
        std::string cookie = result.header("set-cookie");
        CPPUNIT_ASSERT_MESSAGE(cookie, cookie.rfind("archestra.session_token=", 0) == 0);
        for (const char* attribute : {"; Path=/", "; HttpOnly", "; SameSite=Lax", "; Max-Age=604800"})
            CPPUNIT_ASSERT_MESSAGE(cookie + " lacks " + attribute,
                                   cookie.find(attribute) != std::string::npos);
        CPPUNIT_ASSERT(cookie.find("Secure") == std::string::npos);
        CPPUNIT_ASSERT(cookie.find("Domain=") == std::string::npos);
        // Value: token.<base64 HMAC-SHA256(secret, token)>, URL-encoded.
        std::string value = cookie.substr(cookie.find('=') + 1, cookie.find(';') - cookie.find('=') - 1);
        CPPUNIT_ASSERT_EQUAL(token, auth::verifyCookieValue(value, AuthTestServer::kSecret));
        CPPUNIT_ASSERT(value.find("%3D") != std::string::npos || value.find('=') == std::string::npos);
        // The session row holds a hash, never the token itself.
        CPPUNIT_ASSERT(server.db().query("SELECT 1 FROM session WHERE token = $1", {token}).empty());
        CPPUNIT_ASSERT_EQUAL(
            size_t(1), server.db()
                           .query("SELECT 1 FROM session WHERE token = $1", {auth::sha256Base64Url(token)})
                           .size());

        std::string cookieHeader = cookie.substr(0, cookie.find(';'));
        auto session = server.asCookie(cookieHeader, "GET", "/api/auth/get-session");
        CPPUNIT_ASSERT_EQUAL(200, session.status);
        json s = json::parse(session.body);
        CPPUNIT_ASSERT_EQUAL(server.seeded().adminUserId, s["session"]["userId"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("default-org"),
                             s["session"]["activeOrganizationId"].get<std::string>());
        CPPUNIT_ASSERT(s["user"]["image"].is_null());
        CPPUNIT_ASSERT_EQUAL(std::string("null"), server.asCookie("", "GET", "/api/auth/get-session").body);
        // A tampered signature is no session.
        auto tampered =
            server.asCookie(cookieHeader.substr(0, cookieHeader.size() - 6) + "AAAA%3D", "GET", "/api/teams");
        CPPUNIT_ASSERT_EQUAL(401, tampered.status);
        // rememberMe:false gives a browser-session cookie (no Max-Age).
        auto transient =
            httpRequest(server.port(), "POST", "/api/auth/sign-in/email",
                        R"({"email":"admin@localhost.ai","password":"password","rememberMe":false})",
                        {{"Content-Type", "application/json"}});
        CPPUNIT_ASSERT_EQUAL(200, transient.status);
    }

    void testHttpsCookieAttributes() {
        auto options = AuthTestServer::defaultOptions();
        options.frontendUrl = "https://app.example.com";
        options.frontendUrlExplicit = true;
        options.cookieDomain = "example.com";
        AuthTestServer server("auth_https", options);
        server.start();
        auto result =
            httpRequest(server.port(), "POST", "/api/auth/sign-in/email",
                        R"({"email":"admin@localhost.ai","password":"password"})",
                        {{"Content-Type", "application/json"}, {"Origin", "https://app.example.com"}});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(result.body, 200, result.status);
        std::string cookie = result.header("set-cookie");
        CPPUNIT_ASSERT_MESSAGE(cookie, cookie.rfind("__Secure-archestra.session_token=", 0) == 0);
        for (const char* attribute :
             {"; Path=/", "; HttpOnly", "; Secure", "; SameSite=None", "; Domain=example.com"})
            CPPUNIT_ASSERT_MESSAGE(cookie + " lacks " + attribute,
                                   cookie.find(attribute) != std::string::npos);
        auto teams = server.asCookie(cookie.substr(0, cookie.find(';')), "GET", "/api/teams");
        CPPUNIT_ASSERT_EQUAL(200, teams.status);
        CPPUNIT_ASSERT_EQUAL(std::string("https://app.example.com"),
                             teams.header("access-control-allow-origin"));
    }

    void testWrongPasswordAndUnknownEmailLookAlike() {
        AuthTestServer server("auth_lookalike");
        server.start();
        auto attempt = [&](const std::string& email) {
            return httpRequest(server.port(), "POST", "/api/auth/sign-in/email",
                               json{{"email", email}, {"password", "not-the-password"}}.dump(),
                               {{"Content-Type", "application/json"}});
        };
        test::HttpResult wrong, unknown;
        double wrong_s = secondsOf([&] { wrong = attempt("admin@localhost.ai"); });
        double unknown_s = secondsOf([&] { unknown = attempt("nobody@example.com"); });
        CPPUNIT_ASSERT_EQUAL(401, wrong.status);
        CPPUNIT_ASSERT_EQUAL(wrong.status, unknown.status);
        CPPUNIT_ASSERT_EQUAL(wrong.body, unknown.body);
        // Both run one scrypt verification: within a factor of 3 of each other.
        CPPUNIT_ASSERT_MESSAGE(std::to_string(wrong_s) + " vs " + std::to_string(unknown_s),
                               unknown_s > wrong_s / 3 && unknown_s < wrong_s * 3);
    }

    void testSignOutEndsSession() {
        AuthTestServer server("auth_signout");
        server.start();
        std::string cookie = server.signIn("admin@localhost.ai", "password");
        CPPUNIT_ASSERT_EQUAL(200, server.asCookie(cookie, "GET", "/api/teams").status);
        auto out = server.asCookie(cookie, "POST", "/api/auth/sign-out", "{}");
        CPPUNIT_ASSERT_EQUAL(200, out.status);
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"success":true})"), out.body);
        CPPUNIT_ASSERT(server.db().query("SELECT 1 FROM session").empty());
        // Forgotten on this replica at once (no wait for the cache).
        auto after = server.asCookie(cookie, "GET", "/api/teams");
        CPPUNIT_ASSERT_EQUAL(401, after.status);
        CPPUNIT_ASSERT_EQUAL(kUnauthenticated, after.body);
        CPPUNIT_ASSERT_EQUAL(std::string("null"),
                             server.asCookie(cookie, "GET", "/api/auth/get-session").body);
    }

    void testOriginCheck() {
        AuthTestServer server("auth_origin");
        server.start();
        std::string cookie = server.signIn("admin@localhost.ai", "password");
        std::string body = R"({"name":"Origin team"})";
        auto noOrigin = httpRequest(server.port(), "POST", "/api/teams", body,
                                    {{"Cookie", cookie}, {"Content-Type", "application/json"}});
        CPPUNIT_ASSERT_EQUAL(403, noOrigin.status);
        auto evil = httpRequest(
            server.port(), "POST", "/api/teams", body,
            {{"Cookie", cookie}, {"Origin", "https://evil.example"}, {"Content-Type", "application/json"}});
        CPPUNIT_ASSERT_EQUAL(403, evil.status);
        CPPUNIT_ASSERT(evil.body.find("api_authorization_error") != std::string::npos);
        // FRONTEND_URL unset: localhost and 127.0.0.1 on any port are trusted.
        for (const char* origin : {"http://localhost:3000", "http://127.0.0.1:5173", "http://localhost"}) {
            auto ok =
                httpRequest(server.port(), "POST", "/api/teams", body,
                            {{"Cookie", cookie}, {"Origin", origin}, {"Content-Type", "application/json"}});
            CPPUNIT_ASSERT_EQUAL_MESSAGE(origin, 200, ok.status);
        }
        // Reads need no Origin; API keys are not cookies, so no Origin is needed either.
        CPPUNIT_ASSERT_EQUAL(
            200, httpRequest(server.port(), "GET", "/api/teams", "", {{"Cookie", cookie}}).status);
        std::string key = server.apiKey(server.seeded().adminUserId);
        CPPUNIT_ASSERT_EQUAL(200, server.asKey(key, "POST", "/api/teams", body).status);
        // A sign-in posted from a foreign page is refused (login CSRF).
        auto foreignSignIn =
            httpRequest(server.port(), "POST", "/api/auth/sign-in/email",
                        R"({"email":"admin@localhost.ai","password":"password"})",
                        {{"Content-Type", "application/json"}, {"Origin", "https://evil.example"}});
        CPPUNIT_ASSERT_EQUAL(403, foreignSignIn.status);
    }

    void testOriginCheckWithExplicitFrontend() {
        auto options = AuthTestServer::defaultOptions();
        options.frontendUrl = "http://ui.internal:8080";
        options.frontendUrlExplicit = true;
        AuthTestServer server("auth_origin_explicit", options);
        server.start();
        std::string cookie = server.sessionCookie(server.seeded().adminUserId);
        auto local = httpRequest(
            server.port(), "POST", "/api/teams", R"({"name":"x"})",
            {{"Cookie", cookie}, {"Origin", "http://localhost:3000"}, {"Content-Type", "application/json"}});
        CPPUNIT_ASSERT_EQUAL(403, local.status);
        auto frontend = httpRequest(server.port(), "POST", "/api/teams", R"({"name":"x"})",
                                    {{"Cookie", cookie},
                                     {"Origin", "http://ui.internal:8080"},
                                     {"Content-Type", "application/json"}});
        CPPUNIT_ASSERT_EQUAL(200, frontend.status);
    }

    void testRateLimitPerAccountAndAddress() {
        auto options = AuthTestServer::defaultOptions();
        options.maxFailuresPerAccount = 3;
        options.maxFailuresPerAddress = 6;
        AuthTestServer server("auth_ratelimit", options);
        server.start();
        auto attempt = [&](const std::string& email, const std::string& password) {
            return httpRequest(server.port(), "POST", "/api/auth/sign-in/email",
                               json{{"email", email}, {"password", password}}.dump(),
                               {{"Content-Type", "application/json"}});
        };
        for (int i = 0; i < 3; ++i)
            CPPUNIT_ASSERT_EQUAL(401, attempt("admin@localhost.ai", "wrong-password").status);
        // Locked: even the right password is refused until the window ends.
        auto locked = attempt("admin@localhost.ai", "password");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(locked.body, 429, locked.status);
        int retry = std::stoi(locked.header("retry-after"));
        CPPUNIT_ASSERT(retry > 0 && retry <= 15 * 60);
        // Per address: failures across different accounts add up.
        for (int i = 0; i < 3; ++i)
            CPPUNIT_ASSERT_EQUAL(401, attempt("someone" + std::to_string(i) + "@example.com", "x").status);
        auto byAddress = attempt("fresh@example.com", "x");
        CPPUNIT_ASSERT_EQUAL(429, byAddress.status);
        CPPUNIT_ASSERT(!byAddress.header("retry-after").empty());
        // The counters are in the database (every replica sees them).
        CPPUNIT_ASSERT_EQUAL(
            size_t(5),
            server.db().query("SELECT 1 FROM verification WHERE identifier = 'sign-in-failures'").size());
        // Window over: allowed again, and success clears the account counter.
        server.db().execute("UPDATE verification SET expires_at = now() - interval '1 second'");
        CPPUNIT_ASSERT_EQUAL(200, attempt("admin@localhost.ai", "password").status);
    }

    void testApiKeysHashedAndBothHeaderForms() {
        AuthTestServer server("auth_apikeys");
        server.start();
        std::string cookie = server.signIn("admin@localhost.ai", "password");
        auto created = server.asCookie(cookie, "POST", "/api/auth/api-key/create",
                                       R"({"name":"terraform","expiresIn":604800})");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(created.body, 200, created.status);
        json key = json::parse(created.body);
        std::string value = key["key"].get<std::string>();
        CPPUNIT_ASSERT_EQUAL(size_t(74), value.size());
        CPPUNIT_ASSERT(value.rfind("archestra_", 0) == 0);
        for (size_t i = 10; i < value.size(); ++i)
            CPPUNIT_ASSERT(std::isalpha(static_cast<unsigned char>(value[i])));
        CPPUNIT_ASSERT(!key["expiresAt"].is_null());
        auto stored =
            server.db().query("SELECT key, start FROM apikey WHERE id = $1", {key["id"].get<std::string>()});
        CPPUNIT_ASSERT(stored[0].str("key") != value);
        CPPUNIT_ASSERT_EQUAL(auth::sha256Base64Url(value), stored[0].str("key"));
        CPPUNIT_ASSERT(stored[0].str("key").find('=') == std::string::npos);
        CPPUNIT_ASSERT_EQUAL(value.substr(0, 14), stored[0].str("start"));

        auto raw = server.asKey(value, "GET", "/api/teams");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(raw.body, 200, raw.status);
        CPPUNIT_ASSERT_EQUAL(200, server.asKey("Bearer " + value, "GET", "/api/teams").status);
        CPPUNIT_ASSERT_EQUAL(200, server.asKey(value, "POST", "/api/teams", R"({"name":"via key"})").status);

        auto list = server.asCookie(cookie, "GET", "/api/auth/api-key/list");
        json keys = json::parse(list.body);
        CPPUNIT_ASSERT_EQUAL(size_t(1), keys.size());
        CPPUNIT_ASSERT(!keys[0].contains("key"));
        CPPUNIT_ASSERT_EQUAL(std::string("terraform"), keys[0]["name"].get<std::string>());
        CPPUNIT_ASSERT(!keys[0]["lastRequest"].is_null());
        auto got = server.asCookie(cookie, "GET", "/api/auth/api-key/get?id=" + key["id"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(200, got.status);
        auto renamed = server.asCookie(cookie, "POST", "/api/auth/api-key/update",
                                       json{{"keyId", key["id"]}, {"name", "renamed"}}.dump());
        CPPUNIT_ASSERT_EQUAL(std::string("renamed"), json::parse(renamed.body)["name"].get<std::string>());

        auto unknown = server.asKey("archestra_" + std::string(64, 'x'), "GET", "/api/teams");
        CPPUNIT_ASSERT_EQUAL(401, unknown.status);
        CPPUNIT_ASSERT_EQUAL(kUnauthenticated, unknown.body);

        auto deleted =
            server.asCookie(cookie, "POST", "/api/auth/api-key/delete", json{{"keyId", key["id"]}}.dump());
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"success":true})"), deleted.body);
        auto after = server.asKey(value, "GET", "/api/teams");
        CPPUNIT_ASSERT_EQUAL(401, after.status);
        CPPUNIT_ASSERT_EQUAL(kUnauthenticated, after.body);
        CPPUNIT_ASSERT_EQUAL(
            404,
            server.asCookie(cookie, "POST", "/api/auth/api-key/delete", json{{"keyId", key["id"]}}.dump())
                .status);
        CPPUNIT_ASSERT_EQUAL(
            400, server.asCookie(cookie, "POST", "/api/auth/api-key/create", R"({"expiresIn":5})").status);
    }

    void testExpiredApiKeyRejected() {
        auto options = AuthTestServer::defaultOptions();
        options.cacheTtl = std::chrono::milliseconds(300);
        AuthTestServer server("auth_apikey_expiry", options);
        server.start();
        std::string key = server.apiKey(server.seeded().adminUserId);
        CPPUNIT_ASSERT_EQUAL(200, server.asKey(key, "GET", "/api/teams").status);
        // Revoked behind this replica's back (another replica, or SQL): honoured once the cache entry ages
        // out.
        server.db().execute("UPDATE apikey SET expires_at = now() - interval '1 minute'");
        Poco::Thread::sleep(400);
        auto expired = server.asKey(key, "GET", "/api/teams");
        CPPUNIT_ASSERT_EQUAL(401, expired.status);
        CPPUNIT_ASSERT_EQUAL(kUnauthenticated, expired.body);
        std::string cookieUser = server.sessionCookie(server.seeded().adminUserId);
        server.db().execute("UPDATE session SET expires_at = now() - interval '1 second'");
        CPPUNIT_ASSERT_EQUAL(401, server.asCookie(cookieUser, "GET", "/api/teams").status);
    }

    void testChangePassword() {
        AuthTestServer server("auth_password");
        server.start();
        std::string cookie = server.signIn("admin@localhost.ai", "password");
        std::string other = server.signIn("admin@localhost.ai", "password");
        auto wrong = server.asCookie(cookie, "POST", "/api/auth/change-password",
                                     R"({"currentPassword":"nope","newPassword":"new-password-1"})");
        CPPUNIT_ASSERT_EQUAL(400, wrong.status);
        auto tooShort = server.asCookie(cookie, "POST", "/api/auth/change-password",
                                        R"({"currentPassword":"password","newPassword":"short"})");
        CPPUNIT_ASSERT_EQUAL(400, tooShort.status);
        auto changed = server.asCookie(
            cookie, "POST", "/api/auth/change-password",
            R"({"currentPassword":"password","newPassword":"new-password-1","revokeOtherSessions":true})");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(changed.body, 200, changed.status);
        CPPUNIT_ASSERT_EQUAL(200, server.asCookie(cookie, "GET", "/api/teams").status);
        CPPUNIT_ASSERT_EQUAL(401, server.asCookie(other, "GET", "/api/teams").status);
        server.signIn("admin@localhost.ai", "new-password-1");
    }

    void testPublicStatusRoutes() {
        AuthTestServer server("auth_public");
        server.start();
        auto features = httpRequest(server.port(), "GET", "/api/features");
        CPPUNIT_ASSERT_EQUAL(200, features.status);
        json f = json::parse(features.body);
        CPPUNIT_ASSERT(f["orchestrator-k8s-runtime"].is_boolean());
        CPPUNIT_ASSERT_EQUAL(false, f["basicAuthDisabled"].get<bool>());
        CPPUNIT_ASSERT_EQUAL(false, f["invitationsDisabled"].get<bool>());
        CPPUNIT_ASSERT(f["orchestrator"].is_string());
        auto status = httpRequest(server.port(), "GET", "/api/auth/default-credentials-status");
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"enabled":true})"), status.body);
        server.db().execute("UPDATE account SET password = $1", {auth::hashPassword("changed-password")});
        Poco::Thread::sleep(
            5100);  // the answer is cached for cacheTtl (5 s) so the scrypt check cannot be spammed
        status = httpRequest(server.port(), "GET", "/api/auth/default-credentials-status");
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"enabled":false})"), status.body);
    }

    void testDisableBasicAuthKeepsBreakGlassAdmin() {
        auto options = AuthTestServer::defaultOptions();
        options.disableBasicAuth = true;
        AuthTestServer server("auth_basic_disabled", options);
        server.createUser("editor@example.com", "editor", "editor-password");
        server.start();
        auto editor = httpRequest(server.port(), "POST", "/api/auth/sign-in/email",
                                  R"({"email":"editor@example.com","password":"editor-password"})",
                                  {{"Content-Type", "application/json"}});
        CPPUNIT_ASSERT_EQUAL(403, editor.status);
        server.signIn("admin@localhost.ai", "password");  // break-glass account still works
        json f = json::parse(httpRequest(server.port(), "GET", "/api/features").body);
        CPPUNIT_ASSERT_EQUAL(true, f["basicAuthDisabled"].get<bool>());
    }

    void testSessionRefreshAfterOneDay() {
        AuthTestServer server("auth_refresh");
        server.start();
        std::string cookie = server.signIn("admin@localhost.ai", "password");
        // Two days into the session: the next request extends it to 7 days and re-sends the cookie.
        server.db().execute("UPDATE session SET expires_at = now() + interval '5 days'");
        auto result = server.asCookie(cookie, "GET", "/api/teams");
        CPPUNIT_ASSERT_EQUAL(200, result.status);
        CPPUNIT_ASSERT(result.header("set-cookie").find("Max-Age=604800") != std::string::npos);
        auto left =
            server.db().query("SELECT expires_at > now() + interval '6 days 23 hours' AS fresh FROM session");
        CPPUNIT_ASSERT(left[0].boolean("fresh"));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(AuthRoutesTest);
