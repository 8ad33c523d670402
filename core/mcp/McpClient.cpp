// MCP JSON-RPC client and its two transports (orchestrator channel, streamable HTTP).
#include "core/mcp/McpClient.h"

#include "archestra/sdk/orchestrator.h"

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/NullStream.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include <chrono>
#include <cmath>
#include <istream>
#include <sstream>

namespace archestra::mcp {

using nlohmann::json;

namespace {

/// The key a pending request is found by: the id's JSON value, with an integral float written as the integer,
/// so that an answer with id `1.0` finds request `1` just as `findResponse`'s `json ==` does for HTTP
/// transports (JSON-RPC compares values; a string "1" stays a different id).
std::string idKey(const json& id) {
    if (id.is_number_float()) {
        double value = id.get<double>();
        if (std::trunc(value) == value && std::fabs(value) < 9.0e18)
            return json(static_cast<std::int64_t>(value)).dump();
    }
    return id.dump();
}

bool isResponse(const json& message) {
    return message.is_object() && message.contains("id") && !message.contains("method") &&
           (message.contains("result") || message.contains("error"));
}

std::string methodOf(const json& message) {
    if (message.is_object() && message.contains("method") && message["method"].is_string())
        return message["method"].get<std::string>();
    return "request";
}

}  // namespace

// ---- ChannelTransport -----------------------------------------------------------------------------------

ChannelTransport::ChannelTransport(std::unique_ptr<sdk::McpChannel> channel) : _channel(std::move(channel)) {
    _reader = std::thread([this] { readLoop(); });
}

ChannelTransport::~ChannelTransport() {
    close();
}

void ChannelTransport::close() noexcept {
    if (_stopping.exchange(true)) return;
    // The reader polls in short slices, so joining it first keeps receive() and close() off each other.
    if (_reader.joinable()) _reader.join();
    _channel->close();
    fail("the connection to the MCP server was closed");
}

bool ChannelTransport::alive() const {
    std::lock_guard lock(_mutex);
    return _deadReason.empty();
}

void ChannelTransport::fail(const std::string& why) {
    std::lock_guard lock(_mutex);
    if (_deadReason.empty()) _deadReason = why;
    _answered.notify_all();
}

void ChannelTransport::sendLine(const std::string& line) {
    std::lock_guard lock(_sendMutex);
    auto status = _channel->send(line);
    if (!status.ok()) {
        fail("the MCP server's channel failed: " + status.error().message);
        throw McpUnavailableError("cannot send to the MCP server: " + status.error().message);
    }
}

void ChannelTransport::readLoop() {
    while (!_stopping) {
        auto received = _channel->receive(200);
        if (!received.ok()) {
            fail("the MCP server went away: " + received.error().message);
            return;
        }
        const auto& line = received.value();
        if (!line) continue;
        json message = json::parse(*line, nullptr, false);
        if (message.is_discarded() || !message.is_object()) continue;  // not JSON-RPC: skip, as the spec says
        if (isResponse(message)) {
            std::lock_guard lock(_mutex);
            auto it = _pending.find(idKey(message["id"]));
            if (it != _pending.end()) {
                it->second->response = std::move(message);
                _pending.erase(it);
                _answered.notify_all();
            }
            continue;
        }
        if (message.contains("method") && message.contains("id")) {
            // A request from the server. We offer no client capabilities, so only ping gets a result.
            json reply = {{"jsonrpc", "2.0"}, {"id", message["id"]}};
            if (methodOf(message) == "ping")
                reply["result"] = json::object();
            else
                reply["error"] = {{"code", -32601}, {"message", "Method not found: " + methodOf(message)}};
            try {
                sendLine(reply.dump());
            } catch (const McpUnavailableError&) {
                return;
            }
        }
        // Notifications (logging, progress, list_changed) need no answer.
    }
}

json ChannelTransport::request(const json& message, std::int64_t timeout_ms) {
    auto pending = std::make_shared<Pending>();
    std::string key = idKey(message.at("id"));
    {
        std::lock_guard lock(_mutex);
        if (!_deadReason.empty()) throw McpUnavailableError(_deadReason);
        _pending[key] = pending;
    }
    try {
        sendLine(message.dump());
    } catch (...) {
        std::lock_guard lock(_mutex);
        _pending.erase(key);
        throw;
    }
    std::unique_lock lock(_mutex);
    bool done = _answered.wait_for(lock, std::chrono::milliseconds(std::max<std::int64_t>(timeout_ms, 1)),
                                   [&] { return pending->response.has_value() || !_deadReason.empty(); });
    if (pending->response) return std::move(*pending->response);
    _pending.erase(key);
    if (done) throw McpUnavailableError(_deadReason);
    lock.unlock();
    // Tell the server to stop working on it (best effort; it may ignore the notification).
    try {
        notify({{"jsonrpc", "2.0"},
                {"method", "notifications/cancelled"},
                {"params", {{"requestId", message["id"]}, {"reason", "timeout"}}}});
    } catch (const McpUnavailableError&) {
    }
    throw McpUnavailableError("the MCP server did not answer '" + methodOf(message) + "' within " +
                              std::to_string(timeout_ms) + " ms");
}

void ChannelTransport::notify(const json& message) {
    {
        std::lock_guard lock(_mutex);
        if (!_deadReason.empty()) throw McpUnavailableError(_deadReason);
    }
    sendLine(message.dump());
}

// ---- HttpTransport --------------------------------------------------------------------------------------

HttpTransport::HttpTransport(std::string url, std::map<std::string, std::string> headers,
                             std::int64_t connect_timeout_ms)
    : _url(std::move(url)), _headers(std::move(headers)), _connectTimeoutMs(connect_timeout_ms) {}

HttpTransport::~HttpTransport() {
    close();
}

bool HttpTransport::alive() const {
    return _alive;
}

void HttpTransport::setProtocolVersion(const std::string& version) {
    std::lock_guard lock(_mutex);
    _protocolVersion = version;
}

std::string HttpTransport::sessionId() const {
    std::lock_guard lock(_mutex);
    return _sessionId;
}

namespace {

std::unique_ptr<Poco::Net::HTTPClientSession> openSession(const Poco::URI& uri, std::int64_t connect_ms,
                                                          std::int64_t timeout_ms) {
    std::unique_ptr<Poco::Net::HTTPClientSession> session;
    if (uri.getScheme() == "https")
        session = std::make_unique<Poco::Net::HTTPSClientSession>(uri.getHost(), uri.getPort());
    else
        session = std::make_unique<Poco::Net::HTTPClientSession>(uri.getHost(), uri.getPort());
    Poco::Timespan io(std::max<std::int64_t>(timeout_ms, 1) * 1000);
    session->setTimeout(Poco::Timespan(connect_ms * 1000), io, io);
    session->setKeepAlive(false);
    return session;
}

}  // namespace

std::optional<json> findResponse(const json& body, const json& id) {
    if (body.is_array()) {
        for (const auto& item : body)
            if (isResponse(item) && item["id"] == id) return item;
        return std::nullopt;
    }
    if (isResponse(body) && body["id"] == id) return body;
    return std::nullopt;
}

std::optional<json> findResponseInEventStream(std::istream& in, const json& id) {
    // An event's data lines joined by '\n'; a blank line ends the event, and so does the end of the stream.
    std::string line, data;
    auto dispatch = [&]() -> std::optional<json> {
        if (data.empty()) return std::nullopt;
        json event = json::parse(data, nullptr, false);
        data.clear();
        return event.is_discarded() ? std::nullopt : findResponse(event, id);
    };
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) {
            if (auto found = dispatch()) return found;
            continue;
        }
        if (line.rfind("data:", 0) == 0) {
            std::string part = line.substr(5);
            if (!part.empty() && part[0] == ' ') part.erase(0, 1);
            if (!data.empty()) data += "\n";
            data += part;
        }
    }
    return dispatch();
}

