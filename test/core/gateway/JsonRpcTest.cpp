// Transport rules of the MCP gateway without I/O: message classification, version negotiation, Accept
// negotiation, Host/Origin checks, tool naming, and the permission check of built-in tools.
#include "core/gateway/BuiltinTools.h"
#include "core/gateway/JsonRpc.h"

#include <cppunit/extensions/HelperMacros.h>

using namespace archestra::gateway;
using nlohmann::json;

class JsonRpcTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(JsonRpcTest);
    CPPUNIT_TEST(testClassify);
    CPPUNIT_TEST(testProtocolVersions);
    CPPUNIT_TEST(testFraming);
    CPPUNIT_TEST(testHostPolicy);
    CPPUNIT_TEST(testNaming);
    CPPUNIT_TEST(testBuiltinPermission);
    CPPUNIT_TEST_SUITE_END();

  public:
    void testClassify() {
        CPPUNIT_ASSERT(classify({{"jsonrpc", "2.0"}, {"id", 1}, {"method", "ping"}}).kind ==
                       MessageKind::Request);
        CPPUNIT_ASSERT(classify({{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}}).kind ==
                       MessageKind::Notification);
        CPPUNIT_ASSERT(classify({{"jsonrpc", "2.0"}, {"id", "a"}, {"result", json::object()}}).kind ==
                       MessageKind::Response);
        Classified noVersion = classify({{"id", 1}, {"method", "ping"}});
        CPPUNIT_ASSERT(noVersion.kind == MessageKind::Invalid);
        CPPUNIT_ASSERT(noVersion.problem.find("jsonrpc") != std::string::npos);
        CPPUNIT_ASSERT(classify({{"jsonrpc", "2.0"}, {"id", 1.5}, {"method", "ping"}}).kind ==
                       MessageKind::Invalid);
        CPPUNIT_ASSERT(classify({{"jsonrpc", "2.0"}, {"id", 1}, {"method", 3}}).kind == MessageKind::Invalid);
        CPPUNIT_ASSERT(classify(json::array()).kind == MessageKind::Invalid);
        json error = rpcError(nullptr, rpc::kServerError, "Bad Request: Invalid or expired session");
        CPPUNIT_ASSERT_EQUAL(
            std::string(
                R"({"error":{"code":-32000,"message":"Bad Request: Invalid or expired session"},"id":null,"jsonrpc":"2.0"})"),
            error.dump());
    }

    void testProtocolVersions() {
        CPPUNIT_ASSERT_EQUAL(std::string("2025-03-26"), negotiateProtocolVersion("2025-03-26"));
        CPPUNIT_ASSERT_EQUAL(std::string("2024-11-05"), negotiateProtocolVersion("2024-11-05"));
        CPPUNIT_ASSERT_EQUAL(supportedProtocolVersions().front(), negotiateProtocolVersion("1999-01-01"));
        CPPUNIT_ASSERT_EQUAL(supportedProtocolVersions().front(), negotiateProtocolVersion(nullptr));
        CPPUNIT_ASSERT(!isSupportedProtocolVersion("2025-13-01"));
    }

    void testFraming() {
        CPPUNIT_ASSERT(chooseFraming("application/json, text/event-stream") == ResponseFraming::Json);
        CPPUNIT_ASSERT(chooseFraming("text/event-stream") == ResponseFraming::Sse);
        CPPUNIT_ASSERT(chooseFraming("text/event-stream, application/json;q=0") == ResponseFraming::Sse);
        CPPUNIT_ASSERT(chooseFraming("") == ResponseFraming::Json);
        CPPUNIT_ASSERT(chooseFraming("*/*") == ResponseFraming::Json);
        CPPUNIT_ASSERT(!chooseFraming("text/html"));
        CPPUNIT_ASSERT(acceptsEventStream("application/json, text/event-stream"));
        CPPUNIT_ASSERT(!acceptsEventStream("application/json"));
        CPPUNIT_ASSERT_EQUAL(std::string("event: message\ndata: {\"a\":1}\n\n"), sseEvent({{"a", 1}}));
    }

    void testHostPolicy() {
        HostPolicy policy = HostPolicy::fromUrls(
            {"https://archestra.example.com:9000/x", "http://ui.example.com"}, {"gw.internal"});
        CPPUNIT_ASSERT(policy.hostAllowed("localhost:9000"));
        CPPUNIT_ASSERT(policy.hostAllowed("127.0.0.1:9000"));
        CPPUNIT_ASSERT(policy.hostAllowed("[::1]:9000"));
        CPPUNIT_ASSERT(policy.hostAllowed("10.1.2.3:9000"));  // address literals cannot come from rebinding
        CPPUNIT_ASSERT(policy.hostAllowed("ARCHESTRA.example.com"));
        CPPUNIT_ASSERT(policy.hostAllowed("ui.example.com:443"));
        CPPUNIT_ASSERT(policy.hostAllowed("gw.internal"));
        CPPUNIT_ASSERT(!policy.hostAllowed("attacker.example:9000"));
        CPPUNIT_ASSERT(!policy.hostAllowed("127.0.0.1.attacker.example"));
        CPPUNIT_ASSERT(!policy.hostAllowed(""));
        CPPUNIT_ASSERT(policy.originAllowed(""));
        CPPUNIT_ASSERT(policy.originAllowed("http://localhost:3000"));
        CPPUNIT_ASSERT(!policy.originAllowed("https://attacker.example"));
        CPPUNIT_ASSERT(!policy.originAllowed("null"));
        HostPolicy any = HostPolicy::fromUrls({}, {"*"});
        CPPUNIT_ASSERT(any.hostAllowed("anything.example"));
    }

    void testNaming() {
        CPPUNIT_ASSERT_EQUAL(std::string("everything_server"), slugify("Everything Server"));
        CPPUNIT_ASSERT_EQUAL(std::string("everything_server__echo"),
                             exposedToolName("everything_server", "echo"));
        CPPUNIT_ASSERT_EQUAL(std::string("everything_server__echo"),
                             exposedToolName("everything_server", "everything_server__echo"));
        CPPUNIT_ASSERT_EQUAL(std::string("echo"),
                             serverToolName("everything_server", "everything_server__echo"));
        CPPUNIT_ASSERT_EQUAL(std::string("a__b"), serverToolName("srv", "srv__a__b"));
        CPPUNIT_ASSERT_EQUAL(std::string("echo"), serverToolName("srv", "echo"));
    }

    void testBuiltinPermission() {
        Caller nobody;
        nobody.kind = Caller::Kind::TeamToken;
        nobody.role = "custom";
        const BuiltinTool* tool = findBuiltinTool("archestra__get_autonomy_policy_operators");
        CPPUNIT_ASSERT(tool != nullptr);
        // No database: the permission check comes first, and the operators tool runs no SQL.
        BuiltinContext context{nullptr, "p", "Profile", nobody, {}};
        json denied = callBuiltinTool(*tool, context, json::object());
        CPPUNIT_ASSERT_EQUAL(true, denied["isError"].get<bool>());
        std::string text = denied["content"][0]["text"];
        CPPUNIT_ASSERT_MESSAGE(text, text.find("Permission denied") != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(text, text.find("policy:read") != std::string::npos);

        Caller reader = nobody;
        reader.permissions["policy"] = {"read"};
        BuiltinContext readerContext{nullptr, "p", "Profile", reader, {}};
        json operators = callBuiltinTool(*tool, readerContext, json::object());
        CPPUNIT_ASSERT_EQUAL(false, operators["isError"].get<bool>());
        CPPUNIT_ASSERT(operators["content"][0]["text"].get<std::string>().find("\"regex\"") !=
                       std::string::npos);
        CPPUNIT_ASSERT(findBuiltinTool("archestra__whoami") != nullptr);
        CPPUNIT_ASSERT(findBuiltinTool("archestra__nope") == nullptr);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(JsonRpcTest);
