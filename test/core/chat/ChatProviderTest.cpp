// The chat's provider shapes: stored history -> Anthropic/OpenAI/Gemini requests, answers -> stored parts,
// and the streamed answer as the proxy relays it (text deltas, tool calls assembled, the proxy's blocked-call
// comment turning its refusal text into a tool-blocked part).
#include <cppunit/extensions/HelperMacros.h>

#include "core/chat/ChatProvider.h"
#include "core/policy/ToolInvocation.h"

using namespace archestra::chat;
using nlohmann::json;

namespace {

std::vector<StoredMessage> toolRound() {
    return {{"user", json::array({{{"type", "text"}, {"text", "echo hi"}}})},
            {"assistant", json::array({{{"type", "text"}, {"text", "calling"}},
                                       {{"type", "tool-call"},
                                        {"toolCallId", "t1"},
                                        {"toolName", "srv__echo"},
                                        {"input", {{"message", "hi"}}}}})},
            {"tool",
             json::array({{{"type", "tool-result"},
                           {"toolCallId", "t1"},
                           {"toolName", "srv__echo"},
                           {"output", {{"content", json::array({{{"type", "text"}, {"text", "Echo: hi"}}})}}},
                           {"isError", false}}})},
            {"assistant", json::array({{{"type", "error"}, {"errorText", "not sent"}}})},
            {"user", json::array({{{"type", "text"}, {"text", "again"}}})}};
}

const json kTools =
    json::array({{{"name", "srv__echo"}, {"description", "Echo"}, {"inputSchema", {{"type", "object"}}}}});

}  // namespace

class ChatProviderTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ChatProviderTest);
    CPPUNIT_TEST(providerByModel);
    CPPUNIT_TEST(anthropicRequest);
    CPPUNIT_TEST(openAiRequest);
    CPPUNIT_TEST(anthropicAnswer);
    CPPUNIT_TEST(openAiAnswer);
    CPPUNIT_TEST(geminiRequestAndAnswer);
    CPPUNIT_TEST(openAiStreamInPieces);
    CPPUNIT_TEST(anthropicStreamWithBlockedCall);
    CPPUNIT_TEST(openAiStreamWithBlockedCallAndErrorEvent);
    CPPUNIT_TEST(hostileAnswersGiveNoParts);
    CPPUNIT_TEST_SUITE_END();

  public:
    void providerByModel() {
        CPPUNIT_ASSERT(providerForModel("claude-sonnet-4-5") == Provider::Anthropic);
        CPPUNIT_ASSERT(providerForModel("gpt-4o") == Provider::OpenAi);
        CPPUNIT_ASSERT(providerForModel("gemini-2.5-flash") == Provider::Gemini);
        CPPUNIT_ASSERT_EQUAL(
            std::string("/v1/gemini/p/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"),
            modelPath(Provider::Gemini, "p", "gemini-2.5-flash", true));
        CPPUNIT_ASSERT_THROW(modelPath(Provider::Gemini, "p", "gemini/../x", true), std::invalid_argument);
        CPPUNIT_ASSERT_EQUAL(std::string("/v1/anthropic/p/v1/messages"),
                             modelPath(Provider::Anthropic, "p", "claude-x", true));
        CPPUNIT_ASSERT_EQUAL(true, buildRequest(Provider::OpenAi, "gpt-4o", "", toolRound(), kTools, 10, true)
                                       .value("stream", false));
    }

    void anthropicRequest() {
        json body = buildRequest(Provider::Anthropic, "claude-x", "Be brief.", toolRound(), kTools);
        CPPUNIT_ASSERT_EQUAL(std::string("Be brief."), body["system"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("srv__echo"), body["tools"][0]["name"].get<std::string>());
        const json& messages = body["messages"];
        // user, assistant(text+tool_use), user(tool_result + "again": the error step is skipped, turns
        // merged)
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), messages.size());
        CPPUNIT_ASSERT_EQUAL(std::string("tool_use"), messages[1]["content"][1]["type"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("user"), messages[2]["role"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("tool_result"),
                             messages[2]["content"][0]["type"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("Echo: hi"),
                             messages[2]["content"][0]["content"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("again"), messages[2]["content"][1]["text"].get<std::string>());
    }

    void openAiRequest() {
        json body = buildRequest(Provider::OpenAi, "gpt-4o", "Be brief.", toolRound(), kTools);
        const json& messages = body["messages"];
        CPPUNIT_ASSERT_EQUAL(std::size_t(5), messages.size());  // system, user, assistant, tool, user
        CPPUNIT_ASSERT_EQUAL(std::string("system"), messages[0]["role"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("{\"message\":\"hi\"}"),
                             messages[2]["tool_calls"][0]["function"]["arguments"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("t1"), messages[3]["tool_call_id"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("function"), body["tools"][0]["type"].get<std::string>());
    }

    void anthropicAnswer() {
        json parts = parseResponse(
            Provider::Anthropic,
            {{"content",
              json::array(
                  {{{"type", "text"}, {"text", "ok"}},
                   {{"type", "tool_use"}, {"id", "u1"}, {"name", "srv__echo"}, {"input", {{"a", 1}}}}})}});
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), parts.size());
        CPPUNIT_ASSERT_EQUAL(std::string("tool-call"), parts[1]["type"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(1, parts[1]["input"]["a"].get<int>());
    }

    void openAiAnswer() {
        json parts = parseResponse(
            Provider::OpenAi,
            {{"choices",
              json::array({{{"message",
                             {{"content", nullptr},
                              {"tool_calls", json::array({{{"id", "c1"},
                                                           {"type", "function"},
                                                           {"function",
                                                            {{"name", "srv__echo"},
                                                             {"arguments", "{\"m\":\"x\"}"}}}}})}}}}})}});
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), parts.size());
        CPPUNIT_ASSERT_EQUAL(std::string("x"), parts[0]["input"]["m"].get<std::string>());
    }

    void geminiRequestAndAnswer() {
        json tools =
            json::array({{{"name", "srv__echo"},
                          {"inputSchema",
                           {{"$schema", "x"},
                            {"type", "object"},
                            {"additionalProperties", false},
                            {"properties", {{"m", {{"type", "string"}, {"additionalProperties", 1}}}}}}}}});
        json body = buildRequest(Provider::Gemini, "gemini-2.5-flash", "Be brief.", toolRound(), tools);
        CPPUNIT_ASSERT_EQUAL(std::string("Be brief."),
                             body["systemInstruction"]["parts"][0]["text"].get<std::string>());
        const json& declaration = body["tools"][0]["functionDeclarations"][0];
        CPPUNIT_ASSERT(!declaration["parameters"].contains("$schema"));
        CPPUNIT_ASSERT(!declaration["parameters"].contains("additionalProperties"));
        CPPUNIT_ASSERT(!declaration["parameters"]["properties"]["m"].contains("additionalProperties"));
        const json& contents = body["contents"];
        // user, model(text + functionCall), user(functionResponse + "again")
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), contents.size());
        CPPUNIT_ASSERT_EQUAL(std::string("model"), contents[1]["role"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("srv__echo"),
                             contents[1]["parts"][1]["functionCall"]["name"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(
            std::string("Echo: hi"),
            contents[2]["parts"][0]["functionResponse"]["response"]["content"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("again"), contents[2]["parts"][1]["text"].get<std::string>());
        json parts = parseResponse(
            Provider::Gemini,
            {{"candidates",
              json::array(
                  {{{"content",
                     {{"parts", json::array({{{"text", "ok"}},
                                             {{"functionCall",
                                               {{"name", "srv__echo"}, {"args", {{"m", 1}}}}}}})}}}}})}});
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), parts.size());
        CPPUNIT_ASSERT_EQUAL(std::string("tool-call"), parts[1]["type"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(1, parts[1]["input"]["m"].get<int>());
        CPPUNIT_ASSERT(!parts[1]["toolCallId"].get<std::string>().empty());
    }

    void openAiStreamInPieces() {
        const std::string body =
            "data: "
            "{\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}"
            "\n\n"
            "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n"
            "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"}}]}\n\n"
            "data: "
            "{\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"c1\","
            "\"type\":\"function\",\"function\":{\"name\":\"srv__echo\",\"arguments\":\"{\\\"m\\\":\"}}]}}]}"
            "\n\n"
            "data: "
            "{\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
            "{\"arguments\":\"\\\"x\\\"}\"}}]}}]}\n\n"
            "data: "
            "{\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n"
            "data: [DONE]\n\n";
        // Byte by byte: every text delta comes out as soon as its event is complete.
        ModelStream stream(Provider::OpenAi);
        std::vector<std::string> deltas;
        for (char c : body)
            for (const auto& event : stream.feed(std::string_view(&c, 1))) {
                CPPUNIT_ASSERT_EQUAL(std::string("text"), event["type"].get<std::string>());
                deltas.push_back(event["text"]);
            }
        CPPUNIT_ASSERT(stream.finish().empty());
        CPPUNIT_ASSERT((deltas == std::vector<std::string>{"Hel", "lo"}));
        CPPUNIT_ASSERT(stream.complete());
        json parts = stream.parts();
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), parts.size());
        CPPUNIT_ASSERT_EQUAL(std::string("Hello"), parts[0]["text"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("c1"), parts[1]["toolCallId"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("x"), parts[1]["input"]["m"].get<std::string>());
    }

    void anthropicStreamWithBlockedCall() {
        std::string refusal =
            archestra::policy::refusalContentMessage("srv__echo", "{\"message\":\"bad\"}", "No bad words");
        json signal = {{"toolCallId", "u1"},
                       {"toolName", "srv__echo"},
                       {"reasonCode", "policy_block_always"},
                       {"reason", "No bad words"},
                       {"content", refusal}};
        auto event = [](const std::string& type, const json& data) {
            json d = data;
            d["type"] = type;
            return "event: " + type + "\ndata: " + d.dump() + "\n\n";
        };
        std::string body = event("message_start", {{"message", {{"id", "m"}, {"model", "claude"}}}}) +
                           event("content_block_start",
                                 {{"index", 0}, {"content_block", {{"type", "text"}, {"text", ""}}}}) +
                           event("content_block_delta",
                                 {{"index", 0}, {"delta", {{"type", "text_delta"}, {"text", "Sure."}}}}) +
                           event("content_block_stop", {{"index", 0}}) +
                           ": archestra-dual-llm phase=start toolCallId=x\n\n" +
                           ": archestra-blocked-tool-call " + signal.dump() + "\n\n" +
                           event("content_block_start",
                                 {{"index", 1}, {"content_block", {{"type", "text"}, {"text", ""}}}}) +
                           event("content_block_delta",
                                 {{"index", 1}, {"delta", {{"type", "text_delta"}, {"text", refusal}}}}) +
                           event("content_block_stop", {{"index", 1}}) +
                           event("message_delta", {{"delta", {{"stop_reason", "end_turn"}}}}) +
                           event("message_stop", json::object());
        ModelStream stream(Provider::Anthropic);
        json events = stream.feed(body);
        for (const auto& e : stream.finish()) events.push_back(e);
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), events.size());
        CPPUNIT_ASSERT_EQUAL(std::string("Sure."), events[0]["text"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("tool-blocked"), events[1]["type"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("srv__echo"), events[1]["toolName"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("No bad words"), events[1]["reason"].get<std::string>());
        json parts = stream.parts();
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), parts.size());
        CPPUNIT_ASSERT_EQUAL(std::string("Sure."), parts[0]["text"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(refusal, parts[1]["text"].get<std::string>());  // what the model sees next turn
        CPPUNIT_ASSERT(stream.complete());
        // Without the comment, the same text is plain text (the chat does not guess from wording).
        ModelStream plain(Provider::Anthropic);
        plain.feed(event("message_start", {{"message", {{"id", "m"}}}}) +
                   event("content_block_start",
                         {{"index", 0}, {"content_block", {{"type", "text"}, {"text", ""}}}}) +
                   event("content_block_delta",
                         {{"index", 0}, {"delta", {{"type", "text_delta"}, {"text", refusal}}}}));
        CPPUNIT_ASSERT_EQUAL(std::string("text"), plain.parts()[0]["type"].get<std::string>());
        CPPUNIT_ASSERT(!plain.complete());
    }

    void openAiStreamWithBlockedCallAndErrorEvent() {
        // Two calls blocked in one release: the proxy sends both comments, then one chunk with both refusals,
        // here after some model text in the same chunk.
        json a = {{"toolName", "t"}, {"reason", "r1"}, {"content", "\nREFUSAL ONE"}};
        json b = {{"toolName", "t"}, {"reason", "r2"}, {"content", "\nREFUSAL TWO"}};
        std::string body =
            ": archestra-blocked-tool-call " + a.dump() + "\n\n: archestra-blocked-tool-call " + b.dump() +
            "\r\n\r\n"
            "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\\nREFUSAL "
            "ONE\\nREFUSAL TWO after\"}}]}\n\n"
            "data: {\"error\":{\"message\":\"upstream broke\",\"type\":\"api_error\"}}\n\n";
        ModelStream stream(Provider::OpenAi);
        json events = stream.feed(body);
        CPPUNIT_ASSERT_EQUAL(std::size_t(4), events.size());
        CPPUNIT_ASSERT_EQUAL(std::string("r2"), events[1]["reason"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("ok after"), events[2]["text"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("error"), events[3]["type"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("upstream broke"), events[3]["errorText"].get<std::string>());
        CPPUNIT_ASSERT(!stream.complete());
    }

    void hostileAnswersGiveNoParts() {
        for (const json& body :
             {json(nullptr), json::array(), json{{"content", "x"}}, json{{"content", json::array({1, "x"})}},
              json{{"choices", json::array({1})}}, json{{"choices", json::array({{{"message", 3}}})}}}) {
            CPPUNIT_ASSERT(parseResponse(Provider::Anthropic, body).empty());
            CPPUNIT_ASSERT(parseResponse(Provider::OpenAi, body).empty());
            CPPUNIT_ASSERT(parseResponse(Provider::Gemini, body).empty());
        }
        CPPUNIT_ASSERT_EQUAL(std::string("boom"), errorMessage(R"({"error":{"message":"boom"}})"));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ChatProviderTest);
