// /api/agents through real HTTP and a real PostgreSQL: create/list/get/update/delete, labels and teams
// replace semantics (Terraform's labels:null, updates without teams), the default flag, 400/404 bodies and
// the team-scoped visibility of callers without profile:admin.
#include "core/api/AgentsApi.h"
#include "support/AuthTestServer.h"

#include <cppunit/extensions/HelperMacros.h>

#include <atomic>
#include <regex>

using namespace archestra;
using archestra::test::AuthTestServer;
using nlohmann::json;

class AgentsApiTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(AgentsApiTest);
    CPPUNIT_TEST(testCreateGetUpdateDelete);
    CPPUNIT_TEST(testListPaginationSortAndFilter);
    CPPUNIT_TEST(testDefaultSwitchAndLabelLists);
    CPPUNIT_TEST(testValidation);
    CPPUNIT_TEST(testMemberVisibility);
    CPPUNIT_TEST(testToolsArrayInEveryRead);
    CPPUNIT_TEST_SUITE_END();

    struct Fixture {
        explicit Fixture(const std::string& database) : server(database) {
            api::registerAgentRoutes(server.router(),
                                     std::shared_ptr<auth::AuthService>(&server.auth(), [](auto*) {}),
                                     [this] { ++changes; });
            server.start();
            admin = server.sessionCookie(server.seeded().adminUserId);
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
        std::string team(const std::string& name) {
            std::string id = db::newTextId();
            server.db().execute("INSERT INTO team (id, name, organization_id) VALUES ($1, $2, $3)",
                                {id, name, server.seeded().organizationId});
            return id;
        }
        AuthTestServer server;
        std::atomic<int> changes{0};
        std::string admin;
    };

    static json names(const json& agents) {
        json out = json::array();
        for (const auto& a : agents) out.push_back(a["name"].get<std::string>());
        return out;
    }

  public:
    void testCreateGetUpdateDelete() {
        Fixture f("agents_crud");
        std::string teamA = f.team("Alpha"), teamB = f.team("Beta");
        json created =
            f.ok("POST", "/api/agents",
                 {{"name", "prof-1"},
                  {"teams", {teamA, teamB}},
                  {"labels", {{{"key", "zone"}, {"value", "eu"}}, {{"key", "env"}, {"value", "test"}}}},
                  {"considerContextUntrusted", true}});
        CPPUNIT_ASSERT_EQUAL(1, f.changes.load());
        std::string id = created["id"].get<std::string>();
        CPPUNIT_ASSERT(http::isUuidV4(id));
        CPPUNIT_ASSERT_EQUAL(std::string("prof-1"), created["name"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(false, created["isDemo"].get<bool>());
        CPPUNIT_ASSERT_EQUAL(false, created["isDefault"].get<bool>());
        CPPUNIT_ASSERT_EQUAL(true, created["considerContextUntrusted"].get<bool>());
        std::regex iso(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
        CPPUNIT_ASSERT(std::regex_match(created["createdAt"].get<std::string>(), iso));
        CPPUNIT_ASSERT(std::regex_match(created["updatedAt"].get<std::string>(), iso));
        CPPUNIT_ASSERT_EQUAL(json::array(), created["tools"]);
        CPPUNIT_ASSERT_EQUAL(size_t(2), created["teams"].size());
        CPPUNIT_ASSERT_EQUAL(json({{"id", teamA}, {"name", "Alpha"}}), created["teams"][0]);
        CPPUNIT_ASSERT_EQUAL(json({{"id", teamB}, {"name", "Beta"}}), created["teams"][1]);
        // Sorted by key, with the ids of the key and value rows.
        CPPUNIT_ASSERT_EQUAL(size_t(2), created["labels"].size());
        CPPUNIT_ASSERT_EQUAL(std::string("env"), created["labels"][0]["key"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("test"), created["labels"][0]["value"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("zone"), created["labels"][1]["key"].get<std::string>());
        CPPUNIT_ASSERT(created["labels"][1]["keyId"].is_string());
        CPPUNIT_ASSERT(created["labels"][1]["valueId"].is_string());

        CPPUNIT_ASSERT_EQUAL(created, f.ok("GET", "/api/agents/" + id));

        // Terraform's update: name and labels, no teams -> teams stay, labels replaced as a set.
        json updated = f.ok("PUT", "/api/agents/" + id,
                            {{"name", "prof-1b"}, {"labels", {{{"key", "env"}, {"value", "prod"}}}}});
        CPPUNIT_ASSERT_EQUAL(2, f.changes.load());
        CPPUNIT_ASSERT_EQUAL(std::string("prof-1b"), updated["name"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(created["teams"], updated["teams"]);
        CPPUNIT_ASSERT_EQUAL(size_t(1), updated["labels"].size());
        CPPUNIT_ASSERT_EQUAL(std::string("prod"), updated["labels"][0]["value"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(true, updated["considerContextUntrusted"].get<bool>());
        // labels:null clears; teams given replace.
        updated = f.ok("PUT", "/api/agents/" + id, {{"labels", nullptr}, {"teams", {teamB}}});
        CPPUNIT_ASSERT_EQUAL(json::array(), updated["labels"]);
        CPPUNIT_ASSERT_EQUAL(json::array({{{"id", teamB}, {"name", "Beta"}}}), updated["teams"]);
        CPPUNIT_ASSERT_EQUAL(std::string("prof-1b"), updated["name"].get<std::string>());

        // Create with labels:null (what Terraform sends when none are configured) and teams:[].
        json bare =
            f.ok("POST", "/api/agents", {{"name", "tf"}, {"teams", json::array()}, {"labels", nullptr}});
        CPPUNIT_ASSERT_EQUAL(json::array(), bare["labels"]);
        CPPUNIT_ASSERT_EQUAL(json::array(), bare["teams"]);

        CPPUNIT_ASSERT_EQUAL(json({{"success", true}}), f.ok("DELETE", "/api/agents/" + id));
        for (const char* method : {"GET", "DELETE", "PUT"}) {
            auto gone = f.call(method, "/api/agents/" + id, json::object());
            CPPUNIT_ASSERT_EQUAL_MESSAGE(method, 404, gone.status);
            json error = json::parse(gone.body)["error"];
            CPPUNIT_ASSERT_EQUAL(std::string("Agent with ID " + id + " not found"),
                                 error["message"].get<std::string>());
            CPPUNIT_ASSERT_EQUAL(std::string("api_not_found_error"), error["type"].get<std::string>());
        }
        CPPUNIT_ASSERT_EQUAL(5, f.changes.load());  // create, update, update, create, delete
    }

    void testListPaginationSortAndFilter() {
        Fixture f("agents_list");
        std::string team = f.team("T");
        for (const char* name : {"bravo", "Alpha", "charlie", "alpha-2"})
            f.ok("POST", "/api/agents", {{"name", name}, {"teams", {team}}});
        // 5 with the seeded default profile; newest first by default.
        json page = f.ok("GET", "/api/agents?limit=2");
        CPPUNIT_ASSERT_EQUAL(json::array({"alpha-2", "charlie"}), names(page["data"]));
        CPPUNIT_ASSERT_EQUAL(json({{"currentPage", 1},
                                   {"limit", 2},
                                   {"total", 5},
                                   {"totalPages", 3},
                                   {"hasNext", true},
                                   {"hasPrev", false}}),
                             page["pagination"]);
        page = f.ok("GET", "/api/agents?limit=2&offset=4");
        CPPUNIT_ASSERT_EQUAL(size_t(1), page["data"].size());
        CPPUNIT_ASSERT_EQUAL(3, page["pagination"]["currentPage"].get<int>());
        CPPUNIT_ASSERT_EQUAL(false, page["pagination"]["hasNext"].get<bool>());
        CPPUNIT_ASSERT_EQUAL(true, page["pagination"]["hasPrev"].get<bool>());
        page = f.ok("GET", "/api/agents?sortBy=name&sortDirection=asc&name=ALPHA");
        CPPUNIT_ASSERT_EQUAL(json::array({"Alpha", "alpha-2"}), names(page["data"]));
        CPPUNIT_ASSERT_EQUAL(2, page["pagination"]["total"].get<int>());
        page = f.ok("GET", "/api/agents?sortBy=name&sortDirection=desc&limit=100");
        CPPUNIT_ASSERT_EQUAL(std::string("Default Profile with Archestra"),
                             page["data"][0]["name"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("Alpha"), page["data"][4]["name"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(200, f.call("GET", "/api/agents?sortBy=team").status);
        CPPUNIT_ASSERT_EQUAL(200, f.call("GET", "/api/agents?sortBy=toolsCount").status);
        CPPUNIT_ASSERT_EQUAL(400, f.call("GET", "/api/agents?sortBy=bogus").status);
        CPPUNIT_ASSERT_EQUAL(400, f.call("GET", "/api/agents?limit=0").status);
        CPPUNIT_ASSERT_EQUAL(400, f.call("GET", "/api/agents?limit=101").status);
        CPPUNIT_ASSERT_EQUAL(size_t(5), f.ok("GET", "/api/agents/all").size());
    }

    void testDefaultSwitchAndLabelLists() {
        Fixture f("agents_default");
        json original = f.ok("GET", "/api/agents/default");
        CPPUNIT_ASSERT_EQUAL(f.server.seeded().defaultProfileId, original["id"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(true, original["isDefault"].get<bool>());
        // The default profile cannot be deleted.
        CPPUNIT_ASSERT_EQUAL(400,
                             f.call("DELETE", "/api/agents/" + f.server.seeded().defaultProfileId).status);

        json other = f.ok(
            "POST", "/api/agents",
            {{"name", "next"}, {"teams", json::array()}, {"labels", {{{"key", "k1"}, {"value", "v1"}}}}});
        std::string otherId = other["id"].get<std::string>();
        f.ok("PUT", "/api/agents/" + otherId, {{"isDefault", true}});
        CPPUNIT_ASSERT_EQUAL(otherId, f.ok("GET", "/api/agents/default")["id"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(
            false, f.ok("GET", "/api/agents/" + original["id"].get<std::string>())["isDefault"].get<bool>());
        auto count = f.server.db().query("SELECT count(*) FROM agents WHERE is_default");
        CPPUNIT_ASSERT_EQUAL(std::string("1"), count[0].str(0));
        // Now the old default can go.
        CPPUNIT_ASSERT_EQUAL(200,
                             f.call("DELETE", "/api/agents/" + original["id"].get<std::string>()).status);

        f.ok("POST", "/api/agents",
             {{"name", "x"},
              {"teams", json::array()},
              {"labels", {{{"key", "k2"}, {"value", "v2"}}, {{"key", "k1"}, {"value", "v3"}}}}});
        CPPUNIT_ASSERT_EQUAL(json({"k1", "k2"}), f.ok("GET", "/api/agents/labels/keys"));
        CPPUNIT_ASSERT_EQUAL(json({"v1", "v3"}), f.ok("GET", "/api/agents/labels/values?key=k1"));
        CPPUNIT_ASSERT_EQUAL(json({"v1", "v2", "v3"}), f.ok("GET", "/api/agents/labels/values"));
    }

    void testValidation() {
        Fixture f("agents_validation");
        auto expect400 = [&](const std::string& method, const std::string& path, const json& body,
                             const std::string& mentions) {
            auto result = f.call(method, path, body);
            CPPUNIT_ASSERT_EQUAL_MESSAGE(result.body, 400, result.status);
            std::string message = json::parse(result.body)["error"]["message"].get<std::string>();
            CPPUNIT_ASSERT_MESSAGE(message + " should mention " + mentions,
                                   message.find(mentions) != std::string::npos);
        };
        expect400("POST", "/api/agents", {{"teams", json::array()}}, "'name'");
        expect400("POST", "/api/agents", {{"name", ""}, {"teams", json::array()}}, "'name'");
        expect400("POST", "/api/agents", {{"name", 5}, {"teams", json::array()}}, "'name'");
        expect400("POST", "/api/agents", {{"name", "n"}}, "'teams'");
        expect400("POST", "/api/agents", {{"name", "n"}, {"teams", "abc"}}, "'teams'");
        expect400("POST", "/api/agents", {{"name", "n"}, {"teams", {1}}}, "'teams[0]'");
        expect400("POST", "/api/agents", {{"name", "n"}, {"teams", {"no-such-team"}}}, "no-such-team");
        expect400("POST", "/api/agents", {{"name", "n"}, {"teams", json::array()}, {"labels", "x"}},
                  "'labels'");
        expect400("POST", "/api/agents",
                  {{"name", "n"}, {"teams", json::array()}, {"labels", {{{"key", "k"}}}}}, "labels[0].value");
        expect400("POST", "/api/agents", {{"name", "n"}, {"teams", json::array()}, {"isDefault", "yes"}},
                  "'isDefault'");
        std::string id = f.server.seeded().defaultProfileId;
        expect400("PUT", "/api/agents/" + id, {{"teams", 3}}, "'teams'");
        expect400("PUT", "/api/agents/" + id, {{"name", ""}}, "'name'");
        CPPUNIT_ASSERT_EQUAL(400, f.call("GET", "/api/agents/not-a-uuid").status);
        CPPUNIT_ASSERT_EQUAL(400, f.call("DELETE", "/api/agents/not-a-uuid").status);
        CPPUNIT_ASSERT_EQUAL(0, f.changes.load());
        CPPUNIT_ASSERT_EQUAL(std::string("1"), f.server.db().query("SELECT count(*) FROM agents")[0].str(0));
        // Without credentials.
        CPPUNIT_ASSERT_EQUAL(401, f.server.asCookie("", "GET", "/api/agents").status);
    }

    void testMemberVisibility() {
        Fixture f("agents_visibility");
        std::string mine = f.team("Mine"), theirs = f.team("Theirs");
        std::string member = f.server.createUser("member@example.com", "member");
        f.server.db().execute(
            "INSERT INTO team_member (id, team_id, user_id, role) VALUES ($1, $2, $3, 'member')",
            {db::newTextId(), mine, member});
        std::string visible =
            f.ok("POST", "/api/agents", {{"name", "visible"}, {"teams", {mine, theirs}}})["id"]
                .get<std::string>();
        std::string hidden =
            f.ok("POST", "/api/agents", {{"name", "hidden"}, {"teams", {theirs}}})["id"].get<std::string>();
        std::string key = f.server.apiKey(member);
        auto list = f.server.asKey(key, "GET", "/api/agents");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(list.body, 200, list.status);
        CPPUNIT_ASSERT_EQUAL(json::array({"visible"}), names(json::parse(list.body)["data"]));
        CPPUNIT_ASSERT_EQUAL(1, json::parse(list.body)["pagination"]["total"].get<int>());
        auto all = f.server.asKey(key, "GET", "/api/agents/all");
        CPPUNIT_ASSERT_EQUAL(json::array({"visible"}), names(json::parse(all.body)));
        CPPUNIT_ASSERT_EQUAL(200, f.server.asKey(key, "GET", "/api/agents/" + visible).status);
        CPPUNIT_ASSERT_EQUAL(404, f.server.asKey(key, "GET", "/api/agents/" + hidden).status);
        // Members may read but not write profiles.
        CPPUNIT_ASSERT_EQUAL(
            403,
            f.server.asKey(key, "POST", "/api/agents", json({{"name", "m"}, {"teams", json::array()}}).dump())
                .status);
        // The admin (profile:admin) sees all three.
        CPPUNIT_ASSERT_EQUAL(size_t(3), f.ok("GET", "/api/agents/all").size());
    }

    /// `tools` lists the profile's assigned tools (agent_tools), sorted by name, in list, all and get.
    void testToolsArrayInEveryRead() {
        Fixture f("agents_tools_array");
        auto& db = f.server.db();
        std::string profile = f.server.seeded().defaultProfileId;
        std::string other = f.ok("POST", "/api/agents", {{"name", "other"}, {"teams", json::array()}})["id"];
        auto tool = [&](const std::string& name, const std::string& agent) {
            std::string id = db.query(
                                   "INSERT INTO tools (agent_id, name, description, parameters) VALUES "
                                   "($1::uuid, $2, NULL, '{\"type\":\"object\"}') RETURNING id::text",
                                   {agent, name})
                                 .at(0)
                                 .str(0);
            db.execute("INSERT INTO agent_tools (agent_id, tool_id) VALUES ($1::uuid, $2::uuid)",
                       {agent, id});
            return id;
        };
        std::string weather = tool("get_weather", profile);
        std::string email = tool("send_email", profile);
        tool("other_tool", other);
        auto check = [&](const json& agent) {
            const json& tools = agent["tools"];
            CPPUNIT_ASSERT_EQUAL_MESSAGE(agent.dump(), size_t(2), tools.size());
            CPPUNIT_ASSERT_EQUAL(weather, tools[0]["id"].get<std::string>());
            CPPUNIT_ASSERT_EQUAL(email, tools[1]["id"].get<std::string>());
            CPPUNIT_ASSERT_EQUAL(std::string("get_weather"), tools[0]["name"].get<std::string>());
            CPPUNIT_ASSERT(tools[0]["description"].is_null());
            CPPUNIT_ASSERT(tools[0]["catalogId"].is_null() && tools[0]["mcpServerId"].is_null());
            CPPUNIT_ASSERT_EQUAL(profile, tools[0]["agentId"].get<std::string>());
            CPPUNIT_ASSERT_EQUAL(json({{"type", "object"}}), tools[0]["parameters"]);
            CPPUNIT_ASSERT_EQUAL(size_t(24), tools[0]["createdAt"].get<std::string>().size());
        };
        check(f.ok("GET", "/api/agents/" + profile));
        // Bound to a name first: a range-for over f.ok(...)["data"] iterates a member of a temporary that is
        // destroyed before the loop body runs (the heap-use-after-free ASan found in LlmProxyTest).
        json page = f.ok("GET", "/api/agents?limit=100");
        for (const auto& agent : page["data"])
            if (agent["id"] == profile)
                check(agent);
            else
                CPPUNIT_ASSERT_EQUAL(size_t(1), agent["tools"].size());
        for (const auto& agent : f.ok("GET", "/api/agents/all"))
            if (agent["id"] == profile) check(agent);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(AgentsApiTest);
