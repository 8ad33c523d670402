// Invitations end to end (including expiry and the disable flag), members, last-admin protection, custom
// roles, teams and organization settings, through real HTTP and a real PostgreSQL.
#include "support/AuthTestServer.h"

#include <cppunit/extensions/HelperMacros.h>

using namespace archestra;
using archestra::test::AuthTestServer;
using archestra::test::httpRequest;
using nlohmann::json;

class MembersTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(MembersTest);
    CPPUNIT_TEST(testInvitationFlow);
    CPPUNIT_TEST(testInvitationExpiryAndCancel);
    CPPUNIT_TEST(testInvitationsDisabled);
    CPPUNIT_TEST(testMembersAndLastAdmin);
    CPPUNIT_TEST(testCustomRolesEnterpriseOnly);
    CPPUNIT_TEST(testTeamsCrudAndMembers);
    CPPUNIT_TEST(testOrganizationSettings);
    CPPUNIT_TEST_SUITE_END();

    static std::string signUpBody(const std::string& email, const std::string& invitationId) {
        return json{{"name", "Bob"},
                    {"email", email},
                    {"password", "bob-password-1"},
                    {"callbackURL", "http://localhost:3000/auth/sign-up-with-invitation?invitationId=" +
                                        invitationId + "&email=" + email}}
            .dump();
    }

  public:
    void testInvitationFlow() {
        AuthTestServer server("members_invite");
        server.start();
        std::string admin = server.signIn("admin@localhost.ai", "password");
        auto invited = server.asCookie(admin, "POST", "/api/auth/organization/invite-member",
                                       R"({"email":"Bob@Example.com","role":"editor"})");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(invited.body, 200, invited.status);
        json invitation = json::parse(invited.body);
        std::string id = invitation["id"].get<std::string>();
        CPPUNIT_ASSERT_EQUAL(std::string("pending"), invitation["status"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("bob@example.com"), invitation["email"].get<std::string>());
        auto lifetime = server.db().query(
            "SELECT expires_at BETWEEN now() + interval '47 hours 59 minutes' AND now() + interval '48 hours "
            "1 minute' "
            "AS ok FROM invitation WHERE id = $1",
            {id});
        CPPUNIT_ASSERT(lifetime[0].boolean("ok"));
        // The same email again is refused unless resent.
        CPPUNIT_ASSERT_EQUAL(400, server
                                      .asCookie(admin, "POST", "/api/auth/organization/invite-member",
                                                R"({"email":"bob@example.com","role":"editor"})")
                                      .status);
        CPPUNIT_ASSERT_EQUAL(400, server
                                      .asCookie(admin, "POST", "/api/auth/organization/invite-member",
                                                R"({"email":"not-an-email","role":"editor"})")
                                      .status);
        CPPUNIT_ASSERT_EQUAL(400, server
                                      .asCookie(admin, "POST", "/api/auth/organization/invite-member",
                                                R"({"email":"x@example.com","role":"overlord"})")
                                      .status);

        auto check = httpRequest(server.port(), "GET", "/api/invitation/" + id + "/check");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(check.body, 200, check.status);
        json c = json::parse(check.body);
        CPPUNIT_ASSERT_EQUAL(false, c["userExists"].get<bool>());
        CPPUNIT_ASSERT_EQUAL(id, c["invitation"]["id"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(404, httpRequest(server.port(), "GET", "/api/invitation/nope/check").status);

        auto list = server.asCookie(admin, "GET", "/api/auth/organization/list-invitations");
        CPPUNIT_ASSERT_EQUAL(size_t(1), json::parse(list.body).size());

        // Direct sign-up is refused; a wrong email for the invitation too.
        auto direct = httpRequest(
            server.port(), "POST", "/api/auth/sign-up/email",
            R"({"name":"Eve","email":"eve@example.com","password":"eve-password-1","callbackURL":"/"})",
            {{"Content-Type", "application/json"}});
        CPPUNIT_ASSERT_EQUAL(403, direct.status);
        auto wrongEmail =
            httpRequest(server.port(), "POST", "/api/auth/sign-up/email", signUpBody("eve@example.com", id),
                        {{"Content-Type", "application/json"}});
        CPPUNIT_ASSERT_EQUAL(400, wrongEmail.status);

        auto signedUp =
            httpRequest(server.port(), "POST", "/api/auth/sign-up/email", signUpBody("bob@example.com", id),
                        {{"Content-Type", "application/json"}, {"Origin", "http://localhost:3000"}});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(signedUp.body, 200, signedUp.status);
        std::string bobCookie = signedUp.header("set-cookie");
        bobCookie = bobCookie.substr(0, bobCookie.find(';'));
        CPPUNIT_ASSERT(!json::parse(signedUp.body)["token"].get<std::string>().empty());
        auto role = server.db().query(
            "SELECT m.role FROM member m JOIN \"user\" u ON u.id = m.user_id WHERE u.email = "
            "'bob@example.com'");
        CPPUNIT_ASSERT_EQUAL(std::string("editor"), role[0].str("role"));
        CPPUNIT_ASSERT_EQUAL(400,
                             httpRequest(server.port(), "GET", "/api/invitation/" + id + "/check").status);
        // Used invitations cannot be used twice.
        CPPUNIT_ASSERT_EQUAL(
            400, httpRequest(server.port(), "POST", "/api/auth/sign-up/email",
                             signUpBody("bob@example.com", id), {{"Content-Type", "application/json"}})
                     .status);
        // Bob acts as an editor: may read teams, may not invite.
        CPPUNIT_ASSERT_EQUAL(200, server.asCookie(bobCookie, "GET", "/api/teams").status);
        CPPUNIT_ASSERT_EQUAL(403, server
                                      .asCookie(bobCookie, "POST", "/api/auth/organization/invite-member",
                                                R"({"email":"z@example.com","role":"member"})")
                                      .status);
        server.signIn("bob@example.com", "bob-password-1");

        // Sign-in accepts a pending invitation for an existing user (re-invited after removal is covered by
        // accept-invitation below).
        auto members = json::parse(server.asCookie(admin, "GET", "/api/auth/organization/list-members").body);
        CPPUNIT_ASSERT_EQUAL(2, members["total"].get<int>());
    }

    void testInvitationExpiryAndCancel() {
        AuthTestServer server("members_invite_expiry");
        server.start();
        std::string admin = server.signIn("admin@localhost.ai", "password");
        std::string id = json::parse(server
                                         .asCookie(admin, "POST", "/api/auth/organization/invite-member",
                                                   R"({"email":"late@example.com","role":"member"})")
                                         .body)["id"];
        server.db().execute("UPDATE invitation SET expires_at = now() - interval '1 minute' WHERE id = $1",
                            {id});
        auto check = httpRequest(server.port(), "GET", "/api/invitation/" + id + "/check");
        CPPUNIT_ASSERT_EQUAL(400, check.status);
        CPPUNIT_ASSERT(check.body.find("expired") != std::string::npos);
        auto late = httpRequest(server.port(), "POST", "/api/auth/sign-up/email",
                                signUpBody("late@example.com", id), {{"Content-Type", "application/json"}});
        CPPUNIT_ASSERT_EQUAL(400, late.status);
        CPPUNIT_ASSERT(server.db().query("SELECT 1 FROM \"user\" WHERE email = 'late@example.com'").empty());

        std::string second = json::parse(server
                                             .asCookie(admin, "POST", "/api/auth/organization/invite-member",
                                                       R"({"email":"gone@example.com","role":"member"})")
                                             .body)["id"];
        auto cancelled = server.asCookie(admin, "POST", "/api/auth/organization/cancel-invitation",
                                         json{{"invitationId", second}}.dump());
        CPPUNIT_ASSERT_EQUAL_MESSAGE(cancelled.body, 200, cancelled.status);
        CPPUNIT_ASSERT(server.db().query("SELECT 1 FROM invitation WHERE id = $1", {second}).empty());
        CPPUNIT_ASSERT_EQUAL(
            404, httpRequest(server.port(), "GET", "/api/invitation/" + second + "/check").status);

        // accept-invitation by an existing signed-in user with the invited email.
        std::string carolId = server.createUser("carol@example.com", "member", "carol-password");
        server.db().execute("DELETE FROM member WHERE user_id = $1", {carolId});
        std::string third = json::parse(server
                                            .asCookie(admin, "POST", "/api/auth/organization/invite-member",
                                                      R"({"email":"carol@example.com","role":"editor"})")
                                            .body)["id"];
        std::string carol = server.sessionCookie(carolId);
        CPPUNIT_ASSERT_EQUAL(403, server
                                      .asCookie(admin, "POST", "/api/auth/organization/accept-invitation",
                                                json{{"invitationId", third}}.dump())
                                      .status);
        auto accepted = server.asCookie(carol, "POST", "/api/auth/organization/accept-invitation",
                                        json{{"invitationId", third}}.dump());
        CPPUNIT_ASSERT_EQUAL_MESSAGE(accepted.body, 200, accepted.status);
        CPPUNIT_ASSERT_EQUAL(std::string("editor"),
                             json::parse(accepted.body)["member"]["role"].get<std::string>());
    }

    void testInvitationsDisabled() {
        auto options = AuthTestServer::defaultOptions();
        options.disableInvitations = true;
        AuthTestServer server("members_invite_disabled", options);
        server.start();
        std::string admin = server.signIn("admin@localhost.ai", "password");
        auto invite = server.asCookie(admin, "POST", "/api/auth/organization/invite-member",
                                      R"({"email":"bob@example.com","role":"member"})");
        CPPUNIT_ASSERT_EQUAL(403, invite.status);
        CPPUNIT_ASSERT_EQUAL(std::string("User invitations are disabled"),
                             json::parse(invite.body)["error"]["message"].get<std::string>());
        auto cancel = server.asCookie(admin, "POST", "/api/auth/organization/cancel-invitation",
                                      R"({"invitationId":"x"})");
        CPPUNIT_ASSERT_EQUAL(403, cancel.status);
        CPPUNIT_ASSERT_EQUAL(std::string("User invitations are disabled"),
                             json::parse(cancel.body)["error"]["message"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(
            true, json::parse(httpRequest(server.port(), "GET", "/api/features").body)["invitationsDisabled"]
                      .get<bool>());
    }

    void testMembersAndLastAdmin() {
        AuthTestServer server("members_admin");
        std::string editorId = server.createUser("ed@example.com", "editor");
        server.start();
        std::string admin = server.sessionCookie(server.seeded().adminUserId);
        auto members =
            json::parse(server.asCookie(admin, "GET", "/api/auth/organization/list-members").body)["members"];
        std::string adminMember, editorMember;
        for (const auto& m : members) {
            if (m["userId"] == server.seeded().adminUserId) adminMember = m["id"];
            if (m["userId"] == editorId) editorMember = m["id"];
            CPPUNIT_ASSERT(m["user"]["email"].is_string());
        }
        auto demote = server.asCookie(admin, "POST", "/api/auth/organization/update-member-role",
                                      json{{"memberId", adminMember}, {"role", "member"}}.dump());
        CPPUNIT_ASSERT_EQUAL(400, demote.status);
        CPPUNIT_ASSERT(demote.body.find("last admin") != std::string::npos);
        CPPUNIT_ASSERT_EQUAL(400, server
                                      .asCookie(admin, "POST", "/api/auth/organization/remove-member",
                                                json{{"memberIdOrEmail", "admin@localhost.ai"}}.dump())
                                      .status);
        // Role change takes effect at once on this replica.
        std::string editor = server.sessionCookie(editorId);
        CPPUNIT_ASSERT_EQUAL(403, server.asCookie(editor, "POST", "/api/teams", R"({"name":"t"})").status);
        auto promote = server.asCookie(admin, "POST", "/api/auth/organization/update-member-role",
                                       json{{"memberId", editorMember}, {"role", "admin"}}.dump());
        CPPUNIT_ASSERT_EQUAL_MESSAGE(promote.body, 200, promote.status);
        CPPUNIT_ASSERT_EQUAL(200, server.asCookie(editor, "POST", "/api/teams", R"({"name":"t"})").status);
        // Two admins now: the first may be demoted.
        CPPUNIT_ASSERT_EQUAL(200, server
                                      .asCookie(admin, "POST", "/api/auth/organization/update-member-role",
                                                json{{"memberId", adminMember}, {"role", "member"}}.dump())
                                      .status);
        CPPUNIT_ASSERT_EQUAL(200, server
                                      .asCookie(editor, "POST", "/api/auth/organization/update-member-role",
                                                json{{"memberId", adminMember}, {"role", "admin"}}.dump())
                                      .status);
        // Removing the other admin deletes that user (no memberships left) and its sessions.
        auto removed = server.asCookie(admin, "POST", "/api/auth/organization/remove-member",
                                       json{{"memberIdOrEmail", editorMember}}.dump());
        CPPUNIT_ASSERT_EQUAL_MESSAGE(removed.body, 200, removed.status);
        CPPUNIT_ASSERT(server.db().query("SELECT 1 FROM \"user\" WHERE id = $1", {editorId}).empty());
        CPPUNIT_ASSERT_EQUAL(401, server.asCookie(editor, "GET", "/api/teams").status);
        auto full =
            json::parse(server.asCookie(admin, "GET", "/api/auth/organization/get-full-organization").body);
        CPPUNIT_ASSERT_EQUAL(std::string("default-org"), full["id"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(size_t(1), full["members"].size());
    }

    void testCustomRolesEnterpriseOnly() {
        {
            AuthTestServer server("roles_community");
            server.start();
            std::string admin = server.sessionCookie(server.seeded().adminUserId);
            CPPUNIT_ASSERT_EQUAL(403, server.asCookie(admin, "GET", "/api/roles").status);
            CPPUNIT_ASSERT_EQUAL(403, server.asCookie(admin, "GET", "/api/user/permissions").status);
        }
        auto options = AuthTestServer::defaultOptions();
        options.enterprise = true;
        AuthTestServer server("roles_enterprise", options);
        std::string editorId = server.createUser("ed@example.com", "editor");
        server.start();
        std::string admin = server.sessionCookie(server.seeded().adminUserId);
        std::string editor = server.sessionCookie(editorId);
        auto roles = json::parse(server.asCookie(admin, "GET", "/api/roles").body);
        CPPUNIT_ASSERT_EQUAL(size_t(3), roles.size());
        auto created =
            server.asCookie(admin, "POST", "/api/roles",
                            R"({"name":"Team Manager","permission":{"team":["read","create","update"]}})");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(created.body, 200, created.status);
        CPPUNIT_ASSERT_EQUAL(std::string("team_manager"),
                             json::parse(created.body)["role"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(
            409, server.asCookie(admin, "POST", "/api/roles", R"({"name":"team manager","permission":{}})")
                     .status);
        CPPUNIT_ASSERT_EQUAL(
            400,
            server.asCookie(admin, "POST", "/api/roles", R"({"name":"bad","permission":{"team":["fly"]}})")
                .status);
        CPPUNIT_ASSERT_EQUAL(403,
                             server.asCookie(admin, "PUT", "/api/roles/admin", R"({"name":"x"})").status);
        // Give the editor the custom role: it can now create teams, and sees its permission map.
        auto memberRow = server.db().query("SELECT id FROM member WHERE user_id = $1", {editorId});
        CPPUNIT_ASSERT_EQUAL(
            200, server
                     .asCookie(admin, "POST", "/api/auth/organization/update-member-role",
                               json{{"memberId", memberRow[0].str("id")}, {"role", "team_manager"}}.dump())
                     .status);
        CPPUNIT_ASSERT_EQUAL(200,
                             server.asCookie(editor, "POST", "/api/teams", R"({"name":"custom"})").status);
        CPPUNIT_ASSERT_EQUAL(403, server.asCookie(editor, "GET", "/api/organization").status);
        auto permissions = json::parse(server.asCookie(editor, "GET", "/api/user/permissions").body);
        CPPUNIT_ASSERT_EQUAL(json({"create", "read", "update"}), permissions["team"]);
        // In use -> cannot delete; a custom role holder cannot grant what it lacks.
        CPPUNIT_ASSERT_EQUAL(400, server.asCookie(admin, "DELETE", "/api/roles/team_manager").status);
        server.db().execute("UPDATE member SET role = 'editor' WHERE user_id = $1", {editorId});
        CPPUNIT_ASSERT_EQUAL(200, server.asCookie(admin, "DELETE", "/api/roles/team_manager").status);
        CPPUNIT_ASSERT_EQUAL(404, server.asCookie(admin, "GET", "/api/roles/team_manager").status);
    }

    void testTeamsCrudAndMembers() {
        AuthTestServer server("teams_crud");
        std::string memberId = server.createUser("m@example.com", "member");
        server.start();
        std::string key = server.apiKey(server.seeded().adminUserId);
        auto created = server.asKey(key, "POST", "/api/teams",
                                    R"({"name":"test-team","description":"Test Description"})");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(created.body, 200, created.status);
        json team = json::parse(created.body);
        std::string id = team["id"].get<std::string>();
        CPPUNIT_ASSERT_EQUAL(std::string("default-org"), team["organizationId"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(server.seeded().adminUserId, team["createdBy"].get<std::string>());
        for (const char* field : {"createdAt", "updatedAt"}) {
            std::string ts = team[field].get<std::string>();
            CPPUNIT_ASSERT_MESSAGE(ts, ts.size() == 24 && ts[10] == 'T' && ts[19] == '.' && ts.back() == 'Z');
        }
        auto got = json::parse(server.asKey(key, "GET", "/api/teams/" + id).body);
        CPPUNIT_ASSERT_EQUAL(std::string("Test Description"), got["description"].get<std::string>());
        auto updated = json::parse(
            server.asKey(key, "PUT", "/api/teams/" + id, R"({"name":"renamed","description":null})").body);
        CPPUNIT_ASSERT_EQUAL(std::string("renamed"), updated["name"].get<std::string>());
        CPPUNIT_ASSERT(updated["description"].is_null());

        auto added =
            server.asKey(key, "POST", "/api/teams/" + id + "/members", json{{"userId", memberId}}.dump());
        CPPUNIT_ASSERT_EQUAL_MESSAGE(added.body, 200, added.status);
        json m = json::parse(added.body);
        CPPUNIT_ASSERT_EQUAL(std::string("member"), m["role"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(false, m["syncedFromSso"].get<bool>());
        CPPUNIT_ASSERT_EQUAL(id, m["teamId"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(
            409, server.asKey(key, "POST", "/api/teams/" + id + "/members", json{{"userId", memberId}}.dump())
                     .status);
        CPPUNIT_ASSERT_EQUAL(
            404, server.asKey(key, "POST", "/api/teams/" + id + "/members", R"({"userId":"ghost"})").status);
        CPPUNIT_ASSERT_EQUAL(
            size_t(1), json::parse(server.asKey(key, "GET", "/api/teams/" + id + "/members").body).size());

        // A member sees only its own teams; without team:update it cannot change them.
        std::string memberKey = server.apiKey(memberId);
        auto mine = json::parse(server.asKey(memberKey, "GET", "/api/teams").body);
        CPPUNIT_ASSERT_EQUAL(size_t(1), mine.size());
        CPPUNIT_ASSERT_EQUAL(id, mine[0]["id"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(size_t(2), json::parse(server.asKey(key, "GET", "/api/teams").body).size());
        CPPUNIT_ASSERT_EQUAL(403,
                             server.asKey(memberKey, "PUT", "/api/teams/" + id, R"({"name":"x"})").status);

        CPPUNIT_ASSERT_EQUAL(std::string(R"({"success":true})"),
                             server.asKey(key, "DELETE", "/api/teams/" + id + "/members/" + memberId).body);
        auto gone = server.asKey(key, "DELETE", "/api/teams/" + id + "/members/" + memberId);
        CPPUNIT_ASSERT_EQUAL(404, gone.status);
        CPPUNIT_ASSERT(gone.body.find("Team member not found") != std::string::npos);

        // Another organisation's team is "not found", exactly like a missing one.
        server.db().execute(
            "INSERT INTO organization (id, name, slug) VALUES ('other-org', 'Other', 'other')");
        server.db().execute(
            "INSERT INTO team (id, name, organization_id) VALUES ('foreign-team', 'F', 'other-org')");
        for (const char* path : {"/api/teams/foreign-team", "/api/teams/missing-team"}) {
            auto r = server.asKey(key, "GET", path);
            CPPUNIT_ASSERT_EQUAL(404, r.status);
            CPPUNIT_ASSERT_EQUAL(
                std::string(R"({"error":{"message":"Team not found","type":"api_not_found_error"}})"),
                r.body);
            CPPUNIT_ASSERT(r.header("content-type").find("json") != std::string::npos);
        }
        CPPUNIT_ASSERT_EQUAL(404, server.asKey(key, "DELETE", "/api/teams/foreign-team").status);
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"success":true})"),
                             server.asKey(key, "DELETE", "/api/teams/" + id).body);
        CPPUNIT_ASSERT_EQUAL(404, server.asKey(key, "GET", "/api/teams/" + id).status);
        CPPUNIT_ASSERT_EQUAL(400, server.asKey(key, "POST", "/api/teams", R"({"name":""})").status);
    }

    void testOrganizationSettings() {
        AuthTestServer server("org_settings");
        std::string memberId = server.createUser("m@example.com", "member");
        server.start();
        std::string key = server.apiKey(server.seeded().adminUserId);
        auto org = json::parse(server.asKey(key, "GET", "/api/organization").body);
        CPPUNIT_ASSERT_EQUAL(std::string("cosmic-night"), org["theme"].get<std::string>());
        CPPUNIT_ASSERT(org["logo"].is_null());
        auto patched =
            server.asKey(key, "PATCH", "/api/organization",
                         R"({"customFont":"inter","limitCleanupInterval":null,"onboardingComplete":true})");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(patched.body, 200, patched.status);
        json p = json::parse(patched.body);
        CPPUNIT_ASSERT_EQUAL(std::string("inter"), p["customFont"].get<std::string>());
        CPPUNIT_ASSERT(p["limitCleanupInterval"].is_null());
        CPPUNIT_ASSERT_EQUAL(true, p["onboardingComplete"].get<bool>());
        CPPUNIT_ASSERT_EQUAL(
            400, server.asKey(key, "PATCH", "/api/organization", R"({"customFont":"comic-sans"})").status);
        std::string memberKey = server.apiKey(memberId);
        CPPUNIT_ASSERT_EQUAL(200, server.asKey(memberKey, "GET", "/api/organization").status);
        CPPUNIT_ASSERT_EQUAL(
            403, server.asKey(memberKey, "PATCH", "/api/organization", R"({"theme":"x"})").status);
        auto onboarding =
            json::parse(server.asKey(memberKey, "GET", "/api/organization/onboarding-status").body);
        CPPUNIT_ASSERT_EQUAL(false, onboarding["hasLlmProxyLogs"].get<bool>());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(MembersTest);
