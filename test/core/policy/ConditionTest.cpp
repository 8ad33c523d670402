// Tests of operator semantics, path extraction and the enum wire strings.
#include <cppunit/extensions/HelperMacros.h>

#include "core/policy/Condition.h"
#include "core/policy/JsonPath.h"
#include "core/policy/Regex.h"
#include "core/policy/Types.h"

using namespace archestra::policy;
using nlohmann::json;

class ConditionTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ConditionTest);
    CPPUNIT_TEST(everyOperator);
    CPPUNIT_TEST(nonStringValuesCompareAsJsonText);
    CPPUNIT_TEST(invalidRegexNeverMatchesAndSaysWhy);
    CPPUNIT_TEST(oversizedRegexSubjectIsUnknown);
    CPPUNIT_TEST(pathsWithWildcards);
    CPPUNIT_TEST(malformedPaths);
    CPPUNIT_TEST(enumWireStrings);
    CPPUNIT_TEST_SUITE_END();

  public:
    void everyOperator() {
        struct Case {
            Operator op;
            const char* policyValue;
            const char* subject;
            Match expected;
        };
        const Case cases[] = {
            {Operator::Equal, "abc", "abc", Match::Yes},
            {Operator::Equal, "abc", "abcd", Match::No},
            {Operator::NotEqual, "abc", "abcd", Match::Yes},
            {Operator::NotEqual, "abc", "abc", Match::No},
            {Operator::Contains, "evil", "an evil.com", Match::Yes},
            {Operator::Contains, "evil", "good", Match::No},
            {Operator::NotContains, "evil", "good", Match::Yes},
            {Operator::NotContains, "evil", "evil", Match::No},
            {Operator::StartsWith, "/tmp", "/tmp/x", Match::Yes},
            {Operator::StartsWith, "/tmp", "/etc/tmp", Match::No},
            {Operator::EndsWith, ".com", "a.com", Match::Yes},
            {Operator::EndsWith, ".com", "a.com.au", Match::No},
            {Operator::Regex, "^[a-z]+@corp\\.io$", "bob@corp.io", Match::Yes},
            {Operator::Regex, "^[a-z]+@corp\\.io$", "bob@corp.io.evil", Match::No},
            {Operator::Invalid, "x", "x", Match::Unknown},
        };
        for (const auto& c : cases) {
            auto out = evaluateCondition(c.op, c.policyValue, json(c.subject));
            CPPUNIT_ASSERT_MESSAGE(
                std::string(toString(c.op)) + " '" + c.policyValue + "' on '" + c.subject + "'",
                out.match == c.expected);
        }
    }

    void nonStringValuesCompareAsJsonText() {
        CPPUNIT_ASSERT(evaluateCondition(Operator::Equal, "1000", json(1000)).match == Match::Yes);
        CPPUNIT_ASSERT(evaluateCondition(Operator::Equal, "true", json(true)).match == Match::Yes);
        CPPUNIT_ASSERT(evaluateCondition(Operator::Contains, "evil.com", json::array({"a@evil.com"})).match ==
                       Match::Yes);
        CPPUNIT_ASSERT(evaluateCondition(Operator::Equal, "null", json(nullptr)).match == Match::Yes);
        CPPUNIT_ASSERT(evaluateCondition(Operator::NotEqual, "5", json(5)).match == Match::No);
    }

    void invalidRegexNeverMatchesAndSaysWhy() {
        auto out = evaluateCondition(Operator::Regex, "(unclosed", json("(unclosed"));
        CPPUNIT_ASSERT(out.match == Match::No);
        CPPUNIT_ASSERT(out.note.find("invalid regex") != std::string::npos);
        CPPUNIT_ASSERT(regexError("(unclosed").has_value());
        CPPUNIT_ASSERT(!regexError("^ok$").has_value());
    }

    void oversizedRegexSubjectIsUnknown() {
        auto out =
            evaluateCondition(Operator::Regex, "x", json(std::string(SafeRegex::kMaxSubjectBytes + 10, 'a')));
        CPPUNIT_ASSERT(out.match == Match::Unknown);
        CPPUNIT_ASSERT(!out.note.empty());
    }

    void pathsWithWildcards() {
        json doc = json::parse(R"({"emails":[{"from":"a@x","to":[{"addr":"1"},{"addr":"2"}]},
                                            {"from":"b@y","to":[{"addr":"3"}]}],
                                  "a":{"b":[{"c":7}]}, "m":{"k1":{"v":1},"k2":{"v":2}}, "dot.key":1})");
        auto texts = [&](std::string_view path) {
            std::string out;
            for (const auto* v : extractValues(doc, path)) out += v->dump() + ";";
            return out;
        };
        CPPUNIT_ASSERT_EQUAL(std::string("\"a@x\";\"b@y\";"), texts("emails[*].from"));
        CPPUNIT_ASSERT_EQUAL(std::string("\"1\";\"2\";\"3\";"), texts("emails[*].to[*].addr"));
        CPPUNIT_ASSERT_EQUAL(std::string("7;"), texts("a.b[0].c"));
        CPPUNIT_ASSERT_EQUAL(std::string("7;"), texts("a.b.0.c"));
        CPPUNIT_ASSERT_EQUAL(std::string("1;2;"), texts("m[*].v"));
        CPPUNIT_ASSERT_EQUAL(std::string("1;"), texts("[\"dot.key\"]"));
        CPPUNIT_ASSERT_EQUAL(std::string(""), texts("a.b[5].c"));
        CPPUNIT_ASSERT_EQUAL(std::string(""), texts("nope.deeper"));
        CPPUNIT_ASSERT_EQUAL(doc.dump() + ";", texts(""));
    }

    void malformedPaths() {
        for (const char* bad : {"a[", "a..b", ".a", "a.", "a[x]", "a[0]b"})
            CPPUNIT_ASSERT_MESSAGE(bad, !parsePath(bad).has_value());
    }

    void enumWireStrings() {
        CPPUNIT_ASSERT(parseOperator("startsWith") == Operator::StartsWith);
        CPPUNIT_ASSERT(parseInvocationAction("require_approval") == InvocationAction::RequireApproval);
        CPPUNIT_ASSERT(parseTrustedDataAction("sanitize_with_dual_llm") ==
                       TrustedDataAction::SanitizeWithDualLlm);
        CPPUNIT_ASSERT(parseTreatment("trusted") == Treatment::Trusted);
        try {
            parseOperator("like", "operator");
            CPPUNIT_FAIL("expected PolicyError");
        } catch (const PolicyError& e) {
            std::string msg = e.what();
            CPPUNIT_ASSERT(msg.find("operator") != std::string::npos &&
                           msg.find("'like'") != std::string::npos &&
                           msg.find("notContains") != std::string::npos);
        }
        json ops = operatorsJson();
        CPPUNIT_ASSERT_EQUAL(std::size_t(7), ops.size());
        CPPUNIT_ASSERT_EQUAL(std::string("equal"), ops[0]["value"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("Equal"), ops[0]["label"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("regex"), ops[6]["value"].get<std::string>());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ConditionTest);
