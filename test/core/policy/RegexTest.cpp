// Tests of the linear-time regex engine: JavaScript `test` semantics on a table of patterns, rejected syntax,
// and bounded time on patterns that make backtracking engines explode.
#include <chrono>
#include <string>
#include <variant>

#include <cppunit/extensions/HelperMacros.h>

#include "core/policy/Regex.h"

using archestra::policy::SafeRegex;

namespace {

SafeRegex::Outcome run(const std::string& pattern, const std::string& subject) {
    auto compiled = SafeRegex::compile(pattern);
    if (auto* error = std::get_if<std::string>(&compiled))
        CPPUNIT_FAIL("pattern '" + pattern + "' did not compile: " + *error);
    return std::get<SafeRegex>(compiled).search(subject);
}

}  // namespace

class RegexTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(RegexTest);
    CPPUNIT_TEST(matchesLikeJavaScriptTest);
    CPPUNIT_TEST(rejectsUnsupportedSyntax);
    CPPUNIT_TEST(catastrophicPatternsStayLinear);
    CPPUNIT_TEST(oversizedSubjectIsReported);
    CPPUNIT_TEST_SUITE_END();

  public:
    void matchesLikeJavaScriptTest() {
        struct Case {
            const char* pattern;
            const char* subject;
            bool match;
        };
        const Case cases[] = {
            {"abc", "xxabcxx", true},
            {"abc", "ab", false},
            {"^abc", "abcd", true},
            {"^abc", "xabc", false},
            {"abc$", "xabc", true},
            {"abc$", "abcx", false},
            {"^$", "", true},
            {"a.c", "abc", true},
            {"a.c", "a\nc", false},
            {"colou?r", "color", true},
            {"colou?r", "colour", true},
            {"ab*c", "ac", true},
            {"ab+c", "ac", false},
            {"a{2,3}", "baab", true},
            {"^a{2,3}$", "aaaa", false},
            {"^a{2,}$", "aaaaa", true},
            {"^a{2}$", "aa", true},
            {"x{", "x{", true},  // a brace that is no quantifier is literal
            {"[a-c]+@evil\\.com", "bob@evil.com", true},
            {"[a-c]+@evil\\.com", "bob@evilxcom", false},
            {"[^0-9]", "123", false},
            {"[^0-9]", "12a", true},
            {"\\d{3}-\\d{4}", "call 555-1234", true},
            {"\\bcat\\b", "a cat here", true},
            {"\\bcat\\b", "concatenate", false},
            {"\\Bcat", "concatenate", true},
            {"\\s", "a b", true},
            {"^\\S+$", "a b", false},
            {"^\\w+$", "snake_case9", true},
            {"(foo|bar)baz", "xbarbaz", true},
            {"(?:foo|bar)baz", "foobaz", true},
            {"(foo|bar)baz", "bazfoo", false},
            {"\\x41\\u0042", "AB", true},
            {"[\\d-]+$", "12-34", true},
            {"^.$", "\xc3\xa9", true},  // one code point, two bytes
            {"(a*)*b", "aaab", true},
            {"rm -rf /", "sudo rm -rf / now", true},
        };
        for (const auto& c : cases) {
            auto outcome = run(c.pattern, c.subject);
            CPPUNIT_ASSERT_MESSAGE(
                std::string("/") + c.pattern + "/.test('" + c.subject + "')",
                outcome == (c.match ? SafeRegex::Outcome::Match : SafeRegex::Outcome::NoMatch));
        }
    }

    void rejectsUnsupportedSyntax() {
        for (const char* bad : {"(a)\\1", "(?=a)", "(?<n>a)", "(", "a)", "[a", "*a", "a**", "[z-a]", "a{3,1}",
                                "\\", "a{100000}"}) {
            auto compiled = SafeRegex::compile(bad);
            CPPUNIT_ASSERT_MESSAGE(std::string("should reject ") + bad,
                                   std::holds_alternative<std::string>(compiled));
        }
        CPPUNIT_ASSERT(std::holds_alternative<std::string>(SafeRegex::compile(std::string(2000, 'a'))));
    }

    void catastrophicPatternsStayLinear() {
        std::string subject(100000, 'a');
        subject.push_back('!');
        auto start = std::chrono::steady_clock::now();
        for (const char* p : {"(a+)+$", "^(a|aa)*c$", "^(\\w+\\s?)*$", ".*x", "([a-z0-9._%+-]+)@evil\\.com"})
            CPPUNIT_ASSERT(run(p, subject) == SafeRegex::Outcome::NoMatch);
        auto ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
        // A backtracking engine needs minutes to years here; linear scanning takes well under a few seconds
        // even on a loaded debug build.
        CPPUNIT_ASSERT_MESSAGE("took " + std::to_string(ms.count()) + " ms", ms.count() < 10000);
    }

    void oversizedSubjectIsReported() {
        CPPUNIT_ASSERT(run("a", std::string(SafeRegex::kMaxSubjectBytes + 1, 'b')) ==
                       SafeRegex::Outcome::TooLarge);
        CPPUNIT_ASSERT(run("a", std::string(SafeRegex::kMaxSubjectBytes, 'b')) ==
                       SafeRegex::Outcome::NoMatch);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(RegexTest);
