// Unit tests of the permission table and the token/signature helpers.
#include "core/auth/Permissions.h"
#include "core/auth/Tokens.h"

#include <cppunit/extensions/HelperMacros.h>

using namespace archestra::auth;

class PermissionsTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(PermissionsTest);
    CPPUNIT_TEST(testBuiltInRoles);
    CPPUNIT_TEST(testJsonRoundTrip);
    CPPUNIT_TEST(testHashesAndSignatures);
    CPPUNIT_TEST(testRandomTokens);
    CPPUNIT_TEST_SUITE_END();

  public:
    void testBuiltInRoles() {
        for (const auto& [resource, actions] : permissionCatalog())
            for (const auto& action : actions)
                CPPUNIT_ASSERT(allows(builtInPermissions("admin"), resource, action));
        const auto& editor = builtInPermissions("editor");
        CPPUNIT_ASSERT(allows(editor, "profile", "delete"));
        CPPUNIT_ASSERT(allows(editor, "team", "read"));
        CPPUNIT_ASSERT(!allows(editor, "team", "create"));
        CPPUNIT_ASSERT(!allows(editor, "profile", "admin"));
        CPPUNIT_ASSERT(!allows(editor, "invitation", "create"));
        CPPUNIT_ASSERT(!allows(editor, "organization", "update"));
        CPPUNIT_ASSERT(allows(editor, "chatSettings", "update"));
        const auto& member = builtInPermissions("member");
        CPPUNIT_ASSERT(allows(member, "profile", "read"));
        CPPUNIT_ASSERT(!allows(member, "profile", "create"));
        CPPUNIT_ASSERT(allows(member, "mcpServer", "delete"));
        CPPUNIT_ASSERT(!allows(member, "mcpServer", "update"));
        CPPUNIT_ASSERT(!allows(member, "chatSettings", "update"));
        CPPUNIT_ASSERT(builtInPermissions("custom_role").empty());
        CPPUNIT_ASSERT(isKnownPermission("invitation", "cancel"));
        CPPUNIT_ASSERT(!isKnownPermission("invitation", "read"));
    }

    void testJsonRoundTrip() {
        auto json = toJson(builtInPermissions("member"));
        CPPUNIT_ASSERT_EQUAL(nlohmann::json({"create", "read", "update", "delete"}), json["tool"]);
        CPPUNIT_ASSERT(permissionsFromJson(json) == builtInPermissions("member"));
        CPPUNIT_ASSERT_THROW(permissionsFromJson(nlohmann::json::parse(R"({"team":["fly"]})")),
                             std::invalid_argument);
        CPPUNIT_ASSERT_THROW(permissionsFromJson(nlohmann::json::parse(R"({"spaceship":["read"]})")),
                             std::invalid_argument);
        CPPUNIT_ASSERT_THROW(permissionsFromJson(nlohmann::json::parse(R"([])")), std::invalid_argument);
    }

    void testHashesAndSignatures() {
        CPPUNIT_ASSERT_EQUAL(std::string("ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"),
                             sha256Base64Url("abc"));
        CPPUNIT_ASSERT_EQUAL(std::string("97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg="),
                             hmacSha256Base64("key", "The quick brown fox jumps over the lazy dog"));
        std::string signed_ = signCookieValue("tok123", "secret");
        CPPUNIT_ASSERT_EQUAL(std::string("tok123"), verifyCookieValue(signed_, "secret"));
        CPPUNIT_ASSERT_EQUAL(std::string(""), verifyCookieValue(signed_, "other-secret"));
        CPPUNIT_ASSERT_EQUAL(std::string(""), verifyCookieValue("tok124" + signed_.substr(6), "secret"));
        // URL-encoded form (as it travels in the cookie) verifies too.
        std::string encoded = signed_;
        for (std::string::size_type p; (p = encoded.find('=')) != std::string::npos;)
            encoded.replace(p, 1, "%3D");
        for (std::string::size_type p; (p = encoded.find('+')) != std::string::npos;)
            encoded.replace(p, 1, "%2B");
        for (std::string::size_type p; (p = encoded.find('/')) != std::string::npos;)
            encoded.replace(p, 1, "%2F");
        CPPUNIT_ASSERT_EQUAL(std::string("tok123"), verifyCookieValue(encoded, "secret"));
        CPPUNIT_ASSERT(constantTimeEquals("abc", "abc"));
        CPPUNIT_ASSERT(!constantTimeEquals("abc", "abd"));
        CPPUNIT_ASSERT(!constantTimeEquals("abc", "abcd"));
    }

    void testRandomTokens() {
        std::string a = randomLetters(64), b = randomLetters(64);
        CPPUNIT_ASSERT(a != b);
        CPPUNIT_ASSERT_EQUAL(size_t(64), a.size());
        for (char c : a) CPPUNIT_ASSERT(std::isalpha(static_cast<unsigned char>(c)));
        for (char c : randomAlphanumeric(200)) CPPUNIT_ASSERT(std::isalnum(static_cast<unsigned char>(c)));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(PermissionsTest);
