// /api/tokens and /api/secrets through real HTTP, a real PostgreSQL and the real secrets.db plugin: the org
// token and one token per team are created on first list, values are revealed only to team:update, rotation
// switches validation to the new value at once, and no token value is stored in plaintext.
#include "core/api/SecretsApi.h"
#include "core/api/TokensApi.h"
#include "core/auth/TeamTokens.h"
#include "core/secrets/SecretsFixture.h"
#include "support/AuthTestServer.h"

#include <cppunit/extensions/HelperMacros.h>

#include <regex>

using namespace archestra;
using archestra::test::AuthTestServer;
using nlohmann::json;

class TokensApiTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(TokensApiTest);
    CPPUNIT_TEST(testListRevealRotate);
    CPPUNIT_TEST(testMemberAccess);
    CPPUNIT_TEST(testSecretsRoutes);
    CPPUNIT_TEST_SUITE_END();

    struct Fixture {
        explicit Fixture(const std::string& database) : server(database), secrets(server.db()) {
            store = secrets.dbStore(AuthTestServer::kSecret);
            auto auth = std::shared_ptr<auth::AuthService>(&server.auth(), [](auto*) {});
            api::registerTokenRoutes(server.router(), auth, store);
            api::registerSecretsRoutes(server.router(), store);
            server.start();
            admin = server.sessionCookie(server.seeded().adminUserId);
        }
        json ok(const std::string& method, const std::string& path, const std::string& cookie = "") {
            auto result = server.asCookie(cookie.empty() ? admin : cookie, method, path, "");
            CPPUNIT_ASSERT_EQUAL_MESSAGE(method + " " + path + ": " + result.body, 200, result.status);
            return json::parse(result.body);
        }
        AuthTestServer server;
        test::SecretsFixture secrets;
        std::shared_ptr<secrets::PluginSecretStore> store;
        std::string admin;
    };

  public:
    void testListRevealRotate() {
        Fixture f("tokens_api_rotate");
        json tokens = f.ok("GET", "/api/tokens");
        // Seeded org has the Default Team: the org token plus that team's token.
        CPPUNIT_ASSERT_EQUAL_MESSAGE(tokens.dump(), size_t(2), tokens.size());
        json org = tokens[0], team = tokens[1];
        CPPUNIT_ASSERT(org["isOrganizationToken"].get<bool>());
        CPPUNIT_ASSERT(org["team"].is_null());
        CPPUNIT_ASSERT(!team["isOrganizationToken"].get<bool>());
        CPPUNIT_ASSERT_EQUAL(f.server.seeded().defaultTeamId, team["team"]["id"].get<std::string>());
        CPPUNIT_ASSERT(org["lastUsedAt"].is_null());
        std::regex iso(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
        CPPUNIT_ASSERT(std::regex_match(org["createdAt"].get<std::string>(), iso));
        CPPUNIT_ASSERT(!org.contains("value"));
        // Listing again creates nothing new.
        CPPUNIT_ASSERT_EQUAL(tokens, f.ok("GET", "/api/tokens"));

        std::string orgId = org["id"].get<std::string>();
        std::string value = f.ok("GET", "/api/tokens/" + orgId + "/value")["value"].get<std::string>();
        CPPUNIT_ASSERT_MESSAGE(value, std::regex_match(value, std::regex("archestra_[0-9a-f]{32}")));
        CPPUNIT_ASSERT_EQUAL(value.substr(0, 14), org["tokenStart"].get<std::string>());
        // Nothing in the database holds the value in plaintext.
        auto leaked = f.server.db().query("SELECT count(*) FROM secret WHERE secret::text LIKE $1",
                                          {"%" + value.substr(10) + "%"});
        CPPUNIT_ASSERT_EQUAL(std::string("0"), leaked.at(0).str(0));

        auto identity = auth::validateTeamToken(f.server.db(), value);
        CPPUNIT_ASSERT(identity.has_value());
        CPPUNIT_ASSERT(identity->isOrganizationToken);
        CPPUNIT_ASSERT_EQUAL(orgId, identity->tokenId);
        CPPUNIT_ASSERT_EQUAL(f.server.seeded().organizationId, identity->organizationId);
        CPPUNIT_ASSERT(!identity->teamId);
        // Validation stamps last_used_at.
        CPPUNIT_ASSERT(!f.ok("GET", "/api/tokens")[0]["lastUsedAt"].is_null());

        std::string teamValue =
            f.ok("GET", "/api/tokens/" + team["id"].get<std::string>() + "/value")["value"]
                .get<std::string>();
        auto teamIdentity = auth::validateTeamToken(f.server.db(), teamValue);
        CPPUNIT_ASSERT(teamIdentity && teamIdentity->teamId == f.server.seeded().defaultTeamId);

        json rotated = f.ok("POST", "/api/tokens/" + orgId + "/rotate");
        std::string fresh = rotated["value"].get<std::string>();
        CPPUNIT_ASSERT(fresh != value);
        CPPUNIT_ASSERT_EQUAL(fresh.substr(0, 14), rotated["tokenStart"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(orgId, rotated["id"].get<std::string>());
        CPPUNIT_ASSERT(!auth::validateTeamToken(f.server.db(), value).has_value());
        CPPUNIT_ASSERT(auth::validateTeamToken(f.server.db(), fresh).has_value());
        CPPUNIT_ASSERT_EQUAL(fresh,
                             f.ok("GET", "/api/tokens/" + orgId + "/value")["value"].get<std::string>());
        // The old secret row is gone: one secret per token.
        CPPUNIT_ASSERT_EQUAL(std::string("2"),
                             f.server.db().query("SELECT count(*) FROM secret").at(0).str(0));

        // Malformed and unknown values never validate; unknown ids are 404 JSON.
        CPPUNIT_ASSERT(!auth::validateTeamToken(f.server.db(), "archestra_zz").has_value());
        CPPUNIT_ASSERT(!auth::validateTeamToken(f.server.db(), auth::generateTeamTokenValue()).has_value());
        auto missing =
            f.server.asCookie(f.admin, "GET", "/api/tokens/8f1e1c7e-1111-4222-8333-444455556666/value", "");
        CPPUNIT_ASSERT_EQUAL(404, missing.status);
        CPPUNIT_ASSERT(json::parse(missing.body)["error"]["message"].is_string());
    }

    void testMemberAccess() {
        Fixture f("tokens_api_member");
        std::string member = f.server.createUser("member@example.com", "member");
        std::string cookie = f.server.sessionCookie(member);
        json all = f.ok("GET", "/api/tokens");
        // A member outside every team sees no tokens and may neither reveal nor rotate.
        CPPUNIT_ASSERT_EQUAL(json::array(), f.ok("GET", "/api/tokens", cookie));
        std::string orgId = all[0]["id"].get<std::string>();
        CPPUNIT_ASSERT_EQUAL(403,
                             f.server.asCookie(cookie, "GET", "/api/tokens/" + orgId + "/value", "").status);
        CPPUNIT_ASSERT_EQUAL(
            403, f.server.asCookie(cookie, "POST", "/api/tokens/" + orgId + "/rotate", "").status);
        // In the Default Team: that team's token only.
        f.server.db().execute(
            "INSERT INTO team_member (id, team_id, user_id, role) VALUES ($1, $2, $3, 'member')",
            {db::newTextId(), f.server.seeded().defaultTeamId, member});
        json mine = f.ok("GET", "/api/tokens", cookie);
        CPPUNIT_ASSERT_EQUAL(size_t(1), mine.size());
        CPPUNIT_ASSERT_EQUAL(f.server.seeded().defaultTeamId, mine[0]["team"]["id"].get<std::string>());
    }

    void testSecretsRoutes() {
        Fixture f("tokens_api_secrets");
        json type = f.ok("GET", "/api/secrets/type");
        CPPUNIT_ASSERT_EQUAL(std::string("DB"), type["type"].get<std::string>());
        CPPUNIT_ASSERT(type["meta"].is_object());
        f.ok("GET", "/api/tokens");
        CPPUNIT_ASSERT_EQUAL(2, f.ok("POST", "/api/secrets/check-connectivity")["secretCount"].get<int>());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(TokensApiTest);
