// /api/tools and the agent-tool routes through real HTTP and PostgreSQL: tool shapes (agent / mcpServer as
// {id,name} or null), assign / unassign, the filtered paginated list, trust settings (PATCH, bulk update,
// bulk assign), and bad input answering 400 naming the field with nothing written.
#include "GuardrailApiFixture.h"
#include "core/api/AgentToolsApi.h"
#include "core/api/ToolsApi.h"

#include <set>

using namespace archestra;
using archestra::test::GuardrailApiFixture;
using nlohmann::json;

class ToolsApiTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ToolsApiTest);
    CPPUNIT_TEST(testToolsAndAssignments);
    CPPUNIT_TEST(testTrustSettings);
    CPPUNIT_TEST(testListFiltersAndPagination);
    CPPUNIT_TEST(testMemberSeesOnlyTheirTeamsTools);
    CPPUNIT_TEST_SUITE_END();

    struct Fixture : GuardrailApiFixture {
        explicit Fixture(const std::string& database) : GuardrailApiFixture(database) {
            auto auth = std::shared_ptr<auth::AuthService>(&server.auth(), [](auto*) {});
            api::registerToolRoutes(server.router(), auth);
            api::registerAgentToolRoutes(server.router(), auth, counter());
            start();
            profile = server.seeded().defaultProfileId;
            auto& db = server.db();
            proxyTool = db.query(
                              "INSERT INTO tools (agent_id, name, description, parameters) VALUES ($1::uuid, "
                              "'get_weather', 'Weather', '{\"type\":\"object\"}') RETURNING id::text",
                              {profile})
                            .at(0)
                            .str(0);
            catalog = db.query("INSERT INTO internal_mcp_catalog (name) VALUES ('github') RETURNING id::text")
                          .at(0)
                          .str(0);
            server_ =
                db.query(
                      "INSERT INTO mcp_server (name, catalog_id) VALUES ('github-admin', $1::uuid) RETURNING "
                      "id::text",
                      {catalog})
                    .at(0)
                    .str(0);
            mcpTool = db.query(
                            "INSERT INTO tools (catalog_id, mcp_server_id, name) VALUES ($1::uuid, $2::uuid, "
                            "'github__create_issue') RETURNING id::text",
                            {catalog, server_})
                          .at(0)
                          .str(0);
            proxyAgentTool = db.query(
                                   "INSERT INTO agent_tools (agent_id, tool_id) VALUES ($1::uuid, $2::uuid) "
                                   "RETURNING id::text",
                                   {profile, proxyTool})
                                 .at(0)
                                 .str(0);
        }
        std::string profile, proxyTool, catalog, server_, mcpTool, proxyAgentTool;
    };

  public:
    void testToolsAndAssignments() {
        Fixture f("tools_assign");
        json tools = f.ok("GET", "/api/tools");
        CPPUNIT_ASSERT_EQUAL(size_t(2), tools.size());
        const json& proxy = tools[0]["id"] == f.proxyTool ? tools[0] : tools[1];
        const json& mcp = tools[0]["id"] == f.mcpTool ? tools[0] : tools[1];
        CPPUNIT_ASSERT_EQUAL(std::string("get_weather"), proxy["name"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(f.profile, proxy["agent"]["id"].get<std::string>());
        CPPUNIT_ASSERT(proxy["mcpServer"].is_null());
        CPPUNIT_ASSERT(proxy["catalogId"].is_null());
        CPPUNIT_ASSERT_EQUAL(json({{"type", "object"}}), proxy["parameters"]);
        CPPUNIT_ASSERT(mcp["agent"].is_null());
        CPPUNIT_ASSERT_EQUAL(json({{"id", f.server_}, {"name", "github-admin"}}), mcp["mcpServer"]);
        CPPUNIT_ASSERT(mcp["description"].is_null());
        CPPUNIT_ASSERT(mcp["createdAt"].get<std::string>().size() == 24);

        // Only the MCP tool has no assignment yet.
        json unassigned = f.ok("GET", "/api/tools/unassigned");
        CPPUNIT_ASSERT_EQUAL(size_t(1), unassigned.size());
        CPPUNIT_ASSERT_EQUAL(f.mcpTool, unassigned[0]["id"].get<std::string>());

        const std::string path = "/api/agents/" + f.profile + "/tools/" + f.mcpTool;
        CPPUNIT_ASSERT_EQUAL(json({{"success", true}}), f.ok("POST", path));
        CPPUNIT_ASSERT_EQUAL(1, f.changes.load());
        CPPUNIT_ASSERT_EQUAL(json({{"success", true}}), f.ok("POST", path));  // idempotent
        CPPUNIT_ASSERT_EQUAL(
            1LL, f.count("SELECT count(*) FROM agent_tools WHERE tool_id = $1::uuid", {f.mcpTool}));
        json assigned = f.ok("GET", "/api/agents/" + f.profile + "/tools");
        CPPUNIT_ASSERT_EQUAL(size_t(2), assigned.size());
        CPPUNIT_ASSERT_EQUAL(std::string("get_weather"), assigned[0]["name"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("github__create_issue"), assigned[1]["name"].get<std::string>());

        const std::string missing = "00000000-0000-4000-8000-000000000000";
        f.fails(404, "POST", "/api/agents/" + f.profile + "/tools/" + missing, nullptr, "Tool not found");
        f.fails(404, "POST", "/api/agents/" + missing + "/tools/" + f.mcpTool, nullptr, "Agent not found");
        f.fails(404, "GET", "/api/agents/" + missing + "/tools", nullptr, "Agent not found");
        f.fails(400, "POST", "/api/agents/not-a-uuid/tools/" + f.mcpTool, nullptr, "agentId");
        f.fails(400, "POST", path, {{"useDynamicTeamCredential", "yes"}}, "Field 'useDynamicTeamCredential'");

        CPPUNIT_ASSERT_EQUAL(json({{"success", true}}), f.ok("DELETE", path));
        f.fails(404, "DELETE", path, nullptr, "not assigned");
        CPPUNIT_ASSERT_EQUAL(size_t(1), f.ok("GET", "/api/agents/" + f.profile + "/tools").size());

        // Bulk assign: one new, one duplicate, one failing on its own.
        json result = f.ok("POST", "/api/agents/tools/bulk-assign",
                           {{"assignments",
                             {{{"agentId", f.profile}, {"toolId", f.mcpTool}},
                              {{"agentId", f.profile}, {"toolId", f.proxyTool}},
                              {{"agentId", f.profile}, {"toolId", missing}}}}});
        CPPUNIT_ASSERT_EQUAL(size_t(1), result["succeeded"].size());
        CPPUNIT_ASSERT_EQUAL(f.mcpTool, result["succeeded"][0]["toolId"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(size_t(1), result["duplicates"].size());
        CPPUNIT_ASSERT_EQUAL(size_t(1), result["failed"].size());
        CPPUNIT_ASSERT_EQUAL(std::string("Tool not found"), result["failed"][0]["error"].get<std::string>());
        // A malformed entry rejects the whole request before anything is written.
        f.ok("DELETE", path);
        f.fails(
            400, "POST", "/api/agents/tools/bulk-assign",
            {{"assignments",
              {{{"agentId", f.profile}, {"toolId", f.mcpTool}}, {{"agentId", "x"}, {"toolId", f.mcpTool}}}}},
            "assignments[1].agentId");
        CPPUNIT_ASSERT_EQUAL(
            0LL, f.count("SELECT count(*) FROM agent_tools WHERE tool_id = $1::uuid", {f.mcpTool}));
    }

    void testTrustSettings() {
        Fixture f("tools_trust");
        const std::string path = "/api/agent-tools/" + f.proxyAgentTool;
        json updated = f.ok("PATCH", path,
                            {{"allowUsageWhenUntrustedDataIsPresent", true},
                             {"toolResultTreatment", "trusted"},
                             {"responseModifierTemplate", "{{response}}"},
                             {"credentialSourceMcpServerId", f.server_}});
        CPPUNIT_ASSERT_EQUAL(1, f.changes.load());
        CPPUNIT_ASSERT_EQUAL(f.proxyAgentTool, updated["id"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(true, updated["allowUsageWhenUntrustedDataIsPresent"].get<bool>());
        CPPUNIT_ASSERT_EQUAL(std::string("trusted"), updated["toolResultTreatment"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("{{response}}"),
                             updated["responseModifierTemplate"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(f.server_, updated["credentialSourceMcpServerId"].get<std::string>());
        CPPUNIT_ASSERT(updated["executionSourceMcpServerId"].is_null());
        CPPUNIT_ASSERT_EQUAL(false, updated["useDynamicTeamCredential"].get<bool>());
        CPPUNIT_ASSERT_EQUAL(f.profile, updated["agent"]["id"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("get_weather"), updated["tool"]["name"].get<std::string>());
        CPPUNIT_ASSERT(updated["tool"]["mcpServerName"].is_null());

        // Partial: the rest stays; null clears a nullable field.
        updated = f.ok("PATCH", path,
                       {{"responseModifierTemplate", nullptr}, {"credentialSourceMcpServerId", nullptr}});
        CPPUNIT_ASSERT(updated["responseModifierTemplate"].is_null());
        CPPUNIT_ASSERT(updated["credentialSourceMcpServerId"].is_null());
        CPPUNIT_ASSERT_EQUAL(std::string("trusted"), updated["toolResultTreatment"].get<std::string>());

        // Bad input: 400 naming the field, nothing written (the valid field in the same body included).
        const std::string before = f.scalar(
            "SELECT row_to_json(a)::text FROM agent_tools a WHERE id = $1::uuid", {f.proxyAgentTool});
        f.fails(400, "PATCH", path,
                {{"allowUsageWhenUntrustedDataIsPresent", false}, {"toolResultTreatment", "maybe"}},
                "Field 'toolResultTreatment'");
        f.fails(400, "PATCH", path, {{"allowUsageWhenUntrustedDataIsPresent", "true"}},
                "Field 'allowUsageWhenUntrustedDataIsPresent'");
        f.fails(400, "PATCH", path, {{"executionSourceMcpServerId", "00000000-0000-4000-8000-000000000000"}},
                "Field 'executionSourceMcpServerId'");
        f.fails(400, "PATCH", path, {{"responseModifierTemplate", 5}}, "Field 'responseModifierTemplate'");
        f.fails(400, "PATCH", path, json::array(), "");
        CPPUNIT_ASSERT_EQUAL(before,
                             f.scalar("SELECT row_to_json(a)::text FROM agent_tools a WHERE id = $1::uuid",
                                      {f.proxyAgentTool}));
        f.fails(404, "PATCH", "/api/agent-tools/00000000-0000-4000-8000-000000000000",
                {{"toolResultTreatment", "trusted"}}, "Agent tool not found");
        f.fails(400, "PATCH", "/api/agent-tools/123", {{"toolResultTreatment", "trusted"}}, "id");

        // Bulk update.
        f.ok("POST", "/api/agents/" + f.profile + "/tools/" + f.mcpTool);
        std::string second =
            f.scalar("SELECT id::text FROM agent_tools WHERE tool_id = $1::uuid", {f.mcpTool});
        json counted = f.ok("POST", "/api/agent-tools/bulk-update",
                            {{"ids", {f.proxyAgentTool, second}},
                             {"field", "toolResultTreatment"},
                             {"value", "sanitize_with_dual_llm"}});
        CPPUNIT_ASSERT_EQUAL(2, counted["updatedCount"].get<int>());
        CPPUNIT_ASSERT_EQUAL(2LL, f.count("SELECT count(*) FROM agent_tools WHERE tool_result_treatment = "
                                          "'sanitize_with_dual_llm'"));
        counted =
            f.ok("POST", "/api/agent-tools/bulk-update",
                 {{"ids", {second}}, {"field", "allowUsageWhenUntrustedDataIsPresent"}, {"value", true}});
        CPPUNIT_ASSERT_EQUAL(1, counted["updatedCount"].get<int>());
        f.fails(400, "POST", "/api/agent-tools/bulk-update",
                {{"ids", {second}}, {"field", "allowUsageWhenUntrustedDataIsPresent"}, {"value", "no"}},
                "Field 'value'");
        f.fails(400, "POST", "/api/agent-tools/bulk-update",
                {{"ids", {second}}, {"field", "name"}, {"value", "x"}}, "Field 'field'");
        f.fails(400, "POST", "/api/agent-tools/bulk-update",
                {{"ids", {second, "nope"}}, {"field", "toolResultTreatment"}, {"value", "trusted"}},
                "Field 'ids[1]'");
        CPPUNIT_ASSERT_EQUAL(
            0LL, f.count("SELECT count(*) FROM agent_tools WHERE tool_result_treatment = 'trusted'"));
    }

    /// Without profile:admin: tools of profiles in the caller's teams, and of MCP servers the caller owns or
    /// shares through a team; nothing else.
    void testMemberSeesOnlyTheirTeamsTools() {
        Fixture f("tools_member_visibility");
        auto& db = f.server.db();
        std::string member = f.server.createUser("member-tools@example.com", "member");
        std::string cookie = f.server.sessionCookie(member);
        auto ids = [&](const std::string& path) {
            auto result = f.server.asCookie(cookie, "GET", path, "");
            CPPUNIT_ASSERT_EQUAL_MESSAGE(path + ": " + result.body, 200, result.status);
            std::set<std::string> out;
            for (const auto& tool : json::parse(result.body)) out.insert(tool["id"].get<std::string>());
            return out;
        };
        CPPUNIT_ASSERT(ids("/api/tools").empty());
        CPPUNIT_ASSERT(ids("/api/tools/unassigned").empty());
        db.execute("INSERT INTO team_member (id, team_id, user_id, role) VALUES ($1, $2, $3, 'member')",
                   {db::newTextId(), f.server.seeded().defaultTeamId, member});
        CPPUNIT_ASSERT(ids("/api/tools") == std::set<std::string>{f.proxyTool});
        // Assigned to a visible profile counts too (the MCP tool has no agent_id of its own).
        db.execute("INSERT INTO agent_tools (agent_id, tool_id) VALUES ($1::uuid, $2::uuid)",
                   {f.profile, f.mcpTool});
        CPPUNIT_ASSERT((ids("/api/tools") == std::set<std::string>{f.proxyTool, f.mcpTool}));
        db.execute("DELETE FROM agent_tools WHERE tool_id = $1::uuid", {f.mcpTool});
        CPPUNIT_ASSERT(ids("/api/tools") == std::set<std::string>{f.proxyTool});
        db.execute("UPDATE mcp_server SET owner_id = $1 WHERE id = $2::uuid", {member, f.server_});
        CPPUNIT_ASSERT((ids("/api/tools") == std::set<std::string>{f.proxyTool, f.mcpTool}));
        CPPUNIT_ASSERT(ids("/api/tools/unassigned") == std::set<std::string>{f.mcpTool});
        // The admin still sees everything.
        CPPUNIT_ASSERT_EQUAL(size_t(2), f.ok("GET", "/api/tools").size());
    }

    void testListFiltersAndPagination() {
        Fixture f("tools_list");
        f.ok("POST", "/api/agents/" + f.profile + "/tools/" + f.mcpTool);
        json all = f.ok("GET", "/api/agent-tools");
        CPPUNIT_ASSERT_EQUAL(size_t(2), all["data"].size());
        CPPUNIT_ASSERT_EQUAL(json({{"currentPage", 1},
                                   {"limit", 20},
                                   {"total", 2},
                                   {"totalPages", 1},
                                   {"hasNext", false},
                                   {"hasPrev", false}}),
                             all["pagination"]);
        const json& item = all["data"][0];
        for (const char* field :
             {"id", "allowUsageWhenUntrustedDataIsPresent", "toolResultTreatment", "responseModifierTemplate",
              "credentialSourceMcpServerId", "executionSourceMcpServerId", "useDynamicTeamCredential",
              "createdAt", "updatedAt", "agent", "tool"})
            CPPUNIT_ASSERT_MESSAGE(field, item.contains(field));
        CPPUNIT_ASSERT_EQUAL(std::string("untrusted"), item["toolResultTreatment"].get<std::string>());

        json proxyOnly = f.ok("GET", "/api/agent-tools?origin=llm-proxy");
        CPPUNIT_ASSERT_EQUAL(size_t(1), proxyOnly["data"].size());
        CPPUNIT_ASSERT_EQUAL(f.proxyTool, proxyOnly["data"][0]["tool"]["id"].get<std::string>());
        json byCatalog = f.ok("GET", "/api/agent-tools?origin=" + f.catalog);
        CPPUNIT_ASSERT_EQUAL(size_t(1), byCatalog["data"].size());
        CPPUNIT_ASSERT_EQUAL(std::string("github-admin"),
                             byCatalog["data"][0]["tool"]["mcpServerName"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(f.catalog,
                             byCatalog["data"][0]["tool"]["mcpServerCatalogId"].get<std::string>());
        json searched = f.ok("GET", "/api/agent-tools?search=WEATH");
        CPPUNIT_ASSERT_EQUAL(size_t(1), searched["data"].size());
        CPPUNIT_ASSERT_EQUAL(size_t(2), f.ok("GET", "/api/agent-tools?agentId=" + f.profile)["data"].size());
        CPPUNIT_ASSERT_EQUAL(
            size_t(0),
            f.ok("GET", "/api/agent-tools?agentId=00000000-0000-4000-8000-000000000000")["data"].size());

        json sorted = f.ok("GET", "/api/agent-tools?sortBy=name&sortDirection=asc&limit=1");
        CPPUNIT_ASSERT_EQUAL(std::string("get_weather"),
                             sorted["data"][0]["tool"]["name"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(true, sorted["pagination"]["hasNext"].get<bool>());
        CPPUNIT_ASSERT_EQUAL(2, sorted["pagination"]["totalPages"].get<int>());
        json page2 = f.ok("GET", "/api/agent-tools?sortBy=name&sortDirection=asc&limit=1&offset=1");
        CPPUNIT_ASSERT_EQUAL(std::string("github__create_issue"),
                             page2["data"][0]["tool"]["name"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(2, page2["pagination"]["currentPage"].get<int>());
        CPPUNIT_ASSERT_EQUAL(true, page2["pagination"]["hasPrev"].get<bool>());

        f.fails(400, "GET", "/api/agent-tools?sortBy=size", nullptr, "'sortBy'");
        f.fails(400, "GET", "/api/agent-tools?limit=0", nullptr, "limit");
        f.fails(400, "GET", "/api/agent-tools?origin=somewhere", nullptr, "'origin'");
        f.fails(400, "GET", "/api/agent-tools?agentId=12", nullptr, "'agentId'");
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ToolsApiTest);
