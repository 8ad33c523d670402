// Tests of parseJson: the same value, types and errors as nlohmann::json::parse, on tricky texts and on every
// recorded provider body and stream event.
#include "core/proxy/JsonParse.h"

#include "ProxyTestSupport.h"

#include <cppunit/extensions/HelperMacros.h>

#include <cmath>
#include <vector>

using namespace archestra::proxy;
using archestra::proxy::test::readFixture;

namespace {

/// nlohmann's own outcome for `text`: "<dump> <type>" per value (recursively, so a number_unsigned inside an
/// array is told from a number_integer), or "error: <what>".
std::string describe(const nlohmann::json& value) {
    std::string out = std::to_string(static_cast<int>(value.type())) + ":";
    if (value.is_object()) {
        out += "{";
        for (const auto& [key, member] : value.items()) out += key + "=" + describe(member) + ",";
        return out + "}";
    }
    if (value.is_array()) {
        out += "[";
        for (const auto& item : value) out += describe(item) + ",";
        return out + "]";
    }
    return out + value.dump();
}

template <typename Parse>
std::string outcome(Parse parse, const std::string& text) {
    try {
        return describe(parse(text));
    } catch (const std::exception& error) {
        return std::string("error: ") + error.what();
    }
}

/// compactJson(value) must be nlohmann's dump(-1, ' ', false, replace) byte for byte, for both JSON types.
void assertDumpsLikeNlohmann(const nlohmann::json& value) {
    const std::string expected = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    CPPUNIT_ASSERT_EQUAL_MESSAGE("compactJson of " + expected.substr(0, 200), expected, compactJson(value));
    std::string appended = "x";
    appendCompactJson(appended, value);
    CPPUNIT_ASSERT_EQUAL(std::string("x") + expected, appended);
    const nlohmann::ordered_json ordered = value;
    CPPUNIT_ASSERT_EQUAL(ordered.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace),
                         compactJson(ordered));
}

void assertSameAsNlohmann(const std::string& text) {
    std::string expected = outcome([](const std::string& t) { return nlohmann::json::parse(t); }, text);
    std::string actual = outcome([](const std::string& t) { return parseJson(t); }, text);
    CPPUNIT_ASSERT_EQUAL_MESSAGE("parseJson of " + text.substr(0, 200), expected, actual);
    nlohmann::json lenient = nlohmann::json::parse(text, nullptr, false);
    nlohmann::json ours = parseJsonOrDiscarded(text);
    CPPUNIT_ASSERT_EQUAL_MESSAGE("parseJsonOrDiscarded of " + text.substr(0, 200), lenient.is_discarded(),
                                 ours.is_discarded());
    if (!lenient.is_discarded()) {
        CPPUNIT_ASSERT_EQUAL(describe(lenient), describe(ours));
        assertDumpsLikeNlohmann(lenient);
    }
}

}  // namespace

class JsonParseTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(JsonParseTest);
    CPPUNIT_TEST(testNumbers);
    CPPUNIT_TEST(testStringsAndStructure);
    CPPUNIT_TEST(testErrors);
    CPPUNIT_TEST(testRecordedBodies);
    CPPUNIT_TEST(testLargeDocument);
    CPPUNIT_TEST(testCompactJsonIsNlohmannDump);
    CPPUNIT_TEST_SUITE_END();

  public:
    void testNumbers() {
        for (const char* text : {"0",
                                 "5",
                                 "-5",
                                 "-0",
                                 "[-0]",
                                 "{\"a\":-0}",
                                 "-0.0",
                                 "[-0e0]",
                                 "1.0",
                                 "1e2",
                                 "1E+2",
                                 "0.1",
                                 "[1e-400]",
                                 "-9223372036854775808",
                                 "-9223372036854775809",
                                 "9223372036854775807",
                                 "9223372036854775808",
                                 "18446744073709551615",
                                 "18446744073709551616",
                                 "100000000000000000000000",
                                 "123456789012345678901234567890.5",
                                 "1.7976931348623157e308",
                                 "4.9e-324",
                                 "[1,-1,1.5,-1.5]"})
            assertSameAsNlohmann(text);
        // Integer types as nlohmann reads them: unsigned without a minus sign, signed with one.
        CPPUNIT_ASSERT(parseJson("7").is_number_unsigned());
        CPPUNIT_ASSERT(parseJson("-7").is_number_integer() && !parseJson("-7").is_number_unsigned());
        CPPUNIT_ASSERT(parseJson("-0").is_number_integer() && !parseJson("-0").is_number_unsigned());
        CPPUNIT_ASSERT(parseJson("7.0").is_number_float());
    }

    void testStringsAndStructure() {
        for (const char* text :
             {"\"\"", "\"a\\u0000b\"", "\"\\ud800\\udc00\"", "\"\\u00e9\"", "\"\xc3\xa9\"",
              "\"\\/\\b\\f\\n\\r\\t\\\"\\\\\"", "{\"k\":\"2024-01-05\",\"x\":\"a-0\"}", "{\"a\":1,\"a\":2}",
              "{\"b\":[],\"a\":{}}", "[true,false,null]", " \t\r\n[ 1 , { \"a\" : [ ] } ] \n",
              "\xEF\xBB\xBF{\"bom\":1}", "[[[[[[[[[[1]]]]]]]]]]"})
            assertSameAsNlohmann(text);
        // A repeated key keeps its last value.
        CPPUNIT_ASSERT_EQUAL(2, parseJson("{\"a\":1,\"a\":2}")["a"].get<int>());
        std::string nested(2000, '[');
        nested += std::string(2000, ']');
        assertSameAsNlohmann(nested);  // deeper than simdjson's 1024 levels: nlohmann's answer
    }

    void testErrors() {
        for (const char* text :
             {"", " ", "[1,2,]", "{} x", "\"\\ud800\"", "\"\\udc00\"", "\"\xff\"", "\"\t\"", "NaN", "[01]",
              "-", "[1.]", "1E400", "{\"a\" 1}", "{'a':1}", "[", "\"abc", "tru", "nul"})
            assertSameAsNlohmann(text);
        CPPUNIT_ASSERT_THROW(parseJson("[1,"), nlohmann::json::parse_error);
        CPPUNIT_ASSERT_THROW(parseJson("1E400"), nlohmann::json::out_of_range);
        CPPUNIT_ASSERT(parseJsonOrDiscarded("{").is_discarded());
    }

    void testRecordedBodies() {
        for (const char* name :
             {"openai/chat-request-tool-results.json", "openai/chat-response-text.json",
              "openai/chat-response-two-tool-calls.json", "openai/error-429.json", "openai/models-list.json",
              "anthropic/messages-request-tool-results.json", "anthropic/messages-response-two-tool-use.json",
              "anthropic/messages-response-text.json", "gemini/generate-content-function-calls.json",
              "gemini/generate-content-request-function-responses.json", "gemini/generate-content-text.json"})
            assertSameAsNlohmann(readFixture(name));
        for (const char* name :
             {"openai/chat-stream-two-tool-calls.sse", "openai/chat-stream-text.sse",
              "anthropic/messages-stream-two-tool-use.sse", "anthropic/messages-stream-thinking-text.sse",
              "gemini/stream-function-calls.sse"}) {
            std::size_t events = 0;
            for (const auto& event : SseParser().feed(readFixture(name))) {
                if (!event.hasData) continue;
                assertSameAsNlohmann(event.data);
                ++events;
            }
            CPPUNIT_ASSERT(events > 0);
        }
    }

    void testLargeDocument() {
        // Past the size the thread's parser is reused for: a parser of its own, the same value.
        std::string text = "[";
        for (int i = 0; i < 200000; ++i) text += (i ? ",\"" : "\"") + std::to_string(i) + "\"";
        text += "]";
        CPPUNIT_ASSERT(text.size() > (1u << 20));
        CPPUNIT_ASSERT(parseJson(text) == nlohmann::json::parse(text));
        assertSameAsNlohmann("[1,2,3]");  // the thread's parser still works afterwards
    }

    void testCompactJsonIsNlohmannDump() {
        // (Every document of the other tests is dumped both ways too, in assertSameAsNlohmann.)
        using nlohmann::json;
        std::vector<json> values = {nullptr,
                                    true,
                                    false,
                                    0,
                                    -1,
                                    42u,
                                    INT64_MIN,
                                    UINT64_MAX,
                                    0.0,
                                    -0.0,
                                    1.5,
                                    1e300,
                                    0.1,
                                    100.0,
                                    std::nan(""),
                                    INFINITY,
                                    "",
                                    json::object(),
                                    json::array(),
                                    json::binary({1, 2, 3}, 7),
                                    json::binary({}),
                                    json(json::value_t::discarded)};
        // Every byte value alone, and inside text: control characters, quote, backslash, DEL, and bytes that
        // are not UTF-8 on their own (replaced by nlohmann).
        for (int c = 0; c < 256; ++c) {
            values.push_back(std::string(1, static_cast<char>(c)));
            values.push_back("ab" + std::string(1, static_cast<char>(c)) +
                             "cdefghijklmnopqrstuvwxyz0123456789");
        }
        for (const char* text :
             {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xc3", "\xe2\x82", "\xf0\x9f\x98", "\xc0\xaf",
              "\xe0\x80\xaf", "\xed\xa0\x80", "\xed\xbf\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80",
              "\xff\xfe", "a\xc3(b", "tab\there \"quoted\" back\\slash\nnew line\r\x01\x1f\x7f end",
              "long run without anything to escape at all, longer than sixteen bytes", "\xef\xbb\xbf"})
            values.push_back(text);
        for (const auto& v : std::vector<json>(values)) {
            values.push_back(json::array({v, v}));
            if (v.is_string()) values.push_back({{v.get<std::string>(), v}, {"k", 1}});
        }
        values.push_back(json::parse(R"({"b":{"z":[1,-2,3.25,"x",null,{}],"a":[]},"a":true,"":false})"));
        for (const auto& value : values) assertDumpsLikeNlohmann(value);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(JsonParseTest);
