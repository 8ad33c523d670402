// /api/limits through real HTTP and PostgreSQL (CRUD, per-type rules, usage with its cost, 400s naming the
// field with nothing written), and the LimitEnforcer the proxy and the MCP gateway use: reset at the end of
// the organisation's period, and call-count limits checked and counted.
#include "GuardrailApiFixture.h"
#include "core/api/LimitsApi.h"
#include "core/proxy/LimitEnforcer.h"
#include "core/proxy/ProfileCache.h"

using namespace archestra;
using archestra::test::GuardrailApiFixture;
using nlohmann::json;

class LimitsApiTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(LimitsApiTest);
    CPPUNIT_TEST(testCrudAndUsage);
    CPPUNIT_TEST(testValidation);
    CPPUNIT_TEST(testResetAtEndOfPeriod);
    CPPUNIT_TEST(testCallLimits);
    CPPUNIT_TEST_SUITE_END();

    struct Fixture : GuardrailApiFixture {
        explicit Fixture(const std::string& database)
            : GuardrailApiFixture(database),
              cache(server.db(), server.db().connectionString()),
              enforcer(server.db(), cache) {
            api::registerLimitRoutes(
                server.router(), std::shared_ptr<auth::AuthService>(&server.auth(), [](auto*) {}),
                {.onChange = counter(), .beforeRead = [this] { enforcer.cleanupDue(); }});
            start();
            cache.reload();
        }
        json tokenLimit(const std::string& entityType, const std::string& entityId, int value) {
            return ok("POST", "/api/limits",
                      {{"entityType", entityType},
                       {"entityId", entityId},
                       {"limitType", "token_cost"},
                       {"limitValue", value},
                       {"model", {"gpt-4o"}}});
        }
        proxy::ProfileCache cache;
        proxy::LimitEnforcer enforcer;
    };

  public:
    void testCrudAndUsage() {
        Fixture f("limits_crud");
        const std::string org = f.server.seeded().organizationId;
        json created = f.tokenLimit("organization", org, 10);
        CPPUNIT_ASSERT_EQUAL(1, f.changes.load());
        CPPUNIT_ASSERT(http::isUuidV4(created["id"].get<std::string>()));
        CPPUNIT_ASSERT_EQUAL(json({"gpt-4o"}), created["model"]);
        CPPUNIT_ASSERT(created["mcpServerName"].is_null() && created["toolName"].is_null());
        CPPUNIT_ASSERT(created["lastCleanup"].is_string());
        CPPUNIT_ASSERT_EQUAL(json::array(), created["modelUsage"]);
        const std::string id = created["id"].get<std::string>();
        const std::string path = "/api/limits/" + id;

        // Usage as the interaction log records it; cost priced like the proxy (default $50/M for gpt-4o).
        f.server.db().execute(
            "INSERT INTO limit_model_usage (limit_id, model, current_usage_tokens_in, "
            "current_usage_tokens_out) VALUES ($1::uuid, 'gpt-4o', 100000, 20000)",
            {id});
        json read = f.ok("GET", path);
        CPPUNIT_ASSERT_EQUAL(size_t(1), read["modelUsage"].size());
        CPPUNIT_ASSERT_EQUAL(100000, read["modelUsage"][0]["tokensIn"].get<int>());
        CPPUNIT_ASSERT_DOUBLES_EQUAL(6.0, read["modelUsage"][0]["cost"].get<double>(), 1e-9);

        json updated = f.ok("PATCH", path, {{"limitValue", 20}});
        CPPUNIT_ASSERT_EQUAL(20, updated["limitValue"].get<int>());
        CPPUNIT_ASSERT_EQUAL(size_t(1), updated["modelUsage"].size());  // usage kept
        CPPUNIT_ASSERT_EQUAL(json({"gpt-4o"}), updated["model"]);

        json serverLimit = f.ok("POST", "/api/limits",
                                {{"entityType", "agent"},
                                 {"entityId", f.server.seeded().defaultProfileId},
                                 {"limitType", "tool_calls"},
                                 {"limitValue", 3},
                                 {"mcpServerName", "github"},
                                 {"toolName", "create_issue"},
                                 {"model", nullptr}});
        CPPUNIT_ASSERT(serverLimit["model"].is_null());
        CPPUNIT_ASSERT_EQUAL(size_t(2), f.ok("GET", "/api/limits").size());
        CPPUNIT_ASSERT_EQUAL(size_t(1), f.ok("GET", "/api/limits?limitType=tool_calls").size());
        CPPUNIT_ASSERT_EQUAL(size_t(1),
                             f.ok("GET", "/api/limits?entityType=organization&entityId=" + org).size());
        CPPUNIT_ASSERT_EQUAL(size_t(0), f.ok("GET", "/api/limits?entityType=team").size());
        f.fails(400, "GET", "/api/limits?limitType=tokens", nullptr, "'limitType'");

        CPPUNIT_ASSERT_EQUAL(json({{"success", true}}), f.ok("DELETE", path));
        CPPUNIT_ASSERT_EQUAL(0LL, f.count("SELECT count(*) FROM limit_model_usage"));
        f.fails(404, "GET", path, nullptr, "Limit not found");
        f.fails(404, "PATCH", path, {{"limitValue", 1}}, "Limit not found");
        f.fails(404, "DELETE", path, nullptr, "Limit not found");
    }

    void testValidation() {
        Fixture f("limits_validation");
        const std::string org = f.server.seeded().organizationId;
        json good = {{"entityType", "organization"},
                     {"entityId", org},
                     {"limitType", "token_cost"},
                     {"limitValue", 5},
                     {"model", {"gpt-4o"}}};
        auto with = [&](const std::string& field, json value) {
            json body = good;
            body[field] = std::move(value);
            return body;
        };
        auto without = [&](const std::string& field) {
            json body = good;
            body.erase(field);
            return body;
        };
        f.fails(400, "POST", "/api/limits", with("entityType", "user"), "Field 'entityType'");
        f.fails(400, "POST", "/api/limits", without("entityId"), "Field 'entityId'");
        f.fails(400, "POST", "/api/limits", with("entityId", "no-such-org"), "Field 'entityId'");
        f.fails(400, "POST", "/api/limits", with("entityType", "agent"), "Field 'entityId'");
        f.fails(400, "POST", "/api/limits", with("limitType", "requests"), "Field 'limitType'");
        f.fails(400, "POST", "/api/limits", with("limitValue", "5"), "Field 'limitValue'");
        f.fails(400, "POST", "/api/limits", with("limitValue", -1), "Field 'limitValue'");
        f.fails(400, "POST", "/api/limits", with("limitValue", 1.5), "Field 'limitValue'");
        f.fails(400, "POST", "/api/limits", without("limitValue"), "Field 'limitValue'");
        f.fails(400, "POST", "/api/limits", without("model"), "Field 'model'");
        f.fails(400, "POST", "/api/limits", with("model", json::array()), "Field 'model'");
        f.fails(400, "POST", "/api/limits", with("model", {"gpt-4o", 3}), "Field 'model[1]'");
        f.fails(400, "POST", "/api/limits", with("mcpServerName", "github"), "Field 'mcpServerName'");
        json calls = with("limitType", "mcp_server_calls");
        calls.erase("model");
        f.fails(400, "POST", "/api/limits", calls, "Field 'mcpServerName'");
        calls["mcpServerName"] = "github";
        calls["toolName"] = "x";
        f.fails(400, "POST", "/api/limits", calls, "Field 'toolName'");
        calls["limitType"] = "tool_calls";
        calls.erase("toolName");
        f.fails(400, "POST", "/api/limits", calls, "Field 'toolName'");
        CPPUNIT_ASSERT_EQUAL(0LL, f.count("SELECT count(*) FROM limits"));
        CPPUNIT_ASSERT_EQUAL(0, f.changes.load());

        json created = f.ok("POST", "/api/limits", good);
        f.fails(400, "PATCH", "/api/limits/" + created["id"].get<std::string>(),
                {{"limitType", "tool_calls"}}, "Field 'mcpServerName'");
        CPPUNIT_ASSERT_EQUAL(std::string("token_cost"), f.scalar("SELECT limit_type FROM limits"));
    }

    void testResetAtEndOfPeriod() {
        Fixture f("limits_reset");
        const std::string org = f.server.seeded().organizationId;
        json limit = f.tokenLimit("organization", org, 1);
        const std::string id = limit["id"].get<std::string>();
        f.server.db().execute(
            "INSERT INTO limit_model_usage (limit_id, model, current_usage_tokens_in, "
            "current_usage_tokens_out) VALUES ($1::uuid, 'gpt-4o', 100000, 0)",
            {id});
        // Within the period (default 1h): nothing is reset.
        CPPUNIT_ASSERT_EQUAL(0LL, f.enforcer.cleanupDue());
        CPPUNIT_ASSERT_EQUAL(1LL, f.count("SELECT count(*) FROM limit_model_usage"));
        // The period is over: usage cleared, last_cleanup moved to now, seen by the list too.
        f.server.db().execute(
            "UPDATE limits SET last_cleanup = now() - interval '61 minutes', current_usage_calls = 4");
        json listed = f.ok("GET", "/api/limits");
        CPPUNIT_ASSERT_EQUAL(json::array(), listed[0]["modelUsage"]);
        CPPUNIT_ASSERT_EQUAL(0, listed[0]["currentUsageCalls"].get<int>());
        CPPUNIT_ASSERT_EQUAL(
            1LL, f.count("SELECT count(*) FROM limits WHERE last_cleanup > now() - interval '1 minute'"));
        // A longer organisation interval keeps the usage; no interval (null) never resets.
        f.server.db().execute("UPDATE organization SET limit_cleanup_interval = '24h'");
        f.server.db().execute(
            "UPDATE limits SET last_cleanup = now() - interval '23 hours', current_usage_calls = 4");
        CPPUNIT_ASSERT_EQUAL(0LL, f.enforcer.cleanupDue());
        f.server.db().execute("UPDATE limits SET last_cleanup = now() - interval '25 hours'");
        CPPUNIT_ASSERT_EQUAL(1LL, f.enforcer.cleanupDue());
        f.server.db().execute("UPDATE organization SET limit_cleanup_interval = NULL");
        f.server.db().execute(
            "UPDATE limits SET last_cleanup = now() - interval '400 days', current_usage_calls = 4");
        CPPUNIT_ASSERT_EQUAL(0LL, f.enforcer.cleanupDue());
        CPPUNIT_ASSERT_EQUAL(4LL, f.count("SELECT current_usage_calls FROM limits"));
    }

    void testCallLimits() {
        Fixture f("limits_calls");
        const std::string profile = f.server.seeded().defaultProfileId;
        const std::string team = f.server.seeded().defaultTeamId;
        f.ok("POST", "/api/limits",
             {{"entityType", "agent"},
              {"entityId", profile},
              {"limitType", "tool_calls"},
              {"limitValue", 2},
              {"mcpServerName", "github"},
              {"toolName", "create_issue"}});
        f.ok("POST", "/api/limits",
             {{"entityType", "team"},
              {"entityId", team},
              {"limitType", "mcp_server_calls"},
              {"limitValue", 3},
              {"mcpServerName", "github"}});
        f.cache.reload();
        bool inTeam = f.count("SELECT count(*) FROM agent_team WHERE agent_id = $1::uuid AND team_id = $2",
                              {profile, team}) == 1;
        CPPUNIT_ASSERT_MESSAGE("the seeded profile belongs to the default team", inTeam);

        CPPUNIT_ASSERT(!f.enforcer.checkCall(profile, "github", "create_issue").blocked);
        f.enforcer.recordCall(profile, "github", "create_issue");
        f.enforcer.recordCall(profile, "github", "create_issue");
        auto decision = f.enforcer.checkCall(profile, "github", "create_issue");
        CPPUNIT_ASSERT(decision.blocked);
        CPPUNIT_ASSERT(decision.entityType == policy::LimitEntityType::Agent);
        CPPUNIT_ASSERT(decision.message.find("agent-level tool call limit for 'create_issue'") !=
                       std::string::npos);
        CPPUNIT_ASSERT(decision.message.find("Current usage: 2 calls") != std::string::npos);
        // Another tool of the server: only the team's server-wide limit applies (2 of 3 used).
        CPPUNIT_ASSERT(!f.enforcer.checkCall(profile, "github", "list_issues").blocked);
        f.enforcer.recordCall(profile, "github", "list_issues");
        decision = f.enforcer.checkCall(profile, "github", "list_issues");
        CPPUNIT_ASSERT(decision.blocked);
        CPPUNIT_ASSERT(decision.entityType == policy::LimitEntityType::Team);
        CPPUNIT_ASSERT(!f.enforcer.checkCall(profile, "slack", "post").blocked);
        // The counters are in the database (every replica sees them) ...
        CPPUNIT_ASSERT_EQUAL(
            2LL, f.count("SELECT current_usage_calls FROM limits WHERE limit_type = 'tool_calls'"));
        CPPUNIT_ASSERT_EQUAL(
            3LL, f.count("SELECT current_usage_calls FROM limits WHERE limit_type = 'mcp_server_calls'"));
        // ... and a reset frees the calls again.
        f.server.db().execute("UPDATE limits SET last_cleanup = now() - interval '2 hours'");
        CPPUNIT_ASSERT_EQUAL(2LL, f.enforcer.cleanupDue());
        CPPUNIT_ASSERT(!f.enforcer.checkCall(profile, "github", "create_issue").blocked);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(LimitsApiTest);
