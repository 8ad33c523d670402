// Guardrail policy CRUD through real HTTP and a real PostgreSQL: both kinds created, listed, read, partially
// updated and deleted (Terraform's reason:null included), 404s, the 400s that name the offending field, and
// the operator list.
#include "core/api/PoliciesApi.h"
#include "support/AuthTestServer.h"

#include <cppunit/extensions/HelperMacros.h>

#include <atomic>

using namespace archestra;
using archestra::test::AuthTestServer;
using nlohmann::json;

class PoliciesApiTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(PoliciesApiTest);
    CPPUNIT_TEST(testToolInvocationCrud);
    CPPUNIT_TEST(testTrustedDataCrud);
    CPPUNIT_TEST(testValidation);
    CPPUNIT_TEST(testOperators);
    CPPUNIT_TEST_SUITE_END();

    struct Fixture {
        explicit Fixture(const std::string& database) : server(database) {
            api::registerPolicyRoutes(server.router(),
                                      std::shared_ptr<auth::AuthService>(&server.auth(), [](auto*) {}),
                                      [this] { ++changes; });
            server.start();
            admin = server.sessionCookie(server.seeded().adminUserId);
            std::string toolId =
                server.db()
                    .query("INSERT INTO tools (agent_id, name) VALUES ($1::uuid, 'fetch') RETURNING id::text",
                           {server.seeded().defaultProfileId})
                    .at(0)
                    .str(0);
            agentToolId = server.db()
                              .query(
                                  "INSERT INTO agent_tools (agent_id, tool_id) VALUES ($1::uuid, $2::uuid) "
                                  "RETURNING id::text",
                                  {server.seeded().defaultProfileId, toolId})
                              .at(0)
                              .str(0);
        }
        test::HttpResult call(const std::string& method, const std::string& path,
                              const json& body = nullptr) {
            return server.asCookie(admin, method, path, body.is_null() ? "" : body.dump());
        }
        json ok(const std::string& method, const std::string& path, const json& body = nullptr) {
            auto result = call(method, path, body);
            CPPUNIT_ASSERT_EQUAL_MESSAGE(method + " " + path + ": " + result.body, 200, result.status);
            return json::parse(result.body);
        }
        /// Asserts the status and that the error message mentions `needle`.
        void fails(int status, const std::string& method, const std::string& path, const json& body,
                   const std::string& needle) {
            auto result = call(method, path, body);
            CPPUNIT_ASSERT_EQUAL_MESSAGE(method + " " + path + " " + body.dump() + ": " + result.body, status,
                                         result.status);
            std::string message = json::parse(result.body)["error"]["message"].get<std::string>();
            CPPUNIT_ASSERT_MESSAGE("'" + message + "' lacks '" + needle + "'",
                                   message.find(needle) != std::string::npos);
        }
        AuthTestServer server;
        std::atomic<int> changes{0};
        std::string admin;
        std::string agentToolId;
    };

  public:
    void testToolInvocationCrud() {
        Fixture f("policies_invocation");
        const std::string base = "/api/autonomy-policies/tool-invocation";
        CPPUNIT_ASSERT_EQUAL(json::array(), f.ok("GET", base));
        json created = f.ok("POST", base,
                            {{"agentToolId", f.agentToolId},
                             {"argumentName", "url"},
                             {"operator", "contains"},
                             {"value", "evil.com"},
                             {"action", "block_always"},
                             {"reason", nullptr}});
        CPPUNIT_ASSERT_EQUAL(1, f.changes.load());
        std::string id = created["id"].get<std::string>();
        CPPUNIT_ASSERT(http::isUuidV4(id));
        CPPUNIT_ASSERT_EQUAL(f.agentToolId, created["agentToolId"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("url"), created["argumentName"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("contains"), created["operator"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("evil.com"), created["value"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("block_always"), created["action"].get<std::string>());
        CPPUNIT_ASSERT(created.contains("reason") && created["reason"].is_null());
        CPPUNIT_ASSERT(created["createdAt"].is_string() && created["updatedAt"].is_string());

        CPPUNIT_ASSERT_EQUAL(created, f.ok("GET", base + "/" + id));
        json list = f.ok("GET", base);
        CPPUNIT_ASSERT_EQUAL(size_t(1), list.size());
        CPPUNIT_ASSERT_EQUAL(id, list[0]["id"].get<std::string>());

        // Partial update: only the given fields change.
        json updated =
            f.ok("PUT", base + "/" + id, {{"reason", "exfiltration"}, {"action", "require_approval"}});
        CPPUNIT_ASSERT_EQUAL(2, f.changes.load());
        CPPUNIT_ASSERT_EQUAL(std::string("exfiltration"), updated["reason"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("require_approval"), updated["action"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("url"), updated["argumentName"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("evil.com"), updated["value"].get<std::string>());
        // reason:null clears it again (Terraform's update sends every field).
        updated = f.ok("PUT", base + "/" + id,
                       {{"reason", nullptr}, {"operator", "regex"}, {"value", "^https?://"}});
        CPPUNIT_ASSERT(updated["reason"].is_null());
        CPPUNIT_ASSERT_EQUAL(std::string("regex"), updated["operator"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("require_approval"), updated["action"].get<std::string>());

        CPPUNIT_ASSERT_EQUAL(json({{"success", true}}), f.ok("DELETE", base + "/" + id));
        CPPUNIT_ASSERT_EQUAL(4, f.changes.load());
        f.fails(404, "GET", base + "/" + id, nullptr, "Tool invocation policy not found");
        f.fails(404, "PUT", base + "/" + id, {{"reason", "x"}}, "Tool invocation policy not found");
        f.fails(404, "DELETE", base + "/" + id, nullptr, "Tool invocation policy not found");
        CPPUNIT_ASSERT_EQUAL(json::array(), f.ok("GET", base));
    }

    void testTrustedDataCrud() {
        Fixture f("policies_trusted");
        const std::string base = "/api/trusted-data-policies";
        json created = f.ok("POST", base,
                            {{"agentToolId", f.agentToolId},
                             {"description", "internal mail"},
                             {"attributePath", "emails[*].from"},
                             {"operator", "endsWith"},
                             {"value", "@example.com"}});
        std::string id = created["id"].get<std::string>();
        CPPUNIT_ASSERT_EQUAL(std::string("mark_as_trusted"), created["action"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("internal mail"), created["description"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("emails[*].from"), created["attributePath"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("endsWith"), created["operator"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(created, f.ok("GET", base + "/" + id));
        CPPUNIT_ASSERT_EQUAL(size_t(1), f.ok("GET", base).size());

        json updated = f.ok("PUT", base + "/" + id, {{"action", "sanitize_with_dual_llm"}});
        CPPUNIT_ASSERT_EQUAL(std::string("sanitize_with_dual_llm"), updated["action"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("@example.com"), updated["value"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("internal mail"), updated["description"].get<std::string>());
        f.fails(400, "PUT", base + "/" + id, {{"action", "allow_when_context_is_untrusted"}}, "'action'");

        CPPUNIT_ASSERT_EQUAL(json({{"success", true}}), f.ok("DELETE", base + "/" + id));
        f.fails(404, "GET", base + "/" + id, nullptr, "Trusted data policy not found");
        CPPUNIT_ASSERT_EQUAL(3, f.changes.load());
    }

    void testValidation() {
        Fixture f("policies_validation");
        const std::string base = "/api/autonomy-policies/tool-invocation";
        json good = {{"agentToolId", f.agentToolId},
                     {"argumentName", "path"},
                     {"operator", "equal"},
                     {"value", "/etc/passwd"},
                     {"action", "block_always"}};
        auto with = [&](const std::string& field, const json& value) {
            json body = good;
            body[field] = value;
            return body;
        };
        json missingName = good;
        missingName.erase("argumentName");
        f.fails(400, "POST", base, missingName, "'argumentName'");
        f.fails(400, "POST", base, with("operator", "like"), "'operator'");
        f.fails(400, "POST", base, with("action", "mark_as_trusted"), "'action'");
        json badRegex = with("operator", "regex");
        badRegex["value"] = "(unclosed";
        f.fails(400, "POST", base, badRegex, "'value'");
        f.fails(400, "POST", base, with("agentToolId", "not-a-uuid"), "'agentToolId'");
        f.fails(400, "POST", base, with("agentToolId", "00000000-0000-4000-8000-000000000000"),
                "'agentToolId'");
        f.fails(400, "POST", base, with("value", 5), "'value'");
        f.fails(400, "GET", base + "/not-a-uuid", nullptr, "id");
        f.fails(400, "POST", "/api/trusted-data-policies",
                {{"agentToolId", f.agentToolId}, {"operator", "equal"}, {"value", "x"}}, "'attributePath'");
        f.fails(400, "POST", "/api/trusted-data-policies",
                {{"agentToolId", f.agentToolId},
                 {"attributePath", "a"},
                 {"operator", "equal"},
                 {"value", "x"},
                 {"action", "require_approval"}},
                "'action'");
        CPPUNIT_ASSERT_EQUAL(0, f.changes.load());

        // A PUT is validated on the merged result: switching to regex with a bad stored value fails.
        std::string id = f.ok("POST", base, with("value", "a(b"))["id"].get<std::string>();
        f.fails(400, "PUT", base + "/" + id, {{"operator", "regex"}}, "'value'");
        f.fails(400, "PUT", base + "/" + id, {{"argumentName", ""}}, "'argumentName'");
        CPPUNIT_ASSERT_EQUAL(std::string("equal"),
                             f.ok("GET", base + "/" + id)["operator"].get<std::string>());
    }

    void testOperators() {
        Fixture f("policies_operators");
        json ops = f.ok("GET", "/api/autonomy-policies/operators");
        json values = json::array();
        for (const auto& op : ops) values.push_back(op["value"]);
        CPPUNIT_ASSERT_EQUAL(
            json({"equal", "notEqual", "contains", "notContains", "startsWith", "endsWith", "regex"}),
            values);
        CPPUNIT_ASSERT_EQUAL(std::string("Equal"), ops[0]["label"].get<std::string>());
        // Without a session the routes are closed.
        CPPUNIT_ASSERT_EQUAL(401,
                             test::httpRequest(f.server.port(), "GET", "/api/autonomy-policies/operators", "",
                                               {{"Origin", f.server.origin()}})
                                 .status);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(PoliciesApiTest);