std::optional<json> HttpTransport::post(const json& message, std::int64_t timeout_ms) {
    if (!_alive) throw McpUnavailableError("the MCP session with " + _url + " has ended");
    Poco::URI uri(_url);
    std::string path = uri.getPathAndQuery();
    if (path.empty()) path = "/";
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, path, Poco::Net::HTTPMessage::HTTP_1_1);
    request.setContentType("application/json");
    request.set("Accept", "application/json, text/event-stream");
    for (const auto& [name, value] : _headers) request.set(name, value);
    {
        std::lock_guard lock(_mutex);
        if (!_sessionId.empty()) request.set("Mcp-Session-Id", _sessionId);
        if (!_protocolVersion.empty()) request.set("MCP-Protocol-Version", _protocolVersion);
    }
    std::string body = message.dump();
    request.setContentLength(static_cast<std::streamsize>(body.size()));
    bool isRequest = message.contains("id");
    std::optional<std::string> authorization;
    if (_authorization) {
        authorization = _authorization("");
        if (authorization) request.set("Authorization", *authorization);
    }
    try {
        auto session = openSession(uri, _connectTimeoutMs, timeout_ms);
        session->sendRequest(request) << body;
        Poco::Net::HTTPResponse response;
        std::istream* stream = &session->receiveResponse(response);
        int status = static_cast<int>(response.getStatus());
        if (status == 401 && _authorization && authorization) {
            // The token was refused: ask for a fresh one (a refresh) and send the same message once more. A
            // 401 means the server did not act on the request, so repeating it is safe even for tools/call.
            std::string rejected = authorization->rfind("Bearer ", 0) == 0 ? authorization->substr(7) : "";
            auto fresh = _authorization(rejected);
            if (fresh && *fresh != *authorization) {
                Poco::NullOutputStream discard;
                Poco::StreamCopier::copyStream(*stream, discard);
                request.set("Authorization", *fresh);
                session = openSession(uri, _connectTimeoutMs, timeout_ms);
                session->sendRequest(request) << body;
                response = Poco::Net::HTTPResponse();
                stream = &session->receiveResponse(response);
                status = static_cast<int>(response.getStatus());
            }
        }
        std::istream& in = *stream;
        if (response.has("Mcp-Session-Id")) {
            std::lock_guard lock(_mutex);
            _sessionId = response.get("Mcp-Session-Id");
        }
        if (status == 404) {
            bool hadSession = !sessionId().empty();
            if (hadSession) {
                _alive = false;  // the server forgot the session: a new client must initialize again
                throw McpUnavailableError("the MCP server at " + _url + " ended the session (404)");
            }
        }
        if (status >= 400) {
            std::string text;
            Poco::StreamCopier::copyToString(in, text);
            if (text.size() > 300) text.resize(300);
            throw McpUnavailableError("the MCP server at " + _url + " answered HTTP " +
                                      std::to_string(status) + (text.empty() ? "" : ": " + text));
        }
        if (!isRequest) return std::nullopt;
        std::string contentType = response.getContentType();
        if (contentType.find("text/event-stream") != std::string::npos) {
            if (auto found = findResponseInEventStream(in, message["id"])) return found;
            throw McpUnavailableError("the MCP server at " + _url +
                                      " closed its event stream without answering '" + methodOf(message) +
                                      "'");
        }
        std::string text;
        Poco::StreamCopier::copyToString(in, text);
        json parsed = json::parse(text, nullptr, false);
        if (parsed.is_discarded())
            throw McpUnavailableError("the MCP server at " + _url + " answered '" + methodOf(message) +
                                      "' with a body that is not JSON");
        if (auto found = findResponse(parsed, message["id"])) return found;
        throw McpUnavailableError("the MCP server at " + _url + " answered '" + methodOf(message) +
                                  "' without a response for its id");
    } catch (const Poco::TimeoutException&) {
        throw McpUnavailableError("the MCP server at " + _url + " did not answer '" + methodOf(message) +
                                  "' within " + std::to_string(timeout_ms) + " ms");
    } catch (const Poco::Exception& error) {
        throw McpUnavailableError("cannot reach the MCP server at " + _url + ": " + error.displayText());
    }
}

