// /api/optimization-rules through real HTTP and PostgreSQL: CRUD, conditions checked by the proxy's own
// parser, and 400s naming the field with nothing written.
#include "GuardrailApiFixture.h"
#include "core/api/OptimizationRulesApi.h"

using namespace archestra;
using archestra::test::GuardrailApiFixture;
using nlohmann::json;

class OptimizationRulesApiTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(OptimizationRulesApiTest);
    CPPUNIT_TEST(testCrud);
    CPPUNIT_TEST(testValidation);
    CPPUNIT_TEST_SUITE_END();

    struct Fixture : GuardrailApiFixture {
        explicit Fixture(const std::string& database) : GuardrailApiFixture(database) {
            api::registerOptimizationRuleRoutes(
                server.router(), std::shared_ptr<auth::AuthService>(&server.auth(), [](auto*) {}), counter());
            start();
        }
    };

  public:
    void testCrud() {
        Fixture f("optimization_crud");
        const std::string org = f.server.seeded().organizationId;
        json created = f.ok("POST", "/api/optimization-rules",
                            {{"entityType", "organization"},
                             {"entityId", org},
                             {"conditions", {{{"maxLength", 1000}}, {{"hasTools", false}}}},
                             {"provider", "openai"},
                             {"targetModel", "gpt-4o-mini"}});
        CPPUNIT_ASSERT_EQUAL(1, f.changes.load());
        CPPUNIT_ASSERT(http::isUuidV4(created["id"].get<std::string>()));
        CPPUNIT_ASSERT_EQUAL(true, created["enabled"].get<bool>());
        CPPUNIT_ASSERT_EQUAL(json::parse(R"([{"maxLength":1000},{"hasTools":false}])"),
                             created["conditions"]);
        const std::string path = "/api/optimization-rules/" + created["id"].get<std::string>();

        json updated = f.ok("PUT", path, {{"enabled", false}, {"targetModel", "gpt-4.1-nano"}});
        CPPUNIT_ASSERT_EQUAL(false, updated["enabled"].get<bool>());
        CPPUNIT_ASSERT_EQUAL(std::string("gpt-4.1-nano"), updated["targetModel"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(created["conditions"], updated["conditions"]);

        json second = f.ok("POST", "/api/optimization-rules",
                           {{"entityType", "agent"},
                            {"entityId", f.server.seeded().defaultProfileId},
                            {"provider", "anthropic"},
                            {"targetModel", "claude-haiku-4-5"}});
        CPPUNIT_ASSERT_EQUAL(json::array(), second["conditions"]);
        json list = f.ok("GET", "/api/optimization-rules");
        CPPUNIT_ASSERT_EQUAL(size_t(2), list.size());
        CPPUNIT_ASSERT_EQUAL(created["id"], list[0]["id"]);  // oldest first: the order rules are tried

        CPPUNIT_ASSERT_EQUAL(json({{"success", true}}), f.ok("DELETE", path));
        f.fails(404, "PUT", path, {{"enabled", true}}, "Optimization rule not found");
        f.fails(404, "DELETE", path, nullptr, "Optimization rule not found");
        CPPUNIT_ASSERT_EQUAL(size_t(1), f.ok("GET", "/api/optimization-rules").size());
    }

    void testValidation() {
        Fixture f("optimization_validation");
        json good = {{"entityType", "team"},
                     {"entityId", f.server.seeded().defaultTeamId},
                     {"conditions", {{{"maxLength", 10}}}},
                     {"provider", "openai"},
                     {"targetModel", "gpt-4o-mini"}};
        auto with = [&](const std::string& field, json value) {
            json body = good;
            body[field] = std::move(value);
            return body;
        };
        f.fails(400, "POST", "/api/optimization-rules", with("entityType", "user"), "Field 'entityType'");
        f.fails(400, "POST", "/api/optimization-rules", with("entityId", "nope"), "Field 'entityId'");
        f.fails(400, "POST", "/api/optimization-rules", with("provider", "cohere"), "Field 'provider'");
        f.fails(400, "POST", "/api/optimization-rules", with("targetModel", ""), "Field 'targetModel'");
        f.fails(400, "POST", "/api/optimization-rules", with("conditions", {{"maxLength", 3}}),
                "Field 'conditions'");
        f.fails(400, "POST", "/api/optimization-rules",
                with("conditions", json::parse(R"([{"maxLength":-1}])")), "conditions[0].maxLength");
        f.fails(400, "POST", "/api/optimization-rules", with("conditions", json::parse(R"([{"other":1}])")),
                "conditions[0]");
        f.fails(400, "POST", "/api/optimization-rules", with("enabled", "yes"), "Field 'enabled'");
        CPPUNIT_ASSERT_EQUAL(0LL, f.count("SELECT count(*) FROM optimization_rules"));
        CPPUNIT_ASSERT_EQUAL(0, f.changes.load());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(OptimizationRulesApiTest);
