// The one JSON string escaper (core/util/JsonString): the escapes it writes, UTF-8 and invalid bytes copied
// as they are, and byte identity with nlohmann's dump for valid UTF-8 wherever an escape falls relative to
// the 16-byte blocks it scans.
#include "core/util/JsonString.h"

#include <cppunit/extensions/HelperMacros.h>
#include <nlohmann/json.hpp>

#include <random>
#include <string>

using archestra::util::appendJsonString;
using archestra::util::jsonString;

class JsonStringTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(JsonStringTest);
    CPPUNIT_TEST(testEscapes);
    CPPUNIT_TEST(testControlCharacters);
    CPPUNIT_TEST(testUtf8PassesThrough);
    CPPUNIT_TEST(testInvalidUtf8CopiedAsIs);
    CPPUNIT_TEST(testMatchesNlohmannAtEveryPosition);
    CPPUNIT_TEST(testAppends);
    CPPUNIT_TEST_SUITE_END();

  public:
    void testEscapes() {
        CPPUNIT_ASSERT_EQUAL(std::string(R"("")"), jsonString(""));
        CPPUNIT_ASSERT_EQUAL(std::string(R"("plain text")"), jsonString("plain text"));
        CPPUNIT_ASSERT_EQUAL(std::string(R"("say \"hi\"")"), jsonString(R"(say "hi")"));
        CPPUNIT_ASSERT_EQUAL(std::string(R"("C:\\dir\\")"), jsonString(R"(C:\dir\)"));
        CPPUNIT_ASSERT_EQUAL(std::string(R"("\\\"")"), jsonString(R"(\")"));
        CPPUNIT_ASSERT_EQUAL(std::string(R"("/ stays /")"), jsonString("/ stays /"));  // '/' is not escaped
    }

    void testControlCharacters() {
        CPPUNIT_ASSERT_EQUAL(std::string(R"("a\nb\tc\rd\be\ff")"), jsonString("a\nb\tc\rd\be\ff"));
        CPPUNIT_ASSERT_EQUAL(std::string(R"("\u0000\u0001\u001f")"),
                             jsonString(std::string("\0\x01\x1f", 3)));
        CPPUNIT_ASSERT_EQUAL(std::string("\"\x7f\""), jsonString("\x7f"));  // DEL is not a control escape
        for (int c = 0; c < 0x20; ++c) {
            std::string one(1, static_cast<char>(c));
            CPPUNIT_ASSERT_EQUAL(nlohmann::json(one).dump(), jsonString(one));
        }
    }

    void testUtf8PassesThrough() {
        const std::string text = "täst ✓ 日本語 \u2028 😀";
        CPPUNIT_ASSERT_EQUAL("\"" + text + "\"", jsonString(text));
    }

    void testInvalidUtf8CopiedAsIs() {
        // Not replaced, not rejected: the bytes go out as they came (both callers before the merge did this).
        const std::string bad = "a\xff\xfe b \xc3( \xe2\x82";
        CPPUNIT_ASSERT_EQUAL("\"" + bad + "\"", jsonString(bad));
        CPPUNIT_ASSERT_EQUAL(std::string("\"\x80\\n\""), jsonString("\x80\n"));
    }

    void testMatchesNlohmannAtEveryPosition() {
        // One or two escapes at every offset of strings 0..70 bytes long (4+ SIMD blocks and a tail).
        const std::string escapes = std::string("\"\\\n\t\b\f\r\x01\x1f", 9);
        for (std::size_t length = 0; length <= 70; ++length) {
            for (std::size_t at = 0; at < length; ++at) {
                for (char e : escapes) {
                    std::string text(length, 'x');
                    text[at] = e;
                    if (at + 3 < length) text[at + 3] = '"';
                    CPPUNIT_ASSERT_EQUAL(nlohmann::json(text).dump(), jsonString(text));
                }
            }
        }
        // Random valid UTF-8 mixed with escapes.
        std::mt19937 random(42);
        const char* pieces[] = {"a", "Z", " ", "\"", "\\", "\n", "\x02", "é", "✓", "😀", "{", "0", "\x7f"};
        for (int round = 0; round < 2000; ++round) {
            std::string text;
            std::size_t count = random() % 80;
            for (std::size_t i = 0; i < count; ++i) text += pieces[random() % std::size(pieces)];
            CPPUNIT_ASSERT_EQUAL(nlohmann::json(text).dump(), jsonString(text));
        }
    }

    void testAppends() {
        std::string out = "prefix:";
        appendJsonString(out, "a\"b");
        CPPUNIT_ASSERT_EQUAL(std::string(R"(prefix:"a\"b")"), out);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(JsonStringTest);