json HttpTransport::request(const json& message, std::int64_t timeout_ms) {
    return *post(message, timeout_ms);
}

void HttpTransport::notify(const json& message) {
    post(message, 10000);
}

void HttpTransport::close() noexcept {
    if (!_alive.exchange(false)) return;
    std::string session = sessionId();
    if (session.empty()) return;
    // Best effort: tell the server the session is over so it can free it.
    try {
        Poco::URI uri(_url);
        auto client = openSession(uri, 2000, 2000);
        Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_DELETE, uri.getPathAndQuery(),
                                       Poco::Net::HTTPMessage::HTTP_1_1);
        for (const auto& [name, value] : _headers) request.set(name, value);
        if (_authorization)
            if (auto authorization = _authorization("")) request.set("Authorization", *authorization);
        request.set("Mcp-Session-Id", session);
        client->sendRequest(request);
        Poco::Net::HTTPResponse response;
        client->receiveResponse(response);
    } catch (...) {
    }
}

// ---- McpClient ------------------------------------------------------------------------------------------

McpClient::McpClient(std::unique_ptr<McpTransport> transport) : _transport(std::move(transport)) {}

McpClient::~McpClient() {
    _transport->close();
}

json McpClient::call(const std::string& method, const json& params, std::int64_t timeout_ms) {
    json message = {{"jsonrpc", "2.0"}, {"id", _nextId++}, {"method", method}};
    if (!params.is_null()) message["params"] = params;
    json response = _transport->request(message, timeout_ms);
    if (response.contains("error")) {
        const json& error = response["error"];
        int code = error.is_object() && error.contains("code") && error["code"].is_number_integer()
                       ? error["code"].get<int>()
                       : -32603;
        std::string text = error.is_object() && error.contains("message") && error["message"].is_string()
                               ? error["message"].get<std::string>()
                               : error.dump();
        throw McpRemoteError(code, text);
    }
    return response.value("result", json::object());
}

