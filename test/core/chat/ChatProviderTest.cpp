// The chat's provider shapes: stored history -> Anthropic/OpenAI requests, answers -> stored parts, and the
// recognition of the proxy's refusal text (produced here by core/policy itself, so a change there fails
// here).
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
    CPPUNIT_TEST(refusalOfThePolicyModuleIsBlocked);
    CPPUNIT_TEST(hostileAnswersGiveNoParts);
    CPPUNIT_TEST_SUITE_END();

  public:
    void providerByModel() {
        CPPUNIT_ASSERT(providerForModel("claude-sonnet-4-5") == Provider::Anthropic);
        CPPUNIT_ASSERT(providerForModel("gpt-4o") == Provider::OpenAi);
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

    void refusalOfThePolicyModuleIsBlocked() {
        std::string text =
            archestra::policy::refusalContentMessage("srv__echo", "{\"message\":\"bad\"}", "No bad words");
        auto part = blockedPart(text);
        CPPUNIT_ASSERT(part.has_value());
        CPPUNIT_ASSERT_EQUAL(std::string("srv__echo"), (*part)["toolName"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("No bad words"), (*part)["reason"].get<std::string>());
        CPPUNIT_ASSERT(
            !blockedPart("Sure. I tried to invoke the x tool with y. However, I was denied by a tool "
                         "invocation policy: z"));
        json parts = parseResponse(Provider::Anthropic,
                                   {{"content", json::array({{{"type", "text"}, {"text", text}}})}});
        CPPUNIT_ASSERT_EQUAL(std::string("tool-blocked"), parts[0]["type"].get<std::string>());
    }

    void hostileAnswersGiveNoParts() {
        for (const json& body :
             {json(nullptr), json::array(), json{{"content", "x"}}, json{{"content", json::array({1, "x"})}},
              json{{"choices", json::array({1})}}, json{{"choices", json::array({{{"message", 3}}})}}}) {
            CPPUNIT_ASSERT(parseResponse(Provider::Anthropic, body).empty());
            CPPUNIT_ASSERT(parseResponse(Provider::OpenAi, body).empty());
        }
        CPPUNIT_ASSERT_EQUAL(std::string("boom"), errorMessage(R"({"error":{"message":"boom"}})"));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ChatProviderTest);
