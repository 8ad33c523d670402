// The MCP gateway over real HTTP and a real PostgreSQL, with a fake ToolExecutor standing in for installed
// MCP servers: sessions, auth, aggregation and routing, the guardrails (invocation policies, trusted-data
// policies, per-session taint), built-in tools and the /api/mcp-tool-calls log.
#include "core/gateway/McpGateway.h"
#include "core/mcp/ToolExecutor.h"
#include "core/proxy/ProfileCache.h"
#include "support/AuthTestServer.h"

#include <cppunit/extensions/HelperMacros.h>

#include <mutex>

using namespace archestra;
using archestra::test::AuthTestServer;
using archestra::test::HttpResult;
using nlohmann::json;

namespace {

/// Records every call; answers with what the test scripted for the tool (an echo by default).
class FakeExecutor : public mcp::ToolExecutor {
  public:
    struct Call {
        std::string serverId;
        std::string tool;
        json arguments;
    };
    json callTool(const std::string& serverId, const std::string& tool, const json& arguments,
                  std::int64_t) override {
        std::lock_guard<std::mutex> lock(mutex);
        calls.push_back({serverId, tool, arguments});
        if (tool == "down") throw mcp::McpUnavailableError("process exited with status 1");
        if (tool == "remote_error") throw mcp::McpRemoteError(-32602, "bad arguments for remote_error");
        if (auto it = answers.find(tool); it != answers.end()) return it->second;
        return {{"content",
                 json::array({{{"type", "text"}, {"text", "Echo: " + arguments.value("message", "")}}})}};
    }
    std::vector<Call> snapshot() {
        std::lock_guard<std::mutex> lock(mutex);
        return calls;
    }
    std::mutex mutex;
    std::vector<Call> calls;
    std::map<std::string, json> answers;
};

}  // namespace

class McpGatewayTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(McpGatewayTest);
    CPPUNIT_TEST(testSessionsAndRouting);
    CPPUNIT_TEST(testTransportErrors);
    CPPUNIT_TEST(testGuardrails);
    CPPUNIT_TEST(testBuiltinsAndLog);
    CPPUNIT_TEST_SUITE_END();

    struct Fixture {
        explicit Fixture(const std::string& database)
            : server(database), cache(server.db(), server.db().connectionString()) {
            profileId = server.seeded().defaultProfileId;
            catalogId = scalar(
                "INSERT INTO internal_mcp_catalog (name, server_type) VALUES ('Everything Server', "
                "'local') RETURNING id::text");
            serverId = scalar(
                "INSERT INTO mcp_server (name, catalog_id, server_type) VALUES ('everything', $1::uuid, "
                "'local') RETURNING id::text",
                {catalogId});
            // Stored the way the registry stores discovered tools: prefixed with the catalog slug.
            for (const char* tool : {"echo", "fetch", "send_email", "down", "remote_error", "read_secret"})
                agentTools[tool] = assign(std::string("everything_server__") + tool);
            server.db().execute(
                "UPDATE agent_tools SET tool_result_treatment = 'trusted' WHERE id IN ($1::uuid, $2::uuid)",
                {agentTools["echo"], agentTools["send_email"]});
            cache.reload();
            executor = std::make_shared<FakeExecutor>();
            gateway::GatewayOptions options;
            options.database = &server.db();
            options.auth = std::shared_ptr<auth::AuthService>(&server.auth(), [](auto*) {});
            options.profiles = &cache;
            options.toolExecutor = [this] { return executor; };
            options.hosts = gateway::HostPolicy::fromUrls({"http://localhost:9000"}, {});
            options.onPolicyChange = [this] { cache.invalidate(); };
            gateway = std::make_unique<gateway::McpGateway>(std::move(options));
            gateway->registerRoutes(server.router());
            server.start();
            adminKey = server.apiKey(server.seeded().adminUserId);
            adminCookie = server.sessionCookie(server.seeded().adminUserId);
        }
        std::string scalar(const std::string& sql, const std::vector<db::Value>& params = {}) {
            return server.db().query(sql, params).at(0).str(0);
        }
        std::string assign(const std::string& name) {
            std::string toolId = scalar(
                "INSERT INTO tools (catalog_id, mcp_server_id, name, description, parameters) VALUES "
                "($1::uuid, "
                "$2::uuid, $3, 'a test tool', '{\"type\":\"object\",\"properties\":{\"message\":{\"type\":"
                "\"string\"}}}') RETURNING id::text",
                {catalogId, serverId, name});
            return scalar(
                "INSERT INTO agent_tools (agent_id, tool_id) VALUES ($1::uuid, $2::uuid) RETURNING id::text",
                {profileId, toolId});
        }
        HttpResult post(const json& body, const std::string& session = "",
                        std::map<std::string, std::string> headers = {}, const std::string& path = "") {
            std::map<std::string, std::string> all = {{"Authorization", "Bearer " + adminKey},
                                                      {"Content-Type", "application/json"},
                                                      {"Accept", "application/json, text/event-stream"}};
            if (!session.empty()) all["Mcp-Session-Id"] = session;
            for (auto& [k, v] : headers) all[k] = v;
            return test::httpRequest(server.port(), "POST", path.empty() ? "/v1/mcp/" + profileId : path,
                                     body.dump(), all);
        }
        std::string initialize(std::map<std::string, std::string> headers = {},
                               const std::string& path = "") {
            HttpResult r = post({{"jsonrpc", "2.0"},
                                 {"id", 0},
                                 {"method", "initialize"},
                                 {"params",
                                  {{"protocolVersion", "2025-06-18"},
                                   {"capabilities", json::object()},
                                   {"clientInfo", {{"name", "test"}, {"version", "1"}}}}}},
                                "", headers, path);
            CPPUNIT_ASSERT_EQUAL_MESSAGE(r.body, 200, r.status);
            CPPUNIT_ASSERT_EQUAL(std::string("2025-06-18"),
                                 json::parse(r.body)["result"]["protocolVersion"].get<std::string>());
            std::string session = r.header("mcp-session-id");
            CPPUNIT_ASSERT_MESSAGE("no Mcp-Session-Id", session.size() >= 32);
            return session;
        }
        json rpc(const std::string& session, const std::string& method, const json& params = json::object(),
                 std::map<std::string, std::string> headers = {}) {
            HttpResult r =
                post({{"jsonrpc", "2.0"}, {"id", ++nextId}, {"method", method}, {"params", params}}, session,
                     headers);
            CPPUNIT_ASSERT_EQUAL_MESSAGE(method + ": " + r.body, 200, r.status);
            json body = json::parse(r.body);
            CPPUNIT_ASSERT_EQUAL(nextId, body["id"].get<int>());
            return body;
        }
        json call(const std::string& session, const std::string& tool, const json& arguments) {
            json body = rpc(session, "tools/call", {{"name", tool}, {"arguments", arguments}});
            CPPUNIT_ASSERT_MESSAGE(body.dump(), body.contains("result"));
            return body["result"];
        }
        static std::string text(const json& result) {
            return result["content"][0]["text"].get<std::string>();
        }
        static bool isError(const json& result) { return result.value("isError", false); }

        AuthTestServer server;
        proxy::ProfileCache cache;
        std::shared_ptr<FakeExecutor> executor;
        std::unique_ptr<gateway::McpGateway> gateway;
        std::string profileId, catalogId, serverId, adminKey, adminCookie;
        std::map<std::string, std::string> agentTools;
        int nextId = 0;
    };

  public:
    void testSessionsAndRouting() {
        Fixture f("gateway_routing");
        std::string session = f.initialize();
        json tools = f.rpc(session, "tools/list")["result"]["tools"];
        std::set<std::string> names;
        for (const auto& tool : tools) names.insert(tool["name"].get<std::string>());
        CPPUNIT_ASSERT_MESSAGE(tools.dump(), names.count("everything_server__echo") == 1);
        CPPUNIT_ASSERT(names.count("archestra__whoami") == 1);
        CPPUNIT_ASSERT(names.count("archestra__create_tool_invocation_policy") == 1);
        for (const auto& tool : tools)
            CPPUNIT_ASSERT_EQUAL(std::string("object"), tool["inputSchema"]["type"].get<std::string>());

        json result = f.call(session, "everything_server__echo", {{"message", "hi"}});
        CPPUNIT_ASSERT_EQUAL(std::string("Echo: hi"), Fixture::text(result));
        auto calls = f.executor->snapshot();
        CPPUNIT_ASSERT_EQUAL(size_t(1), calls.size());
        CPPUNIT_ASSERT_EQUAL(f.serverId, calls[0].serverId);
        CPPUNIT_ASSERT_EQUAL(std::string("echo"), calls[0].tool);  // prefix stripped
        CPPUNIT_ASSERT_EQUAL(std::string("hi"), calls[0].arguments["message"].get<std::string>());

        // Server failures degrade the call, not the session.
        json down = f.call(session, "everything_server__down", json::object());
        CPPUNIT_ASSERT(Fixture::isError(down));
        CPPUNIT_ASSERT_MESSAGE(Fixture::text(down),
                               Fixture::text(down).find("process exited") != std::string::npos);
        json remote = f.rpc(session, "tools/call", {{"name", "everything_server__remote_error"}});
        CPPUNIT_ASSERT_EQUAL(-32602, remote["error"]["code"].get<int>());
        CPPUNIT_ASSERT_EQUAL(
            -32601, f.rpc(session, "tools/call", {{"name", "other__tool"}})["error"]["code"].get<int>());
        CPPUNIT_ASSERT_EQUAL(
            -32601, f.rpc(session, "tools/call", {{"name", "archestra__nope"}})["error"]["code"].get<int>());
        CPPUNIT_ASSERT_EQUAL(-32601, f.rpc(session, "resources/list")["error"]["code"].get<int>());
        CPPUNIT_ASSERT(f.rpc(session, "ping")["result"].empty());

        // The session lives in the database: a second gateway (another replica) serves it.
        gateway::GatewayOptions options;
        options.database = &f.server.db();
        options.profiles = &f.cache;
        gateway::McpGateway replica(std::move(options));
        CPPUNIT_ASSERT(replica.sessions().touch(session, f.profileId).has_value());
        CPPUNIT_ASSERT(
            !replica.sessions().touch(session, "00000000-0000-4000-8000-000000000000").has_value());

        // Idle expiry: a session unused for longer than the window is gone.
        f.server.db().execute(
            "UPDATE mcp_gateway_session SET last_seen_at = now() - interval '31 minutes' WHERE id = $1",
            {session});
        HttpResult expired = f.post({{"jsonrpc", "2.0"}, {"id", 1}, {"method", "ping"}}, session);
        CPPUNIT_ASSERT_EQUAL(400, expired.status);
        CPPUNIT_ASSERT_EQUAL(1LL, f.gateway->sessions().expire());

        // DELETE ends a session.
        std::string second = f.initialize();
        HttpResult deleted =
            test::httpRequest(f.server.port(), "DELETE", "/v1/mcp/" + f.profileId, "",
                              {{"Authorization", "Bearer " + f.adminKey}, {"Mcp-Session-Id", second}});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(deleted.body, 200, deleted.status);
        CPPUNIT_ASSERT_EQUAL(400, f.post({{"jsonrpc", "2.0"}, {"id", 1}, {"method", "ping"}}, second).status);

        // Legacy endpoint: the profile id is the bearer.
        std::string legacy = f.initialize({{"Authorization", "Bearer " + f.profileId}}, "/v1/mcp");
        HttpResult legacyList = f.post({{"jsonrpc", "2.0"}, {"id", 7}, {"method", "tools/list"}}, legacy,
                                       {{"Authorization", "Bearer " + f.profileId}}, "/v1/mcp");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(legacyList.body, 200, legacyList.status);
        HttpResult discovery =
            test::httpRequest(f.server.port(), "GET", "/v1/mcp/" + f.profileId, "",
                              {{"Authorization", "Bearer " + f.adminKey}, {"Accept", "application/json"}});
        CPPUNIT_ASSERT_EQUAL(200, discovery.status);
        json d = json::parse(discovery.body);
        CPPUNIT_ASSERT_EQUAL(f.profileId, d["agentId"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("http"), d["transport"].get<std::string>());
        CPPUNIT_ASSERT(d["capabilities"]["tools"].get<bool>());
        HttpResult stream =
            test::httpRequest(f.server.port(), "GET", "/v1/mcp/" + f.profileId, "",
                              {{"Authorization", "Bearer " + f.adminKey}, {"Accept", "text/event-stream"}});
        // The SSE stream belongs to a session (e2e_gateway_builtins covers an open one).
        CPPUNIT_ASSERT_EQUAL(400, stream.status);
        CPPUNIT_ASSERT(stream.body.find("Mcp-Session-Id header is required") != std::string::npos);
    }

    void testTransportErrors() {
        Fixture f("gateway_transport");
        json ping = {{"jsonrpc", "2.0"}, {"id", 1}, {"method", "ping"}};
        HttpResult noSession = f.post(ping);
        CPPUNIT_ASSERT_EQUAL(400, noSession.status);
        CPPUNIT_ASSERT_EQUAL(
            std::string(
                R"({"error":{"code":-32000,"message":"Bad Request: Invalid or expired session"},"id":null,"jsonrpc":"2.0"})"),
            json::parse(noSession.body).dump());
        CPPUNIT_ASSERT_EQUAL(400, f.post(ping, "not-a-session").status);

        HttpResult badToken =
            f.post(ping, "", {{"Authorization", "Bearer archestra_0123456789abcdef0123456789abcdef"}});
        CPPUNIT_ASSERT_EQUAL(401, badToken.status);
        CPPUNIT_ASSERT_EQUAL(
            std::string(
                R"({"error":{"code":-32000,"message":"Unauthorized: Invalid token for this profile"},"id":null,"jsonrpc":"2.0"})"),
            json::parse(badToken.body).dump());
        CPPUNIT_ASSERT_EQUAL(401, f.post(ping, "", {{"Authorization", ""}}).status);
        CPPUNIT_ASSERT_EQUAL(401,
                             f.post(ping, "", {}, "/v1/mcp/00000000-0000-4000-8000-000000000000").status);
        // Legacy: a bearer that is not a profile id.
        CPPUNIT_ASSERT_EQUAL(401,
                             f.post(ping, "", {{"Authorization", "Bearer " + f.adminKey}}, "/v1/mcp").status);

        // DNS rebinding: a foreign host name or browser origin is refused before anything else.
        HttpResult rebinding = f.post(ping, "", {{"Host", "attacker.example:9000"}});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(rebinding.body, 403, rebinding.status);
        CPPUNIT_ASSERT_EQUAL(403, f.post(ping, "", {{"Origin", "https://attacker.example"}}).status);

        std::string session = f.initialize();
        CPPUNIT_ASSERT_EQUAL(406, f.post(ping, session, {{"Accept", "text/html"}}).status);
        CPPUNIT_ASSERT_EQUAL(415, f.post(ping, session, {{"Content-Type", "text/plain"}}).status);
        HttpResult parse = test::httpRequest(f.server.port(), "POST", "/v1/mcp/" + f.profileId, "{nope",
                                             {{"Authorization", "Bearer " + f.adminKey},
                                              {"Content-Type", "application/json"},
                                              {"Mcp-Session-Id", session}});
        CPPUNIT_ASSERT_EQUAL(400, parse.status);
        CPPUNIT_ASSERT_EQUAL(-32700, json::parse(parse.body)["error"]["code"].get<int>());
        CPPUNIT_ASSERT_EQUAL(
            -32600,
            json::parse(f.post({{"id", 1}, {"method", "ping"}}, session).body)["error"]["code"].get<int>());
        CPPUNIT_ASSERT_EQUAL(400, f.post(ping, session, {{"MCP-Protocol-Version", "1999-01-01"}}).status);

        // Notifications only: 202 and no body.
        HttpResult notified = f.post({{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}}, session);
        CPPUNIT_ASSERT_EQUAL(202, notified.status);
        CPPUNIT_ASSERT(notified.body.empty());

        // A batch answers every request in order, and skips the notification.
        json batch = json::array({ping,
                                  {{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}},
                                  {{"jsonrpc", "2.0"}, {"id", "two"}, {"method", "tools/list"}}});
        HttpResult batched = f.post(batch, session);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(batched.body, 200, batched.status);
        json answers = json::parse(batched.body);
        CPPUNIT_ASSERT_EQUAL(size_t(2), answers.size());
        CPPUNIT_ASSERT_EQUAL(1, answers[0]["id"].get<int>());
        CPPUNIT_ASSERT_EQUAL(std::string("two"), answers[1]["id"].get<std::string>());

        // SSE when the client accepts only an event stream.
        HttpResult sse = f.post(ping, session, {{"Accept", "text/event-stream"}});
        CPPUNIT_ASSERT_EQUAL(200, sse.status);
        CPPUNIT_ASSERT_MESSAGE(sse.header("content-type"),
                               sse.header("content-type").find("text/event-stream") == 0);
        CPPUNIT_ASSERT_MESSAGE(sse.body, sse.body.rfind("event: message\ndata: {", 0) == 0);
        CPPUNIT_ASSERT(sse.body.find("\"id\":1") != std::string::npos);
    }

    void testGuardrails() {
        Fixture f("gateway_guardrails");
        // Invocation policy: never echo anything mentioning a password.
        f.server.db().execute(
            "INSERT INTO tool_invocation_policies (agent_tool_id, argument_name, operator, value, action, "
            "reason) "
            "VALUES ($1::uuid, 'message', 'contains', 'password', 'block_always', 'No passwords through "
            "echo')",
            {f.agentTools["echo"]});
        // Trusted-data policy: read_secret results holding a private key are blocked outright.
        f.server.db().execute(
            "INSERT INTO trusted_data_policies (agent_tool_id, description, attribute_path, operator, value, "
            "action) "
            "VALUES ($1::uuid, 'private keys', 'kind', 'equal', 'private-key', 'block_always')",
            {f.agentTools["read_secret"]});
        f.cache.invalidate();
        f.executor->answers["read_secret"] = {
            {"content",
             json::array({{{"type", "text"}, {"text", R"({"kind":"private-key","key":"xyz"})"}}})}};

        std::string session = f.initialize();
        json blocked = f.call(session, "everything_server__echo", {{"message", "my password is hunter2"}});
        CPPUNIT_ASSERT(Fixture::isError(blocked));
        CPPUNIT_ASSERT_MESSAGE(Fixture::text(blocked),
                               Fixture::text(blocked).find("No passwords through echo") != std::string::npos);
        CPPUNIT_ASSERT_EQUAL(std::string("policy_block_always"),
                             blocked["_meta"]["archestra"]["reasonCode"].get<std::string>());
        CPPUNIT_ASSERT(f.executor->snapshot().empty());  // never reached the server
        CPPUNIT_ASSERT_EQUAL(
            std::string("Echo: fine"),
            Fixture::text(f.call(session, "everything_server__echo", {{"message", "fine"}})));

        // Trusted context: send_email is allowed. Then an untrusted result (fetch keeps the default
        // treatment) taints the session and the next send_email is refused, while another session stays
        // clean.
        CPPUNIT_ASSERT(
            !f.call(session, "everything_server__send_email", {{"message", "a"}}).value("isError", false));
        json fetched = f.call(session, "everything_server__fetch", {{"message", "https://example.com"}});
        CPPUNIT_ASSERT_MESSAGE(fetched.dump(), fetched["_meta"]["archestra"].value("sessionTainted", false));
        json refused = f.call(session, "everything_server__send_email", {{"message", "b"}});
        CPPUNIT_ASSERT(Fixture::isError(refused));
        CPPUNIT_ASSERT_MESSAGE(
            Fixture::text(refused),
            Fixture::text(refused).find("context contains untrusted data") != std::string::npos);
        CPPUNIT_ASSERT_EQUAL(std::string("untrusted_context"),
                             refused["_meta"]["archestra"]["reasonCode"].get<std::string>());
        std::string clean = f.initialize();
        CPPUNIT_ASSERT(
            !f.call(clean, "everything_server__send_email", {{"message", "c"}}).value("isError", false));

        // An allow_when_context_is_untrusted policy lets a matching call through a tainted session.
        f.server.db().execute(
            "INSERT INTO tool_invocation_policies (agent_tool_id, argument_name, operator, value, action) "
            "VALUES "
            "($1::uuid, 'message', 'startsWith', 'internal:', 'allow_when_context_is_untrusted')",
            {f.agentTools["send_email"]});
        f.cache.invalidate();
        CPPUNIT_ASSERT(!f.call(session, "everything_server__send_email", {{"message", "internal: ok"}})
                            .value("isError", false));

        // Blocked result: the content is replaced and the session becomes tainted.
        std::string third = f.initialize();
        json secret = f.call(third, "everything_server__read_secret", json::object());
        CPPUNIT_ASSERT_MESSAGE(secret.dump(),
                               Fixture::text(secret).find(
                                   "[Content blocked by policy: Data blocked by policy: private keys]") == 0);
        CPPUNIT_ASSERT(secret.dump().find("xyz") == std::string::npos);
        CPPUNIT_ASSERT(Fixture::isError(f.call(third, "everything_server__send_email", {{"message", "x"}})));
        auto stored = f.server.db().query(
            "SELECT data->>'tainted', data->>'taintReason' FROM mcp_gateway_session WHERE id = $1", {third});
        CPPUNIT_ASSERT_EQUAL(std::string("true"), stored.at(0).str(0));
        CPPUNIT_ASSERT_MESSAGE(stored.at(0).str(1),
                               stored.at(0).str(1).find("blocked by policy") != std::string::npos);

        // Built-in tools are never blocked by taint.
        json who = f.call(session, "archestra__whoami", json::object());
        CPPUNIT_ASSERT_MESSAGE(who.dump(),
                               Fixture::text(who).find("Profile ID: " + f.profileId) != std::string::npos);
    }

    void testBuiltinsAndLog() {
        Fixture f("gateway_builtins");
        std::string session = f.initialize();
        json created = f.call(session, "archestra__create_tool_invocation_policy",
                              {{"agentToolId", f.agentTools["echo"]},
                               {"argumentName", "message"},
                               {"operator", "equal"},
                               {"value", "stop"},
                               {"action", "block_always"},
                               {"reason", "made by the agent"}});
        CPPUNIT_ASSERT_MESSAGE(created.dump(), !Fixture::isError(created));
        std::string policyId = created["structuredContent"]["id"];
        // The new policy applies at once (the write invalidated the cache).
        CPPUNIT_ASSERT(Fixture::isError(f.call(session, "everything_server__echo", {{"message", "stop"}})));
        json updated = f.call(session, "archestra__update_tool_invocation_policy",
                              {{"id", policyId}, {"value", "halt"}});
        CPPUNIT_ASSERT_EQUAL(std::string("halt"), updated["structuredContent"]["value"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("made by the agent"),
                             updated["structuredContent"]["reason"].get<std::string>());
        json listed = f.call(session, "archestra__get_tool_invocation_policies", json::object());
        CPPUNIT_ASSERT(Fixture::text(listed).find(policyId) != std::string::npos);
        json bad = f.call(session, "archestra__create_trusted_data_policy",
                          {{"agentToolId", f.agentTools["fetch"]},
                           {"attributePath", "a"},
                           {"operator", "sortof"},
                           {"value", "x"}});
        CPPUNIT_ASSERT(Fixture::isError(bad));
        CPPUNIT_ASSERT_MESSAGE(Fixture::text(bad),
                               Fixture::text(bad).find("Field 'operator'") != std::string::npos);
        CPPUNIT_ASSERT(!Fixture::isError(
            f.call(session, "archestra__delete_tool_invocation_policy", {{"id", policyId}})));
        CPPUNIT_ASSERT(
            Fixture::isError(f.call(session, "archestra__get_tool_invocation_policy", {{"id", policyId}})));
        CPPUNIT_ASSERT_EQUAL(
            std::string("Echo: stop"),
            Fixture::text(f.call(session, "everything_server__echo", {{"message", "stop"}})));

        // Every initialize, list and call was logged.
        f.rpc(session, "tools/list");
        HttpResult page =
            f.server.asCookie(f.adminCookie, "GET", "/api/mcp-tool-calls?limit=2&agentId=" + f.profileId);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(page.body, 200, page.status);
        json body = json::parse(page.body);
        CPPUNIT_ASSERT_EQUAL(size_t(2), body["data"].size());
        CPPUNIT_ASSERT(body["pagination"]["total"].get<int>() >= 10);
        CPPUNIT_ASSERT(body["pagination"]["hasNext"].get<bool>());
        CPPUNIT_ASSERT_EQUAL(std::string("tools/list"), body["data"][0]["method"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("mcp-gateway"), body["data"][0]["mcpServerName"].get<std::string>());
        std::string id = body["data"][1]["id"];
        HttpResult one = f.server.asCookie(f.adminCookie, "GET", "/api/mcp-tool-calls/" + id);
        CPPUNIT_ASSERT_EQUAL(200, one.status);
        json row = json::parse(one.body);
        CPPUNIT_ASSERT_EQUAL(std::string("tools/call"), row["method"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("Everything Server"), row["mcpServerName"].get<std::string>());
        CPPUNIT_ASSERT(row["toolCall"]["id"].get<std::string>().rfind("mcp-call-", 0) == 0);
        CPPUNIT_ASSERT(row["createdAt"].get<std::string>().back() == 'Z');
        auto methods = f.server.db().query(
            "SELECT count(*) FILTER (WHERE method = 'initialize'), count(*) FILTER "
            "(WHERE mcp_server_name = 'archestra') FROM mcp_tool_calls");
        CPPUNIT_ASSERT_EQUAL(std::string("1"), methods.at(0).str(0));
        CPPUNIT_ASSERT_EQUAL(std::string("6"), methods.at(0).str(1));
        CPPUNIT_ASSERT_EQUAL(404, f.server
                                      .asCookie(f.adminCookie, "GET",
                                                "/api/mcp-tool-calls/00000000-0000-4000-8000-000000000000")
                                      .status);
        CPPUNIT_ASSERT_EQUAL(
            400, f.server.asCookie(f.adminCookie, "GET", "/api/mcp-tool-calls?sortBy=nope").status);
        CPPUNIT_ASSERT_EQUAL(401, f.server.asCookie("", "GET", "/api/mcp-tool-calls").status);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(McpGatewayTest);
