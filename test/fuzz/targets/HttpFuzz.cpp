// libFuzzer harness for the request path before a handler runs: Poco's HTTP request parsing, URI decoding and
// our router (templates, UUID checks); the management API's body validator; the MCP gateway's JSON-RPC
// classification and Host/Origin/Accept rules.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <string_view>

#include <Poco/Exception.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/URI.h>
#include <nlohmann/json.hpp>

#include "core/gateway/JsonRpc.h"
#include "core/http/BodyValidator.h"
#include "core/http/Router.h"
#include "test/fuzz/targets/Invariant.h"

using namespace archestra;
using nlohmann::json;

using archestra::fuzz::violated;

namespace {

// Templates of the shapes the platform registers: literals, {id} with a UUID check, a Gemini model segment
// with a literal suffix, and rest (*) routes.
const http::Router& router() {
    static const http::Router instance = [] {
        http::Router r;
        auto add = [&](std::string method, std::string path, std::vector<std::string> uuids = {}) {
            http::RouteSpec spec;
            spec.method = std::move(method);
            spec.path = std::move(path);
            spec.access = http::Access::publicRoute();
            spec.uuidParams = std::move(uuids);
            r.add(std::move(spec), [](http::Context&) {});
        };
        add("GET", "/api/agents");
        add("GET", "/api/agents/{id}", {"id"});
        add("PUT", "/api/agents/{id}", {"id"});
        add("POST", "/v1/openai/{profileId}/chat/completions", {"profileId"});
        add("POST", "/v1/openai/chat/completions");
        add("*", "/v1/openai/*");
        add("POST", "/v1/gemini/{profileId}/models/{model}:generateContent", {"profileId"});
        add("POST", "/v1/gemini/{profileId}/models/{model}:streamGenerateContent", {"profileId"});
        add("GET", "/api/mcp_server/{id}/logs", {"id"});
        add("GET", "/*");
        return r;
    }();
    return instance;
}

void fuzzRequest(std::string_view input) {
    std::istringstream stream{std::string(input)};
    Poco::Net::HTTPRequest request;
    try {
        request.read(stream);
    } catch (const Poco::Exception&) {
        return;  // the connection answers 400
    }
    std::string path;
    try {
        path = Poco::URI(request.getURI()).getPath();
    } catch (const Poco::Exception&) {
        return;
    }
    http::RouteMatch match = router().match(request.getMethod(), path);
    if (!match.route) return;
    for (const auto& [name, value] : match.params) {
        if (name != "*" && value.find('/') != std::string::npos) violated("a {param} matched across a '/'");
    }
    for (const auto& name : match.route->spec.uuidParams) {
        auto it = match.params.find(name);
        if (it != match.params.end()) (void)http::isUuidV4(it->second);
    }
}

// {"schema": ..., "value": ...}: the validator answers a message or nullopt and throws nothing. The seeds
// api-*.bin carry each management API operation's declared request schema (test/fuzz/api-seeds.mjs).
void fuzzBody(std::string_view input) {
    json doc = json::parse(input.begin(), input.end(), nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) return;
    auto schema = doc.find("schema");
    auto value = doc.find("value");
    if (schema == doc.end() || value == doc.end()) return;
    auto problem = http::validateBody(*schema, *value);
    // The API's 400 names the field ("Field 'labels[0].key': ...") or says the body is not an object.
    if (problem && problem->rfind("Field '", 0) != 0 && problem->rfind("Request body: ", 0) != 0)
        violated("validateBody refused a value without naming the field");
}

void fuzzJsonRpc(std::string_view input) {
    std::string text(input);
    json doc = json::parse(text, nullptr, false);
    if (!doc.is_discarded()) {
        const json messages = doc.is_array() ? doc : json::array({doc});
        for (const auto& message : messages) {
            auto classified = gateway::classify(message);
            if (classified.kind == gateway::MessageKind::Invalid && classified.problem.empty())
                violated("an invalid JSON-RPC message without a reason");
            if (classified.kind != gateway::MessageKind::Invalid && !message.is_object())
                violated("a non-object classified as a JSON-RPC message");
            // As McpGateway does: only an object's protocolVersion is read (value() throws on a string).
            if (message.is_object() && message.contains("params") && message["params"].is_object())
                (void)gateway::negotiateProtocolVersion(message["params"].value("protocolVersion", json()));
            (void)gateway::rpcError(message.is_object() ? message.value("id", json()) : json(), -32600, text);
        }
    }
    (void)gateway::chooseFraming(text);
    (void)gateway::acceptsEventStream(text);
    static const auto policy = gateway::HostPolicy::fromUrls({"http://localhost:9000"}, {"gw.example.com"});
    if (policy.hostAllowed(text)) {
        const std::string name = gateway::hostName(text);
        if (name != "localhost" && name != "127.0.0.1" && name != "::1" && name != "gw.example.com" &&
            !gateway::isIpLiteral(name))
            violated("a Host header outside the policy was allowed");
    }
    (void)policy.originAllowed(text);
    (void)gateway::exposedToolName(gateway::slugify(text), text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0] % 3) {
        case 0:
            fuzzRequest(rest);
            break;
        case 1:
            fuzzBody(rest);
            break;
        default:
            fuzzJsonRpc(rest);
            break;
    }
    return 0;
}
