// Tests of the Gemini generateContent adapter against recorded payloads: views, rewrites, blocked shapes,
// streams.
#include "ProxyTestSupport.h"
#include "core/proxy/sse/JsonArrayStream.h"

#include <Poco/Exception.h>
#include <cppunit/extensions/HelperMacros.h>

#include <string>
#include <tuple>
#include <vector>

using namespace archestra::proxy;
using namespace archestra::proxy::test;
using nlohmann::json;

namespace {

BlockedCall blockedCall(const std::string& id) {
    return {id, "\nI tried to invoke " + id + ".", "refused " + id};
}

/// The relay of streamGenerateContent without alt=sse: the upstream body is one JSON array, split into
/// elements by JsonArrayStream and fed to the same assembler (as LlmProxy does), `chunkSize` bytes at a time.
StreamRun runArrayStream(const std::string& bytes, const std::vector<BlockedCall>& blocked,
                         std::size_t chunkSize = 7) {
    return runStream<JsonArrayStream>(geminiAdapter(), bytes, blocked, chunkSize);
}

/// The recorded SSE stream's chunks as the JSON array Google sends without alt=sse.
std::string arrayOfFixture(const std::string& fixture) {
    std::string out = "[";
    bool first = true;
    for (const auto& event : parseAll(readFixture(fixture))) {
        if (!event.hasData) continue;
        out += first ? "" : ",\r\n";
        out += event.data;
        first = false;
    }
    return out + "]";
}

}  // namespace

class GeminiAdapterTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(GeminiAdapterTest);
    CPPUNIT_TEST(testParseRequest);
    CPPUNIT_TEST(testRewriteToolResultKeepsEverythingElse);
    CPPUNIT_TEST(testParseResponse);
    CPPUNIT_TEST(testBlockCalls);
    CPPUNIT_TEST(testStreamTextPassesUnchanged);
    CPPUNIT_TEST(testStreamFunctionCallsNoBlockIsByteIdentical);
    CPPUNIT_TEST(testStreamOneOfTwoBlocked);
    CPPUNIT_TEST(testErrorBodies);
    CPPUNIT_TEST(testJsonArrayStreamSplitsByteForByte);
    CPPUNIT_TEST(testJsonArrayStreamRefusesNonJson);
    CPPUNIT_TEST(testArrayStreamNoBlockIsByteIdentical);
    CPPUNIT_TEST(testArrayStreamOneOfTwoBlocked);
    CPPUNIT_TEST_SUITE_END();

  public:
    void testParseRequest() {
        json body = readJsonFixture("gemini/generate-content-request-function-responses.json");
        json before = body;
        RequestView view = geminiAdapter().parseRequest(body, {"gemini-2.5-flash", true});
        CPPUNIT_ASSERT(body == before);
        CPPUNIT_ASSERT_EQUAL(std::string("gemini-2.5-flash"), view.model);
        CPPUNIT_ASSERT(view.stream);
        CPPUNIT_ASSERT(view.hasTools);
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), view.tools.size());
        CPPUNIT_ASSERT_EQUAL(std::string("OBJECT"), view.tools[0].parameters["type"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("object"), view.tools[1].parameters["type"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("get_weather"), view.toolCallNames["get_weather#0"]);
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), view.toolResults.size());
        CPPUNIT_ASSERT_EQUAL(std::string("read_inbox#0"), view.toolResults[1].toolCallId);
        CPPUNIT_ASSERT_EQUAL(std::string("read_inbox"), view.toolResults[1].toolName);
        CPPUNIT_ASSERT_EQUAL(14, view.toolResults[0].content["temperature"].get<int>());
        CPPUNIT_ASSERT(view.text.find("system: You are a helpful assistant.") != std::string::npos);
        CPPUNIT_ASSERT(!geminiAdapter().parseRequest(body, {"gemini-2.5-flash", false}).stream);
        CPPUNIT_ASSERT_THROW(geminiAdapter().parseRequest(json{{"messages", json::array()}}, {}),
                             Poco::DataFormatException);
    }

    void testRewriteToolResultKeepsEverythingElse() {
        json body = readJsonFixture("gemini/generate-content-request-function-responses.json");
        RequestView view = geminiAdapter().parseRequest(body, {"gemini-2.5-flash", false});
        json rewritten = geminiAdapter().rewriteToolResult(body, view.toolResults[1].location, "blocked");
        const json& response = rewritten["contents"][2]["parts"][1]["functionResponse"];
        CPPUNIT_ASSERT(response["response"] == json({{"content", "blocked"}}));
        CPPUNIT_ASSERT_EQUAL(std::string("read_inbox"), response["name"].get<std::string>());
        json restored = rewritten;
        restored["contents"][2]["parts"][1]["functionResponse"]["response"] =
            body["contents"][2]["parts"][1]["functionResponse"]["response"];
        CPPUNIT_ASSERT(restored == body);
        CPPUNIT_ASSERT_THROW(geminiAdapter().rewriteToolResult(body, {0, 0}, "x"),
                             Poco::InvalidArgumentException);
    }

    void testParseResponse() {
        ResponseView view =
            geminiAdapter().parseResponse(readJsonFixture("gemini/generate-content-function-calls.json"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), view.toolCalls.size());
        CPPUNIT_ASSERT_EQUAL(std::string("get_weather#0"), view.toolCalls[0].id);
        CPPUNIT_ASSERT_EQUAL(std::string("send_email"), view.toolCalls[1].name);
        CPPUNIT_ASSERT_EQUAL(std::string("Paris, France"),
                             view.toolCalls[0].arguments["location"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::int64_t(61), *view.usage.inputTokens);
        CPPUNIT_ASSERT_EQUAL(std::int64_t(38), *view.usage.outputTokens);
        CPPUNIT_ASSERT_EQUAL(std::string("STOP"), view.finishReason);
        CPPUNIT_ASSERT_EQUAL(std::string("gemini-2.5-flash"), view.model);
        ResponseView text =
            geminiAdapter().parseResponse(readJsonFixture("gemini/generate-content-text.json"));
        CPPUNIT_ASSERT_EQUAL(std::string("Hello! How can I help you today?"), text.text);
    }

    void testBlockCalls() {
        json body = readJsonFixture("gemini/generate-content-function-calls.json");
        BlockedCall email = blockedCall("send_email#0");
        json partial = geminiAdapter().blockResponse(body, {email});
        ResponseView view = geminiAdapter().parseResponse(partial);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), view.toolCalls.size());
        CPPUNIT_ASSERT_EQUAL(std::string("get_weather"), view.toolCalls[0].name);
        CPPUNIT_ASSERT_EQUAL(email.contentMessage, view.text);
        CPPUNIT_ASSERT(partial["usageMetadata"] == body["usageMetadata"]);
        json all = geminiAdapter().blockResponse(body, {email, blockedCall("get_weather#0")});
        CPPUNIT_ASSERT(geminiAdapter().parseResponse(all).toolCalls.empty());
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), all["candidates"][0]["content"]["parts"].size());
        CPPUNIT_ASSERT(geminiAdapter().blockResponse(body, {}) == body);
    }

    void testStreamTextPassesUnchanged() {
        std::string upstream = readFixture("gemini/stream-text.sse");
        StreamRun run = runStream(geminiAdapter(), upstream, {}, 3);
        CPPUNIT_ASSERT_EQUAL(upstream, run.output);
        for (StreamAction action : run.actions) CPPUNIT_ASSERT(action == StreamAction::Pass);
        CPPUNIT_ASSERT_EQUAL(std::string("Hello! How can I help you today?"), run.message.text);
        CPPUNIT_ASSERT_EQUAL(std::int64_t(10), *run.message.usage.outputTokens);
        CPPUNIT_ASSERT_EQUAL(std::string("STOP"), run.message.finishReason);
    }

    void testStreamFunctionCallsNoBlockIsByteIdentical() {
        std::string upstream = readFixture("gemini/stream-function-calls.sse");
        StreamRun run = runStream(geminiAdapter(), upstream, {}, 1);
        CPPUNIT_ASSERT_EQUAL(upstream, run.output);
        CPPUNIT_ASSERT(run.actions[0] == StreamAction::Pass);
        CPPUNIT_ASSERT(run.actions[1] == StreamAction::Hold);
        CPPUNIT_ASSERT(run.actions[2] == StreamAction::Hold);
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), run.message.toolCalls.size());
        CPPUNIT_ASSERT_EQUAL(std::string("send_email#0"), run.message.toolCalls[1].id);
        CPPUNIT_ASSERT_EQUAL(std::int64_t(38), *run.message.usage.outputTokens);
    }

    void testStreamOneOfTwoBlocked() {
        std::string upstream = readFixture("gemini/stream-function-calls.sse");
        BlockedCall weather = blockedCall("get_weather#0");
        StreamRun run = runStream(geminiAdapter(), upstream, {weather});
        auto events = parseAll(run.output);
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), events.size());
        for (const auto& event : events)
            CPPUNIT_ASSERT_EQUAL(std::string_view("\r\n"), sseLineEnding(event.raw));
        CPPUNIT_ASSERT(json::parse(events.back().data)["candidates"][0].contains("finishReason"));
        StreamRun again = runStream(geminiAdapter(), run.output, {});
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), again.message.toolCalls.size());
        CPPUNIT_ASSERT_EQUAL(std::string("send_email"), again.message.toolCalls[0].name);
        CPPUNIT_ASSERT_EQUAL("Let me check." + weather.contentMessage, again.message.text);
    }

    void testErrorBodies() {
        json body = json::parse(geminiAdapter().errorBody(ProxyErrorKind::LimitExceeded, "limit"));
        CPPUNIT_ASSERT_EQUAL(429, body["error"]["code"].get<int>());
        CPPUNIT_ASSERT_EQUAL(std::string("RESOURCE_EXHAUSTED"), body["error"]["status"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("limit"), body["error"]["message"].get<std::string>());
        // "code" is the HTTP status in Google's shape: the token-cost reason is a google.rpc.ErrorInfo.
        CPPUNIT_ASSERT_EQUAL(std::string("token_cost_limit_exceeded"),
                             body["error"]["details"].at(0).value("reason", ""));
        CPPUNIT_ASSERT_EQUAL(std::string("type.googleapis.com/google.rpc.ErrorInfo"),
                             body["error"]["details"].at(0).value("@type", ""));
        // Errors raised outside the adapter (unknown profile, body too large, database down).
        for (const auto& [kind, code, status] : std::vector<std::tuple<ProxyErrorKind, int, std::string>>{
                 {ProxyErrorKind::NotFound, 404, "NOT_FOUND"},
                 {ProxyErrorKind::PayloadTooLarge, 413, "INVALID_ARGUMENT"},
                 {ProxyErrorKind::Unavailable, 503, "UNAVAILABLE"}}) {
            json other = json::parse(geminiAdapter().errorBody(kind, "m"));
            CPPUNIT_ASSERT_EQUAL(code, other["error"]["code"].get<int>());
            CPPUNIT_ASSERT_EQUAL(status, other["error"]["status"].get<std::string>());
            CPPUNIT_ASSERT(!other["error"].contains("details"));
        }
        auto events = parseAll(geminiAdapter().sseError(ProxyErrorKind::UpstreamTimeout, "slow"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), events.size());
        CPPUNIT_ASSERT_EQUAL(504, json::parse(events[0].data)["error"]["code"].get<int>());
        CPPUNIT_ASSERT(&adapterFor(Provider::Gemini) == &geminiAdapter());
        CPPUNIT_ASSERT_THROW(adapterFor(Provider::Invalid), Poco::InvalidArgumentException);
    }

    /// Elements come out as soon as they are complete, whatever the chunking; brackets, braces and quotes
    /// inside strings do not confuse the framing; the raw bytes reassemble the input exactly.
    void testJsonArrayStreamSplitsByteForByte() {
        const std::string input =
            "\n [ {\"a\": \"x]},[\\\"\", \"b\": [1, {\"c\": null}]} ,\r\n{\"d\":\"\\\\\"}, 42 ,\"s]\", "
            "true]\n";
        for (std::size_t chunk = 1; chunk <= input.size(); ++chunk) {
            JsonArrayStream splitter;
            std::vector<SseEvent> events;
            for (std::size_t pos = 0; pos < input.size(); pos += chunk)
                splitter.feed(std::string_view(input).substr(pos, chunk), events);
            CPPUNIT_ASSERT(splitter.closed());
            splitter.finish(events);
            std::string joined;
            std::vector<std::string> data;
            for (const auto& event : events) {
                CPPUNIT_ASSERT(event.jsonArrayElement);
                joined += event.raw;
                if (event.hasData) {
                    data.push_back(event.data);
                    CPPUNIT_ASSERT(json::accept(event.data));
                    CPPUNIT_ASSERT(event.raw.size() >= event.data.size());
                    CPPUNIT_ASSERT_EQUAL(event.data, event.raw.substr(event.raw.size() - event.data.size()));
                }
            }
            CPPUNIT_ASSERT_EQUAL_MESSAGE("chunk " + std::to_string(chunk), input, joined);
            CPPUNIT_ASSERT_EQUAL(std::size_t(5), data.size());
            CPPUNIT_ASSERT(json::parse(data[0]) == json::parse(input)[0]);
            CPPUNIT_ASSERT_EQUAL(std::string("42"), data[2]);
            CPPUNIT_ASSERT_EQUAL(std::string("\"s]\""), data[3]);
            CPPUNIT_ASSERT_EQUAL(std::string("true"), data[4]);
        }
        // The first element is out before the rest of the array arrived (relayed as it comes).
        JsonArrayStream splitter;
        std::vector<SseEvent> events;
        splitter.feed("[{\"candidates\":[]}", events);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), events.size());
        CPPUNIT_ASSERT_EQUAL(std::string("[{\"candidates\":[]}"), events[0].raw);
        // A single object instead of an array is one element.
        JsonArrayStream bare;
        events.clear();
        bare.feed(" {\"a\":{}}\n", events);
        bare.finish(events);
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), events.size());
        CPPUNIT_ASSERT_EQUAL(std::string("{\"a\":{}}"), events[0].data);
        CPPUNIT_ASSERT(!events[1].hasData);
    }

    void testJsonArrayStreamRefusesNonJson() {
        std::vector<SseEvent> events;
        JsonArrayStream html;
        CPPUNIT_ASSERT_THROW(html.feed("<html>", events), Poco::DataFormatException);
        JsonArrayStream stray;
        CPPUNIT_ASSERT_THROW(stray.feed("[{}, }", events), Poco::DataFormatException);
        JsonArrayStream small(16);
        CPPUNIT_ASSERT_THROW(small.feed("[{\"text\": \"longer than sixteen bytes\"}]", events),
                             Poco::DataFormatException);
        // A truncated array: what was received still comes out (as bytes without an element).
        JsonArrayStream truncated;
        events.clear();
        truncated.feed("[{\"a\":1},{\"b\":", events);
        truncated.finish(events);
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), events.size());
        CPPUNIT_ASSERT_EQUAL(std::string(",{\"b\":"), events[1].raw);
        CPPUNIT_ASSERT(!events[1].hasData);
    }

    void testArrayStreamNoBlockIsByteIdentical() {
        std::string upstream = arrayOfFixture("gemini/stream-function-calls.sse");
        StreamRun run = runArrayStream(upstream, {});
        CPPUNIT_ASSERT_EQUAL(upstream, run.output);
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), run.message.toolCalls.size());
        CPPUNIT_ASSERT(run.releases >= 1);
        CPPUNIT_ASSERT(json::parse(run.output).is_array());
        std::string text = arrayOfFixture("gemini/stream-text.sse");
        StreamRun textRun = runArrayStream(text, {}, 3);
        CPPUNIT_ASSERT_EQUAL(text, textRun.output);
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), textRun.releases);  // text only: nothing held
        for (auto action : textRun.actions) CPPUNIT_ASSERT(action == StreamAction::Pass);
    }

    void testArrayStreamOneOfTwoBlocked() {
        std::string upstream = arrayOfFixture("gemini/stream-function-calls.sse");
        BlockedCall weather = blockedCall("get_weather#0");
        StreamRun run = runArrayStream(upstream, {weather});
        json array = json::parse(run.output);  // still one valid JSON array
        CPPUNIT_ASSERT(array.is_array());
        CPPUNIT_ASSERT(array.back()["candidates"][0].contains("finishReason"));
        StreamRun again = runArrayStream(run.output, {});
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), again.message.toolCalls.size());
        CPPUNIT_ASSERT_EQUAL(std::string("send_email"), again.message.toolCalls[0].name);
        CPPUNIT_ASSERT_EQUAL("Let me check." + weather.contentMessage, again.message.text);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(GeminiAdapterTest);
