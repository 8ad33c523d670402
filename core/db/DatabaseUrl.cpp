// Parsing of postgresql:// URLs; written by hand because Poco::URI would echo the whole URL (with its
// password) in its error messages and cannot cope with unencoded reserved characters in passwords.
#include "core/db/DatabaseUrl.h"

#include <Poco/Exception.h>
#include <Poco/NumberParser.h>
#include <Poco/URI.h>

#include <set>

namespace archestra::db {
namespace {

std::string decode(const std::string& part, const char* what) {
    std::string out;
    try {
        Poco::URI::decode(part, out);
    } catch (const Poco::Exception&) {
        throw Poco::SyntaxException(std::string("database URL: the ") + what +
                                    " has an invalid %-escape; expected %XX hex escapes");
    }
    return out;
}

// Parameters libpq understands and we pass through; anything else in the query string is ignored.
const std::set<std::string>& libpqParams() {
    static const std::set<std::string> names = {"sslmode",
                                                "sslcert",
                                                "sslkey",
                                                "sslrootcert",
                                                "sslcrl",
                                                "sslpassword",
                                                "connect_timeout",
                                                "application_name",
                                                "target_session_attrs",
                                                "options",
                                                "keepalives",
                                                "keepalives_idle",
                                                "keepalives_interval",
                                                "keepalives_count",
                                                "gssencmode",
                                                "channel_binding",
                                                "sslcompression",
                                                "host",
                                                "hostaddr",
                                                "tcp_user_timeout"};
    return names;
}

}  // namespace

std::string quoteConnectionValue(const std::string& value) {
    std::string out = "'";
    for (char c : value) {
        if (c == '\'' || c == '\\') out.push_back('\\');
        out.push_back(c);
    }
    out.push_back('\'');
    return out;
}

DatabaseUrl DatabaseUrl::parse(const std::string& url) {
    DatabaseUrl result;
    auto schemeEnd = url.find("://");
    if (url.empty())
        throw Poco::SyntaxException(
            "database URL is empty; expected postgresql://user:password@host:port/database");
    if (schemeEnd == std::string::npos) {
        throw Poco::SyntaxException(
            "database URL has no scheme; expected it to start with postgresql:// or postgres://");
    }
    result.scheme = url.substr(0, schemeEnd);
    if (result.scheme != "postgresql" && result.scheme != "postgres") {
        throw Poco::SyntaxException("database URL scheme '" + result.scheme +
                                    "' is not supported; expected postgresql:// or postgres://");
    }
    std::string rest = url.substr(schemeEnd + 3);

    // User info ends at the last '@': passwords often carry unencoded reserved characters.
    auto at = rest.rfind('@');
    if (at != std::string::npos) {
        std::string userInfo = rest.substr(0, at);
        rest = rest.substr(at + 1);
        auto colon = userInfo.find(':');
        result.user = decode(userInfo.substr(0, colon), "user name");
        if (colon != std::string::npos) result.password = decode(userInfo.substr(colon + 1), "password");
    }

    std::string query;
    if (auto q = rest.find('?'); q != std::string::npos) {
        query = rest.substr(q + 1);
        rest = rest.substr(0, q);
    }
    std::string hostPort = rest;
    if (auto slash = rest.find('/'); slash != std::string::npos) {
        hostPort = rest.substr(0, slash);
        result.database = decode(rest.substr(slash + 1), "database name");
        if (result.database.find('/') != std::string::npos) {
            throw Poco::SyntaxException("database URL: database name '" + result.database +
                                        "' contains '/'; expected a single path segment");
        }
    }

    std::string portText;
    if (!hostPort.empty() && hostPort.front() == '[') {
        auto close = hostPort.find(']');
        if (close == std::string::npos) {
            throw Poco::SyntaxException("database URL: IPv6 host '" + hostPort +
                                        "' lacks ']'; expected [address]");
        }
        result.host = hostPort.substr(1, close - 1);
        std::string after = hostPort.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') {
                throw Poco::SyntaxException("database URL: unexpected '" + after +
                                            "' after IPv6 host; expected :port");
            }
            portText = after.substr(1);
        }
    } else {
        auto colon = hostPort.find(':');
        result.host = decode(hostPort.substr(0, colon), "host");
        if (colon != std::string::npos) portText = hostPort.substr(colon + 1);
    }
    if (!portText.empty()) {
        int port = 0;
        if (!Poco::NumberParser::tryParse(portText, port) || port < 1 || port > 65535) {
            throw Poco::SyntaxException("database URL: port '" + portText +
                                        "' is invalid; expected a number 1-65535");
        }
        result.port = port;
    }

    if (!query.empty()) {
        size_t start = 0;
        while (start <= query.size()) {
            auto amp = query.find('&', start);
            std::string pair =
                query.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
            if (!pair.empty()) {
                auto eq = pair.find('=');
                std::string key = decode(pair.substr(0, eq), "query parameter name");
                std::string value =
                    eq == std::string::npos ? "" : decode(pair.substr(eq + 1), "query parameter value");
                if (key == "password") {
                    result.password = value;
                } else if (key == "user") {
                    result.user = value;
                } else {
                    result.params[key] = value;
                }
            }
            if (amp == std::string::npos) break;
            start = amp + 1;
        }
    }
    if (result.host.empty() && result.params.count("host") == 0) {
        throw Poco::SyntaxException(
            "database URL has no host; expected postgresql://user:password@host:port/database");
    }
    return result;
}

std::string DatabaseUrl::redacted() const {
    std::string out = scheme + "://";
    if (!user.empty() || !password.empty()) {
        std::string encodedUser;
        Poco::URI::encode(user, "@:/?#", encodedUser);
        out += encodedUser;
        if (!password.empty()) out += ":***";
        out += "@";
    }
    out += host.find(':') != std::string::npos ? "[" + host + "]" : host;
    if (!host.empty() && host.front() != '/') out += ":" + std::to_string(port);
    out += "/" + database;
    char sep = '?';
    for (const auto& [key, value] : params) {
        out += sep + key + "=" + value;
        sep = '&';
    }
    return out;
}

std::string DatabaseUrl::connectionString() const {
    std::string out;
    auto add = [&out](const std::string& key, const std::string& value) {
        if (!out.empty()) out += ' ';
        out += key + "=" + quoteConnectionValue(value);
    };
    if (!host.empty()) add("host", host);
    add("port", std::to_string(port));
    if (!user.empty()) add("user", user);
    if (!password.empty()) add("password", password);
    if (!database.empty()) add("dbname", database);
    std::string options;
    for (const auto& [key, value] : params) {
        if (key == "schema") continue;
        if (key == "options") {
            options = value;
            continue;
        }
        if (libpqParams().count(key)) add(key, value);
    }
    if (auto it = params.find("schema"); it != params.end() && !it->second.empty()) {
        if (!options.empty()) options += ' ';
        options += "-c search_path=" + it->second;
    }
    if (!options.empty()) add("options", options);
    return out;
}

std::optional<std::pair<std::string, std::string>> selectDatabaseUrl(
    const std::map<std::string, std::string>& env) {
    for (const char* name : {"ARCHESTRA_DATABASE_URL", "DATABASE_URL"}) {
        auto it = env.find(name);
        if (it != env.end() && !it->second.empty()) return std::make_pair(std::string(name), it->second);
    }
    return std::nullopt;
}

}  // namespace archestra::db
