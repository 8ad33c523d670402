// /api/statistics/* through real HTTP and PostgreSQL: the aggregates per team, profile and model, overview
// and cost savings over interactions placed in time, the timeframes (relative, all, custom) and a bad
// timeframe.
#include "GuardrailApiFixture.h"
#include "core/api/StatisticsApi.h"

using namespace archestra;
using archestra::test::GuardrailApiFixture;
using nlohmann::json;

class StatisticsApiTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(StatisticsApiTest);
    CPPUNIT_TEST(testAggregates);
    CPPUNIT_TEST(testTimeframes);
    CPPUNIT_TEST_SUITE_END();

    struct Fixture : GuardrailApiFixture {
        explicit Fixture(const std::string& database) : GuardrailApiFixture(database) {
            api::registerStatisticsRoutes(server.router(),
                                          std::shared_ptr<auth::AuthService>(&server.auth(), [](auto*) {}));
            start();
            profile = server.seeded().defaultProfileId;
            other = server.db()
                        .query("INSERT INTO agents (name) VALUES ('No team') RETURNING id::text")
                        .at(0)
                        .str(0);
            // profile (in Default Team): two gpt-4o calls now, one optimized from gpt-4o to gpt-4o-mini 2
            // days ago.
            insert(profile, "gpt-4o", 100, 50, "0.5", "0.5", "now()");
            insert(profile, "gpt-4o", 200, 100, "1.5", "1.5", "now() - interval '10 minutes'");
            insert(profile, "gpt-4o-mini", 1000, 0, "3", "1", "now() - interval '2 days'");
            insert(other, "claude-x", 10, 10, "0.25", "0.25", "now() - interval '3 minutes'");
        }
        void insert(const std::string& agent, const std::string& model, int in, int out,
                    const std::string& baseline, const std::string& cost, const std::string& at) {
            server.db().execute(
                "INSERT INTO interactions (profile_id, request, type, model, input_tokens, "
                "output_tokens, baseline_cost, cost, created_at) VALUES ($1::uuid, '{}', "
                "'openai:chatCompletions', $2, $3::integer, $4::integer, $5::numeric, $6::numeric, " +
                    at + ")",
                {agent, model, std::to_string(in), std::to_string(out), baseline, cost});
        }
        std::string profile, other;
    };

  public:
    void testAggregates() {
        Fixture f("statistics_aggregates");
        json overview = f.ok("GET", "/api/statistics/overview");  // 24h by default
        CPPUNIT_ASSERT_EQUAL(3, overview["totalRequests"].get<int>());
        CPPUNIT_ASSERT_EQUAL(470, overview["totalTokens"].get<int>());
        CPPUNIT_ASSERT_DOUBLES_EQUAL(2.25, overview["totalCost"].get<double>(), 1e-9);
        CPPUNIT_ASSERT_EQUAL(std::string("Default Team"), overview["topTeam"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("gpt-4o"), overview["topModel"].get<std::string>());

        json models = f.ok("GET", "/api/statistics/models?timeframe=7d");
        CPPUNIT_ASSERT_EQUAL(size_t(3), models.size());
        CPPUNIT_ASSERT_EQUAL(std::string("gpt-4o"),
                             models[0]["model"].get<std::string>());  // costliest first
        CPPUNIT_ASSERT_EQUAL(2, models[0]["requests"].get<int>());
        CPPUNIT_ASSERT_EQUAL(300, models[0]["inputTokens"].get<int>());
        CPPUNIT_ASSERT_DOUBLES_EQUAL(2.0, models[0]["cost"].get<double>(), 1e-9);
        CPPUNIT_ASSERT_DOUBLES_EQUAL(61.54, models[0]["percentage"].get<double>(), 1e-9);  // 2 / 3.25
        CPPUNIT_ASSERT(!models[0]["timeSeries"].empty());
        CPPUNIT_ASSERT_EQUAL(size_t(24), models[0]["timeSeries"][0]["timestamp"].get<std::string>().size());

        json agents = f.ok("GET", "/api/statistics/agents?timeframe=7d");
        CPPUNIT_ASSERT_EQUAL(size_t(2), agents.size());
        CPPUNIT_ASSERT_EQUAL(f.profile, agents[0]["agentId"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(3, agents[0]["requests"].get<int>());
        CPPUNIT_ASSERT_DOUBLES_EQUAL(3.0, agents[0]["cost"].get<double>(), 1e-9);
        CPPUNIT_ASSERT_EQUAL(std::string("Default Team"), agents[0]["teamName"].get<std::string>());
        CPPUNIT_ASSERT(agents[1]["teamName"].is_null());

        json teams = f.ok("GET", "/api/statistics/teams?timeframe=7d");
        CPPUNIT_ASSERT(!teams.empty());
        CPPUNIT_ASSERT_EQUAL(std::string("Default Team"), teams[0]["teamName"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(3, teams[0]["requests"].get<int>());
        CPPUNIT_ASSERT_EQUAL(1300, teams[0]["inputTokens"].get<int>());
        CPPUNIT_ASSERT(teams[0]["members"].get<int>() >= 1);
        CPPUNIT_ASSERT(teams[0]["agents"].get<int>() >= 1);

        json savings = f.ok("GET", "/api/statistics/cost-savings?timeframe=7d");
        CPPUNIT_ASSERT_DOUBLES_EQUAL(5.25, savings["totalBaselineCost"].get<double>(), 1e-9);
        CPPUNIT_ASSERT_DOUBLES_EQUAL(3.25, savings["totalActualCost"].get<double>(), 1e-9);
        CPPUNIT_ASSERT_DOUBLES_EQUAL(2.0, savings["totalOptimizationSavings"].get<double>(), 1e-9);
        CPPUNIT_ASSERT_DOUBLES_EQUAL(0.0, savings["totalToonSavings"].get<double>(), 1e-9);
        CPPUNIT_ASSERT_DOUBLES_EQUAL(2.0, savings["totalSavings"].get<double>(), 1e-9);
        CPPUNIT_ASSERT_EQUAL(size_t(2), savings["timeSeries"].size());  // two days with traffic
    }

    void testTimeframes() {
        Fixture f("statistics_timeframes");
        CPPUNIT_ASSERT_EQUAL(
            2, f.ok("GET", "/api/statistics/overview?timeframe=5m")["totalRequests"].get<int>());
        CPPUNIT_ASSERT_EQUAL(
            3, f.ok("GET", "/api/statistics/overview?timeframe=15m")["totalRequests"].get<int>());
        CPPUNIT_ASSERT_EQUAL(
            4, f.ok("GET", "/api/statistics/overview?timeframe=all")["totalRequests"].get<int>());
        json empty = f.ok("GET", "/api/statistics/overview?timeframe=custom:2001-01-01_2001-02-01");
        CPPUNIT_ASSERT_EQUAL(0, empty["totalRequests"].get<int>());
        CPPUNIT_ASSERT(empty["topTeam"].is_null() && empty["topAgent"].is_null() &&
                       empty["topModel"].is_null());
        json custom = f.ok(
            "GET", "/api/statistics/models?timeframe=custom:2001-01-01T00:00:00Z_2999-01-01T00:00:00.000Z");
        CPPUNIT_ASSERT_EQUAL(size_t(3), custom.size());
        f.fails(400, "GET", "/api/statistics/overview?timeframe=2w", nullptr, "'timeframe'");
        f.fails(400, "GET", "/api/statistics/teams?timeframe=custom:yesterday_today", nullptr, "'timeframe'");
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(StatisticsApiTest);
