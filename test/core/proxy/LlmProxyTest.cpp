// Integration tests of the proxy's I/O half: real listener, upstream stand-in with recorded provider
// responses, a throwaway PostgreSQL; fidelity, guardrails, failures, interaction log and spool.
#include "ProxyTestSupport.h"
#include "UpstreamStandIn.h"

#include "support/HttpTestClient.h"
#include "support/TestPostgres.h"

#include "core/db/Database.h"
#include "core/db/EmbeddedPostgres.h"
#include "core/db/Migrator.h"
#include "core/db/Seed.h"
#include "core/http/Dispatcher.h"
#include "core/http/HttpListener.h"
#include "core/http/Router.h"
#include "core/proxy/InteractionLog.h"
#include "core/proxy/InteractionRoutes.h"
#include "core/proxy/LlmProxy.h"
#include "core/proxy/ProfileCache.h"
#include "core/proxy/ToolDiscovery.h"
#include "core/proxy/upstream/UpstreamPool.h"

#include <Poco/File.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <Poco/String.h>
#include <Poco/TemporaryFile.h>
#include <cppunit/extensions/HelperMacros.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <thread>
#include <vector>

using namespace archestra;
using namespace archestra::proxy;
using namespace archestra::proxy::test;
using nlohmann::json;

namespace {

using Clock = std::chrono::steady_clock;

/// One proxy instance (routes on a real listener) in front of an upstream.
struct ProxyStack {
    ProxyStack(db::Database& db, ProfileCache& cache, ToolDiscovery& discovery, InteractionLog& log,
               const std::string& upstreamBase, long idleTimeout_ms) {
        UpstreamOptions options;
        options.connectTimeout_ms = 1000;
        options.idleTimeout_ms = idleTimeout_ms;
        pool = std::make_unique<UpstreamPool>(options);
        ProxyUpstreams upstreams{UpstreamEndpoint::parse(upstreamBase + "/v1"),
                                 UpstreamEndpoint::parse(upstreamBase),
                                 UpstreamEndpoint::parse(upstreamBase)};
        proxy = std::make_unique<LlmProxy>(upstreams, *pool, cache, discovery, log);
        registerProxyRoutes(router, *proxy);
        registerInteractionRoutes(router, db);
        dispatcher = std::make_unique<http::Dispatcher>(router, http::DispatcherOptions{});
        http::ListenerOptions listenerOptions;
        listenerOptions.name = "proxy-test";
        listenerOptions.address = "127.0.0.1";
        listenerOptions.maxThreads = 32;
        listener = std::make_unique<http::HttpListener>(listenerOptions, *dispatcher);
        listener->start();
    }
    ~ProxyStack() { listener->stop(2000); }
    int port() const { return listener->port(); }

    std::unique_ptr<UpstreamPool> pool;
    std::unique_ptr<LlmProxy> proxy;
    http::Router router;
    std::unique_ptr<http::Dispatcher> dispatcher;
    std::unique_ptr<http::HttpListener> listener;
};

struct Env {
    Env() : pg(archestra::test::TestPostgres::shared()) {
        std::string connection = pg.createDatabase("proxy_io");
        db = std::make_unique<db::Database>(connection, 8, 3000);
        db::Migrator(*db, db::Migrator::defaultMigrationsDir()).migrate();
        db::seed(*db, "admin@localhost.ai", "password");
        defaultProfileId = db->query("SELECT id::text FROM agents WHERE is_default").at(0).str(0);
        spoolDir = Poco::TemporaryFile::tempName() + "-spool";
        cache = std::make_unique<ProfileCache>(*db, connection);
        cache->start();
        discovery = std::make_unique<ToolDiscovery>(*db, [this] { cache->invalidate(); });
        discovery->start();
        InteractionLogOptions logOptions;
        logOptions.retry_ms = 200;
        log = std::make_unique<InteractionLog>(*db, spoolDir, logOptions);
        log->start();
        main = std::make_unique<ProxyStack>(*db, *cache, *discovery, *log, standIn.baseUrl(), 800);
        down = std::make_unique<ProxyStack>(*db, *cache, *discovery, *log,
                                            "http://127.0.0.1:" + std::to_string(archestra::test::freePort()),
                                            800);
    }
    ~Env() {
        down.reset();
        main.reset();
        log->stop();
        discovery->stop();
        cache->stop();
        Poco::File(spoolDir).remove(true);
    }
    long long rows(const std::string& where = "true") {
        return std::stoll(db->query("SELECT count(*) FROM interactions WHERE " + where).at(0).str(0));
    }
    std::string createProfile(const std::string& name) {
        std::string id =
            db->query("INSERT INTO agents (name) VALUES ($1) RETURNING id::text", {name}).at(0).str(0);
        return id;
    }

    archestra::test::TestPostgres& pg;
    std::unique_ptr<db::Database> db;
    std::string defaultProfileId;
    std::string spoolDir;
    UpstreamStandIn standIn;
    std::unique_ptr<ProfileCache> cache;
    std::unique_ptr<ToolDiscovery> discovery;
    std::unique_ptr<InteractionLog> log;
    std::unique_ptr<ProxyStack> main;
    std::unique_ptr<ProxyStack> down;
};

Env& env() {
    static Env instance;
    return instance;
}

const std::map<std::string, std::string> kOpenAiHeaders = {{"Authorization", "Bearer sk-test-123"},
                                                           {"Content-Type", "application/json"}};

StandInReply jsonReply(const std::string& fixture) {
    StandInReply reply;
    reply.body = readFixture(fixture);
    reply.headers = {{"x-ratelimit-remaining-requests", "4999"}, {"x-request-id", "req_standin"}};
    return reply;
}

StandInReply sseReply(const std::string& fixture) {
    StandInReply reply;
    reply.contentType = "text/event-stream; charset=utf-8";
    reply.body = readFixture(fixture);
    reply.chunked = true;
    reply.chunkBytes = 37;  // splits events anywhere, like a real network
    return reply;
}

/// Tool call names the client sees in an OpenAI stream.
std::set<std::string> streamedToolNames(const std::string& stream) {
    std::set<std::string> names;
    for (const auto& event : parseAll(stream)) {
        if (event.data.empty() || event.data == "[DONE]") continue;
        json chunk = json::parse(event.data);
        for (const auto& choice : chunk.value("choices", json::array()))
            for (const auto& call : choice["delta"].value("tool_calls", json::array()))
                if (call.contains("function") && call["function"].contains("name"))
                    names.insert(call["function"]["name"].get<std::string>());
    }
    return names;
}

double percentile(std::vector<double> values, double p) {
    std::sort(values.begin(), values.end());
    return values.at(
        std::min(values.size() - 1, static_cast<std::size_t>(p * static_cast<double>(values.size()))));
}

}  // namespace

class LlmProxyTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(LlmProxyTest);
    CPPUNIT_TEST(testRequestBodyGoesUpstreamByteForByte);
    CPPUNIT_TEST(testUpstreamErrorComesBackUnchanged);
    CPPUNIT_TEST(testStreamRelayIsByteEqual);
    CPPUNIT_TEST(testStreamUsageIsAskedForAndHidden);
    CPPUNIT_TEST(testStreamWithContentLengthEndsAtItsLength);
    CPPUNIT_TEST(testUpstreamRequestIdIsTheProviders);
    CPPUNIT_TEST(testUpstreamDroppedMidStream);
    CPPUNIT_TEST(testUpstreamDroppedMidBodyIs502);
    CPPUNIT_TEST(testAnthropicAndGeminiRoutes);
    CPPUNIT_TEST(testPassThroughStripsProfile);
    CPPUNIT_TEST(testPassThroughClientDisconnectCancelsUpstream);
    CPPUNIT_TEST(testUnknownProfileIs404);
    CPPUNIT_TEST(testNonUuidProfileIs400);
    CPPUNIT_TEST(testSeveralChoicesWithToolsRefused);
    CPPUNIT_TEST(testUpstreamDownIs502ProviderShaped);
    CPPUNIT_TEST(testSlowUpstreamIs504);
    CPPUNIT_TEST(testSilentStreamEndsAfterTheIdleTimeout);
    CPPUNIT_TEST(testTimeToFirstTokenIncludesTheWaitForTheHead);
    CPPUNIT_TEST(testRequestReadByTheUpstreamIsNotSentTwice);
    CPPUNIT_TEST(testConnectionClosedWhileIdleIsNotUsed);
    CPPUNIT_TEST(testBlockedToolCallNonStreaming);
    CPPUNIT_TEST(testBlockedToolCallStreaming);
    CPPUNIT_TEST(testBlockAlwaysToolResultRewrittenUpstream);
    CPPUNIT_TEST(testToolDiscovery);
    CPPUNIT_TEST(testClientDisconnectCancelsUpstream);
    CPPUNIT_TEST(testInteractionsApi);
    CPPUNIT_TEST(testBurstRowsEqualRequests);
    CPPUNIT_TEST(testAddedLatency);
    CPPUNIT_TEST(testGeminiModelMustBeAName);
    CPPUNIT_TEST(testUpstreamTargetRefusesControlBytes);
    CPPUNIT_TEST(testGeminiApiVersionsRunTheGuardrails);
    CPPUNIT_TEST(testUpperCaseProfileId);
    CPPUNIT_TEST(testRouteErrorsAreProviderShaped);
    CPPUNIT_TEST(testMissingDefaultProfileIsCreated);
    CPPUNIT_TEST(testSpoolWhileDatabaseRestarts);
    CPPUNIT_TEST_SUITE_END();

  public:
    void testRequestBodyGoesUpstreamByteForByte() {
        auto& e = env();
        e.standIn.reply(jsonReply("openai/chat-response-text.json"));
        // Odd spacing, key order and unknown fields must survive untouched.
        std::string body =
            "{ \"model\":\"gpt-4o\",  \"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
            "\"response_format\":{\"type\":\"json_object\"},\"top_p\":0.5,\"x_unknown\":[1,2,{\"a\":null}] }";
        auto headers = kOpenAiHeaders;
        headers["OpenAI-Organization"] = "org-1";
        headers["OpenAI-Project"] = "proj-1";
        headers["X-Archestra-Agent-Id"] = "  agent-7  ";
        auto before = e.rows();
        auto result = archestra::test::httpRequest(e.main->port(), "POST", "/v1/openai/chat/completions",
                                                   body, headers);
        CPPUNIT_ASSERT_EQUAL(200, result.status);
        CPPUNIT_ASSERT_EQUAL(readFixture("openai/chat-response-text.json"), result.body);
        CPPUNIT_ASSERT_EQUAL(std::string("4999"), result.header("x-ratelimit-remaining-requests"));
        auto seen = e.standIn.last();
        CPPUNIT_ASSERT_EQUAL(std::string("/v1/chat/completions"), seen.uri);
        CPPUNIT_ASSERT_EQUAL(body, seen.body);
        CPPUNIT_ASSERT_EQUAL(std::string("Bearer sk-test-123"), seen.headers["authorization"]);
        CPPUNIT_ASSERT_EQUAL(std::string("org-1"), seen.headers["openai-organization"]);
        CPPUNIT_ASSERT_EQUAL(std::string("proj-1"), seen.headers["openai-project"]);
        CPPUNIT_ASSERT(!seen.headers.count("x-archestra-agent-id"));
        CPPUNIT_ASSERT(e.log->waitUntilDrained(10000));
        CPPUNIT_ASSERT_EQUAL(before + 1, e.rows());
        auto row = e.db->query(
                           "SELECT external_agent_id, profile_id::text, model, status_code, input_tokens, "
                           "cost::text, "
                           "request::text, provider FROM interactions ORDER BY created_at DESC LIMIT 1")
                       .at(0);
        CPPUNIT_ASSERT_EQUAL(std::string("agent-7"), row.str(0));
        CPPUNIT_ASSERT_EQUAL(e.defaultProfileId, row.str(1));
        CPPUNIT_ASSERT_EQUAL(std::string("gpt-4o"), row.str(2));
        CPPUNIT_ASSERT_EQUAL(std::string("200"), row.str(3));
        CPPUNIT_ASSERT(!row.isNull(4));
        CPPUNIT_ASSERT(!row.isNull(5));
        CPPUNIT_ASSERT(row.str(6).find("x_unknown") != std::string::npos);
        CPPUNIT_ASSERT_EQUAL(std::string("openai"), row.str(7));
        // The credential is never stored.
        CPPUNIT_ASSERT_EQUAL(
            0LL, e.rows("request::text LIKE '%sk-test-123%' OR response::text LIKE '%sk-test-123%'"));
    }

    void testUpstreamErrorComesBackUnchanged() {
        auto& e = env();
        StandInReply reply;
        reply.status = 429;
        reply.body =
            R"({"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}})";
        reply.headers = {{"retry-after", "7"}, {"x-ratelimit-reset-requests", "1s"}};
        e.standIn.reply(reply);
        auto result = archestra::test::httpRequest(e.main->port(), "POST", "/v1/openai/chat/completions",
                                                   R"({"model":"gpt-4o","messages":[]})", kOpenAiHeaders);
        CPPUNIT_ASSERT_EQUAL(429, result.status);
        CPPUNIT_ASSERT_EQUAL(reply.body, result.body);
        CPPUNIT_ASSERT_EQUAL(std::string("7"), result.header("retry-after"));
        CPPUNIT_ASSERT_EQUAL(std::string("1s"), result.header("x-ratelimit-reset-requests"));
    }

    void testStreamRelayIsByteEqual() {
        auto& e = env();
        for (const char* fixture : {"openai/chat-stream-text.sse", "openai/chat-stream-two-tool-calls.sse"}) {
            e.standIn.reply(sseReply(fixture));
            auto result = archestra::test::httpRequest(
                e.main->port(), "POST", "/v1/openai/chat/completions",
                R"({"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},)"
                R"("messages":[{"role":"user","content":"hi"}]})",
                kOpenAiHeaders);
            CPPUNIT_ASSERT_EQUAL(200, result.status);
            CPPUNIT_ASSERT_EQUAL_MESSAGE(fixture, readFixture(fixture), result.body);
            CPPUNIT_ASSERT(result.header("content-type").find("text/event-stream") == 0);
        }
        CPPUNIT_ASSERT(e.log->waitUntilDrained(10000));
        auto row = e.db->query(
                           "SELECT response::text, time_to_first_token_ms FROM interactions "
                           "ORDER BY created_at DESC LIMIT 1")
                       .at(0);
        json response = json::parse(row.str(0));
        // Stored in the provider's response shape (a chat.completion), like the non-streaming answer.
        CPPUNIT_ASSERT_EQUAL(std::string("chat.completion"), response.value("object", ""));
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), response["choices"][0]["message"]["tool_calls"].size());
        CPPUNIT_ASSERT_EQUAL(std::string("tool_calls"), response["choices"][0].value("finish_reason", ""));
        CPPUNIT_ASSERT(response.value("assembledFromStream", false));
        CPPUNIT_ASSERT(!row.isNull(1));
    }

    /// A stream request without include_usage (the openai SDKs' default): the upstream is asked for the usage
    /// (the member spliced into the client's bytes), the row has the tokens and cost, and the client gets the
    /// stream it asked for: no usage-only chunk, no "usage":null.
    void testStreamUsageIsAskedForAndHidden() {
        auto& e = env();
        const std::string fixture = readFixture("openai/chat-stream-text.sse");
        e.standIn.reply(sseReply("openai/chat-stream-text.sse"));
        const std::string body =
            R"({"model":"gpt-4o", "stream":true,"messages":[{"role":"user","content":"usage-hidden"}]})";
        auto result = archestra::test::httpRequest(e.main->port(), "POST", "/v1/openai/chat/completions",
                                                   body, kOpenAiHeaders);
        CPPUNIT_ASSERT_EQUAL(200, result.status);
        CPPUNIT_ASSERT_EQUAL(body.substr(0, body.size() - 1) + R"(,"stream_options":{"include_usage":true}})",
                             e.standIn.last().body);
        std::string expected;
        for (const auto& event : parseAll(fixture)) {
            if (event.data.find(R"("choices":[])") != std::string::npos) continue;
            std::string raw = event.raw;
            auto at = raw.rfind(R"(,"usage":null})");
            if (at != std::string::npos) raw.erase(at, std::string(R"(,"usage":null)").size());
            expected += raw;
        }
        CPPUNIT_ASSERT_EQUAL(expected, result.body);
        CPPUNIT_ASSERT(e.log->waitUntilDrained(10000));
        auto row =
            e.db->query(
                    "SELECT input_tokens, output_tokens, cost::text, request::text, "
                    "processed_request::text FROM interactions WHERE request::text LIKE '%usage-hidden%'")
                .at(0);
        CPPUNIT_ASSERT_EQUAL(std::string("19"), row.str(0));
        CPPUNIT_ASSERT_EQUAL(std::string("10"), row.str(1));
        CPPUNIT_ASSERT(!row.isNull(2));
        CPPUNIT_ASSERT(json::parse(row.str(3)).count("stream_options") == 0);  // the client's request
        CPPUNIT_ASSERT(json::parse(row.str(4))["stream_options"]["include_usage"] == true);  // what was sent
    }

    /// An upstream that sends its SSE body with a Content-Length (nginx serving a file, the benchmark's
    /// stand-in) and keeps the connection open: the stream ends when the length is reached. It used to wait
    /// on the silent socket for the idle timeout first (the proxy watches its client while the upstream is
    /// silent), so every such stream took the whole idle timeout; here 20 s, against a stream of a few KB.
    void testStreamWithContentLengthEndsAtItsLength() {
        auto& e = env();
        ProxyStack patient(*e.db, *e.cache, *e.discovery, *e.log, e.standIn.baseUrl(), 20000);
        for (const char* fixture : {"openai/chat-stream-text.sse", "openai/chat-stream-two-tool-calls.sse"}) {
            StandInReply reply = sseReply(fixture);
            reply.chunked = false;
            e.standIn.reply(reply);
            const auto started = Clock::now();
            auto result = archestra::test::httpRequest(
                patient.port(), "POST", "/v1/openai/chat/completions",
                R"({"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},)"
                R"("messages":[{"role":"user","content":"hi"}]})",
                kOpenAiHeaders);
            const auto elapsed_ms =
                std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
            CPPUNIT_ASSERT_EQUAL(200, result.status);
            CPPUNIT_ASSERT_EQUAL_MESSAGE(fixture, readFixture(fixture), result.body);
            CPPUNIT_ASSERT_MESSAGE(std::string(fixture) + ": the stream took " + std::to_string(elapsed_ms) +
                                       " ms, i.e. it waited for the 20 s idle timeout",
                                   elapsed_ms < 10000);
        }
    }

    void testUpstreamRequestIdIsTheProviders() {
        auto& e = env();
        e.standIn.reply(jsonReply("openai/chat-response-text.json"));
        auto result = archestra::test::httpRequest(e.main->port(), "POST", "/v1/openai/chat/completions",
                                                   R"({"model":"gpt-4o","messages":[]})", kOpenAiHeaders);
        CPPUNIT_ASSERT_EQUAL(200, result.status);
        // One value, the provider's (the SDKs expose it as the request id); ours under its own name.
        CPPUNIT_ASSERT_EQUAL(std::string("req_standin"), result.header("x-request-id"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(36), result.header("x-archestra-request-id").size());
    }

    void testUpstreamDroppedMidStream() {
        auto& e = env();
        StandInReply reply = sseReply("openai/chat-stream-text.sse");
        reply.dropAfterBytes = reply.body.size() / 2;
        e.standIn.reply(reply);
        auto result = archestra::test::httpRequest(
            e.main->port(), "POST", "/v1/openai/chat/completions",
            R"({"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]})",
            kOpenAiHeaders);
        CPPUNIT_ASSERT_EQUAL(200, result.status);
        // What arrived is relayed, then the provider-shaped error event (the connection is dropped after it).
        CPPUNIT_ASSERT_MESSAGE(result.body, result.body.rfind(reply.body.substr(0, 40), 0) == 0);
        CPPUNIT_ASSERT_MESSAGE(result.body, result.body.find("data: {\"error\"") != std::string::npos);
        CPPUNIT_ASSERT(result.body.find("[DONE]") == std::string::npos);
        // The broken upstream connection is not reused: the next call is answered.
        e.standIn.reply(jsonReply("openai/chat-response-text.json"));
        auto next = archestra::test::httpRequest(e.main->port(), "POST", "/v1/openai/chat/completions",
                                                 R"({"model":"gpt-4o","messages":[]})", kOpenAiHeaders);
        CPPUNIT_ASSERT_EQUAL(200, next.status);
    }

    void testUpstreamDroppedMidBodyIs502() {
        auto& e = env();
        StandInReply reply = jsonReply("openai/chat-response-text.json");
        reply.dropAfterBytes = reply.body.size() / 2;
        e.standIn.reply(reply);
        auto result = archestra::test::httpRequest(e.main->port(), "POST", "/v1/openai/chat/completions",
                                                   R"({"model":"gpt-4o","messages":[]})", kOpenAiHeaders);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(result.body, 502, result.status);
        CPPUNIT_ASSERT(json::parse(result.body)["error"]["message"].is_string());
    }

    void testAnthropicAndGeminiRoutes() {
        auto& e = env();
        e.standIn.reply(jsonReply("anthropic/messages-response-text.json"));
        std::string body =
            R"({"model":"claude-sonnet-4-5","max_tokens":64,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[{"role":"user","content":"hi"}]})";
        auto result = archestra::test::httpRequest(
            e.main->port(), "POST", "/v1/anthropic/" + e.defaultProfileId + "/v1/messages", body,
            {{"x-api-key", "sk-ant-1"},
             {"anthropic-version", "2023-06-01"},
             {"anthropic-beta", "tools-2024"},
             {"Content-Type", "application/json"}});
        CPPUNIT_ASSERT_EQUAL(200, result.status);
        CPPUNIT_ASSERT_EQUAL(readFixture("anthropic/messages-response-text.json"), result.body);
        auto seen = e.standIn.last();
        CPPUNIT_ASSERT_EQUAL(std::string("/v1/messages"), seen.uri);
        CPPUNIT_ASSERT_EQUAL(body, seen.body);
        CPPUNIT_ASSERT_EQUAL(std::string("sk-ant-1"), seen.headers["x-api-key"]);
        CPPUNIT_ASSERT_EQUAL(std::string("2023-06-01"), seen.headers["anthropic-version"]);
        CPPUNIT_ASSERT_EQUAL(std::string("tools-2024"), seen.headers["anthropic-beta"]);

        e.standIn.reply(sseReply("anthropic/messages-stream-thinking-text.sse"));
        result = archestra::test::httpRequest(
            e.main->port(), "POST", "/v1/anthropic/v1/messages",
            R"({"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"messages":[]})",
            {{"x-api-key", "sk-ant-1"}, {"anthropic-version", "2023-06-01"}});
        CPPUNIT_ASSERT_EQUAL(readFixture("anthropic/messages-stream-thinking-text.sse"), result.body);

        e.standIn.reply(sseReply("gemini/stream-text.sse"));
        std::string geminiBody = R"({"contents":[{"role":"user","parts":[{"text":"hi"}]}]})";
        result = archestra::test::httpRequest(
            e.main->port(), "POST", "/v1/gemini/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
            geminiBody, {{"x-goog-api-key", "g-1"}});
        CPPUNIT_ASSERT_EQUAL(200, result.status);
        CPPUNIT_ASSERT_EQUAL(readFixture("gemini/stream-text.sse"), result.body);
        seen = e.standIn.last();
        CPPUNIT_ASSERT_EQUAL(std::string("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"),
                             seen.uri);
        CPPUNIT_ASSERT_EQUAL(std::string("g-1"), seen.headers["x-goog-api-key"]);

        e.standIn.reply(jsonReply("gemini/generate-content-text.json"));
        result = archestra::test::httpRequest(
            e.main->port(), "POST",
            "/v1/gemini/" + e.defaultProfileId + "/v1beta/models/gemini-2.5-flash:generateContent",
            geminiBody, {{"x-goog-api-key", "g-1"}});
        CPPUNIT_ASSERT_EQUAL(200, result.status);
        CPPUNIT_ASSERT_EQUAL(std::string("/v1beta/models/gemini-2.5-flash:generateContent"),
                             e.standIn.last().uri);
    }

    void testPassThroughStripsProfile() {
        auto& e = env();
        StandInReply reply;
        reply.body = R"({"object":"list","data":[{"id":"gpt-4o"}]})";
        e.standIn.reply(reply);
        auto result = archestra::test::httpRequest(e.main->port(), "GET",
                                                   "/v1/openai/" + e.defaultProfileId + "/models", "",
                                                   {{"Authorization", "Bearer sk-test-123"}});
        CPPUNIT_ASSERT_EQUAL(200, result.status);
        CPPUNIT_ASSERT_EQUAL(reply.body, result.body);
        CPPUNIT_ASSERT_EQUAL(std::string("/v1/models"), e.standIn.last().uri);
        result = archestra::test::httpRequest(e.main->port(), "GET", "/v1/anthropic/v1/models?limit=2", "",
                                              {{"x-api-key", "k"}});
        CPPUNIT_ASSERT_EQUAL(std::string("/v1/models?limit=2"), e.standIn.last().uri);
        // HEAD: no body, the upstream's length (it was answered as 0).
        result = archestra::test::httpRequest(e.main->port(), "HEAD", "/v1/openai/models", "",
                                              {{"Authorization", "Bearer sk-test-123"}});
        CPPUNIT_ASSERT_EQUAL(200, result.status);
        CPPUNIT_ASSERT_EQUAL(std::to_string(reply.body.size()), result.headers["content-length"]);
        CPPUNIT_ASSERT_EQUAL(std::string("HEAD"), e.standIn.last().method);
        // Gemini's media upload keeps its own prefix (it was sent to /v1beta/upload/v1beta/files).
        result = archestra::test::httpRequest(
            e.main->port(), "POST",
            "/v1/gemini/" + e.defaultProfileId + "/upload/v1beta/files?uploadType=multipart", "{}",
            {{"x-goog-api-key", "g-1"}});
        CPPUNIT_ASSERT_EQUAL(std::string("/upload/v1beta/files?uploadType=multipart"), e.standIn.last().uri);
        result = archestra::test::httpRequest(e.main->port(), "GET", "/v1/gemini/models", "",
                                              {{"x-goog-api-key", "g-1"}});
        CPPUNIT_ASSERT_EQUAL(std::string("/v1beta/models"), e.standIn.last().uri);
    }

    /// A pass-through call is cancelled when its client hangs up, as a model call is: while the upstream has
    /// not answered yet, and while its body pauses. Measured by the proxy's disconnect counter, which must
    /// rise long before the stand-in would have gone on (3 s): without the watch it rose only then, on the
    /// failed write.
    void testPassThroughClientDisconnectCancelsUpstream() {
        auto& e = env();
        // Its own stack with a long idle timeout: the main one gives up on a silent upstream after 800 ms.
        ProxyStack patient(*e.db, *e.cache, *e.discovery, *e.log, e.standIn.baseUrl(), 10000);
        auto hangUpAfter = [&](const StandInReply& reply, bool readHead) {
            e.standIn.reply(reply);
            const auto before = patient.proxy->counters().clientDisconnects.load();
            Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(patient.port()));
            Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, "/v1/openai/models",
                                           Poco::Net::HTTPMessage::HTTP_1_1);
            request.set("Authorization", "Bearer sk-test-123");
            session.sendRequest(request).flush();
            if (readHead) {
                Poco::Net::HTTPResponse response;
                std::istream& in = session.receiveResponse(response);
                char buffer[16];
                in.read(buffer, sizeof buffer);
                CPPUNIT_ASSERT_EQUAL(std::streamsize(16), in.gcount());
            } else {
                std::this_thread::sleep_for(
                    std::chrono::milliseconds(200));  // the request reached the stand-in
            }
            const auto hungUp = Clock::now();
            session.abort();
            while (patient.proxy->counters().clientDisconnects.load() == before &&
                   Clock::now() - hungUp < std::chrono::seconds(10))
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            CPPUNIT_ASSERT_EQUAL(before + 1, patient.proxy->counters().clientDisconnects.load());
            return Clock::now() - hungUp;
        };
        StandInReply slowHead;
        slowHead.body = R"({"object":"list","data":[]})";
        slowHead.firstByteDelay_ms = 3000;
        auto waited = hangUpAfter(slowHead, false);
        CPPUNIT_ASSERT_MESSAGE("noticed after " + std::to_string(waited.count()) + " ns",
                               waited < std::chrono::milliseconds(1500));
        StandInReply pausedBody;
        pausedBody.body = std::string(4096, 'x');
        pausedBody.chunked = true;
        pausedBody.chunkBytes = 64;
        pausedBody.pauseAfterBytes = 64;
        pausedBody.pause_ms = 3000;
        waited = hangUpAfter(pausedBody, true);
        CPPUNIT_ASSERT_MESSAGE("noticed after " + std::to_string(waited.count()) + " ns",
                               waited < std::chrono::milliseconds(1500));
        // The proxy still serves pass-through calls afterwards.
        StandInReply plain;
        plain.body = R"({"object":"list","data":[]})";
        e.standIn.reply(plain);
        auto result = archestra::test::httpRequest(patient.port(), "GET", "/v1/openai/models", "",
                                                   {{"Authorization", "Bearer sk-test-123"}});
        CPPUNIT_ASSERT_EQUAL(200, result.status);
    }

    void testUnknownProfileIs404() {
        auto& e = env();
        auto result = archestra::test::httpRequest(
            e.main->port(), "POST", "/v1/openai/3b0f6a3e-5a8e-4c1e-9d3b-8b1f2a7c9e01/chat/completions",
            R"({"model":"gpt-4o","messages":[]})", kOpenAiHeaders);
        CPPUNIT_ASSERT_EQUAL(404, result.status);
        CPPUNIT_ASSERT(json::parse(result.body)["error"]["message"].get<std::string>().find("not found") !=
                       std::string::npos);
    }

    void testNonUuidProfileIs400() {
        auto& e = env();
        auto result =
            archestra::test::httpRequest(e.main->port(), "POST", "/v1/openai/not-a-uuid/chat/completions",
                                         R"({"model":"gpt-4o","messages":[]})", kOpenAiHeaders);
        CPPUNIT_ASSERT_EQUAL(400, result.status);
        CPPUNIT_ASSERT(json::parse(result.body).contains("error"));
    }

    /// The guardrails read one answer's tool calls, so asking for several answers with tools is refused
    /// (provider-shaped 400 naming the parameter, nothing sent upstream, the refusal recorded); without
    /// tools, or with one answer, the request goes through.
    void testSeveralChoicesWithToolsRefused() {
        auto& e = env();
        const std::string tools = R"("tools":[{"type":"function","function":{"name":"list_files"}}])";
        StandInReply reply;
        reply.body = R"({"id":"c","object":"chat.completion","choices":[]})";
        e.standIn.reply(reply);
        e.standIn.clearRequests();
        auto refused = archestra::test::httpRequest(
            e.main->port(), "POST", "/v1/openai/chat/completions",
            R"({"model":"gpt-4o","n":2,"messages":[{"role":"user","content":"hi"}],)" + tools + "}",
            kOpenAiHeaders);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(refused.body, 400, refused.status);
        json error = json::parse(refused.body)["error"];
        CPPUNIT_ASSERT_EQUAL(std::string("invalid_request_error"), error["type"].get<std::string>());
        CPPUNIT_ASSERT_MESSAGE(refused.body, error["message"].get<std::string>().rfind("n is 2", 0) == 0);
        // The slow path too (a tool result in the history takes the DOM reader).
        auto slow = archestra::test::httpRequest(
            e.main->port(), "POST", "/v1/openai/chat/completions",
            R"({"model":"gpt-4o","n":3,"messages":[{"role":"assistant","tool_calls":[{"id":"t1","type":)"
            R"("function","function":{"name":"list_files","arguments":"{}"}}]},{"role":"tool",)"
            R"("tool_call_id":"t1","content":"x"}],)" +
                tools + "}",
            kOpenAiHeaders);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(slow.body, 400, slow.status);
        auto gemini = archestra::test::httpRequest(
            e.main->port(), "POST", "/v1/gemini/v1beta/models/gemini-2.5-flash:generateContent",
            R"({"contents":[{"parts":[{"text":"hi"}]}],"generationConfig":{"candidateCount":2},"tools":[)"
            R"({"functionDeclarations":[{"name":"list_files"}]}]})",
            {{"x-goog-api-key", "g-1"}});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(gemini.body, 400, gemini.status);
        CPPUNIT_ASSERT(json::parse(gemini.body)["error"]["message"].get<std::string>().find(
                           "generationConfig.candidateCount is 2") != std::string::npos);
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), e.standIn.count());
        // Several answers without tools, and one answer with tools, go upstream.
        auto plain = archestra::test::httpRequest(
            e.main->port(), "POST", "/v1/openai/chat/completions",
            R"({"model":"gpt-4o","n":2,"messages":[{"role":"user","content":"hi"}]})", kOpenAiHeaders);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(plain.body, 200, plain.status);
        auto one = archestra::test::httpRequest(
            e.main->port(), "POST", "/v1/openai/chat/completions",
            R"({"model":"gpt-4o","n":1,"messages":[{"role":"user","content":"hi"}],)" + tools + "}",
            kOpenAiHeaders);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(one.body, 200, one.status);
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), e.standIn.count());
    }

    void testUpstreamDownIs502ProviderShaped() {
        auto& e = env();
        auto started = Clock::now();
        auto result = archestra::test::httpRequest(e.down->port(), "POST", "/v1/openai/chat/completions",
                                                   R"({"model":"gpt-4o","messages":[]})", kOpenAiHeaders);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(result.body, 502, result.status);
        json error = json::parse(result.body);
        CPPUNIT_ASSERT(error["error"]["message"].is_string());
        CPPUNIT_ASSERT(error["error"].contains("type"));
        auto anthropic = archestra::test::httpRequest(e.down->port(), "POST", "/v1/anthropic/v1/messages",
                                                      R"({"model":"c","max_tokens":1,"messages":[]})",
                                                      {{"x-api-key", "k"}});
        CPPUNIT_ASSERT_EQUAL(502, anthropic.status);
        CPPUNIT_ASSERT_EQUAL(std::string("error"), json::parse(anthropic.body)["type"].get<std::string>());
        std::cout << "\n  upstream down -> 502 in "
                  << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count()
                  << " ms" << std::endl;
    }

    void testSlowUpstreamIs504() {
        auto& e = env();
        StandInReply reply = jsonReply("openai/chat-response-text.json");
        reply.firstByteDelay_ms = 2500;  // the proxy's idle timeout in this test is 800 ms
        e.standIn.reply(reply);
        auto started = Clock::now();
        auto result = archestra::test::httpRequest(e.main->port(), "POST", "/v1/openai/chat/completions",
                                                   R"({"model":"gpt-4o","messages":[]})", kOpenAiHeaders);
        auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
        CPPUNIT_ASSERT_EQUAL(504, result.status);
        CPPUNIT_ASSERT(json::parse(result.body)["error"]["message"].is_string());
        // The idle timeout once, not twice (1600 ms: the wait for the first byte, then the read's own
        // timeout).
        CPPUNIT_ASSERT_MESSAGE("504 after " + std::to_string(elapsed) + " ms, idle timeout 800 ms",
                               elapsed >= 750 && elapsed < 1500);
        std::cout << "\n  slow upstream -> 504 after " << elapsed << " ms (idle timeout 800 ms)" << std::endl;
        std::this_thread::sleep_for(std::chrono::milliseconds(1800));  // let the stand-in finish
    }

    /// A stream that goes silent after its first event ends after the idle timeout, not twice that.
    void testSilentStreamEndsAfterTheIdleTimeout() {
        auto& e = env();
        StandInReply reply = sseReply("openai/chat-stream-text.sse");
        reply.pauseAfterBytes = reply.chunkBytes;
        reply.pause_ms = 2500;  // the proxy's idle timeout in this test is 800 ms
        e.standIn.reply(reply);
        auto started = Clock::now();
        auto result = archestra::test::httpRequest(
            e.main->port(), "POST", "/v1/openai/chat/completions",
            R"({"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[]})",
            kOpenAiHeaders);
        auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
        CPPUNIT_ASSERT_EQUAL(200, result.status);
        CPPUNIT_ASSERT_MESSAGE(result.body, result.body.find("idle timeout") != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE("stream ended after " + std::to_string(elapsed) + " ms, idle timeout 800 ms",
                               elapsed >= 750 && elapsed < 1500);
        std::cout << "\n  silent stream -> error event after " << elapsed << " ms (idle timeout 800 ms)"
                  << std::endl;
        std::this_thread::sleep_for(std::chrono::milliseconds(1800));  // let the stand-in finish
    }

    /// Time to first token runs from before the upstream call: an upstream that holds its response head back
    /// for 300 ms has a TTFT of at least 300 ms, streamed or not (it was measured from the head for streams).
    void testTimeToFirstTokenIncludesTheWaitForTheHead() {
        auto& e = env();
        for (bool stream : {true, false}) {
            StandInReply reply = stream ? sseReply("openai/chat-stream-text.sse")
                                        : jsonReply("openai/chat-response-text.json");
            reply.firstByteDelay_ms = 300;
            e.standIn.reply(reply);
            const std::string marker = stream ? "ttft-stream" : "ttft-plain";
            auto result = archestra::test::httpRequest(
                e.main->port(), "POST", "/v1/openai/chat/completions",
                std::string(R"({"model":"gpt-4o","stream":)") + (stream ? "true" : "false") +
                    R"(,"messages":[{"role":"user","content":")" + marker + R"("}]})",
                kOpenAiHeaders);
            CPPUNIT_ASSERT_EQUAL(200, result.status);
            CPPUNIT_ASSERT(e.log->waitUntilDrained(10000));
            auto row = e.db->query(
                               "SELECT time_to_first_token_ms, duration_ms FROM interactions WHERE "
                               "request::text LIKE $1",
                               {"%" + marker + "%"})
                           .at(0);
            CPPUNIT_ASSERT(!row.isNull(0));
            const long long ttft = std::stoll(row.str(0));
            const long long duration = std::stoll(row.str(1));
            std::cout << "\n  " << marker << ": time to first token " << ttft << " ms of " << duration
                      << " ms" << std::endl;
            CPPUNIT_ASSERT_MESSAGE(marker + ": " + std::to_string(ttft) + " ms", ttft >= 300);
            CPPUNIT_ASSERT(ttft <= duration);
        }
    }

    /// A request the upstream read whole and then dropped without answering (it may have run the model) is
    /// not sent again, although it went over a reused connection: a 502 and exactly one upstream request.
    void testRequestReadByTheUpstreamIsNotSentTwice() {
        auto& e = env();
        ProxyStack own(*e.db, *e.cache, *e.discovery, *e.log, e.standIn.baseUrl(), 5000);
        e.standIn.reply(jsonReply("openai/chat-response-text.json"));
        const std::string body = R"({"model":"gpt-4o","messages":[]})";
        CPPUNIT_ASSERT_EQUAL(200, archestra::test::httpRequest(
                                      own.port(), "POST", "/v1/openai/chat/completions", body, kOpenAiHeaders)
                                      .status);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), own.pool->idleSessions());  // the next request reuses it
        StandInReply dies;
        dies.closeWithoutAnswer = true;
        e.standIn.queue({dies});
        const auto before = e.standIn.count();
        auto result = archestra::test::httpRequest(own.port(), "POST", "/v1/openai/chat/completions", body,
                                                   kOpenAiHeaders);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(result.body, 502, result.status);
        CPPUNIT_ASSERT_EQUAL(before + 1, e.standIn.count());
        // The pool recovers: the next request gets a fresh connection.
        CPPUNIT_ASSERT_EQUAL(200, archestra::test::httpRequest(
                                      own.port(), "POST", "/v1/openai/chat/completions", body, kOpenAiHeaders)
                                      .status);
        CPPUNIT_ASSERT_EQUAL(before + 2, e.standIn.count());
    }

    /// The common stale case: the upstream closed the pooled connection while it was idle. The request still
    /// succeeds, sent once, on another connection: the pool drops the closed one before sending anything.
    void testConnectionClosedWhileIdleIsNotUsed() {
        auto& e = env();
        UpstreamStandIn shortKeepAlive(100);
        shortKeepAlive.reply(jsonReply("openai/chat-response-text.json"));
        ProxyStack own(*e.db, *e.cache, *e.discovery, *e.log, shortKeepAlive.baseUrl(), 5000);
        const std::string body = R"({"model":"gpt-4o","messages":[]})";
        for (int i = 0; i < 3; ++i) {
            CPPUNIT_ASSERT_EQUAL(
                200, archestra::test::httpRequest(own.port(), "POST", "/v1/openai/chat/completions", body,
                                                  kOpenAiHeaders)
                         .status);
            CPPUNIT_ASSERT_EQUAL(std::size_t(1), own.pool->idleSessions());
            std::this_thread::sleep_for(std::chrono::milliseconds(400));  // the stand-in closes it meanwhile
        }
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), shortKeepAlive.count());
        CPPUNIT_ASSERT_EQUAL(std::uint64_t(2), own.pool->staleDropped());
    }

    std::string blockingProfile() {
        auto& e = env();
        static std::string id;
        if (!id.empty()) return id;
        id = e.createProfile("blocking profile");
        std::string toolId = e.db->query(
                                     "INSERT INTO tools (agent_id, name) VALUES ($1::uuid, 'send_email') "
                                     "RETURNING id::text",
                                     {id})
                                 .at(0)
                                 .str(0);
        std::string agentToolId =
            e.db->query(
                    "INSERT INTO agent_tools (agent_id, tool_id) VALUES ($1::uuid, $2::uuid) "
                    "RETURNING id::text",
                    {id, toolId})
                .at(0)
                .str(0);
        e.db->execute(
            "INSERT INTO tool_invocation_policies (agent_tool_id, argument_name, operator, value, action, "
            "reason) "
            "VALUES ($1::uuid, 'to', 'endsWith', '@example.com', 'block_always', 'No mail to example.com')",
            {agentToolId});
        e.cache->invalidate();
        return id;
    }

    void testBlockedToolCallNonStreaming() {
        auto& e = env();
        std::string profile = blockingProfile();
        e.standIn.reply(jsonReply("openai/chat-response-two-tool-calls.json"));
        auto result = archestra::test::httpRequest(
            e.main->port(), "POST", "/v1/openai/" + profile + "/chat/completions",
            R"({"model":"gpt-4o","messages":[{"role":"user","content":"mail bob"}]})", kOpenAiHeaders);
        CPPUNIT_ASSERT_EQUAL(200, result.status);
        json body = json::parse(result.body);
        std::set<std::string> names;
        for (const auto& call : body["choices"][0]["message"].value("tool_calls", json::array()))
            names.insert(call["function"]["name"].get<std::string>());
        CPPUNIT_ASSERT(names.count("get_weather"));
        CPPUNIT_ASSERT(!names.count("send_email"));
        CPPUNIT_ASSERT(result.body.find("No mail to example.com") != std::string::npos);
        // The structured signal: how many calls were removed.
        CPPUNIT_ASSERT_EQUAL(std::string("1"), result.header("x-archestra-blocked-tool-calls"));
        CPPUNIT_ASSERT(e.log->waitUntilDrained(10000));
        auto row = e.db->query(
                           "SELECT blocked, decisions::text FROM interactions WHERE profile_id = $1::uuid "
                           "ORDER BY created_at DESC LIMIT 1",
                           {profile})
                       .at(0);
        CPPUNIT_ASSERT(row.boolean(0));
        CPPUNIT_ASSERT(row.str(1).find("No mail to example.com") != std::string::npos);
    }

    void testBlockedToolCallStreaming() {
        auto& e = env();
        std::string profile = blockingProfile();
        e.standIn.reply(sseReply("openai/chat-stream-two-tool-calls.sse"));
        auto result = archestra::test::httpRequest(
            e.main->port(), "POST", "/v1/openai/" + profile + "/chat/completions",
            R"({"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"mail bob"}]})",
            kOpenAiHeaders);
        CPPUNIT_ASSERT_EQUAL(200, result.status);
        auto names = streamedToolNames(result.body);
        CPPUNIT_ASSERT(names.count("get_weather"));
        CPPUNIT_ASSERT(!names.count("send_email"));
        CPPUNIT_ASSERT(result.body.find("No mail to example.com") != std::string::npos);
        CPPUNIT_ASSERT(result.body.find("data: [DONE]") != std::string::npos);
        // The structured signal: one SSE comment per blocked call, right before the refusal text.
        const std::string lead = ": archestra-blocked-tool-call ";
        auto at = result.body.find(lead);
        CPPUNIT_ASSERT(at != std::string::npos);
        CPPUNIT_ASSERT(result.body.find(lead, at + 1) == std::string::npos);
        auto end = result.body.find("\n\n", at);
        json signal = json::parse(result.body.substr(at + lead.size(), end - at - lead.size()));
        CPPUNIT_ASSERT_EQUAL(std::string("send_email"), signal["toolName"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("No mail to example.com"), signal["reason"].get<std::string>());
        const std::string content = signal["content"];
        CPPUNIT_ASSERT(content.find("I tried to invoke the send_email tool") != std::string::npos);
        CPPUNIT_ASSERT(result.body.find(json(content).dump(), end) != std::string::npos);
        CPPUNIT_ASSERT(result.header("x-archestra-blocked-tool-calls").empty());
        CPPUNIT_ASSERT(e.log->waitUntilDrained(10000));
        auto row = e.db->query(
                           "SELECT blocked FROM interactions WHERE profile_id = $1::uuid "
                           "ORDER BY created_at DESC LIMIT 1",
                           {profile})
                       .at(0);
        CPPUNIT_ASSERT(row.boolean(0));
    }

    void testBlockAlwaysToolResultRewrittenUpstream() {
        auto& e = env();
        std::string profile = e.createProfile("trusted data profile");
        std::string toolId = e.db->query(
                                     "INSERT INTO tools (agent_id, name) VALUES ($1::uuid, 'get_weather') "
                                     "RETURNING id::text",
                                     {profile})
                                 .at(0)
                                 .str(0);
        std::string agentToolId =
            e.db->query(
                    "INSERT INTO agent_tools (agent_id, tool_id) VALUES ($1::uuid, $2::uuid) "
                    "RETURNING id::text",
                    {profile, toolId})
                .at(0)
                .str(0);
        e.db->execute(
            "INSERT INTO trusted_data_policies (agent_tool_id, description, attribute_path, operator, value, "
            "action) "
            "VALUES ($1::uuid, 'rainy data', 'conditions', 'equal', 'rain', 'block_always')",
            {agentToolId});
        e.cache->invalidate();
        e.standIn.reply(sseReply("openai/chat-stream-text.sse"));
        std::string body = readFixture("openai/chat-request-tool-results.json");
        auto result = archestra::test::httpRequest(
            e.main->port(), "POST", "/v1/openai/" + profile + "/chat/completions", body, kOpenAiHeaders);
        CPPUNIT_ASSERT_EQUAL(200, result.status);
        std::string upstream = e.standIn.last().body;
        CPPUNIT_ASSERT(upstream != body);
        CPPUNIT_ASSERT(upstream.find("Content blocked by policy") != std::string::npos);
        CPPUNIT_ASSERT(upstream.find("\"top_p\":0.9") != std::string::npos);  // everything else kept
        CPPUNIT_ASSERT(upstream.find("celsius") == std::string::npos);
        CPPUNIT_ASSERT(e.log->waitUntilDrained(10000));
        auto row = e.db->query(
                           "SELECT processed_request IS NOT NULL, decisions::text FROM interactions "
                           "WHERE profile_id = $1::uuid ORDER BY created_at DESC LIMIT 1",
                           {profile})
                       .at(0);
        CPPUNIT_ASSERT(row.boolean(0));
        CPPUNIT_ASSERT(row.str(1).find("policy_block_always") != std::string::npos);
    }

    void testToolDiscovery() {
        auto& e = env();
        std::string profile = e.createProfile("discovery profile");
        e.standIn.reply(jsonReply("openai/chat-response-text.json"));
        std::string body =
            R"({"model":"gpt-4o","messages":[],"tools":[{"type":"function","function":{"name":"lookup","description":"Find","parameters":{"type":"object"}}}]})";
        for (int i = 0; i < 3; ++i) {
            auto result = archestra::test::httpRequest(
                e.main->port(), "POST", "/v1/openai/" + profile + "/chat/completions", body, kOpenAiHeaders);
            CPPUNIT_ASSERT_EQUAL(200, result.status);
        }
        CPPUNIT_ASSERT(e.discovery->waitUntilIdle(10000));
        CPPUNIT_ASSERT_EQUAL(
            std::string("1"),
            e.db->query("SELECT count(*) FROM tools t JOIN agent_tools a ON a.tool_id = t.id "
                        "WHERE t.agent_id = $1::uuid AND t.name = 'lookup' AND t.description = 'Find'",
                        {profile})
                .at(0)
                .str(0));
    }

    void testClientDisconnectCancelsUpstream() {
        auto& e = env();
        // A long stream: 400 text events, sent slowly by the stand-in.
        std::string stream;
        for (int i = 0; i < 400; ++i)
            stream +=
                "data: "
                "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\","
                "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"word" +
                std::to_string(i) + " \"},\"finish_reason\":null}]}\n\n";
        StandInReply reply;
        reply.contentType = "text/event-stream";
        reply.body = stream;
        reply.chunked = true;
        reply.chunkBytes = 200;
        e.standIn.reply(reply);
        int abortedBefore = e.standIn.aborted();
        auto before = e.rows("decisions->>'clientDisconnected' = 'true'");
        {
            Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(e.main->port()));
            Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, "/v1/openai/chat/completions",
                                           Poco::Net::HTTPMessage::HTTP_1_1);
            std::string body = R"({"model":"gpt-4o","stream":true,"messages":[]})";
            request.setContentLength(static_cast<std::streamsize>(body.size()));
            request.set("Authorization", "Bearer sk-test-123");
            session.sendRequest(request) << body;
            Poco::Net::HTTPResponse response;
            std::istream& in = session.receiveResponse(response);
            char buffer[512];
            in.read(buffer, sizeof buffer);  // the first events arrive before the upstream is done
            CPPUNIT_ASSERT_EQUAL(std::streamsize(512), in.gcount());
            CPPUNIT_ASSERT(std::string(buffer, 512).find("word0") != std::string::npos);
            session.abort();
        }
        auto deadline = Clock::now() + std::chrono::seconds(10);
        while (Clock::now() < deadline && e.standIn.aborted() == abortedBefore)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        CPPUNIT_ASSERT_MESSAGE("the upstream stream was not cancelled", e.standIn.aborted() > abortedBefore);
        CPPUNIT_ASSERT(e.log->waitUntilDrained(10000));
        CPPUNIT_ASSERT_EQUAL(before + 1, e.rows("decisions->>'clientDisconnected' = 'true'"));
    }

    void testInteractionsApi() {
        auto& e = env();
        // The read API is permission-protected; the test dispatcher has no authenticator, so call the
        // SQL-backed handler through a dispatcher that admits everyone.
        struct AllowAll : http::Authenticator {
            std::optional<http::Principal> authenticate(http::Context&) override {
                return http::Principal{.userId = "u"};
            }
            void authorize(const http::Principal&, const http::Access&, http::Context&) override {}
        };
        e.main->dispatcher->setAuthenticator(std::make_shared<AllowAll>());
        CPPUNIT_ASSERT(e.log->waitUntilDrained(10000));
        auto result = archestra::test::httpRequest(
            e.main->port(), "GET", "/api/interactions?limit=2&externalAgentId=agent-7&sortDirection=asc");
        CPPUNIT_ASSERT_EQUAL(200, result.status);
        json page = json::parse(result.body);
        CPPUNIT_ASSERT(page["pagination"]["total"].get<long long>() >= 1);
        CPPUNIT_ASSERT_EQUAL(std::string("agent-7"), page["data"][0]["externalAgentId"].get<std::string>());
        CPPUNIT_ASSERT(page["data"][0]["cost"].is_string());
        std::string id = page["data"][0]["id"].get<std::string>();
        auto one = archestra::test::httpRequest(e.main->port(), "GET", "/api/interactions/" + id);
        CPPUNIT_ASSERT_EQUAL(200, one.status);
        CPPUNIT_ASSERT_EQUAL(id, json::parse(one.body)["id"].get<std::string>());
        auto ids =
            archestra::test::httpRequest(e.main->port(), "GET", "/api/interactions/external-agent-ids");
        CPPUNIT_ASSERT(json::parse(ids.body) == json::array({"agent-7"}));
        auto blocked =
            archestra::test::httpRequest(e.main->port(), "GET", "/api/interactions?blocked=true&limit=100");
        CPPUNIT_ASSERT_EQUAL(200, blocked.status);
        // Bound to a name first: a range-for over json::parse(...)["data"] iterates a member of a temporary
        // that is destroyed before the loop body runs (ASan: heap-use-after-free).
        json blockedPage = json::parse(blocked.body);
        CPPUNIT_ASSERT(blockedPage["data"].is_array());
        for (const auto& item : blockedPage["data"]) CPPUNIT_ASSERT(item["blocked"].get<bool>());
        auto missing = archestra::test::httpRequest(e.main->port(), "GET",
                                                    "/api/interactions/3b0f6a3e-5a8e-4c1e-9d3b-8b1f2a7c9e01");
        CPPUNIT_ASSERT_EQUAL(404, missing.status);
        e.main->dispatcher->setAuthenticator(nullptr);
    }

    void testBurstRowsEqualRequests() {
        auto& e = env();
        e.standIn.reply(jsonReply("openai/chat-response-text.json"));
        CPPUNIT_ASSERT(e.log->waitUntilDrained(10000));
        auto before = e.rows();
        std::atomic<int> ok{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t) {
            threads.emplace_back([&] {
                for (int i = 0; i < 50; ++i) {
                    auto result =
                        archestra::test::httpRequest(e.main->port(), "POST", "/v1/openai/chat/completions",
                                                     R"({"model":"gpt-4o","messages":[]})", kOpenAiHeaders);
                    if (result.status == 200) ++ok;
                }
            });
        }
        for (auto& thread : threads) thread.join();
        CPPUNIT_ASSERT_EQUAL(200, ok.load());
        CPPUNIT_ASSERT(e.log->waitUntilDrained(10000));
        CPPUNIT_ASSERT_EQUAL(before + 200, e.rows());
    }

    void testAddedLatency() {
        auto& e = env();
        e.standIn.reply(jsonReply("openai/chat-response-text.json"));
        std::string body = R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]})";
        auto measure = [&](int port, const std::string& path) {
            Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port));
            session.setKeepAlive(true);
            std::vector<double> ms;
            for (int i = 0; i < 300; ++i) {
                Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, path,
                                               Poco::Net::HTTPMessage::HTTP_1_1);
                request.setKeepAlive(true);
                request.setContentLength(static_cast<std::streamsize>(body.size()));
                request.set("Authorization", "Bearer sk-test-123");
                auto started = Clock::now();
                session.sendRequest(request) << body;
                Poco::Net::HTTPResponse response;
                std::string out;
                Poco::StreamCopier::copyToString(session.receiveResponse(response), out);
                ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - started).count());
                CPPUNIT_ASSERT_EQUAL(200, static_cast<int>(response.getStatus()));
            }
            ms.erase(ms.begin(), ms.begin() + 20);  // warm-up
            return ms;
        };
        auto direct = measure(e.standIn.port(), "/v1/chat/completions");
        auto proxied = measure(e.main->port(), "/v1/openai/chat/completions");
        std::cout << "\n  latency over 280 sequential keep-alive requests (ms): direct p50 "
                  << percentile(direct, 0.5) << " p99 " << percentile(direct, 0.99)
                  << "; through the proxy p50 " << percentile(proxied, 0.5) << " p99 "
                  << percentile(proxied, 0.99) << "; added p50 "
                  << percentile(proxied, 0.5) - percentile(direct, 0.5) << " p99 "
                  << percentile(proxied, 0.99) - percentile(direct, 0.99) << std::endl;
        CPPUNIT_ASSERT(e.log->waitUntilDrained(10000));
    }

    /// The model path segment goes into the upstream's request line: anything but a model name (spec §1.2,
    /// ^[a-zA-Z0-9-.]+$) is refused before the upstream is called. Decoded %0D%0A used to inject headers (or
    /// a second request) into a pooled keep-alive upstream connection.
    void testGeminiModelMustBeAName() {
        auto& e = env();
        e.standIn.reply(jsonReply("gemini/generate-content-text.json"));
        const std::string body = R"({"contents":[{"role":"user","parts":[{"text":"hi"}]}]})";
        for (const std::string bad : {"gemini-2.5-flash%0D%0AX-Injected:%20yes%0D%0AX-Pad:%20a",
                                      "gemini%20flash", "gemini-2.5-flash%3Fkey=stolen", "gemini%23fragment",
                                      "gemini%09flash", "gemini%00", "gemini_2"}) {
            for (const std::string& prefix : {std::string("/v1/gemini/models/"),
                                              "/v1/gemini/" + e.defaultProfileId + "/v1beta/models/"}) {
                const auto before = e.standIn.count();
                auto result =
                    archestra::test::httpRequest(e.main->port(), "POST", prefix + bad + ":generateContent",
                                                 body, {{"x-goog-api-key", "g-1"}});
                CPPUNIT_ASSERT_EQUAL_MESSAGE(bad + ": " + result.body, 400, result.status);
                json error = json::parse(result.body)["error"];
                CPPUNIT_ASSERT_EQUAL(400, error["code"].get<int>());
                CPPUNIT_ASSERT_EQUAL(std::string("INVALID_ARGUMENT"), error["status"].get<std::string>());
                CPPUNIT_ASSERT_MESSAGE(
                    result.body, error["message"].get<std::string>().find("'model'") != std::string::npos);
                CPPUNIT_ASSERT_EQUAL_MESSAGE(bad, before, e.standIn.count());
            }
        }
        // A name with dots and dashes still goes through.
        auto result = archestra::test::httpRequest(
            e.main->port(), "POST", "/v1/gemini/models/gemini-2.5-flash-lite.001:generateContent", body,
            {{"x-goog-api-key", "g-1"}});
        CPPUNIT_ASSERT_EQUAL(200, result.status);
        CPPUNIT_ASSERT_EQUAL(std::string("/v1beta/models/gemini-2.5-flash-lite.001:generateContent"),
                             e.standIn.last().uri);
    }

    /// The second guard, under every route: the upstream request refuses a target with CR, LF, spaces or
    /// other control bytes. The pass-through forwards the raw (still percent-encoded) path, so an encoded CR
    /// LF stays three harmless characters; a raw control byte (the client's request line allows it) is
    /// refused.
    void testUpstreamTargetRefusesControlBytes() {
        for (const std::string bad :
             {std::string("/v1/models\r\nX: y"), std::string("/a b"), std::string("/a\tb"),
              std::string("/a\x01"), std::string("/a\x7f"), std::string("/a\0b", 4), std::string("/a?b=\n")})
            CPPUNIT_ASSERT_THROW_MESSAGE(bad, checkRequestTarget(bad), UpstreamTargetException);
        checkRequestTarget("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&key=a%20b");
        checkRequestTarget("/v1/models/caf\xc3\xa9");

        auto& e = env();
        StandInReply reply;
        reply.body = R"({"object":"list","data":[]})";
        e.standIn.reply(reply);
        auto result =
            archestra::test::httpRequest(e.main->port(), "GET", "/v1/openai/models%0D%0AX-Injected:%20yes",
                                         "", {{"Authorization", "Bearer sk-test-123"}});
        CPPUNIT_ASSERT_EQUAL(200, result.status);
        auto seen = e.standIn.last();
        CPPUNIT_ASSERT_EQUAL(std::string("/v1/models%0D%0AX-Injected:%20yes"), seen.uri);
        CPPUNIT_ASSERT(!seen.headers.count("x-injected"));

        const auto before = e.standIn.count();
        result = archestra::test::httpRequest(e.main->port(), "GET", "/v1/openai/models\x01x", "",
                                              {{"Authorization", "Bearer sk-test-123"}});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(result.body, 400, result.status);
        json error = json::parse(result.body)["error"];
        CPPUNIT_ASSERT_EQUAL(std::string("invalid_request_error"), error["type"].get<std::string>());
        CPPUNIT_ASSERT_MESSAGE(result.body,
                               error["message"].get<std::string>().find("0x01") != std::string::npos);
        CPPUNIT_ASSERT_EQUAL(before, e.standIn.count());
    }

    /// @google/genai puts its API version (v1beta, v1 or v1alpha) in the path: every one runs through the
    /// guardrails (here a tool invocation policy) and reaches the upstream with the same version. v1 and
    /// v1alpha used to fall into the pass-through, which applies no policy and records nothing.
    void testGeminiApiVersionsRunTheGuardrails() {
        auto& e = env();
        const std::string profile = blockingProfile();
        const std::string body = R"({"contents":[{"role":"user","parts":[{"text":"mail bob"}]}]})";
        for (const std::string version : {"v1", "v1alpha", "v1beta"}) {
            for (const std::string seg : {"/" + profile, std::string()}) {
                e.standIn.reply(jsonReply("gemini/generate-content-function-calls.json"));
                CPPUNIT_ASSERT(e.log->waitUntilDrained(10000));
                const auto before = e.rows();
                const std::string path =
                    "/v1/gemini" + seg + "/" + version + "/models/gemini-2.5-flash:generateContent";
                auto result = archestra::test::httpRequest(e.main->port(), "POST", path, body,
                                                           {{"x-goog-api-key", "g-1"}});
                CPPUNIT_ASSERT_EQUAL_MESSAGE(path + ": " + result.body, 200, result.status);
                CPPUNIT_ASSERT_EQUAL(std::string("/" + version + "/models/gemini-2.5-flash:generateContent"),
                                     e.standIn.last().uri);
                CPPUNIT_ASSERT(e.log->waitUntilDrained(10000));
                CPPUNIT_ASSERT_EQUAL_MESSAGE(path, before + 1, e.rows());
                std::set<std::string> calls;
                const json answer = json::parse(result.body);
                for (const auto& part : answer["candidates"][0]["content"]["parts"])
                    if (part.contains("functionCall")) calls.insert(part["functionCall"].value("name", ""));
                CPPUNIT_ASSERT_MESSAGE(result.body, calls.count("get_weather"));
                // The blocking profile: its policy removes send_email to @example.com.
                CPPUNIT_ASSERT_EQUAL_MESSAGE(result.body, seg.empty(), calls.count("send_email") == 1);
                if (!seg.empty())
                    CPPUNIT_ASSERT_EQUAL(std::string("1"), result.header("x-archestra-blocked-tool-calls"));
            }
        }
        e.standIn.reply(sseReply("gemini/stream-text.sse"));
        auto result = archestra::test::httpRequest(
            e.main->port(), "POST",
            "/v1/gemini/" + profile + "/v1alpha/models/gemini-2.5-flash:streamGenerateContent?alt=sse", body,
            {{"x-goog-api-key", "g-1"}});
        CPPUNIT_ASSERT_EQUAL(200, result.status);
        CPPUNIT_ASSERT_EQUAL(readFixture("gemini/stream-text.sse"), result.body);
        CPPUNIT_ASSERT_EQUAL(std::string("/v1alpha/models/gemini-2.5-flash:streamGenerateContent?alt=sse"),
                             e.standIn.last().uri);
    }

    /// isUuidV4 accepts upper case, so the id in the path may be in any case; PostgreSQL's is lower case.
    void testUpperCaseProfileId() {
        auto& e = env();
        e.standIn.reply(jsonReply("openai/chat-response-text.json"));
        std::string upper = Poco::toUpper(e.defaultProfileId);
        std::string mixed = e.defaultProfileId;
        for (std::size_t i = 0; i < mixed.size(); i += 2)
            mixed[i] = static_cast<char>(std::toupper(mixed[i]));
        for (const std::string& id : {upper, mixed}) {
            CPPUNIT_ASSERT(e.log->waitUntilDrained(10000));
            const auto before = e.rows("profile_id = '" + e.defaultProfileId + "'");
            auto result =
                archestra::test::httpRequest(e.main->port(), "POST", "/v1/openai/" + id + "/chat/completions",
                                             R"({"model":"gpt-4o","messages":[]})", kOpenAiHeaders);
            CPPUNIT_ASSERT_EQUAL_MESSAGE(id + ": " + result.body, 200, result.status);
            CPPUNIT_ASSERT(e.log->waitUntilDrained(10000));
            CPPUNIT_ASSERT_EQUAL(before + 1, e.rows("profile_id = '" + e.defaultProfileId + "'"));
        }
        e.standIn.reply(jsonReply("anthropic/messages-response-text.json"));
        auto result =
            archestra::test::httpRequest(e.main->port(), "POST", "/v1/anthropic/" + upper + "/v1/messages",
                                         R"({"model":"claude-sonnet-4-5","max_tokens":8,"messages":[]})",
                                         {{"x-api-key", "k"}, {"anthropic-version", "2023-06-01"}});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(result.body, 200, result.status);
        // The pass-through strips it too.
        StandInReply models;
        models.body = R"({"object":"list","data":[]})";
        e.standIn.reply(models);
        result = archestra::test::httpRequest(e.main->port(), "GET", "/v1/openai/" + upper + "/models", "",
                                              {{"Authorization", "Bearer sk-test-123"}});
        CPPUNIT_ASSERT_EQUAL(200, result.status);
        CPPUNIT_ASSERT_EQUAL(std::string("/v1/models"), e.standIn.last().uri);
    }

    /// Errors raised on the proxy's routes outside the adapters (unknown profile, a segment that is not a
    /// UUID, a body over the limit) come in the route's provider shape, so the SDKs read them.
    void testRouteErrorsAreProviderShaped() {
        auto& e = env();
        const std::string unknown = "3b0f6a3e-5a8e-4c1e-9d3b-8b1f2a7c9e01";
        const std::map<std::string, std::string> anthropicHeaders = {{"x-api-key", "k"},
                                                                     {"anthropic-version", "2023-06-01"}};
        const std::string anthropicBody = R"({"model":"c","max_tokens":1,"messages":[]})";
        const std::string geminiBody = R"({"contents":[]})";
        const auto before = e.standIn.count();

        auto result =
            archestra::test::httpRequest(e.main->port(), "POST", "/v1/anthropic/" + unknown + "/v1/messages",
                                         anthropicBody, anthropicHeaders);
        CPPUNIT_ASSERT_EQUAL(404, result.status);
        json body = json::parse(result.body);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(result.body, std::string("error"), body.value("type", ""));
        CPPUNIT_ASSERT_EQUAL(std::string("not_found_error"), body["error"]["type"].get<std::string>());
        CPPUNIT_ASSERT(body["error"]["message"].get<std::string>().find(unknown) != std::string::npos);

        result = archestra::test::httpRequest(e.main->port(), "POST", "/v1/anthropic/not-a-uuid/v1/messages",
                                              anthropicBody, anthropicHeaders);
        CPPUNIT_ASSERT_EQUAL(400, result.status);
        body = json::parse(result.body);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(result.body, std::string("error"), body.value("type", ""));
        CPPUNIT_ASSERT_EQUAL(std::string("invalid_request_error"), body["error"]["type"].get<std::string>());
        CPPUNIT_ASSERT(body["error"]["message"].get<std::string>().find("profileId") != std::string::npos);

        result = archestra::test::httpRequest(
            e.main->port(), "POST", "/v1/gemini/" + unknown + "/models/gemini-2.5-flash:generateContent",
            geminiBody, {{"x-goog-api-key", "g-1"}});
        CPPUNIT_ASSERT_EQUAL(404, result.status);
        body = json::parse(result.body);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(result.body, 404, body["error"].value("code", 0));
        CPPUNIT_ASSERT_EQUAL(std::string("NOT_FOUND"), body["error"]["status"].get<std::string>());

        result = archestra::test::httpRequest(
            e.main->port(), "POST", "/v1/gemini/not-a-uuid/v1beta/models/gemini-2.5-flash:generateContent",
            geminiBody, {{"x-goog-api-key", "g-1"}});
        CPPUNIT_ASSERT_EQUAL(400, result.status);
        body = json::parse(result.body);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(result.body, 400, body["error"].value("code", 0));
        CPPUNIT_ASSERT_EQUAL(std::string("INVALID_ARGUMENT"), body["error"]["status"].get<std::string>());

        result = archestra::test::httpRequest(e.main->port(), "POST",
                                              "/v1/openai/" + unknown + "/chat/completions",
                                              R"({"model":"gpt-4o","messages":[]})", kOpenAiHeaders);
        CPPUNIT_ASSERT_EQUAL(404, result.status);
        body = json::parse(result.body)["error"];
        CPPUNIT_ASSERT_EQUAL_MESSAGE(result.body, std::string("invalid_request_error"),
                                     body.value("type", ""));
        CPPUNIT_ASSERT(body.contains("param") && body["param"].is_null());
        CPPUNIT_ASSERT_EQUAL(std::string("not_found"), body.value("code", ""));

        // 413: refused from the declared length, before the body is read.
        for (const auto& [path, check] :
             std::vector<std::pair<std::string, std::function<void(const json&)>>>{
                 {"/v1/anthropic/v1/messages",
                  [](const json& b) {
                      CPPUNIT_ASSERT_EQUAL(std::string("request_too_large"),
                                           b["error"]["type"].get<std::string>());
                  }},
                 {"/v1/gemini/models/gemini-2.5-flash:generateContent",
                  [](const json& b) { CPPUNIT_ASSERT_EQUAL(413, b["error"]["code"].get<int>()); }},
                 {"/v1/openai/chat/completions", [](const json& b) {
                      CPPUNIT_ASSERT_EQUAL(std::string("request_too_large"),
                                           b["error"]["code"].get<std::string>());
                  }}}) {
            Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(e.main->port()));
            Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, path,
                                           Poco::Net::HTTPMessage::HTTP_1_1);
            request.setContentType("application/json");
            request.setContentLength64(60LL << 20);
            session.sendRequest(request);
            Poco::Net::HTTPResponse response;
            std::string text;
            Poco::StreamCopier::copyToString(session.receiveResponse(response), text);
            CPPUNIT_ASSERT_EQUAL_MESSAGE(path, 413, static_cast<int>(response.getStatus()));
            check(json::parse(text));
        }
        CPPUNIT_ASSERT_EQUAL(before, e.standIn.count());
    }

    /// No default profile (deleted in the database, or the flag moved away and back): a request without a
    /// profile id creates it as GET /api/agents/default does, once however many arrive together; with the
    /// database down it is a provider-shaped 503.
    void testMissingDefaultProfileIsCreated() {
        auto& e = env();
        e.standIn.reply(jsonReply("openai/chat-response-text.json"));
        CPPUNIT_ASSERT(e.log->waitUntilDrained(10000));
        e.db->execute("UPDATE agents SET is_default = false WHERE is_default");
        e.cache->invalidate();
        CPPUNIT_ASSERT(!e.cache->snapshot()->defaultProfile);

        e.pg.server().stop();
        auto down = archestra::test::httpRequest(e.main->port(), "POST", "/v1/anthropic/v1/messages",
                                                 R"({"model":"c","max_tokens":1,"messages":[]})",
                                                 {{"x-api-key", "k"}, {"anthropic-version", "2023-06-01"}});
        e.pg.server().start();
        for (int i = 0; i < 100 && !e.db->ping(); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        CPPUNIT_ASSERT_EQUAL_MESSAGE(down.body, 503, down.status);
        json body = json::parse(down.body);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(down.body, std::string("error"), body.value("type", ""));
        CPPUNIT_ASSERT(body["error"]["message"].get<std::string>().find("default profile") !=
                       std::string::npos);

        constexpr int kClients = 8;
        std::vector<int> statuses(kClients, 0);
        std::vector<std::thread> clients;
        for (int i = 0; i < kClients; ++i)
            clients.emplace_back([&, i] {
                statuses[i] =
                    archestra::test::httpRequest(e.main->port(), "POST", "/v1/openai/chat/completions",
                                                 R"({"model":"gpt-4o","messages":[]})", kOpenAiHeaders)
                        .status;
            });
        for (auto& c : clients) c.join();
        for (int status : statuses) CPPUNIT_ASSERT_EQUAL(200, status);
        auto defaults = e.db->query("SELECT id::text, name FROM agents WHERE is_default");
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), defaults.size());
        const std::string created = defaults.at(0).str(0);
        CPPUNIT_ASSERT(created != e.defaultProfileId);
        CPPUNIT_ASSERT_EQUAL(std::string("Default Profile with Archestra"), defaults.at(0).str(1));
        CPPUNIT_ASSERT(e.log->waitUntilDrained(10000));
        CPPUNIT_ASSERT_EQUAL(static_cast<long long>(kClients), e.rows("profile_id = '" + created + "'"));

        // Back to the seeded default for the tests that follow.
        e.db->execute("UPDATE agents SET is_default = (id = $1::uuid)", {e.defaultProfileId});
        e.cache->invalidate();
    }

    void testSpoolWhileDatabaseRestarts() {
        auto& e = env();
        e.standIn.reply(jsonReply("openai/chat-response-text.json"));
        CPPUNIT_ASSERT(e.log->waitUntilDrained(10000));
        auto before = e.rows();
        auto spooledBefore = e.log->rowsSpooled();
        std::atomic<int> sent{0};
        std::atomic<int> ok{0};
        std::thread burst([&] {
            for (int i = 0; i < 150; ++i) {
                auto result =
                    archestra::test::httpRequest(e.main->port(), "POST", "/v1/openai/chat/completions",
                                                 R"({"model":"gpt-4o","messages":[]})", kOpenAiHeaders);
                ++sent;
                if (result.status == 200) ++ok;
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
        });
        while (sent < 30) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        auto stoppedAt = sent.load();
        e.pg.server().stop();
        std::this_thread::sleep_for(std::chrono::milliseconds(700));
        e.pg.server().start();
        burst.join();
        std::cout << "\n  PostgreSQL stopped after request " << stoppedAt << ", restarted; " << ok.load()
                  << "/150 answered 200; spooled " << e.log->rowsSpooled() - spooledBefore << std::endl;
        CPPUNIT_ASSERT_EQUAL(150, ok.load());
        CPPUNIT_ASSERT(e.log->rowsSpooled() > spooledBefore);
        CPPUNIT_ASSERT(e.log->waitUntilDrained(30000));
        CPPUNIT_ASSERT_EQUAL(std::uint64_t(0), e.log->spoolBytes());
        CPPUNIT_ASSERT_EQUAL(before + 150, e.rows());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(LlmProxyTest);
