// libFuzzer harness for the MCP client's decoding of what MCP servers send back: the response to a request in
// a JSON body or an SSE answer (streamable HTTP), the newline-delimited messages of a stdio channel
// (responses, the server's own requests, notifications, garbage), and McpClient's reading of results and
// errors.
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "archestra/sdk/orchestrator.h"
#include "core/mcp/McpClient.h"
#include "test/fuzz/targets/Invariant.h"

using namespace archestra;
using nlohmann::json;

using archestra::fuzz::violated;

namespace {

// The contract of a found response, written independently of the decoder: an object answering `id` with a
// result or an error, and not itself a request.
bool answers(const json& message, const json& id) {
    return message.is_object() && message.contains("id") && message["id"] == id &&
           !message.contains("method") && (message.contains("result") || message.contains("error"));
}

const json& pickId(unsigned char selector) {
    static const std::vector<json> ids = {json(1), json("1"), json(7)};
    return ids[selector % ids.size()];
}

void fuzzEventStream(const json& id, std::string_view input) {
    std::istringstream in{std::string(input)};
    auto found = mcp::findResponseInEventStream(in, id);
    if (found && !answers(*found, id)) violated("the event stream gave a response for another id");
}

void fuzzBody(const json& id, std::string_view input) {
    json body = json::parse(input.begin(), input.end(), nullptr, false);
    if (body.is_discarded()) return;
    auto found = mcp::findResponse(body, id);
    if (found && !answers(*found, id)) violated("the body gave a response for another id");
    // A response alone or inside a batch is found either way.
    if (found && !mcp::findResponse(json::array({json::object(), *found}), id))
        violated("a response inside a batch was not found");
}

// Answers each request with the next scripted server message under the request's id, through the same lookup
// the HTTP transport uses; no scripted message left, or one that is no response, is an unavailable server.
class ScriptedTransport : public mcp::McpTransport {
  public:
    explicit ScriptedTransport(json script) : _script(std::move(script)) {}
    json request(const json& message, std::int64_t) override {
        if (_next >= _script.size()) throw mcp::McpUnavailableError("script exhausted");
        json answer = _script[_next++];
        if (answer.is_object()) answer["id"] = message.at("id");
        auto found = mcp::findResponse(answer, message.at("id"));
        if (!found) throw mcp::McpUnavailableError("no response for the id");
        return *found;
    }
    void notify(const json&) override {}
    bool alive() const override { return true; }
    void close() noexcept override {}

  private:
    json _script;
    std::size_t _next = 0;
};

void fuzzClient(std::string_view input) {
    json script = json::parse(input.begin(), input.end(), nullptr, false);
    if (script.is_discarded() || !script.is_array()) return;
    mcp::McpClient client(std::make_unique<ScriptedTransport>(script));
    try {
        (void)client.initialize(1000);
        for (const auto& tool : client.listTools(1000))
            if (!tool.is_object() || !tool.contains("name") || !tool["name"].is_string())
                violated("listTools kept a tool without a string name");
        (void)client.callTool("echo", json::object(), 1000);
        client.ping(1000);
    } catch (const mcp::McpRemoteError&) {
    } catch (const mcp::McpUnavailableError&) {
    }
}

// A stdio channel whose server starts talking once the client has sent its request, then says `lines` and
// goes away. Replies the transport sends (to the server's own requests) are counted.
class ScriptedChannel : public sdk::McpChannel {
  public:
    explicit ScriptedChannel(std::deque<std::string> lines) : _lines(std::move(lines)) {}
    sdk::Status send(const std::string&) override {
        std::lock_guard lock(_mutex);
        ++_sent;
        _wake.notify_all();
        return {};
    }
    sdk::Result<std::optional<std::string>> receive(std::int64_t timeout_ms) override {
        std::unique_lock lock(_mutex);
        if (!_wake.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                            [&] { return _sent > 0 || _closed; }))
            return std::optional<std::string>();
        if (_closed || _lines.empty()) return sdk::fail(sdk::ErrorCode::Unavailable, "server exited");
        std::string line = std::move(_lines.front());
        _lines.pop_front();
        return std::optional<std::string>(std::move(line));
    }
    void close() noexcept override {
        std::lock_guard lock(_mutex);
        _closed = true;
        _wake.notify_all();
    }

  private:
    std::mutex _mutex;
    std::condition_variable _wake;
    std::deque<std::string> _lines;
    int _sent = 0;
    bool _closed = false;
};

void fuzzChannel(std::string_view input) {
    std::deque<std::string> lines;
    // The first line that answers id 1, as the reader must route it. Ids match by value, as in findResponse
    // (1.0 answers 1; "1" does not).
    std::optional<json> expected;
    std::istringstream in{std::string(input)};
    for (std::string line; std::getline(in, line);) {
        json message = json::parse(line, nullptr, false);
        if (!expected && !message.is_discarded() && answers(message, json(1))) expected = message;
        lines.push_back(std::move(line));
    }
    mcp::ChannelTransport transport(std::make_unique<ScriptedChannel>(std::move(lines)));
    try {
        json response = transport.request({{"jsonrpc", "2.0"}, {"id", 1}, {"method", "tools/list"}}, 10000);
        if (!expected || response != *expected)
            violated("the channel routed a message that is not the response");
    } catch (const mcp::McpUnavailableError&) {
        if (expected) violated("the channel lost the response to a pending request");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const json& id = pickId(data[1]);
    std::string_view rest(reinterpret_cast<const char*>(data) + 2, size - 2);
    switch (data[0] % 4) {
        case 0:
            fuzzEventStream(id, rest);
            break;
        case 1:
            fuzzBody(id, rest);
            break;
        case 2:
            fuzzClient(rest);
            break;
        default:
            fuzzChannel(rest);
            break;
    }
    return 0;
}
