// Tests of money arithmetic, token costs, default prices, limit evaluation and optimization rules.
#include <cppunit/extensions/HelperMacros.h>

#include "core/policy/Cost.h"
#include "core/policy/Limits.h"
#include "core/policy/Optimization.h"
#include "core/policy/Types.h"

using namespace archestra::policy;
using nlohmann::json;

namespace {

Money dollars(const char* text) {
    auto m = Money::parse(text);
    CPPUNIT_ASSERT_MESSAGE(text, m.has_value());
    return *m;
}

}  // namespace

class CostLimitsTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(CostLimitsTest);
    CPPUNIT_TEST(moneyParseAndFormat);
    CPPUNIT_TEST(tokenCosts);
    CPPUNIT_TEST(defaultPrices);
    CPPUNIT_TEST(limitMessageFormatting);
    CPPUNIT_TEST(limitEvaluationOrderAndThreshold);
    CPPUNIT_TEST(optimizationMatching);
    CPPUNIT_TEST(optimizationConditionParsing);
    CPPUNIT_TEST(tokenEstimate);
    CPPUNIT_TEST_SUITE_END();

  public:
    void moneyParseAndFormat() {
        CPPUNIT_ASSERT_EQUAL(std::string("0.1500000000"), dollars("0.15").toFixed(10));
        CPPUNIT_ASSERT_EQUAL(std::string("50.00"), dollars("50").toFixed(2));
        CPPUNIT_ASSERT_EQUAL(std::string("0.01"), dollars("0.005").toFixed(2));  // half away from zero
        CPPUNIT_ASSERT_EQUAL(std::string("0.00"), dollars("0.0049999999").toFixed(2));
        CPPUNIT_ASSERT_EQUAL(std::string("-1.50"), dollars("-1.5").toFixed(2));
        CPPUNIT_ASSERT_EQUAL(std::string("3"), dollars("2.5").toFixed(0));
        // 0.1 + 0.2 is exactly 0.3 here (binary floating point gives 0.30000000000000004).
        CPPUNIT_ASSERT(dollars("0.1") + dollars("0.2") == dollars("0.3"));
        for (const char* bad : {"", "-", ".", "1.2.3", "abc", "1e5", "0.00000000001", "99999999999999999999"})
            CPPUNIT_ASSERT_MESSAGE(bad, !Money::parse(bad).has_value());
    }

    void tokenCosts() {
        // The benchmark interaction: (82 + 17) tokens at $50/M = $0.00495.
        ModelPrice p{dollars("50"), dollars("50")};
        CPPUNIT_ASSERT_EQUAL(std::string("0.0049500000"), tokenCost(p, 82, 17).toFixed(10));
        ModelPrice gpt{dollars("2.50"), dollars("10.00")};
        CPPUNIT_ASSERT_EQUAL(std::string("0.0000025000"), tokenCost(gpt, 1, 0).toFixed(10));
        CPPUNIT_ASSERT_EQUAL(std::string("12.5000000000"), tokenCost(gpt, 1'000'000, 1'000'000).toFixed(10));
        // Sub-unit amounts round half up: 1 token at $0.01/M = 1e-8 USD exactly; 1 token at $0.00000001/M
        // rounds to 0.
        CPPUNIT_ASSERT_EQUAL(std::string("0.0000000100"), tokenCost({dollars("0.01"), {}}, 1, 0).toFixed(10));
        CPPUNIT_ASSERT_EQUAL(std::string("0.0000000000"),
                             tokenCost({dollars("0.00000001"), {}}, 1, 0).toFixed(10));

        PriceTable prices;
        prices.set("gpt-4o", gpt);
        CPPUNIT_ASSERT(!interactionCost(prices, "unknown", 10, 10).has_value());
        CPPUNIT_ASSERT_EQUAL(std::string("0.0000250000"),
                             interactionCost(prices, "gpt-4o", 10, 0)->toFixed(10));
    }

    void defaultPrices() {
        struct Case {
            const char* model;
            const char* price;
        };
        for (auto c :
             {Case{"gpt-4o", "50.00"}, Case{"gpt-4o-mini", "30.00"}, Case{"claude-3-5-haiku-latest", "30.00"},
              Case{"gpt-5-nano", "30.00"}, Case{"minimal", "50.00"}}) {
            CPPUNIT_ASSERT_EQUAL_MESSAGE(c.model, std::string(c.price),
                                         defaultModelPrice(c.model).perMillionInput.toFixed(2));
            CPPUNIT_ASSERT_EQUAL_MESSAGE(c.model, std::string(c.price),
                                         defaultModelPrice(c.model).perMillionOutput.toFixed(2));
        }
        PriceTable prices;
        prices.set("gpt-4o-mini", {dollars("0.15"), dollars("0.60")});
        CPPUNIT_ASSERT_EQUAL(std::string("0.15"),
                             prices.priceOrDefault("gpt-4o-mini").perMillionInput.toFixed(2));
        CPPUNIT_ASSERT_EQUAL(std::string("30.00"),
                             prices.priceOrDefault("o4-mini").perMillionInput.toFixed(2));
    }

    void limitMessageFormatting() {
        CPPUNIT_ASSERT_EQUAL(
            std::string("\nI cannot process this request because the team-level token cost limit has "
                        "been exceeded.\n\nCurrent usage: $12.35\nLimit: $10.00\nRemaining: $0.00\n\n"
                        "Please contact your administrator to increase the limit or wait for the usage "
                        "to reset."),
            limitExceededMessage(LimitEntityType::Team, dollars("12.345"), dollars("10")));
        auto msg = limitExceededMessage(LimitEntityType::Agent, dollars("4"), dollars("10"));
        CPPUNIT_ASSERT(msg.find("the agent-level token cost limit") != std::string::npos);
        CPPUNIT_ASSERT(msg.find("Remaining: $6.00\n") != std::string::npos);
    }

    void limitEvaluationOrderAndThreshold() {
        PriceTable prices;
        prices.set("gpt-4o", {dollars("2.50"), dollars("10.00")});
        // Agent usage $2.50 + $10.00 = $12.50 against $20: fine. Team exactly at its $5 limit: blocked (>=).
        TokenCostLimit org{"l-org", LimitEntityType::Organization, "o", 1, {{"gpt-4o", 1'000'000, 0}}};
        TokenCostLimit team{
            "l-team", LimitEntityType::Team, "t", 5, {{"unknown-model", 100'000, 0}}};  // $50/M default
        TokenCostLimit agent{"l-agent", LimitEntityType::Agent, "a", 20, {{"gpt-4o", 1'000'000, 1'000'000}}};
        CPPUNIT_ASSERT_EQUAL(std::string("12.50"), usageCost(agent, prices).toFixed(2));

        auto d = evaluateTokenCostLimits({org, team, agent}, prices);
        CPPUNIT_ASSERT(d.blocked);
        CPPUNIT_ASSERT_EQUAL(std::string("l-team"),
                             d.limitId);  // team checked before org whatever the input order
        CPPUNIT_ASSERT_EQUAL(std::string("5.00"), d.currentUsage.toFixed(2));
        CPPUNIT_ASSERT(d.message.find("team-level") != std::string::npos);
        json body = limitExceededBody(d);
        CPPUNIT_ASSERT_EQUAL(std::string("rate_limit_exceeded"), body["error"]["type"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("token_cost_limit_exceeded"),
                             body["error"]["code"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(d.message, body["error"]["message"].get<std::string>());

        team.limitValueUsd = 6;
        d = evaluateTokenCostLimits({org, team, agent}, prices);
        CPPUNIT_ASSERT_EQUAL(std::string("l-org"), d.limitId);
        org.limitValueUsd = 3;
        CPPUNIT_ASSERT(!evaluateTokenCostLimits({org, team, agent}, prices).blocked);
        agent.limitValueUsd = 12;
        CPPUNIT_ASSERT_EQUAL(std::string("l-agent"),
                             evaluateTokenCostLimits({org, team, agent}, prices).limitId);
        CPPUNIT_ASSERT(!evaluateTokenCostLimits({}, prices).blocked);
    }

    void optimizationMatching() {
        std::vector<OptimizationRule> rules = {
            {"r3", "openai", "gpt-4o-mini", true, "2025-01-03T00:00:00.000Z", {{500, std::nullopt}}},
            {"r1", "openai", "gpt-4.1-nano", false, "2025-01-01T00:00:00.000Z", {}},  // disabled
            {"r2",
             "openai",
             "gpt-4o-mini-x",
             true,
             "2025-01-02T00:00:00.000Z",
             {{1000, std::nullopt}, {std::nullopt, false}}},
            {"r4", "anthropic", "claude-haiku", true, "2025-01-01T00:00:00.000Z", {{std::nullopt, true}}},
        };
        auto pick = [&](std::string provider, std::uint64_t tokens, bool tools) {
            const auto* r = selectOptimizationRule(rules, {std::move(provider), tokens, tools});
            return r ? r->id : std::string("none");
        };
        CPPUNIT_ASSERT_EQUAL(std::string("r2"), pick("openai", 400, false));  // oldest enabled match
        CPPUNIT_ASSERT_EQUAL(std::string("r3"), pick("openai", 400, true));   // r2 needs no tools
        CPPUNIT_ASSERT_EQUAL(std::string("r3"), pick("openai", 500, true));   // maxLength is inclusive
        CPPUNIT_ASSERT_EQUAL(std::string("none"), pick("openai", 501, true));
        CPPUNIT_ASSERT_EQUAL(std::string("r2"), pick("openai", 1000, false));
        CPPUNIT_ASSERT_EQUAL(std::string("r4"), pick("anthropic", 1'000'000, true));
        CPPUNIT_ASSERT_EQUAL(std::string("none"), pick("anthropic", 10, false));
        CPPUNIT_ASSERT_EQUAL(std::string("none"), pick("gemini", 1, false));
    }

    void optimizationConditionParsing() {
        auto cs = parseOptimizationConditions(json::parse(R"([{"maxLength":500},{"hasTools":true}])"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), cs.size());
        CPPUNIT_ASSERT_EQUAL(std::uint64_t(500), *cs[0].maxLengthTokens);
        CPPUNIT_ASSERT(*cs[1].hasTools);
        for (const char* bad :
             {R"({})", R"([1])", R"([{}])", R"([{"maxLength":-1}])", R"([{"hasTools":"yes"}])"}) {
            try {
                parseOptimizationConditions(json::parse(bad));
                CPPUNIT_FAIL(std::string("accepted ") + bad);
            } catch (const PolicyError&) {
            }
        }
    }

    void tokenEstimate() {
        CPPUNIT_ASSERT_EQUAL(std::uint64_t(0), estimateTokens(""));
        CPPUNIT_ASSERT_EQUAL(std::uint64_t(1), estimateTokens("abc"));
        CPPUNIT_ASSERT_EQUAL(std::uint64_t(1), estimateTokens("abcd"));
        CPPUNIT_ASSERT_EQUAL(std::uint64_t(2), estimateTokens("abcde"));
        CPPUNIT_ASSERT_EQUAL(std::uint64_t(250), estimateTokens(std::string(1000, 'x')));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(CostLimitsTest);
