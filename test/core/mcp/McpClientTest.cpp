// Tests of the MCP JSON-RPC client: handshake, id correlation, pagination, errors, timeouts, a server that
// goes away (over an in-memory channel), and streamable HTTP (JSON and SSE answers, Mcp-Session-Id, expired
// session).
#include <cppunit/extensions/HelperMacros.h>

#include "archestra/sdk/orchestrator.h"
#include "core/mcp/McpClient.h"
#include "core/mcp/McpConnections.h"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

using namespace archestra;
using nlohmann::json;

namespace {

/// An in-memory McpChannel whose "server" is a function: each line the client sends goes to `handler`,
/// which may answer through reply() now or later (from another thread).
class ScriptedChannel : public sdk::McpChannel {
  public:
    std::function<void(const json&)> handler;
    std::vector<json> sent;

    sdk::Status send(const std::string& line) override {
        json message = json::parse(line);
        {
            std::lock_guard lock(_mutex);
            if (_gone) return sdk::fail(sdk::ErrorCode::Unavailable, "process exited with code 1");
            sent.push_back(message);
        }
        if (handler) handler(message);
        return sdk::okStatus();
    }
    sdk::Result<std::optional<std::string>> receive(std::int64_t timeout_ms) override {
        std::unique_lock lock(_mutex);
        _cv.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return !_queue.empty() || _gone; });
        if (!_queue.empty()) {
            std::string line = _queue.front();
            _queue.pop_front();
            return std::optional<std::string>(line);
        }
        if (_gone) return sdk::fail(sdk::ErrorCode::Unavailable, "process exited with code 1");
        return std::optional<std::string>();
    }
    void close() noexcept override {}

    void reply(const std::string& line) {
        std::lock_guard lock(_mutex);
        _queue.push_back(line);
        _cv.notify_all();
    }
    void reply(const json& message) { reply(message.dump()); }
    void goAway() {
        std::lock_guard lock(_mutex);
        _gone = true;
        _cv.notify_all();
    }
    std::vector<json> sentMessages() {
        std::lock_guard lock(_mutex);
        return sent;
    }

  private:
    std::mutex _mutex;
    std::condition_variable _cv;
    std::deque<std::string> _queue;
    bool _gone = false;
};

json result(const json& request, json value) {
    return {{"jsonrpc", "2.0"}, {"id", request["id"]}, {"result", std::move(value)}};
}

/// A client over a ScriptedChannel that the test keeps a pointer to.
struct Rig {
    ScriptedChannel* channel;
    std::unique_ptr<mcp::McpClient> client;
};

Rig makeRig(std::function<void(ScriptedChannel&, const json&)> server) {
    auto channel = std::make_unique<ScriptedChannel>();
    ScriptedChannel* raw = channel.get();
    raw->handler = [raw, server](const json& message) { server(*raw, message); };
    auto transport = std::make_unique<mcp::ChannelTransport>(std::move(channel));
    return {raw, std::make_unique<mcp::McpClient>(std::move(transport))};
}

// ---- a streamable-HTTP MCP server stand-in -------------------------------------------------------------

struct HttpServerState {
    std::mutex mutex;
    std::vector<std::string> sessionHeaders;  ///< Mcp-Session-Id of each POST ("" when absent)
    std::vector<std::string> authorization;
    std::atomic<bool> sessionDeleted{false};
};

