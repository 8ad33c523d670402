// Tests for Router: templates, parameters, specificity, 405 detection and UUID checks.
#include "core/http/Router.h"

#include <cppunit/extensions/HelperMacros.h>

using namespace archestra::http;

class RouterTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(RouterTest);
    CPPUNIT_TEST(testLiteralAndParams);
    CPPUNIT_TEST(testAffixedParam);
    CPPUNIT_TEST(testRestWildcard);
    CPPUNIT_TEST(testSpecificityWins);
    CPPUNIT_TEST(testMethodNotAllowed);
    CPPUNIT_TEST(testDuplicateRejected);
    CPPUNIT_TEST(testUuid);
    CPPUNIT_TEST(testRoutesNotStartingWithALiteral);
    CPPUNIT_TEST_SUITE_END();

    static Handler tag(std::string* out, std::string value) {
        return [out, value](Context&) { *out = value; };
    }

  public:
    void testLiteralAndParams() {
        Router router;
        router.add({.method = "GET", .path = "/api/agents/{id}"}, nullptr);
        auto match = router.match("GET", "/api/agents/abc");
        CPPUNIT_ASSERT(match.route != nullptr);
        CPPUNIT_ASSERT_EQUAL(std::string("abc"), match.params["id"]);
        CPPUNIT_ASSERT(router.match("GET", "/api/agents").route == nullptr);
        CPPUNIT_ASSERT(router.match("GET", "/api/agents/abc/extra").route == nullptr);
        CPPUNIT_ASSERT(router.match("GET", "/api/agents/abc/").route != nullptr);
    }

    void testAffixedParam() {
        Router router;
        router.add({.method = "POST", .path = "/v1/gemini/models/{model}:generateContent"}, nullptr);
        router.add({.method = "POST", .path = "/v1/gemini/models/{model}:streamGenerateContent"}, nullptr);
        auto match = router.match("POST", "/v1/gemini/models/gemini-2.5-pro:streamGenerateContent");
        CPPUNIT_ASSERT(match.route != nullptr);
        CPPUNIT_ASSERT_EQUAL(std::string("/v1/gemini/models/{model}:streamGenerateContent"),
                             match.route->spec.path);
        CPPUNIT_ASSERT_EQUAL(std::string("gemini-2.5-pro"), match.params["model"]);
        CPPUNIT_ASSERT(router.match("POST", "/v1/gemini/models/:generateContent").route == nullptr);
    }

    void testRestWildcard() {
        Router router;
        router.add({.method = "*", .path = "/v1/openai/*"}, nullptr);
        auto match = router.match("GET", "/v1/openai/0b6e2f0a-3f1c-4c7e-9a55-6d4c1c1f2e3a/models");
        CPPUNIT_ASSERT(match.route != nullptr);
        CPPUNIT_ASSERT_EQUAL(std::string("0b6e2f0a-3f1c-4c7e-9a55-6d4c1c1f2e3a/models"), match.params["*"]);
    }

    void testSpecificityWins() {
        Router router;
        router.add({.method = "*", .path = "/v1/openai/*"}, nullptr);
        router.add({.method = "POST", .path = "/v1/openai/{profileId}/chat/completions"}, nullptr);
        router.add({.method = "POST", .path = "/v1/openai/chat/completions"}, nullptr);
        CPPUNIT_ASSERT_EQUAL(std::string("/v1/openai/chat/completions"),
                             router.match("POST", "/v1/openai/chat/completions").route->spec.path);
        CPPUNIT_ASSERT_EQUAL(std::string("/v1/openai/{profileId}/chat/completions"),
                             router.match("POST", "/v1/openai/x/chat/completions").route->spec.path);
        CPPUNIT_ASSERT_EQUAL(std::string("/v1/openai/*"),
                             router.match("GET", "/v1/openai/models").route->spec.path);
    }

    void testMethodNotAllowed() {
        Router router;
        router.add({.method = "GET", .path = "/api/teams"}, nullptr);
        router.add({.method = "POST", .path = "/api/teams"}, nullptr);
        auto match = router.match("DELETE", "/api/teams");
        CPPUNIT_ASSERT(match.route == nullptr);
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), match.allowedMethods.size());
        CPPUNIT_ASSERT(router.match("HEAD", "/api/teams").route != nullptr);
    }

    void testDuplicateRejected() {
        Router router;
        router.add({.method = "GET", .path = "/x"}, nullptr);
        CPPUNIT_ASSERT_THROW(router.add({.method = "GET", .path = "/x"}, nullptr), std::invalid_argument);
        CPPUNIT_ASSERT_THROW(router.add({.method = "GET", .path = "/a/*/b"}, nullptr), std::invalid_argument);
        CPPUNIT_ASSERT_THROW(router.add({.method = "GET", .path = "/a/{}"}, nullptr), std::invalid_argument);
    }

    /// The router only tries the routes whose first literal segment matches, plus every route that starts
    /// with a parameter or "*" (or has no segment): those still match, and ties still go to the route
    /// declared first, whichever list it is in.
    void testRoutesNotStartingWithALiteral() {
        Router router;
        router.add({.method = "GET", .path = "/"}, nullptr);
        router.add({.method = "GET", .path = "/{tenant}/status"}, nullptr);
        router.add({.method = "POST", .path = "/api/status"}, nullptr);
        router.add({.method = "GET", .path = "/*"}, nullptr);
        CPPUNIT_ASSERT_EQUAL(std::string("/"), router.match("GET", "/").route->spec.path);
        CPPUNIT_ASSERT_EQUAL(std::string("/{tenant}/status"),
                             router.match("GET", "/api/status").route->spec.path);
        CPPUNIT_ASSERT_EQUAL(std::string("/api/status"),
                             router.match("POST", "/api/status").route->spec.path);
        CPPUNIT_ASSERT_EQUAL(std::string("/*"), router.match("GET", "/other/path").route->spec.path);
        auto refused = router.match("DELETE", "/api/status");
        CPPUNIT_ASSERT(refused.route == nullptr);
        CPPUNIT_ASSERT_EQUAL(std::string("GET,POST"),
                             refused.allowedMethods.at(0) + "," + refused.allowedMethods.at(1));

        Router paramFirst;
        paramFirst.add({.method = "GET", .path = "/{y}/b"}, nullptr);
        paramFirst.add({.method = "GET", .path = "/a/{x}"}, nullptr);
        CPPUNIT_ASSERT_EQUAL(std::string("/{y}/b"), paramFirst.match("GET", "/a/b").route->spec.path);
        Router literalFirst;
        literalFirst.add({.method = "GET", .path = "/a/{x}"}, nullptr);
        literalFirst.add({.method = "GET", .path = "/{y}/b"}, nullptr);
        CPPUNIT_ASSERT_EQUAL(std::string("/a/{x}"), literalFirst.match("GET", "/a/b").route->spec.path);
    }

    void testUuid() {
        CPPUNIT_ASSERT(isUuidV4("0b6e2f0a-3f1c-4c7e-9a55-6d4c1c1f2e3a"));
        CPPUNIT_ASSERT(!isUuidV4("0b6e2f0a-3f1c-1c7e-9a55-6d4c1c1f2e3a"));  // version 1
        CPPUNIT_ASSERT(!isUuidV4("0b6e2f0a-3f1c-4c7e-7a55-6d4c1c1f2e3a"));  // bad variant
        CPPUNIT_ASSERT(!isUuidV4("not-a-uuid"));
        CPPUNIT_ASSERT(!isUuidV4(""));
        CPPUNIT_ASSERT(!isUuidV4("019ac8f1-3f1c-7c7e-9a55-6d4c1c1f2e3a"));  // version 7
        CPPUNIT_ASSERT(isUuid("019ac8f1-3f1c-7c7e-9a55-6d4c1c1f2e3a"));
        CPPUNIT_ASSERT(isUuid("0b6e2f0a-3f1c-4c7e-9a55-6d4c1c1f2e3a"));
        CPPUNIT_ASSERT(isUuid("0B6E2F0A-3F1C-1C7E-BA55-6D4C1C1F2E3A"));   // version 1, upper case
        CPPUNIT_ASSERT(!isUuid("0b6e2f0a-3f1c-0c7e-9a55-6d4c1c1f2e3a"));  // version 0
        CPPUNIT_ASSERT(!isUuid("0b6e2f0a-3f1c-9c7e-9a55-6d4c1c1f2e3a"));  // version 9
        CPPUNIT_ASSERT(!isUuid("0b6e2f0a-3f1c-7c7e-ca55-6d4c1c1f2e3a"));  // variant 110 (Microsoft)
        CPPUNIT_ASSERT(!isUuid("0b6e2f0a-3f1c-7c7e-9a55-6d4c1c1f2e3"));   // one digit short
        CPPUNIT_ASSERT(!isUuid("0b6e2f0a_3f1c-7c7e-9a55-6d4c1c1f2e3a"));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(RouterTest);
