// Tests of SseParser: field parsing, line endings, every split point of recorded streams, truncation, limits.
#include "core/proxy/sse/SseParser.h"

#include "ProxyTestSupport.h"

#include <Poco/Exception.h>
#include <cppunit/extensions/HelperMacros.h>

#include <random>

using namespace archestra::proxy;
using namespace std::string_literals;
using archestra::proxy::test::readFixture;

namespace {

std::string joinRaw(const std::vector<SseEvent>& events) {
    std::string all;
    for (const auto& event : events) all += event.raw;
    return all;
}

bool sameEvents(const std::vector<SseEvent>& a, const std::vector<SseEvent>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (a[i].event != b[i].event || a[i].data != b[i].data || a[i].id != b[i].id ||
            a[i].raw != b[i].raw || a[i].hasData != b[i].hasData || a[i].retry_ms != b[i].retry_ms)
            return false;
    }
    return true;
}

std::vector<SseEvent> parseInChunks(const std::string& bytes, const std::vector<std::size_t>& cuts) {
    SseParser parser;
    std::vector<SseEvent> events;
    std::size_t start = 0;
    for (std::size_t cut : cuts) {
        parser.feed(std::string_view(bytes).substr(start, cut - start), events);
        start = cut;
    }
    parser.feed(std::string_view(bytes).substr(start), events);
    parser.finish(events);
    return events;
}

const char* const kStreams[] = {"openai/chat-stream-text.sse",
                                "openai/chat-stream-two-tool-calls.sse",
                                "anthropic/messages-stream-thinking-text.sse",
                                "anthropic/messages-stream-two-tool-use.sse",
                                "gemini/stream-text.sse",
                                "gemini/stream-function-calls.sse"};

}  // namespace

class SseParserTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(SseParserTest);
    CPPUNIT_TEST(testFields);
    CPPUNIT_TEST(testLineEndings);
    CPPUNIT_TEST(testSplitInsideCrLf);
    CPPUNIT_TEST(testEverySplitPointOfRecordedStreams);
    CPPUNIT_TEST(testByteByByteAndRandomChunks);
    CPPUNIT_TEST(testMissingFinalBlankLine);
    CPPUNIT_TEST(testTruncatedMidLine);
    CPPUNIT_TEST(testOversizedEventThrows);
    CPPUNIT_TEST(testManySmallEventsInOneBigChunk);
    CPPUNIT_TEST(testMalformedLines);
    CPPUNIT_TEST(testBom);
    CPPUNIT_TEST(testFormat);
    CPPUNIT_TEST_SUITE_END();

  public:
    void testFields() {
        std::string input =
            ": ping\n\nevent: message_start\ndata: {\"a\":1}\nid: 7\nretry: 1500\n\ndata:no-space\ndata:  "
            "two\n\n";
        auto events = SseParser().feed(input);
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), events.size());
        CPPUNIT_ASSERT(events[0].isEmpty());
        CPPUNIT_ASSERT_EQUAL(std::string(": ping\n\n"), events[0].raw);
        CPPUNIT_ASSERT_EQUAL(std::string("message_start"), events[1].event);
        CPPUNIT_ASSERT_EQUAL(std::string("{\"a\":1}"), events[1].data);
        CPPUNIT_ASSERT_EQUAL(std::string("7"), events[1].id);
        CPPUNIT_ASSERT(events[1].retry_ms && *events[1].retry_ms == 1500);
        // Only one leading space is removed; lines are joined with '\n'.
        CPPUNIT_ASSERT_EQUAL(std::string("no-space\n two"), events[2].data);
        CPPUNIT_ASSERT_EQUAL(input, joinRaw(events));
    }

    void testLineEndings() {
        std::string input = "data: a\r\rdata: b\r\n\r\ndata: c\n\ndata: d\r\ndata: e\n\r";
        SseParser parser;
        auto events = parser.feed(input);
        // The final "\r" may still be followed by "\n": the last event waits for more bytes or the end.
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), events.size());
        parser.finish(events);
        CPPUNIT_ASSERT_EQUAL(std::size_t(4), events.size());
        CPPUNIT_ASSERT_EQUAL(std::string("a"), events[0].data);
        CPPUNIT_ASSERT_EQUAL(std::string("data: a\r\r"), events[0].raw);
        CPPUNIT_ASSERT_EQUAL(std::string("b"), events[1].data);
        CPPUNIT_ASSERT_EQUAL(std::string("c"), events[2].data);
        CPPUNIT_ASSERT_EQUAL(std::string("d\ne"), events[3].data);
        CPPUNIT_ASSERT_EQUAL(input, joinRaw(events));
        CPPUNIT_ASSERT_EQUAL(std::string_view("\r\n"), sseLineEnding(events[1].raw));
        CPPUNIT_ASSERT_EQUAL(std::string_view("\r"), sseLineEnding(events[0].raw));
        CPPUNIT_ASSERT_EQUAL(std::string_view("\n"), sseLineEnding(events[2].raw));
    }

    void testSplitInsideCrLf() {
        SseParser parser;
        auto first = parser.feed("data: x\r");
        CPPUNIT_ASSERT(first.empty());
        auto second = parser.feed("\n\r");
        // "\r" at the end could still be followed by "\n": nothing is dispatched yet.
        CPPUNIT_ASSERT(second.empty());
        auto third = parser.feed("\ndata: y\r\n\r\n");
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), third.size());
        CPPUNIT_ASSERT_EQUAL(std::string("data: x\r\n\r\n"), third[0].raw);
        CPPUNIT_ASSERT_EQUAL(std::string("x"), third[0].data);
        CPPUNIT_ASSERT_EQUAL(std::string("y"), third[1].data);
        CPPUNIT_ASSERT(parser.finish().empty());
    }

    void testEverySplitPointOfRecordedStreams() {
        for (const char* name : kStreams) {
            std::string bytes = readFixture(name);
            auto whole = parseInChunks(bytes, {});
            CPPUNIT_ASSERT_MESSAGE(name, whole.size() >= 3);
            CPPUNIT_ASSERT_EQUAL_MESSAGE(name, bytes, joinRaw(whole));
            for (const auto& event : whole) CPPUNIT_ASSERT_MESSAGE(name, event.hasData);
            for (std::size_t cut = 1; cut < bytes.size(); ++cut) {
                CPPUNIT_ASSERT_MESSAGE(std::string(name) + " cut at " + std::to_string(cut),
                                       sameEvents(whole, parseInChunks(bytes, {cut})));
            }
        }
    }

    void testByteByByteAndRandomChunks() {
        std::mt19937 random(20250101);
        for (const char* name : kStreams) {
            std::string bytes = readFixture(name);
            auto whole = parseInChunks(bytes, {});
            std::vector<std::size_t> everyByte;
            for (std::size_t i = 1; i < bytes.size(); ++i) everyByte.push_back(i);
            CPPUNIT_ASSERT_MESSAGE(name, sameEvents(whole, parseInChunks(bytes, everyByte)));
            for (int round = 0; round < 50; ++round) {
                std::vector<std::size_t> cuts;
                std::size_t pos = 0;
                while (true) {
                    pos += 1 + random() % 97;
                    if (pos >= bytes.size()) break;
                    cuts.push_back(pos);
                }
                CPPUNIT_ASSERT_MESSAGE(name, sameEvents(whole, parseInChunks(bytes, cuts)));
            }
        }
    }

    void testMissingFinalBlankLine() {
        SseParser parser;
        auto events = parser.feed("data: one\n\ndata: two\n");
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), events.size());
        CPPUNIT_ASSERT_EQUAL(std::size_t(10), parser.pendingBytes());
        auto rest = parser.finish();
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), rest.size());
        CPPUNIT_ASSERT_EQUAL(std::string("two"), rest[0].data);
        CPPUNIT_ASSERT_EQUAL(std::string("data: two\n"), rest[0].raw);
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), parser.pendingBytes());
    }

    void testTruncatedMidLine() {
        SseParser parser;
        CPPUNIT_ASSERT(parser.feed("data: {\"choices\":[").empty());
        auto rest = parser.finish();
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), rest.size());
        CPPUNIT_ASSERT_EQUAL(std::string("{\"choices\":["), rest[0].data);
        CPPUNIT_ASSERT_EQUAL(std::string("data: {\"choices\":["), rest[0].raw);
        // A trailing lone "\r" is a line end at end of stream.
        SseParser crParser;
        CPPUNIT_ASSERT(crParser.feed("data: z\r").empty());
        auto crRest = crParser.finish();
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), crRest.size());
        CPPUNIT_ASSERT_EQUAL(std::string("z"), crRest[0].data);
    }

    void testOversizedEventThrows() {
        SseParser parser(64);
        parser.feed("data: " + std::string(40, 'a'));
        CPPUNIT_ASSERT_THROW(parser.feed(std::string(40, 'b')), Poco::DataFormatException);
        // The parser is usable again afterwards.
        auto events = parser.feed("data: ok\n\n");
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), events.size());
        CPPUNIT_ASSERT_EQUAL(std::string("ok"), events[0].data);
    }

    void testManySmallEventsInOneBigChunk() {
        SseParser parser(64);
        std::string chunk;
        for (int i = 0; i < 100; ++i) chunk += "data: " + std::to_string(i) + "\n\n";
        auto events = parser.feed(chunk);
        CPPUNIT_ASSERT_EQUAL(std::size_t(100), events.size());
        CPPUNIT_ASSERT_EQUAL(std::string("99"), events[99].data);
    }

    void testMalformedLines() {
        auto events =
            SseParser().feed("data\n\nevent: only-name\n\nfoo: bar\nid: a\0b\n\nretry: 12x\ndata: r\n\n"s);
        CPPUNIT_ASSERT_EQUAL(std::size_t(4), events.size());
        CPPUNIT_ASSERT(events[0].hasData);
        CPPUNIT_ASSERT_EQUAL(std::string(""), events[0].data);
        CPPUNIT_ASSERT(!events[1].hasData);
        CPPUNIT_ASSERT_EQUAL(std::string("only-name"), events[1].event);
        // Unknown field ignored, id with NUL ignored.
        CPPUNIT_ASSERT(events[2].isEmpty());
        CPPUNIT_ASSERT(!events[3].retry_ms);
        CPPUNIT_ASSERT_EQUAL(std::string("r"), events[3].data);
    }

    void testBom() {
        SseParser parser;
        CPPUNIT_ASSERT(parser.feed("\xEF\xBB").empty());
        auto events = parser.feed(
            "\xBF"
            "data: b\n\n");
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), events.size());
        CPPUNIT_ASSERT_EQUAL(std::string("b"), events[0].data);
        CPPUNIT_ASSERT_EQUAL(std::string("\xEF\xBB\xBF"
                                         "data: b\n\n"),
                             events[0].raw);
    }

    void testFormat() {
        std::string text = formatSseEvent("content_block_delta", "line1\nline2", "\r\n");
        CPPUNIT_ASSERT_EQUAL(std::string("event: content_block_delta\r\ndata: line1\r\ndata: line2\r\n\r\n"),
                             text);
        auto events = SseParser().feed(text);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), events.size());
        CPPUNIT_ASSERT_EQUAL(std::string("line1\nline2"), events[0].data);
        CPPUNIT_ASSERT_EQUAL(std::string("data: {}\n\n"), formatSseEvent("", "{}"));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(SseParserTest);