class McpHandler : public Poco::Net::HTTPRequestHandler {
  public:
    explicit McpHandler(HttpServerState& state) : _state(state) {}
    void handleRequest(Poco::Net::HTTPServerRequest& request,
                       Poco::Net::HTTPServerResponse& response) override {
        std::string body;
        Poco::StreamCopier::copyToString(request.stream(), body);
        std::string session = request.get("Mcp-Session-Id", "");
        {
            std::lock_guard lock(_state.mutex);
            _state.sessionHeaders.push_back(session);
            _state.authorization.push_back(request.get("Authorization", ""));
        }
        if (request.getMethod() == "DELETE") {
            _state.sessionDeleted = true;
            response.setStatus(Poco::Net::HTTPResponse::HTTP_OK);
            response.send();
            return;
        }
        if (_state.sessionDeleted && !session.empty()) {
            response.setStatus(Poco::Net::HTTPResponse::HTTP_NOT_FOUND);
            response.send()
                << R"({"jsonrpc":"2.0","error":{"code":-32001,"message":"Session not found"},"id":null})";
            return;
        }
        json message = json::parse(body);
        std::string method = message.value("method", "");
        if (!message.contains("id")) {  // notification
            response.setStatus(Poco::Net::HTTPResponse::HTTP_ACCEPTED);
            response.send();
            return;
        }
        if (method == "initialize") {
            response.set("Mcp-Session-Id", "session-abc");
            response.setContentType("application/json");
            response.send() << result(message, {{"protocolVersion", "2025-03-26"},
                                                {"capabilities", {{"tools", json::object()}}},
                                                {"serverInfo", {{"name", "stand-in"}, {"version", "1"}}}})
                                   .dump();
            return;
        }
        // Everything else answers as an SSE stream with a progress notification before the response.
        response.setContentType("text/event-stream");
        response.setChunkedTransferEncoding(true);
        auto& out = response.send();
        out << "event: message\ndata: "
            << json{{"jsonrpc", "2.0"}, {"method", "notifications/progress"}, {"params", {{"progress", 1}}}}
                   .dump()
            << "\n\n";
        json answer = method == "tools/list"
                          ? result(message, {{"tools", json::array({{{"name", "remote-tool"}}})}})
                          : result(message, {{"content", json::array({{{"type", "text"}, {"text", "ok"}}})}});
        out << "event: message\ndata: " << answer.dump() << "\n\n";
        out.flush();
    }

  private:
    HttpServerState& _state;
};

class McpHandlerFactory : public Poco::Net::HTTPRequestHandlerFactory {
  public:
    explicit McpHandlerFactory(HttpServerState& state) : _state(state) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
        return new McpHandler(_state);
    }

  private:
    HttpServerState& _state;
};

}  // namespace

class McpClientTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(McpClientTest);
    CPPUNIT_TEST(initializeHandshake);
    CPPUNIT_TEST(listToolsFollowsCursors);
    CPPUNIT_TEST(concurrentCallsGetTheirOwnAnswers);
    CPPUNIT_TEST(jsonRpcErrorBecomesRemoteError);
    CPPUNIT_TEST(timeoutFailsAndCancels);
    CPPUNIT_TEST(serverGoingAwayFailsPendingCallAtOnce);
    CPPUNIT_TEST(noiseSkippedAndServerPingAnswered);
    CPPUNIT_TEST(idsMatchByValueOnEveryTransport);
    CPPUNIT_TEST(connectionsReconnectAfterServerDied);
    CPPUNIT_TEST(streamableHttpJsonSseAndSession);
    CPPUNIT_TEST_SUITE_END();

  public:
    void initializeHandshake() {
        auto rig = makeRig([](ScriptedChannel& ch, const json& m) {
            if (m.value("method", "") == "initialize")
                ch.reply(result(m, {{"protocolVersion", "2025-06-18"}, {"serverInfo", {{"name", "s"}}}}));
        });
        json info = rig.client->initialize(2000);
        CPPUNIT_ASSERT_EQUAL(std::string("s"), info["serverInfo"]["name"].get<std::string>());
        auto sent = rig.channel->sentMessages();
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), sent.size());
        CPPUNIT_ASSERT_EQUAL(std::string("initialize"), sent[0]["method"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("2.0"), sent[0]["jsonrpc"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string(mcp::kMcpProtocolVersion),
                             sent[0]["params"]["protocolVersion"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("archestra-platform"),
                             sent[0]["params"]["clientInfo"]["name"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("notifications/initialized"), sent[1]["method"].get<std::string>());
        CPPUNIT_ASSERT(!sent[1].contains("id"));
    }

    void listToolsFollowsCursors() {
        auto rig = makeRig([](ScriptedChannel& ch, const json& m) {
            if (m.value("method", "") != "tools/list") return;
            std::string cursor = m.contains("params") && m["params"].contains("cursor")
                                     ? m["params"]["cursor"].get<std::string>()
                                     : "";
            if (cursor.empty())
                ch.reply(result(m, {{"tools", {{{"name", "a"}}, {{"name", "b"}}}}, {"nextCursor", "p2"}}));
            else if (cursor == "p2")
                ch.reply(result(m, {{"tools", {{{"name", "c"}}}}, {"nextCursor", "p3"}}));
            else if (cursor == "p3")
                ch.reply(result(m, {{"tools", {{{"name", "d"}}, {{"name", "e"}}, {{"nameless", true}}}}}));
        });
        auto tools = rig.client->listTools(2000);
        std::string names;
        for (const auto& t : tools) names += t["name"].get<std::string>();
        CPPUNIT_ASSERT_EQUAL(std::string("abcde"), names);  // nameless entry dropped
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), rig.channel->sentMessages().size());
    }

    void concurrentCallsGetTheirOwnAnswers() {
        // The server holds the first call until the second arrives, then answers them in reverse order.
        std::mutex m;
        std::vector<json> held;
        auto rig = makeRig([&](ScriptedChannel& ch, const json& msg) {
            std::lock_guard lock(m);
            held.push_back(msg);
            if (held.size() == 2) {
                for (auto it = held.rbegin(); it != held.rend(); ++it)
                    ch.reply(
                        result(*it, {{"content", {{{"type", "text"}, {"text", (*it)["params"]["name"]}}}}}));
            }
        });
        json first, second;
        std::thread a([&] { first = rig.client->callTool("alpha", json::object(), 3000); });
        std::thread b([&] {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            second = rig.client->callTool("beta", json::object(), 3000);
        });
        a.join();
        b.join();
        CPPUNIT_ASSERT_EQUAL(std::string("alpha"), first["content"][0]["text"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("beta"), second["content"][0]["text"].get<std::string>());
        auto sent = rig.channel->sentMessages();
        CPPUNIT_ASSERT(sent[0]["id"] != sent[1]["id"]);
    }

    void jsonRpcErrorBecomesRemoteError() {
        auto rig = makeRig([](ScriptedChannel& ch, const json& m) {
            ch.reply(json{{"jsonrpc", "2.0"},
                          {"id", m["id"]},
                          {"error", {{"code", -32602}, {"message", "Unknown tool: nope"}}}});
        });
        try {
            rig.client->callTool("nope", json::object(), 2000);
            CPPUNIT_FAIL("expected McpRemoteError");
        } catch (const mcp::McpRemoteError& error) {
            CPPUNIT_ASSERT_EQUAL(-32602, error.code());
            CPPUNIT_ASSERT_EQUAL(std::string("Unknown tool: nope"), std::string(error.what()));
        }
        CPPUNIT_ASSERT(rig.client->alive());
    }

    void timeoutFailsAndCancels() {
        auto rig = makeRig([](ScriptedChannel&, const json&) {});  // never answers
        auto started = std::chrono::steady_clock::now();
        try {
            rig.client->callTool("slow", json::object(), 300);
            CPPUNIT_FAIL("expected McpUnavailableError");
        } catch (const mcp::McpUnavailableError& error) {
            CPPUNIT_ASSERT(std::string(error.what()).find("within 300 ms") != std::string::npos);
        }
        auto elapsed =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
        CPPUNIT_ASSERT(elapsed.count() >= 290 && elapsed.count() < 2000);
        auto sent = rig.channel->sentMessages();
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), sent.size());
        CPPUNIT_ASSERT_EQUAL(std::string("notifications/cancelled"), sent[1]["method"].get<std::string>());
        CPPUNIT_ASSERT(sent[1]["params"]["requestId"] == sent[0]["id"]);
        CPPUNIT_ASSERT(rig.client->alive());  // a slow server is not a dead one
    }

    void serverGoingAwayFailsPendingCallAtOnce() {
        auto rig = makeRig([](ScriptedChannel& ch, const json&) {
            std::thread([&ch] {
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
                ch.goAway();
            }).detach();
        });
        auto started = std::chrono::steady_clock::now();
        try {
            rig.client->callTool("x", json::object(), 10000);
            CPPUNIT_FAIL("expected McpUnavailableError");
        } catch (const mcp::McpUnavailableError& error) {
            CPPUNIT_ASSERT(std::string(error.what()).find("exited with code 1") != std::string::npos);
        }
        auto elapsed =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
        CPPUNIT_ASSERT(elapsed.count() < 2000);
        CPPUNIT_ASSERT(!rig.client->alive());
        CPPUNIT_ASSERT_THROW(rig.client->ping(1000), mcp::McpUnavailableError);
    }

    void noiseSkippedAndServerPingAnswered() {
        auto rig = makeRig([](ScriptedChannel& ch, const json& m) {
            if (m.value("method", "") != "tools/call") return;
            ch.reply(std::string("Secure MCP Filesystem Server running on stdio"));
            ch.reply(std::string("{not json"));
            ch.reply(json{
                {"jsonrpc", "2.0"}, {"method", "notifications/message"}, {"params", {{"level", "info"}}}});
            ch.reply(json{{"jsonrpc", "2.0"}, {"id", "srv-1"}, {"method", "ping"}});
            ch.reply(json{{"jsonrpc", "2.0"}, {"id", "srv-2"}, {"method", "sampling/createMessage"}});
            ch.reply(result(m, {{"content", json::array()}}));
        });
        json out = rig.client->callTool("t", json::object(), 2000);
        CPPUNIT_ASSERT(out["content"].is_array());
        // Replies to the server's own requests are sent by the reader thread; give it a moment.
        for (int i = 0; i < 50 && rig.channel->sentMessages().size() < 3; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        auto sent = rig.channel->sentMessages();
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), sent.size());
        CPPUNIT_ASSERT(sent[1]["id"] == "srv-1" && sent[1]["result"].is_object());
        CPPUNIT_ASSERT(sent[2]["id"] == "srv-2" && sent[2]["error"]["code"] == -32601);
    }

    void idsMatchByValueOnEveryTransport() {
        // A stdio server that answers first with the id as a string (a different id: ignored), then with the
        // same number written as a float (the same value: it answers the call).
        auto rig = makeRig([](ScriptedChannel& ch, const json& m) {
            if (m.value("method", "") != "tools/call") return;
            CPPUNIT_ASSERT(m["id"].is_number_integer());
            json wrongType =
                result(m, {{"content", json::array({{{"type", "text"}, {"text", "string id"}}})}});
            wrongType["id"] = m["id"].dump();
            ch.reply(wrongType);
            json asFloat = result(m, {{"content", json::array({{{"type", "text"}, {"text", "float id"}}})}});
            asFloat["id"] = m["id"].get<double>();
            ch.reply(asFloat.dump());
        });
        json out = rig.client->callTool("t", json::object(), 2000);
        CPPUNIT_ASSERT_EQUAL(std::string("float id"), out["content"][0]["text"].get<std::string>());
        // The HTTP transports' lookup agrees on both.
        json request = {{"jsonrpc", "2.0"}, {"id", 7}, {"method", "tools/call"}};
        json body = json::array({{{"jsonrpc", "2.0"}, {"id", "7"}, {"result", {{"n", 1}}}},
                                 {{"jsonrpc", "2.0"}, {"id", 7.0}, {"result", {{"n", 2}}}}});
        auto found = mcp::findResponse(body, request["id"]);
        CPPUNIT_ASSERT(found.has_value());
        CPPUNIT_ASSERT_EQUAL(2, (*found)["result"]["n"].get<int>());
    }

    void connectionsReconnectAfterServerDied() {
        // Each connect builds a new scripted server; the first one dies after answering one call.
        std::vector<ScriptedChannel*> channels;
        int connects = 0;
        mcp::McpConnections connections([&](const std::string& id) -> std::unique_ptr<mcp::McpTransport> {
            if (id == "missing") throw mcp::McpUnavailableError("MCP server 'missing' is not installed");
            ++connects;
            auto channel = std::make_unique<ScriptedChannel>();
            ScriptedChannel* raw = channel.get();
            channels.push_back(raw);
            int generation = connects;
            raw->handler = [raw, generation](const json& m) {
                std::string method = m.value("method", "");
                if (method == "initialize") raw->reply(result(m, {{"protocolVersion", "2025-06-18"}}));
                if (method == "tools/call")
                    raw->reply(result(
                        m,
                        {{"content", {{{"type", "text"}, {"text", "gen" + std::to_string(generation)}}}}}));
            };
            return std::make_unique<mcp::ChannelTransport>(std::move(channel));
        });
        CPPUNIT_ASSERT_EQUAL(
            std::string("gen1"),
            connections.callTool("s1", "t", {}, 2000)["content"][0]["text"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(
            std::string("gen1"),
            connections.callTool("s1", "t", {}, 2000)["content"][0]["text"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(1, connects);
        channels[0]->goAway();
        std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the reader notices within one poll
        CPPUNIT_ASSERT_EQUAL(
            std::string("gen2"),
            connections.callTool("s1", "t", {}, 2000)["content"][0]["text"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(2, connects);
        CPPUNIT_ASSERT_THROW(connections.callTool("missing", "t", {}, 2000), mcp::McpUnavailableError);
        connections.closeAll();
        CPPUNIT_ASSERT_THROW(connections.callTool("s1", "t", {}, 2000), mcp::McpUnavailableError);
    }

    void streamableHttpJsonSseAndSession() {
        HttpServerState state;
        Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
        Poco::Net::HTTPServer server(new McpHandlerFactory(state), socket, new Poco::Net::HTTPServerParams);
        server.start();
        std::string url = "http://127.0.0.1:" + std::to_string(socket.address().port()) + "/mcp";
        {
            auto transport = std::make_unique<mcp::HttpTransport>(
                url, std::map<std::string, std::string>{{"Authorization", "Bearer tok"}}, 2000);
            auto* raw = transport.get();
            mcp::McpClient client(std::move(transport));
            client.initialize(2000);
            CPPUNIT_ASSERT_EQUAL(std::string("session-abc"), raw->sessionId());
            auto tools = client.listTools(2000);  // answered as SSE after a progress event
            CPPUNIT_ASSERT_EQUAL(std::size_t(1), tools.size());
            CPPUNIT_ASSERT_EQUAL(std::string("remote-tool"), tools[0]["name"].get<std::string>());
            CPPUNIT_ASSERT_EQUAL(
                std::string("ok"),
                client.callTool("remote-tool", {}, 2000)["content"][0]["text"].get<std::string>());
            {
                std::lock_guard lock(state.mutex);
                CPPUNIT_ASSERT_EQUAL(std::string(""), state.sessionHeaders[0]);             // initialize
                CPPUNIT_ASSERT_EQUAL(std::string("session-abc"), state.sessionHeaders[1]);  // initialized
                CPPUNIT_ASSERT_EQUAL(std::string("session-abc"), state.sessionHeaders.back());
                for (const auto& auth : state.authorization)
                    CPPUNIT_ASSERT_EQUAL(std::string("Bearer tok"), auth);
            }
            state.sessionDeleted = true;  // the server forgets the session
            CPPUNIT_ASSERT_THROW(client.callTool("remote-tool", {}, 2000), mcp::McpUnavailableError);
            CPPUNIT_ASSERT(!client.alive());
        }
        // A server that is not there: a clear error, not a hang.
        mcp::McpClient nobody(std::make_unique<mcp::HttpTransport>(
            "http://127.0.0.1:1/mcp", std::map<std::string, std::string>{}, 1000));
        try {
            nobody.initialize(1000);
            CPPUNIT_FAIL("expected McpUnavailableError");
        } catch (const mcp::McpUnavailableError& error) {
            CPPUNIT_ASSERT(std::string(error.what()).find("127.0.0.1:1") != std::string::npos);
        }
        server.stop();
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(McpClientTest);
