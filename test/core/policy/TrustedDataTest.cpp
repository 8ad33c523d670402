// Tests of trusted-data evaluation: every action and treatment, wildcards, taint, order independence.
#include <algorithm>

#include <cppunit/extensions/HelperMacros.h>

#include "core/policy/TrustedData.h"

using namespace archestra::policy;
using nlohmann::json;

namespace {

ProfilePolicySnapshot snapshot() {
    return snapshotFromJson(json::parse(R"({
      "tools": {
        "read_email": {"toolResultTreatment": "untrusted"},
        "get_weather": {"toolResultTreatment": "trusted"},
        "web_fetch": {"toolResultTreatment": "sanitize_with_dual_llm"},
        "list_files": {}
      },
      "trustedDataPolicies": [
        {"id": "p2", "toolName": "read_email", "description": "internal senders", "attributePath": "emails[*].from",
         "operator": "endsWith", "value": "@corp.io", "action": "mark_as_trusted"},
        {"id": "p1", "toolName": "read_email", "description": "phishing", "attributePath": "emails[*].subject",
         "operator": "contains", "value": "password reset", "action": "block_always"},
        {"id": "p3", "toolName": "read_email", "description": "partners", "attributePath": "emails[*].from",
         "operator": "regex", "value": "@partner\\.(com|io)$", "action": "sanitize_with_dual_llm"},
        {"id": "p4", "toolName": "list_files", "description": "bad regex", "attributePath": "path",
         "operator": "regex", "value": "(", "action": "mark_as_trusted"}
      ]})"));
}

ToolResult result(std::string id, std::optional<std::string> tool, json content) {
    return ToolResult{std::move(id), std::move(tool), std::move(content)};
}

json emails(std::initializer_list<std::pair<const char*, const char*>> list) {
    json arr = json::array();
    for (auto [from, subject] : list) arr.push_back({{"from", from}, {"subject", subject}});
    return {{"emails", arr}};
}

}  // namespace

class TrustedDataTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(TrustedDataTest);
    CPPUNIT_TEST(verdictTable);
    CPPUNIT_TEST(blockAlwaysReplacesContent);
    CPPUNIT_TEST(noResultsIsTrusted);
    CPPUNIT_TEST(taintCarriesAcrossTurns);
    CPPUNIT_TEST(orderIndependent);
    CPPUNIT_TEST(considerContextUntrustedTaintsButStillBlocks);
    CPPUNIT_TEST(valueWrapperIsUnwrapped);
    CPPUNIT_TEST(invalidRegexIsNotedAndUntrusted);
    CPPUNIT_TEST(policyOrderIsById);
    CPPUNIT_TEST_SUITE_END();

  public:
    void verdictTable() {
        struct Case {
            const char* name;
            ToolResult input;
            Verdict verdict;
            const char* code;
            const char* policyId;
        };
        const std::vector<Case> cases = {
            {"archestra tool", result("1", "archestra__whoami", "x"), Verdict::Trusted, "archestra_tool", ""},
            {"unresolved name", result("2", std::nullopt, "x"), Verdict::Untrusted, "unresolved_tool_name",
             ""},
            {"unassigned tool", result("3", "shell", "x"), Verdict::Untrusted, "tool_not_assigned", ""},
            {"treatment trusted", result("4", "get_weather", "sunny"), Verdict::Trusted, "treatment_trusted",
             ""},
            {"treatment sanitize", result("5", "web_fetch", "<html>"), Verdict::Sanitize,
             "treatment_sanitize_with_dual_llm", ""},
            {"default treatment untrusted", result("6", "list_files", json::array()), Verdict::Untrusted,
             "treatment_untrusted", ""},
            {"all senders internal",
             result("7", "read_email", emails({{"a@corp.io", "hi"}, {"b@corp.io", "yo"}})), Verdict::Trusted,
             "policy_mark_as_trusted", "p2"},
            {"one external sender",
             result("8", "read_email", emails({{"a@corp.io", "hi"}, {"x@evil.com", "yo"}})),
             Verdict::Untrusted, "treatment_untrusted", ""},
            {"partner sender", result("9", "read_email", emails({{"a@partner.com", "hi"}})),
             Verdict::Sanitize, "policy_sanitize_with_dual_llm", "p3"},
            {"contains is case-sensitive",
             result("10", "read_email", emails({{"a@corp.io", "Password Reset"}})), Verdict::Trusted,
             "policy_mark_as_trusted", "p2"},
            {"phishing blocked exact",
             result("11", "read_email", emails({{"a@corp.io", "password reset now"}})), Verdict::Blocked,
             "policy_block_always", "p1"},
            {"missing attribute", result("12", "read_email", json{{"other", 1}}), Verdict::Untrusted,
             "treatment_untrusted", ""},
            {"empty wildcard", result("13", "read_email", json{{"emails", json::array()}}),
             Verdict::Untrusted, "treatment_untrusted", ""},
        };
        for (const auto& c : cases) {
            auto eval = evaluateContext(snapshot(), {c.input});
            const auto& d = eval.perResult.at(0);
            CPPUNIT_ASSERT_MESSAGE(std::string(c.name) + ": got " + std::string(toString(d.verdict)),
                                   d.verdict == c.verdict);
            if (*c.code) CPPUNIT_ASSERT_EQUAL_MESSAGE(c.name, std::string(c.code), d.reasonCode);
            CPPUNIT_ASSERT_EQUAL_MESSAGE(c.name, std::string(c.policyId), d.policyId);
            CPPUNIT_ASSERT_EQUAL_MESSAGE(
                c.name, c.verdict == Verdict::Trusted || c.verdict == Verdict::Sanitize, eval.trusted);
            CPPUNIT_ASSERT(!d.reason.empty());
        }
    }

    void blockAlwaysReplacesContent() {
        auto eval = evaluateContext(snapshot(),
                                    {result("b", "read_email", emails({{"a@corp.io", "password reset"}}))});
        const auto& d = eval.perResult.at(0);
        CPPUNIT_ASSERT(d.verdict == Verdict::Blocked);
        CPPUNIT_ASSERT(d.replacementContent.has_value());
        CPPUNIT_ASSERT_EQUAL(std::string("[Content blocked by policy: Data blocked by policy: phishing]"),
                             *d.replacementContent);
        CPPUNIT_ASSERT(!eval.trusted);
        CPPUNIT_ASSERT_EQUAL(std::string("blocked_tool_result"), eval.reasonCode);
    }

    void noResultsIsTrusted() {
        auto eval = evaluateContext(snapshot(), {});
        CPPUNIT_ASSERT(eval.trusted);
        CPPUNIT_ASSERT(eval.perResult.empty());
    }

    void taintCarriesAcrossTurns() {
        // Turn 1 read an external email; later turns only use trusted tools. The proxy re-checks the whole
        // history, so the context stays untrusted.
        std::vector<ToolResult> history = {result("t1", "read_email", emails({{"x@evil.com", "hi"}})),
                                           result("t2", "get_weather", "sunny"),
                                           result("t3", "archestra__whoami", "me")};
        auto eval = evaluateContext(snapshot(), history);
        CPPUNIT_ASSERT(!eval.trusted);
        CPPUNIT_ASSERT_EQUAL(std::string("untrusted_tool_result"), eval.reasonCode);
        history.erase(history.begin());
        CPPUNIT_ASSERT(evaluateContext(snapshot(), history).trusted);
    }

    void orderIndependent() {
        // The original reset the taint after a sanitized result, so [untrusted, sanitize] was trusted and
        // [sanitize, untrusted] was not. Every permutation must now give the same answer.
        std::vector<ToolResult> results = {
            result("a", "web_fetch", "<html>"), result("b", "read_email", emails({{"x@evil.com", "hi"}})),
            result("c", "get_weather", "sunny"), result("d", "read_email", emails({{"a@partner.io", "hi"}}))};
        std::sort(results.begin(), results.end(),
                  [](auto& x, auto& y) { return x.toolCallId < y.toolCallId; });
        auto reference = evaluateContext(snapshot(), results).toJson();
        CPPUNIT_ASSERT_EQUAL(false, reference["trusted"].get<bool>());
        CPPUNIT_ASSERT_EQUAL(true, reference["needsSanitization"].get<bool>());
        int permutations = 0;
        do {
            auto eval = evaluateContext(snapshot(), results);
            auto j = eval.toJson();
            CPPUNIT_ASSERT_EQUAL(reference["trusted"], j["trusted"]);
            CPPUNIT_ASSERT_EQUAL(reference["reason"], j["reason"]);
            CPPUNIT_ASSERT_EQUAL(reference["needsSanitization"], j["needsSanitization"]);
            for (const auto& d : eval.perResult) {
                auto same = std::find_if(reference["results"].begin(), reference["results"].end(),
                                         [&](const json& r) { return r["toolCallId"] == d.toolCallId; });
                CPPUNIT_ASSERT(same != reference["results"].end());
                CPPUNIT_ASSERT_EQUAL(*same, d.toJson());
            }
            ++permutations;
        } while (std::next_permutation(results.begin(), results.end(),
                                       [](auto& x, auto& y) { return x.toolCallId < y.toolCallId; }));
        CPPUNIT_ASSERT_EQUAL(24, permutations);

        // Without the untrusted one, the sanitized results leave the context trusted.
        std::vector<ToolResult> clean = {result("a", "web_fetch", "<html>"),
                                         result("c", "get_weather", "sunny")};
        CPPUNIT_ASSERT(evaluateContext(snapshot(), clean).trusted);
    }

    void considerContextUntrustedTaintsButStillBlocks() {
        auto snap = snapshot();
        snap.considerContextUntrusted = true;
        auto eval =
            evaluateContext(snap, {result("1", "get_weather", "sunny"),
                                   result("2", "read_email", emails({{"a@corp.io", "password reset"}}))});
        CPPUNIT_ASSERT(!eval.trusted);
        CPPUNIT_ASSERT_EQUAL(std::string("consider_context_untrusted"), eval.reasonCode);
        CPPUNIT_ASSERT(eval.perResult[1].replacementContent.has_value());
        CPPUNIT_ASSERT(!evaluateContext(snap, {}).trusted);
    }

    void valueWrapperIsUnwrapped() {
        json wrapped = {{"value", emails({{"a@corp.io", "hi"}})}};
        CPPUNIT_ASSERT(evaluateContext(snapshot(), {result("1", "read_email", wrapped)}).trusted);
    }

    void invalidRegexIsNotedAndUntrusted() {
        auto eval = evaluateContext(snapshot(), {result("1", "list_files", json{{"path", "("}})});
        const auto& d = eval.perResult.at(0);
        CPPUNIT_ASSERT(d.verdict == Verdict::Untrusted);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), d.notes.size());
        CPPUNIT_ASSERT(d.notes[0].find("p4") != std::string::npos &&
                       d.notes[0].find("invalid regex") != std::string::npos);
    }

    void policyOrderIsById() {
        // Two block policies match: the reported one is the lowest id whatever the input order.
        auto snap = snapshot();
        snap.trustedDataPolicies.push_back({"p0", "read_email", "first by id", "emails[*].subject",
                                            Operator::Contains, "password", TrustedDataAction::BlockAlways});
        std::reverse(snap.trustedDataPolicies.begin(), snap.trustedDataPolicies.end());
        auto eval =
            evaluateContext(snap, {result("1", "read_email", emails({{"a@corp.io", "password reset"}}))});
        CPPUNIT_ASSERT_EQUAL(std::string("p0"), eval.perResult[0].policyId);
        CPPUNIT_ASSERT_EQUAL(std::string("[Content blocked by policy: Data blocked by policy: first by id]"),
                             *eval.perResult[0].replacementContent);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(TrustedDataTest);
