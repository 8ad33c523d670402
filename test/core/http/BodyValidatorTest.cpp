// Tests for validateBody: each schema keyword the routes use, null handling, and messages naming the field
// path.
#include "core/http/BodyValidator.h"

#include <cppunit/extensions/HelperMacros.h>

using namespace archestra::http;
using nlohmann::json;

class BodyValidatorTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(BodyValidatorTest);
    CPPUNIT_TEST(testTypesAndNulls);
    CPPUNIT_TEST(testRequiredAndNested);
    CPPUNIT_TEST(testEnumFormatAndBounds);
    CPPUNIT_TEST(testAlternativesAndUnknownProperties);
    CPPUNIT_TEST(testMistypedKeywordsIgnored);
    CPPUNIT_TEST(testManagementRoutes);
    CPPUNIT_TEST_SUITE_END();

    static json agentSchema() {
        return json::parse(R"({"type":"object","required":["name","teams"],"properties":{
            "name":{"type":"string","minLength":1},
            "teams":{"type":"array","items":{"type":"string"}},
            "labels":{"type":"array","nullable":true,"items":{"type":"object","required":["key","value"],
                      "properties":{"key":{"type":"string"},"value":{"type":"string"}}}},
            "isDemo":{"type":"boolean"},
            "port":{"type":["integer","null"],"minimum":1,"maximum":65535}}})");
    }

    static std::string error(const json& schema, const std::string& body) {
        return validateBody(schema, json::parse(body)).value_or("");
    }

  public:
    void testTypesAndNulls() {
        json schema = agentSchema();
        CPPUNIT_ASSERT(!validateBody(schema, json::parse(R"({"name":"a","teams":[],"labels":null})")));
        CPPUNIT_ASSERT(
            !validateBody(schema, json::parse(R"({"name":"a","teams":[],"port":null,"isDemo":true})")));
        CPPUNIT_ASSERT(!validateBody(schema, json::parse(R"({"name":"a","teams":[],"port":8080.0})")));
        CPPUNIT_ASSERT_EQUAL(std::string("Field 'name': expected a string, got 12"),
                             error(schema, R"({"name":12,"teams":[]})"));
        // Optional but not nullable: null is a wrong type.
        CPPUNIT_ASSERT_EQUAL(std::string("Field 'isDemo': expected a boolean, got null"),
                             error(schema, R"({"name":"a","teams":[],"isDemo":null})"));
        CPPUNIT_ASSERT_EQUAL(std::string("Field 'port': expected an integer or null, got 1.5"),
                             error(schema, R"({"name":"a","teams":[],"port":1.5})"));
        CPPUNIT_ASSERT_EQUAL(std::string("Request body: expected a JSON object, got array"),
                             error(schema, "[]"));
    }

    void testRequiredAndNested() {
        json schema = agentSchema();
        CPPUNIT_ASSERT_EQUAL(std::string("Field 'teams': required"), error(schema, R"({"name":"a"})"));
        CPPUNIT_ASSERT_EQUAL(
            std::string("Field 'labels[1].value': required"),
            error(schema, R"({"name":"a","teams":[],"labels":[{"key":"k","value":"v"},{"key":"x"}]})"));
        CPPUNIT_ASSERT_EQUAL(std::string("Field 'teams[0]': expected a string, got 3"),
                             error(schema, R"({"name":"a","teams":[3]})"));
    }

    void testEnumFormatAndBounds() {
        json schema = json::parse(R"({"type":"object","properties":{
            "action":{"type":"string","enum":["allow","block"]},
            "id":{"type":"string","format":"uuid"},
            "n":{"type":"integer","minimum":1,"maximum":3},
            "s":{"type":"string","maxLength":3},
            "models":{"type":"array","minItems":1,"items":{"type":"string","enum":["a","b"]}}}})");
        CPPUNIT_ASSERT(!validateBody(
            schema, json::parse(R"({"action":"block","id":"00000000-0000-0000-0000-00000000000a"})")));
        CPPUNIT_ASSERT_EQUAL(std::string("Field 'action': expected one of allow, block, got \"nope\""),
                             error(schema, R"({"action":"nope"})"));
        CPPUNIT_ASSERT_EQUAL(std::string("Field 'id': expected a UUID, got \"x\""),
                             error(schema, R"({"id":"x"})"));
        CPPUNIT_ASSERT_EQUAL(std::string("Field 'n': expected at most 3, got 4"),
                             error(schema, R"({"n":4})"));
        CPPUNIT_ASSERT_EQUAL(std::string("Field 'n': expected at least 1, got 0"),
                             error(schema, R"({"n":0})"));
        CPPUNIT_ASSERT_EQUAL(std::string("Field 's': expected at most 3 characters"),
                             error(schema, R"({"s":"abcd"})"));
        CPPUNIT_ASSERT_EQUAL(std::string("Field 'models': expected at least 1 items"),
                             error(schema, R"({"models":[]})"));
        CPPUNIT_ASSERT_EQUAL(std::string("Field 'models[0]': expected one of a, b, got \"c\""),
                             error(schema, R"({"models":["c"]})"));
    }

    void testAlternativesAndUnknownProperties() {
        json schema = json::parse(R"({"type":"object","properties":{
            "condition":{"oneOf":[{"type":"object","required":["maxLength"],"properties":{"maxLength":{"type":"integer"}}},
                                  {"type":"object","required":["hasTools"],"properties":{"hasTools":{"type":"boolean"}}}]},
            "anything":{}}})");
        CPPUNIT_ASSERT(!validateBody(
            schema, json::parse(R"({"condition":{"hasTools":true},"anything":[1],"extra":1})")));
        CPPUNIT_ASSERT_EQUAL(std::string("Field 'condition.maxLength': required"),
                             error(schema, R"({"condition":{"other":1}})"));
    }

    // fuzz_http found `"format":3` throwing nlohmann's type_error out of validateBody (a 500 instead of an
    // answer); a keyword of the wrong type is ignored like an unknown one, and the well-typed ones still
    // apply.
    void testMistypedKeywordsIgnored() {
        json schema = json::parse(R"({"type":"object","properties":{
            "id":{"type":"string","format":3,"minLength":"1","maxLength":-1},
            "title":{"type":"string","nullable":"yes","maxLength":2.5},
            "n":{"type":"number","minimum":"1","maximum":[3]},
            "tags":{"type":"array","minItems":{},"maxItems":1e300},
            "s":{"type":"string","format":"uuid","maxLength":3.0}}})");
        CPPUNIT_ASSERT_EQUAL(std::string(), error(schema, R"({"id":"","title":"abc","n":99,"tags":[]})"));
        CPPUNIT_ASSERT_EQUAL(std::string("Field 'title': expected a string, got null"),
                             error(schema, R"({"title":null})"));
        CPPUNIT_ASSERT_EQUAL(std::string("Field 's': expected at most 3 characters"),
                             error(schema, R"({"s":"abcd"})"));
        CPPUNIT_ASSERT_EQUAL(std::string("Field 's': expected a UUID, got \"x\""),
                             error(schema, R"({"s":"x"})"));
    }

    void testManagementRoutes() {
        CPPUNIT_ASSERT(isManagementRoute({.method = "POST", .path = "/api/agents"}));
        CPPUNIT_ASSERT(!isManagementRoute({.method = "POST", .path = "/v1/openai/chat/completions"}));
        CPPUNIT_ASSERT(!isManagementRoute({.method = "GET", .path = "/health"}));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(BodyValidatorTest);
