// /api/dual-llm-config and /api/dual-llm-results through real HTTP and PostgreSQL: the seeded default, CRUD
// with partial PUT, 400s naming the field with nothing written, and results found by tool call id and by the
// interaction whose request carried that tool result.
#include "GuardrailApiFixture.h"
#include "core/api/DualLlmApi.h"

using namespace archestra;
using archestra::test::GuardrailApiFixture;
using nlohmann::json;

class DualLlmApiTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(DualLlmApiTest);
    CPPUNIT_TEST(testConfigAndResults);
    CPPUNIT_TEST_SUITE_END();

    struct Fixture : GuardrailApiFixture {
        explicit Fixture(const std::string& database) : GuardrailApiFixture(database) {
            api::registerDualLlmRoutes(
                server.router(), std::shared_ptr<auth::AuthService>(&server.auth(), [](auto*) {}), counter());
            start();
        }
    };

  public:
    void testConfigAndResults() {
        Fixture f("dual_llm");
        json seeded = f.ok("GET", "/api/dual-llm-config/default");
        CPPUNIT_ASSERT_EQUAL(false, seeded["enabled"].get<bool>());
        CPPUNIT_ASSERT_EQUAL(5, seeded["maxRounds"].get<int>());
        CPPUNIT_ASSERT(!seeded["mainAgentPrompt"].get<std::string>().empty());
        const std::string path = "/api/dual-llm-config/" + seeded["id"].get<std::string>();

        json updated = f.ok("PUT", path, {{"enabled", true}, {"maxRounds", 3}});
        CPPUNIT_ASSERT_EQUAL(true, updated["enabled"].get<bool>());
        CPPUNIT_ASSERT_EQUAL(3, updated["maxRounds"].get<int>());
        CPPUNIT_ASSERT_EQUAL(seeded["summaryPrompt"], updated["summaryPrompt"]);
        CPPUNIT_ASSERT_EQUAL(1, f.changes.load());
        f.fails(400, "PUT", path, {{"maxRounds", 0}}, "Field 'maxRounds'");
        f.fails(400, "PUT", path, {{"enabled", "yes"}}, "Field 'enabled'");
        f.fails(400, "PUT", path, {{"summaryPrompt", ""}}, "Field 'summaryPrompt'");
        CPPUNIT_ASSERT_EQUAL(updated, f.ok("GET", path));

        f.fails(400, "POST", "/api/dual-llm-config",
                {{"mainAgentPrompt", "m"}, {"quarantinedAgentPrompt", "q"}}, "Field 'summaryPrompt'");
        CPPUNIT_ASSERT_EQUAL(1LL, f.count("SELECT count(*) FROM dual_llm_config"));
        json created =
            f.ok("POST", "/api/dual-llm-config",
                 {{"mainAgentPrompt", "m"}, {"quarantinedAgentPrompt", "q"}, {"summaryPrompt", "s"}});
        CPPUNIT_ASSERT_EQUAL(5, created["maxRounds"].get<int>());
        CPPUNIT_ASSERT_EQUAL(size_t(2), f.ok("GET", "/api/dual-llm-config").size());
        CPPUNIT_ASSERT_EQUAL(seeded["id"], f.ok("GET", "/api/dual-llm-config/default")["id"]);
        CPPUNIT_ASSERT_EQUAL(json({{"success", true}}),
                             f.ok("DELETE", "/api/dual-llm-config/" + created["id"].get<std::string>()));
        f.fails(404, "GET", "/api/dual-llm-config/" + created["id"].get<std::string>(), nullptr,
                "Dual LLM config not found");

        // Results: none yet -> null; then one cached for call_1, found directly and through the interaction.
        CPPUNIT_ASSERT(f.ok("GET", "/api/dual-llm-results/by-tool-call-id/call_1").is_null());
        const std::string profile = f.server.seeded().defaultProfileId;
        f.server.db().execute(
            "INSERT INTO dual_llm_results (agent_id, tool_call_id, conversations, result) VALUES "
            "($1::uuid, 'call_1', '[{\"role\":\"user\"}]', 'The page lists 3 open issues.')",
            {profile});
        json result = f.ok("GET", "/api/dual-llm-results/by-tool-call-id/call_1");
        CPPUNIT_ASSERT_EQUAL(std::string("The page lists 3 open issues."),
                             result["result"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(profile, result["agentId"].get<std::string>());
        std::string interaction = f.scalar(
            "INSERT INTO interactions (profile_id, request, type) VALUES ($1::uuid, "
            "'{\"messages\":[{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"x\"}]}', "
            "'openai:chatCompletions') RETURNING id::text",
            {profile});
        json byInteraction = f.ok("GET", "/api/dual-llm-results/by-interaction/" + interaction);
        CPPUNIT_ASSERT_EQUAL(size_t(1), byInteraction.size());
        CPPUNIT_ASSERT_EQUAL(result["id"], byInteraction[0]["id"]);
        std::string other = f.scalar(
            "INSERT INTO interactions (profile_id, request, type) VALUES ($1::uuid, "
            "'{\"messages\":[{\"role\":\"user\","
            "\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_9\"}]}]}', 'anthropic:messages') "
            "RETURNING "
            "id::text",
            {profile});
        CPPUNIT_ASSERT_EQUAL(json::array(), f.ok("GET", "/api/dual-llm-results/by-interaction/" + other));
        // Both id shapes in one request that also holds \u0000 (stored as received in the json column; a
        // ::jsonb cast refused it) and messages that are not objects.
        f.server.db().execute(
            "INSERT INTO dual_llm_results (agent_id, tool_call_id, result) VALUES ($1::uuid, 'toolu_7', "
            "'r7')",
            {profile});
        std::string mixed = f.scalar(
            R"(INSERT INTO interactions (profile_id, request, type) VALUES ($1::uuid, '{"messages":[)"
            R"({"role":"user","content":"a\u0000b"},5,["x"],{"role":"tool","tool_call_id":"call_1"},)"
            R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_7"},"text"]}]}',)"
            R"( 'anthropic:messages') RETURNING id::text)",
            {profile});
        json both = f.ok("GET", "/api/dual-llm-results/by-interaction/" + mixed);
        CPPUNIT_ASSERT_EQUAL(size_t(2), both.size());
        CPPUNIT_ASSERT_EQUAL(std::string("The page lists 3 open issues."),
                             both[0]["result"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("r7"), both[1]["result"].get<std::string>());
        f.fails(404, "GET", "/api/dual-llm-results/by-interaction/00000000-0000-4000-8000-000000000000",
                nullptr, "Interaction not found");
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(DualLlmApiTest);
