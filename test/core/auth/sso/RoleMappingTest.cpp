// Unit tests of SSO role mapping (first match wins, default role, strict mode), rule validation and the
// group extraction team sync uses.
#include "core/auth/sso/RoleMapping.h"

#include <cppunit/extensions/HelperMacros.h>

using namespace archestra::auth::sso;
using nlohmann::json;

class RoleMappingTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(RoleMappingTest);
    CPPUNIT_TEST(testExpressions);
    CPPUNIT_TEST(testFirstMatchWins);
    CPPUNIT_TEST(testDefaultAndStrict);
    CPPUNIT_TEST(testValidation);
    CPPUNIT_TEST(testGroups);
    CPPUNIT_TEST_SUITE_END();

  public:
    void testExpressions() {
        json claims = {{"groups", {"Admins", "dev"}},
                       {"department", "eng"},
                       {"realm_access", {{"roles", {"ops"}}}},
                       {"isBoss", true},
                       {"empty", ""}};
        CPPUNIT_ASSERT(evaluateExpression(R"({{#includes groups "dev"}}true{{/includes}})", claims));
        CPPUNIT_ASSERT(
            !evaluateExpression(R"({{#includes groups "admins"}}true{{/includes}})", claims));  // exact
        CPPUNIT_ASSERT(
            evaluateExpression(R"({{#includes realm_access.roles "ops"}}true{{/includes}})", claims));
        CPPUNIT_ASSERT(evaluateExpression(R"({{#equals department "eng"}}true{{/equals}})", claims));
        CPPUNIT_ASSERT(!evaluateExpression(R"({{#equals department "sales"}}true{{/equals}})", claims));
        CPPUNIT_ASSERT(evaluateExpression("{{isBoss}}", claims));
        CPPUNIT_ASSERT(!evaluateExpression("{{empty}}", claims));
        CPPUNIT_ASSERT(!evaluateExpression("{{missing.path}}", claims));
        CPPUNIT_ASSERT_THROW(evaluateExpression("{{#if groups}}", claims), std::invalid_argument);
        CPPUNIT_ASSERT_THROW(evaluateExpression(R"({{#includes groups "a"}}true{{/equals}})", claims),
                             std::invalid_argument);
    }

    void testFirstMatchWins() {
        json mapping = {
            {"rules",
             {{{"expression", R"({{#includes groups "admins"}}true{{/includes}})"}, {"role", "admin"}},
              {{"expression", R"({{#includes groups "dev"}}true{{/includes}})"}, {"role", "editor"}}}}};
        CPPUNIT_ASSERT_EQUAL(std::string("admin"),
                             resolveRole(mapping, {{"groups", {"dev", "admins"}}}).role);
        CPPUNIT_ASSERT_EQUAL(std::string("editor"), resolveRole(mapping, {{"groups", {"dev"}}}).role);
        auto none = resolveRole(mapping, {{"groups", json::array()}});
        CPPUNIT_ASSERT_EQUAL(std::string("member"), none.role);
        CPPUNIT_ASSERT(!none.matchedRule);
        CPPUNIT_ASSERT(!none.denied);
    }

    void testDefaultAndStrict() {
        json mapping = {{"rules", json::array()}, {"defaultRole", "editor"}};
        CPPUNIT_ASSERT_EQUAL(std::string("editor"), resolveRole(mapping, json::object()).role);
        mapping["strictMode"] = true;
        auto denied = resolveRole(mapping, json::object());
        CPPUNIT_ASSERT(denied.denied);
        CPPUNIT_ASSERT(denied.reason.find("strict") != std::string::npos);
        CPPUNIT_ASSERT_EQUAL(std::string("member"), resolveRole(nullptr, json::object()).role);
    }

    void testValidation() {
        CPPUNIT_ASSERT_EQUAL(std::string(), validateRoleMapping(nullptr));
        CPPUNIT_ASSERT_EQUAL(std::string(),
                             validateRoleMapping({{"rules", {{{"expression", "{{a}}"}, {"role", "x"}}}}}));
        CPPUNIT_ASSERT(validateRoleMapping({{"rules", "x"}}).rfind("roleMapping.rules:", 0) == 0);
        CPPUNIT_ASSERT(validateRoleMapping({{"rules", {{{"expression", "{{#if a}}"}, {"role", "x"}}}}})
                           .rfind("roleMapping.rules[0].expression:", 0) == 0);
        CPPUNIT_ASSERT(validateRoleMapping({{"rules", {{{"expression", "{{a}}"}}}}})
                           .rfind("roleMapping.rules[0].role:", 0) == 0);
        CPPUNIT_ASSERT(validateRoleMapping({{"strictMode", "yes"}}).rfind("roleMapping.strictMode:", 0) == 0);
    }

    void testGroups() {
        CPPUNIT_ASSERT((std::vector<std::string>{"eng", "ops"}) ==
                       extractGroups({{"groups", {"Eng", " OPS ", "eng", ""}}}, ""));
        CPPUNIT_ASSERT((std::vector<std::string>{"a", "b"}) == extractGroups({{"memberOf", "A, b"}}, ""));
        CPPUNIT_ASSERT((std::vector<std::string>{"x"}) ==
                       extractGroups({{"groups", {"g"}}, {"custom", {{"teams", {"X"}}}}}, "custom.teams"));
        CPPUNIT_ASSERT((std::vector<std::string>{"x"}) ==
                       extractGroups({{"custom", {{"teams", {"X"}}}}}, "{{custom.teams}}"));
        CPPUNIT_ASSERT(extractGroups({{"other", {"x"}}}, "").empty());
        // the first present claim of the list wins
        CPPUNIT_ASSERT((std::vector<std::string>{"r"}) ==
                       extractGroups({{"roles", {"R"}}, {"teams", {"T"}}}, ""));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(RoleMappingTest);
