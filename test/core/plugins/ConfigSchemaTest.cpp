// Tests of the JSON Schema subset that validates plugin configuration.
#include <cppunit/extensions/HelperMacros.h>

#include "core/plugins/ConfigSchema.h"

using archestra::plugins::validateJsonSchema;
using nlohmann::json;

class ConfigSchemaTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ConfigSchemaTest);
    CPPUNIT_TEST(testValidConfigHasNoErrors);
    CPPUNIT_TEST(testTypeMismatchNamesPathValueAndExpected);
    CPPUNIT_TEST(testRequiredEnumAndUnknownProperty);
    CPPUNIT_TEST(testNestedItemsAndBounds);
    CPPUNIT_TEST(testMinLengthCountsCharactersAndIgnoresBadBounds);
    CPPUNIT_TEST_SUITE_END();

    const json _schema = json::parse(R"({
        "type": "object", "required": ["address"], "additionalProperties": false,
        "properties": {
            "address": {"type": "string", "minLength": 1},
            "kv_version": {"type": "integer", "enum": [1, 2]},
            "timeout_ms": {"type": "number", "minimum": 0, "maximum": 60000},
            "headers": {"type": "array", "items": {"type": "string"}}
        }})");

  public:
    void testValidConfigHasNoErrors() {
        auto errors = validateJsonSchema(_schema, json::parse(R"({"address":"http://v:8200","kv_version":2,
            "timeout_ms":1.5,"headers":["a","b"]})"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), errors.size());
    }
    void testTypeMismatchNamesPathValueAndExpected() {
        auto errors = validateJsonSchema(_schema, json::parse(R"({"address":5})"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), errors.size());
        CPPUNIT_ASSERT_EQUAL(std::string("$.address: expected string, got integer 5"), errors[0]);
        errors = validateJsonSchema(_schema, json::parse("[]"));
        CPPUNIT_ASSERT_EQUAL(std::string("$: expected object, got array []"), errors.at(0));
    }
    void testRequiredEnumAndUnknownProperty() {
        auto errors = validateJsonSchema(_schema, json::parse(R"({"kv_version":3,"adress":"x"})"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), errors.size());
        CPPUNIT_ASSERT_EQUAL(std::string("$: required property 'address' is missing"), errors[0]);
        CPPUNIT_ASSERT_EQUAL(
            std::string(
                "$: unknown property 'adress'; expected one of [address, headers, kv_version, timeout_ms]"),
            errors[1]);
        CPPUNIT_ASSERT_EQUAL(std::string("$.kv_version: value 3 is not one of [1,2]"), errors[2]);
    }
    void testNestedItemsAndBounds() {
        auto errors =
            validateJsonSchema(_schema, json::parse(R"({"address":"","timeout_ms":-1,"headers":["a",2]})"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), errors.size());
        CPPUNIT_ASSERT_EQUAL(std::string("$.address: string \"\" is shorter than minLength 1"), errors[0]);
        CPPUNIT_ASSERT_EQUAL(std::string("$.headers[1]: expected string, got integer 2"), errors[1]);
        CPPUNIT_ASSERT_EQUAL(std::string("$.timeout_ms: value -1 is below the minimum 0"), errors[2]);
    }
    void testMinLengthCountsCharactersAndIgnoresBadBounds() {
        json two = json::parse(R"({"type": "string", "minLength": 2})");
        // "é" is one character in two UTF-8 bytes: too short.
        auto errors = validateJsonSchema(two, json("\xc3\xa9"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), errors.size());
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), validateJsonSchema(two, json("\xc3\xa9\xc3\xa9")).size());
        // A negative or mistyped bound is a schema mistake: ignored, not a refusal of every string.
        for (const char* bad :
             {R"({"type": "string", "minLength": -1})", R"({"type": "string", "minLength": "3"})"})
            CPPUNIT_ASSERT_EQUAL(std::size_t(0), validateJsonSchema(json::parse(bad), json("a")).size());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ConfigSchemaTest);
