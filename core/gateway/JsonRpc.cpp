// Transport rules of the MCP streamable-HTTP server side (see JsonRpc.h).
#include "core/gateway/JsonRpc.h"

#include <algorithm>
#include <cctype>

namespace archestra::gateway {

namespace {

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

std::string trim(const std::string& text) {
    size_t begin = text.find_first_not_of(" \t");
    if (begin == std::string::npos) return "";
    size_t end = text.find_last_not_of(" \t");
    return text.substr(begin, end - begin + 1);
}

/// Media ranges of an Accept header with q > 0, lower-cased, parameters dropped.
std::vector<std::string> acceptedRanges(const std::string& accept) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= accept.size()) {
        size_t comma = accept.find(',', start);
        std::string item =
            accept.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        std::string range = lower(trim(item.substr(0, item.find(';'))));
        bool refused = false;
        for (size_t semi = item.find(';'); semi != std::string::npos; semi = item.find(';', semi + 1)) {
            std::string param = lower(trim(item.substr(semi + 1, item.find(';', semi + 1) - semi - 1)));
            if (param.rfind("q=", 0) == 0) refused = std::strtod(param.c_str() + 2, nullptr) <= 0.0;
        }
        if (!range.empty() && !refused) out.push_back(range);
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return out;
}

bool has(const std::vector<std::string>& ranges, const std::string& value) {
    return std::find(ranges.begin(), ranges.end(), value) != ranges.end();
}

}  // namespace

nlohmann::json rpcError(const nlohmann::json& id, int code, const std::string& message,
                        const nlohmann::json& data) {
    nlohmann::json error = {{"code", code}, {"message", message}};
    if (!data.is_null()) error["data"] = data;
    return {{"jsonrpc", "2.0"}, {"error", std::move(error)}, {"id", id}};
}

nlohmann::json rpcResult(const nlohmann::json& id, nlohmann::json result) {
    return {{"jsonrpc", "2.0"}, {"result", std::move(result)}, {"id", id}};
}

Classified classify(const nlohmann::json& message) {
    if (!message.is_object()) return {MessageKind::Invalid, "a JSON-RPC message must be an object"};
    auto version = message.find("jsonrpc");
    if (version == message.end() || *version != "2.0")
        return {MessageKind::Invalid, "field 'jsonrpc': expected \"2.0\""};
    auto id = message.find("id");
    if (id != message.end() && !id->is_string() && !id->is_number_integer() && !id->is_null())
        return {MessageKind::Invalid, "field 'id': expected a string or an integer"};
    auto method = message.find("method");
    if (method != message.end()) {
        if (!method->is_string()) return {MessageKind::Invalid, "field 'method': expected a string"};
        auto params = message.find("params");
        if (params != message.end() && !params->is_object() && !params->is_array())
            return {MessageKind::Invalid, "field 'params': expected an object"};
        return {id == message.end() ? MessageKind::Notification : MessageKind::Request, ""};
    }
    if (message.contains("result") || message.contains("error")) return {MessageKind::Response, ""};
    return {MessageKind::Invalid, "expected 'method' (a request) or 'result'/'error' (a response)"};
}

const std::vector<std::string>& supportedProtocolVersions() {
    static const std::vector<std::string> versions = {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"};
    return versions;
}

bool isSupportedProtocolVersion(const std::string& version) {
    const auto& versions = supportedProtocolVersions();
    return std::find(versions.begin(), versions.end(), version) != versions.end();
}

std::string negotiateProtocolVersion(const nlohmann::json& requested) {
    if (requested.is_string() && isSupportedProtocolVersion(requested.get<std::string>()))
        return requested.get<std::string>();
    return supportedProtocolVersions().front();
}

std::optional<ResponseFraming> chooseFraming(const std::string& accept) {
    if (trim(accept).empty()) return ResponseFraming::Json;
    auto ranges = acceptedRanges(accept);
    if (has(ranges, "application/json") || has(ranges, "application/*") || has(ranges, "*/*"))
        return ResponseFraming::Json;
    if (has(ranges, "text/event-stream") || has(ranges, "text/*")) return ResponseFraming::Sse;
    return std::nullopt;
}

bool acceptsEventStream(const std::string& accept) {
    return has(acceptedRanges(accept), "text/event-stream");
}

std::string sseEvent(const nlohmann::json& message) {
    return "event: message\ndata: " + message.dump() + "\n\n";
}

std::string hostName(const std::string& hostAndPort) {
    std::string value = lower(trim(hostAndPort));
    if (!value.empty() && value.front() == '[') {
        size_t close = value.find(']');
        return close == std::string::npos ? value : value.substr(1, close - 1);
    }
    // A bare IPv6 address has several colons and no port.
    if (std::count(value.begin(), value.end(), ':') > 1) return value;
    return value.substr(0, value.find(':'));
}

bool isIpLiteral(const std::string& name) {
    // A rebinding attack needs the attacker's DNS name in Host; an address literal cannot carry one.
    if (name.find(':') != std::string::npos)
        return name.find_first_not_of("0123456789abcdef:.") == std::string::npos;
    int dots = 0;
    for (char c : name) {
        if (c == '.')
            ++dots;
        else if (c < '0' || c > '9')
            return false;
    }
    return dots == 3;
}

bool HostPolicy::hostAllowed(const std::string& hostHeader) const {
    if (has(hosts, "*")) return true;
    std::string name = hostName(hostHeader);
    return !name.empty() && (has(hosts, name) || isIpLiteral(name));
}

bool HostPolicy::originAllowed(const std::string& origin) const {
    if (trim(origin).empty()) return true;
    if (has(hosts, "*")) return true;
    std::string value = lower(trim(origin));
    size_t scheme = value.find("://");
    if (scheme == std::string::npos) return false;  // "null" and other opaque origins
    std::string rest = value.substr(scheme + 3);
    return hostAllowed(rest.substr(0, rest.find('/')));
}

HostPolicy HostPolicy::fromUrls(const std::vector<std::string>& urls, const std::vector<std::string>& extra) {
    HostPolicy policy;
    policy.hosts = {"localhost", "127.0.0.1", "::1"};
    auto add = [&](const std::string& name) {
        if (!name.empty() && !has(policy.hosts, name)) policy.hosts.push_back(name);
    };
    for (const auto& url : urls) {
        size_t scheme = url.find("://");
        if (scheme == std::string::npos) continue;
        std::string rest = url.substr(scheme + 3);
        rest = rest.substr(0, rest.find('/'));
        if (size_t at = rest.rfind('@'); at != std::string::npos) rest = rest.substr(at + 1);
        add(hostName(rest));
    }
    for (const auto& name : extra) add(lower(trim(name)));
    return policy;
}

std::string slugify(const std::string& serverName) {
    std::string slug = lower(serverName);
    std::replace(slug.begin(), slug.end(), ' ', '_');
    return slug;
}

std::string exposedToolName(const std::string& slug, const std::string& toolName) {
    std::string prefix = slug + kToolSeparator;
    if (lower(toolName).rfind(prefix, 0) == 0) return toolName;
    return prefix + toolName;
}

std::string serverToolName(const std::string& slug, const std::string& exposedName) {
    std::string prefix = slug + kToolSeparator;
    if (lower(exposedName).rfind(prefix, 0) == 0) return exposedName.substr(prefix.size());
    return exposedName;
}

}  // namespace archestra::gateway