json McpClient::initialize(std::int64_t timeout_ms) {
    json result = call("initialize",
                       {{"protocolVersion", kMcpProtocolVersion},
                        {"capabilities", json::object()},
                        {"clientInfo", {{"name", "archestra-platform"}, {"version", ARCHESTRA_VERSION}}}},
                       timeout_ms);
    if (result.contains("protocolVersion") && result["protocolVersion"].is_string())
        _transport->setProtocolVersion(result["protocolVersion"].get<std::string>());
    _serverInfo = result;
    _transport->notify({{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}});
    return result;
}

std::vector<json> McpClient::listTools(std::int64_t timeout_ms) {
    std::vector<json> tools;
    json params = json::object();
    for (int page = 0; page < 100; ++page) {
        json result = call("tools/list", params, timeout_ms);
        if (result.contains("tools") && result["tools"].is_array())
            for (auto& tool : result["tools"])
                if (tool.is_object() && tool.contains("name") && tool["name"].is_string())
                    tools.push_back(tool);
        if (!result.contains("nextCursor") || !result["nextCursor"].is_string() ||
            result["nextCursor"].get<std::string>().empty())
            return tools;
        params = {{"cursor", result["nextCursor"]}};
    }
    return tools;
}

json McpClient::callTool(const std::string& name, const json& arguments, std::int64_t timeout_ms) {
    return call("tools/call",
                {{"name", name}, {"arguments", arguments.is_null() ? json::object() : arguments}},
                timeout_ms);
}

void McpClient::ping(std::int64_t timeout_ms) {
    call("ping", nullptr, timeout_ms);
}

}  // namespace archestra::mcp
