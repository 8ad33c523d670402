// Tests of tool-invocation decisions: every action, missing arguments, approval, refusal texts, all calls
// judged.
#include <cppunit/extensions/HelperMacros.h>

#include "core/policy/ToolInvocation.h"

using namespace archestra::policy;
using nlohmann::json;

namespace {

ProfilePolicySnapshot snapshot() {
    return snapshotFromJson(json::parse(R"({
      "tools": {
        "send_email": {"allowUsageWhenUntrustedDataIsPresent": false},
        "search": {"allowUsageWhenUntrustedDataIsPresent": true},
        "read_file": {},
        "transfer": {},
        "deploy": {}
      },
      "invocationPolicies": [
        {"id": "i2", "toolName": "send_email", "argumentName": "to", "operator": "endsWith", "value": "@corp.io",
         "action": "allow_when_context_is_untrusted", "reason": null},
        {"id": "i1", "toolName": "send_email", "argumentName": "to", "operator": "contains", "value": "evil",
         "action": "block_always", "reason": "No mail to evil domains"},
        {"id": "i3", "toolName": "read_file", "argumentName": "path", "operator": "startsWith", "value": "/etc",
         "action": "block_always"},
        {"id": "i4", "toolName": "read_file", "argumentName": "path", "operator": "startsWith", "value": "/home",
         "action": "allow_when_context_is_untrusted"},
        {"id": "i5", "toolName": "transfer", "argumentName": "amount", "operator": "regex", "value": "^[0-9]{4,}$",
         "action": "require_approval", "reason": "large transfer"},
        {"id": "i6", "toolName": "deploy", "argumentName": "targets[*].env", "operator": "equal", "value": "prod",
         "action": "block_always"},
        {"id": "i7", "toolName": "deploy", "argumentName": "targets[*].env", "operator": "notEqual", "value": "prod",
         "action": "allow_when_context_is_untrusted"},
        {"id": "i8", "toolName": "search", "argumentName": "q", "operator": "notContains", "value": "secret",
         "action": "allow_when_context_is_untrusted"}
      ]})"));
}

ToolCall call(std::string id, std::string name, json args) {
    return {std::move(id), std::move(name), std::move(args)};
}

}  // namespace

class ToolInvocationTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ToolInvocationTest);
    CPPUNIT_TEST(decisionTable);
    CPPUNIT_TEST(refusalTextsAreExact);
    CPPUNIT_TEST(everyCallIsJudged);
    CPPUNIT_TEST(requireApproval);
    CPPUNIT_TEST(policyOrderDoesNotMatter);
    CPPUNIT_TEST(unparsableArguments);
    CPPUNIT_TEST(decisionJson);
    CPPUNIT_TEST_SUITE_END();

  public:
    void decisionTable() {
        struct Case {
            const char* name;
            bool trusted;
            ToolCall call;
            bool allowed;
            const char* code;
            const char* policyId;
        };
        const std::vector<Case> cases = {
            {"archestra tool untrusted", false, call("c", "archestra__list", {}), true, "archestra_tool", ""},
            {"unassigned tool trusted", true, call("c", "shell", {{"cmd", "ls"}}), true, "trusted_context",
             ""},
            {"unassigned tool untrusted", false, call("c", "shell", {{"cmd", "ls"}}), false,
             "untrusted_context", ""},
            {"block matches in trusted ctx", true, call("c", "send_email", {{"to", "a@evil.com"}}), false,
             "policy_block_always", "i1"},
            {"allow rule in untrusted ctx", false, call("c", "send_email", {{"to", "a@corp.io"}}), true,
             "policy_allow_when_context_is_untrusted", "i2"},
            {"no allow match untrusted", false, call("c", "send_email", {{"to", "a@gmail.com"}}), false,
             "untrusted_context", ""},
            {"no allow match trusted", true, call("c", "send_email", {{"to", "a@gmail.com"}}), true,
             "trusted_context", ""},
            {"missing argument blocks", true, call("c", "send_email", {{"subject", "hi"}}), false,
             "missing_argument", "i2"},
            {"missing arg skipped for block rule", true, call("c", "read_file", {{"path", "/home/x"}}), true,
             "trusted_context", ""},
            {"block beats allow", false, call("c", "read_file", {{"path", "/etc/passwd"}}), false,
             "policy_block_always", "i3"},
            {"tool allows untrusted", false, call("c", "search", {{"q", "my secret"}}), true,
             "tool_allows_untrusted_context", ""},
            {"allowUsage skips missing arg", false, call("c", "search", {{"other", 1}}), true,
             "tool_allows_untrusted_context", ""},
            {"wildcard block any", true,
             call("c", "deploy", {{"targets", {{{"env", "dev"}}, {{"env", "prod"}}}}}), false,
             "policy_block_always", "i6"},
            {"wildcard allow all", false,
             call("c", "deploy", {{"targets", {{{"env", "dev"}}, {{"env", "qa"}}}}}), true,
             "policy_allow_when_context_is_untrusted", "i7"},
            {"numeric amount approval", true, call("c", "transfer", {{"amount", 25000}}), false,
             "policy_require_approval", "i5"},
            {"small amount", true, call("c", "transfer", {{"amount", 25}}), true, "trusted_context", ""},
        };
        for (const auto& c : cases) {
            auto d = evaluateToolCalls(snapshot(), c.trusted, {c.call}).at(0);
            CPPUNIT_ASSERT_EQUAL_MESSAGE(c.name, c.allowed, d.allowed);
            CPPUNIT_ASSERT_EQUAL_MESSAGE(c.name, std::string(c.code), d.reasonCode);
            CPPUNIT_ASSERT_EQUAL_MESSAGE(c.name, std::string(c.policyId), d.policyId);
            CPPUNIT_ASSERT_EQUAL_MESSAGE(c.name, c.allowed, d.contentMessage.empty());
            CPPUNIT_ASSERT_MESSAGE(c.name, !d.reason.empty());
        }
    }

    void refusalTextsAreExact() {
        auto d =
            evaluateToolCalls(snapshot(), true, {call("c1", "send_email", {{"to", "a@evil.com"}})}).at(0);
        CPPUNIT_ASSERT_EQUAL(std::string("No mail to evil domains"), d.reason);
        CPPUNIT_ASSERT_EQUAL(std::string("to"), d.argumentName);
        const std::string content =
            "\nI tried to invoke the send_email tool with the following arguments: "
            "{\"to\":\"a@evil.com\"}.\n\n"
            "However, I was denied by a tool invocation policy:\n\nNo mail to evil domains";
        CPPUNIT_ASSERT_EQUAL(content, d.contentMessage);
        CPPUNIT_ASSERT_EQUAL(
            std::string("\n<archestra-tool-name>send_email</archestra-tool-name>\n"
                        "<archestra-tool-arguments>{\"to\":\"a@evil.com\"}</archestra-tool-arguments>\n"
                        "<archestra-tool-reason>No mail to evil domains</archestra-tool-reason>\n") +
                content,
            d.refusalMessage);

        auto noReason =
            evaluateToolCalls(snapshot(), true, {call("c", "read_file", {{"path", "/etc/x"}})}).at(0);
        CPPUNIT_ASSERT_EQUAL(std::string("Policy violation: null"), noReason.reason);
        auto untrusted = evaluateToolCalls(snapshot(), false, {call("c", "shell", json::object())}).at(0);
        CPPUNIT_ASSERT_EQUAL(std::string("Tool invocation blocked: context contains untrusted data"),
                             untrusted.reason);
        auto missing = evaluateToolCalls(snapshot(), true, {call("c", "send_email", json::object())}).at(0);
        CPPUNIT_ASSERT_EQUAL(std::string("Missing required argument: to"), missing.reason);
    }

    void everyCallIsJudged() {
        auto ds =
            evaluateToolCalls(snapshot(), false,
                              {call("a", "send_email", {{"to", "x@evil.com"}}), call("b", "archestra__x", {}),
                               call("c", "search", {{"q", "cats"}}), call("d", "shell", {})});
        CPPUNIT_ASSERT_EQUAL(std::size_t(4), ds.size());
        CPPUNIT_ASSERT(!ds[0].allowed);
        CPPUNIT_ASSERT(ds[1].allowed);
        CPPUNIT_ASSERT(ds[2].allowed);
        CPPUNIT_ASSERT(!ds[3].allowed);
        CPPUNIT_ASSERT_EQUAL(std::string("d"), ds[3].toolCallId);
    }

    void requireApproval() {
        auto d = evaluateToolCalls(snapshot(), true, {call("c", "transfer", {{"amount", "5000"}})}).at(0);
        CPPUNIT_ASSERT(!d.allowed);
        CPPUNIT_ASSERT(d.requiresApproval);
        CPPUNIT_ASSERT(d.reason.find("approve") != std::string::npos);
        CPPUNIT_ASSERT(d.reason.find("Archestra UI") != std::string::npos);
        CPPUNIT_ASSERT(d.reason.find("large transfer") != std::string::npos);
        CPPUNIT_ASSERT(d.contentMessage.find(d.reason) != std::string::npos);
        // A missing argument does not trigger an approval rule.
        auto m = evaluateToolCalls(snapshot(), true, {call("c", "transfer", {{"to", "bob"}})}).at(0);
        CPPUNIT_ASSERT(m.allowed);
        CPPUNIT_ASSERT(!m.requiresApproval);
    }

    void policyOrderDoesNotMatter() {
        auto snap = snapshot();
        auto reversed = snap;
        std::reverse(reversed.invocationPolicies.begin(), reversed.invocationPolicies.end());
        std::vector<ToolCall> calls = {call("a", "send_email", {{"to", "x@evil.corp.io"}}),
                                       call("b", "read_file", {{"path", "/etc"}}),
                                       call("c", "deploy", {{"targets", {{{"env", "prod"}}}}})};
        for (bool trusted : {true, false}) {
            auto x = evaluateToolCalls(snap, trusted, calls), y = evaluateToolCalls(reversed, trusted, calls);
            for (std::size_t i = 0; i < calls.size(); ++i) CPPUNIT_ASSERT_EQUAL(x[i].toJson(), y[i].toJson());
        }
        // Both a block and an allow rule match "x@evil.corp.io": block wins.
        CPPUNIT_ASSERT_EQUAL(std::string("i1"), evaluateToolCalls(snap, false, calls)[0].policyId);
    }

    void unparsableArguments() {
        auto d = evaluateToolCalls(snapshot(), true, {call("c", "send_email", json("{not json"))}).at(0);
        CPPUNIT_ASSERT(!d.allowed);
        CPPUNIT_ASSERT(d.contentMessage.find("arguments: {not json.") != std::string::npos);
    }

    // toJson() builds the object member by member: the same value (and text) as the plain brace form.
    void decisionJson() {
        CallDecision plain;
        plain.toolCallId = "call_1";
        plain.toolName = "list_files";
        plain.reasonCode = "trusted_context";
        plain.reason = "Tool invocation allowed: \"quoted\"";
        CallDecision full = plain;
        full.allowed = false;
        full.requiresApproval = true;
        full.policyId = "p-1";
        full.argumentName = "path";
        full.notes = {"one", "two"};
        for (const CallDecision& d : {plain, full}) {
            json expected = {{"toolCallId", d.toolCallId},
                             {"toolName", d.toolName},
                             {"allowed", d.allowed},
                             {"requiresApproval", d.requiresApproval},
                             {"reasonCode", d.reasonCode},
                             {"reason", d.reason},
                             {"policyId", d.policyId.empty() ? json(nullptr) : json(d.policyId)},
                             {"argumentName", d.argumentName.empty() ? json(nullptr) : json(d.argumentName)}};
            if (!d.notes.empty()) expected["notes"] = d.notes;
            CPPUNIT_ASSERT_EQUAL(expected, d.toJson());
            CPPUNIT_ASSERT_EQUAL(expected.dump(), d.toJson().dump());
        }
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ToolInvocationTest);
