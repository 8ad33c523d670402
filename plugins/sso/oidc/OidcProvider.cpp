// sso.oidc: an OpenID Connect relying party on the SDK's SsoProvider interface. Discovery and JWKS are
// fetched lazily through the host's HTTP client and cached; an ID token signed with an unknown key id
// refetches the JWKS (key rotation), at most once per 5 s.
#include "archestra/sdk/plugin.h"

#include "Jwt.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <mutex>
#include <stdexcept>

namespace {

using namespace archestra::sdk;
using archestra::plugins::oidc::base64UrlEncode;
using archestra::plugins::oidc::parseJws;
using archestra::plugins::oidc::randomToken;
using archestra::plugins::oidc::sha256;
using archestra::plugins::oidc::verifySignature;
using nlohmann::json;

constexpr std::int64_t kClockSkew_s = 60;
constexpr std::int64_t kJwksRefetchInterval_s = 5;  // bounds refetches an unknown kid can cause
constexpr std::int64_t kDiscoveryTtl_s = 3600;

std::int64_t nowSeconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string formEncode(const std::string& text) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : text) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 15]);
        }
    }
    return out;
}

std::string form(const std::vector<std::pair<std::string, std::string>>& fields) {
    std::string out;
    for (const auto& [key, value] : fields) {
        if (!out.empty()) out += '&';
        out += formEncode(key) + "=" + formEncode(value);
    }
    return out;
}

std::string base64(const std::string& bytes) {
    std::string out = base64UrlEncode(bytes);
    for (auto& c : out) c = c == '-' ? '+' : c == '_' ? '/' : c;
    while (out.size() % 4) out.push_back('=');
    return out;
}

const json* claimAt(const json& claims, const std::string& path) {
    if (claims.contains(path)) return &claims[path];
    const json* node = &claims;
    std::size_t start = 0;
    while (true) {
        std::size_t dot = path.find('.', start);
        std::string key = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        if (!node->is_object() || !node->contains(key)) return nullptr;
        node = &(*node)[key];
        if (dot == std::string::npos) return node;
        start = dot + 1;
    }
}

std::string claimText(const json& claims, const std::string& path) {
    const json* value = claimAt(claims, path);
    if (!value) return "";
    if (value->is_string()) return value->get<std::string>();
    if (value->is_number()) return value->dump();
    return "";
}

struct Config {
    std::string issuer, clientId, clientSecret, discoveryEndpoint;
    std::string authorizationEndpoint, tokenEndpoint, userInfoEndpoint, jwksEndpoint;
    std::string scopes = "openid email profile";
    std::string tokenAuth = "client_secret_basic";
    bool pkce = true;
    bool userInfo = true;
    json mapping = json::object();
};

class OidcProvider final : public SsoProvider {
  public:
    OidcProvider(Host& host, Config config) : _host(host), _config(std::move(config)) {}

    Result<LoginStart> beginLogin(const LoginRequest& request) override {
        auto discovered = discovery();
        if (!discovered.ok()) return discovered.error();
        const json& meta = discovered.value();
        std::string state = randomToken(24), nonce = randomToken(24), verifier = randomToken(48);
        std::vector<std::pair<std::string, std::string>> query = {{"response_type", "code"},
                                                                  {"client_id", _config.clientId},
                                                                  {"redirect_uri", request.callback_url},
                                                                  {"scope", _config.scopes},
                                                                  {"state", state},
                                                                  {"nonce", nonce}};
        if (_config.pkce) {
            query.emplace_back("code_challenge", base64UrlEncode(sha256(verifier)));
            query.emplace_back("code_challenge_method", "S256");
        }
        if (!request.login_hint.empty()) query.emplace_back("login_hint", request.login_hint);
        std::string endpoint = meta.value("authorization_endpoint", "");
        LoginStart start;
        start.redirect_url = endpoint + (endpoint.find('?') == std::string::npos ? "?" : "&") + form(query);
        start.state_blob = json{{"state", state},
                                {"nonce", nonce},
                                {"verifier", _config.pkce ? verifier : ""},
                                {"redirect_uri", request.callback_url}}
                               .dump();
        return start;
    }

    Result<Identity> completeLogin(const std::map<std::string, std::string>& params,
                                   const std::string& state_blob) override {
        json blob;
        try {
            blob = json::parse(state_blob);
        } catch (const json::exception&) {
            return fail(ErrorCode::InvalidArgument, "the sign-in state is not valid");
        }
        auto param = [&](const char* name) {
            auto it = params.find(name);
            return it == params.end() ? std::string() : it->second;
        };
        if (param("state").empty() || param("state") != blob.value("state", ""))
            return fail(ErrorCode::InvalidArgument,
                        "the 'state' parameter does not match the sign-in started in this browser");
        if (!param("error").empty())
            return fail(
                ErrorCode::PermissionDenied,
                "the identity provider answered '" + param("error") + "'" +
                    (param("error_description").empty() ? std::string() : ": " + param("error_description")));
        if (!param("iss").empty() && param("iss") != _config.issuer)  // RFC 9207 mix-up defence
            return fail(ErrorCode::InvalidArgument, "the 'iss' parameter '" + param("iss") +
                                                        "' is not the issuer '" + _config.issuer + "'");
        const std::string code = param("code");
        if (code.empty())
            return fail(ErrorCode::InvalidArgument, "the callback carries no authorization 'code'");
        auto discovered = discovery();
        if (!discovered.ok()) return discovered.error();
        const json meta = discovered.value();

        // ---- token exchange
        std::vector<std::pair<std::string, std::string>> fields = {
            {"grant_type", "authorization_code"},
            {"code", code},
            {"redirect_uri", blob.value("redirect_uri", "")}};
        if (!blob.value("verifier", "").empty())
            fields.emplace_back("code_verifier", blob.value("verifier", ""));
        HttpRequest token;
        token.method = "POST";
        token.url = meta.value("token_endpoint", "");
        token.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                         {"Accept", "application/json"}};
        if (_config.tokenAuth == "client_secret_post") {
            fields.emplace_back("client_id", _config.clientId);
            fields.emplace_back("client_secret", _config.clientSecret);
        } else {
            token.headers.emplace_back("Authorization", "Basic " + base64(formEncode(_config.clientId) + ":" +
                                                                          formEncode(_config.clientSecret)));
        }
        token.body = form(fields);
        auto answer = http(token);
        if (!answer.ok()) return answer.error();
        json tokens;
        try {
            tokens = json::parse(answer.value().body);
        } catch (const json::exception&) {
            return fail(ErrorCode::Unavailable, "the token endpoint answered " +
                                                    std::to_string(answer.value().status) + " without JSON");
        }
        if (answer.value().status != 200 || !tokens.is_object())
            return fail(ErrorCode::InvalidArgument,
                        "the token endpoint refused the code (" + std::to_string(answer.value().status) +
                            " " +
                            (tokens.is_object() ? tokens.value("error", std::string()) + " " +
                                                      tokens.value("error_description", std::string())
                                                : std::string()) +
                            ")");
        if (!tokens.contains("id_token") || !tokens["id_token"].is_string())
            return fail(ErrorCode::InvalidArgument, "the token endpoint returned no id_token");

        // ---- ID token
        auto claims = verifyIdToken(tokens["id_token"].get<std::string>(), meta, blob.value("nonce", ""));
        if (!claims.ok()) return claims.error();
        json merged = claims.value();

        // ---- userinfo (optional): more claims, never a different subject
        std::string userinfoUrl = meta.value("userinfo_endpoint", "");
        if (_config.userInfo && !userinfoUrl.empty() && tokens.contains("access_token") &&
            tokens["access_token"].is_string()) {
            HttpRequest info;
            info.url = userinfoUrl;
            info.headers = {{"Authorization", "Bearer " + tokens["access_token"].get<std::string>()},
                            {"Accept", "application/json"}};
            auto infoAnswer = http(info);
            if (infoAnswer.ok() && infoAnswer.value().status == 200) {
                try {
                    json extra = json::parse(infoAnswer.value().body);
                    if (extra.is_object() && extra.value("sub", "") == merged.value("sub", "")) {
                        for (auto it = extra.begin(); it != extra.end(); ++it)
                            if (!merged.contains(it.key())) merged[it.key()] = it.value();
                    } else {
                        log(LogLevel::Warning, "userinfo answered another subject; its claims are ignored");
                    }
                } catch (const json::exception&) {
                    log(LogLevel::Warning, "userinfo answered without JSON; its claims are ignored");
                }
            }
        }
        return identityFrom(merged);
    }

  private:
    void log(LogLevel level, const std::string& message) { _host.logger().log(level, message); }

    Result<HttpResponse> http(const HttpRequest& request) {
        HttpClient* client = _host.http();
        if (!client) return fail(ErrorCode::Unavailable, "the host offers no HTTP client");
        auto response = client->send(request);
        if (!response.ok())
            return fail(response.error().code, "OIDC request failed: " + response.error().message);
        return response;
    }

    Result<json> fetchJson(const std::string& url, const char* what) {
        HttpRequest request;
        request.url = url;
        request.headers = {{"Accept", "application/json"}};
        auto response = http(request);
        if (!response.ok()) return response.error();
        if (response.value().status != 200)
            return fail(ErrorCode::Unavailable, std::string(what) + " at " + url + " answered " +
                                                    std::to_string(response.value().status));
        try {
            json body = json::parse(response.value().body);
            if (!body.is_object()) throw std::invalid_argument("not an object");
            return body;
        } catch (const std::exception&) {
            return fail(ErrorCode::Unavailable, std::string(what) + " at " + url + " is not a JSON object");
        }
    }

    /// Discovery document merged with explicitly configured endpoints (which win).
    Result<json> discovery() {
        {
            std::lock_guard lock(_mutex);
            if (!_discovery.is_null() && nowSeconds() - _discoveredAt < kDiscoveryTtl_s) return _discovery;
        }
        json meta = json::object();
        bool complete = !_config.authorizationEndpoint.empty() && !_config.tokenEndpoint.empty() &&
                        !_config.jwksEndpoint.empty();
        if (!complete || !_config.discoveryEndpoint.empty()) {
            std::string url = _config.discoveryEndpoint;
            if (url.empty()) {
                url = _config.issuer;
                while (!url.empty() && url.back() == '/') url.pop_back();
                url += "/.well-known/openid-configuration";
            }
            auto fetched = fetchJson(url, "the discovery document");
            if (!fetched.ok()) return fetched.error();
            meta = fetched.value();
            if (meta.value("issuer", "") != _config.issuer)
                return fail(ErrorCode::InvalidArgument,
                            "the discovery document's issuer '" + meta.value("issuer", "") +
                                "' is not the configured issuer '" + _config.issuer + "'");
        }
        if (!_config.authorizationEndpoint.empty())
            meta["authorization_endpoint"] = _config.authorizationEndpoint;
        if (!_config.tokenEndpoint.empty()) meta["token_endpoint"] = _config.tokenEndpoint;
        if (!_config.userInfoEndpoint.empty()) meta["userinfo_endpoint"] = _config.userInfoEndpoint;
        if (!_config.jwksEndpoint.empty()) meta["jwks_uri"] = _config.jwksEndpoint;
        for (const char* key : {"authorization_endpoint", "token_endpoint", "jwks_uri"})
            if (!meta.contains(key) || !meta[key].is_string())
                return fail(ErrorCode::Unavailable, std::string("the provider's metadata has no ") + key);
        std::lock_guard lock(_mutex);
        _discovery = meta;
        _discoveredAt = nowSeconds();
        return meta;
    }

    /// The JWK with `kid` (or the only key of a fitting type when the token names none); refetches the set
    /// when the key is unknown, so a rotated key is picked up.
    Result<json> keyFor(const std::string& kid, const std::string& alg, const std::string& jwksUri) {
        auto find = [&](const json& set) -> json {
            if (!set.contains("keys") || !set["keys"].is_array()) return nullptr;
            std::string kty = alg.rfind("ES", 0) == 0 ? "EC" : "RSA";
            json match = nullptr;
            int candidates = 0;
            for (const auto& key : set["keys"]) {
                if (!key.is_object() || key.value("kty", "") != kty) continue;
                if (key.contains("use") && key["use"] != "sig") continue;
                if (!kid.empty()) {
                    if (key.value("kid", "") == kid) return key;
                } else {
                    match = key;
                    ++candidates;
                }
            }
            return candidates == 1 ? match : json(nullptr);
        };
        bool mayRefetch;
        {
            std::lock_guard lock(_mutex);
            json key = find(_jwks);
            if (!key.is_null()) return key;
            mayRefetch = _jwks.is_null() || nowSeconds() - _jwksFetchedAt >= kJwksRefetchInterval_s;
        }
        if (!mayRefetch)
            return fail(ErrorCode::InvalidArgument, "the ID token is signed with key '" + kid +
                                                        "', which the provider's JWKS does not hold");
        auto fetched = fetchJson(jwksUri, "the JWKS");
        if (!fetched.ok()) return fetched.error();
        std::lock_guard lock(_mutex);
        _jwks = fetched.value();
        _jwksFetchedAt = nowSeconds();
        json key = find(_jwks);
        if (key.is_null())
            return fail(ErrorCode::InvalidArgument, "the ID token is signed with key '" + kid +
                                                        "', which the provider's JWKS does not hold");
        return key;
    }

    Result<json> verifyIdToken(const std::string& token, const json& meta, const std::string& nonce) {
        archestra::plugins::oidc::CompactJws jws;
        try {
            jws = parseJws(token);
        } catch (const std::invalid_argument& e) {
            return fail(ErrorCode::InvalidArgument, e.what());
        }
        const std::string alg = jws.header.value("alg", "");
        const std::string kid = jws.header.value("kid", "");
        if (alg.empty() || alg == "none" || alg.rfind("HS", 0) == 0)
            return fail(ErrorCode::InvalidArgument, "the ID token's algorithm '" + alg +
                                                        "' is not accepted (asymmetric signatures only)");
        auto key = keyFor(kid, alg, meta.value("jwks_uri", ""));
        if (!key.ok()) return key.error();
        try {
            if (!verifySignature(alg, key.value(), jws.signingInput, jws.signature))
                return fail(ErrorCode::InvalidArgument, "the ID token's signature does not verify");
        } catch (const std::invalid_argument& e) {
            return fail(ErrorCode::InvalidArgument,
                        std::string("the ID token cannot be verified: ") + e.what());
        }
        const json& c = jws.payload;
        if (c.value("iss", "") != _config.issuer)
            return fail(ErrorCode::InvalidArgument,
                        "the ID token's issuer '" + c.value("iss", "") + "' is not '" + _config.issuer + "'");
        bool audienceOk = false;
        if (c.contains("aud") && c["aud"].is_string()) audienceOk = c["aud"] == _config.clientId;
        if (c.contains("aud") && c["aud"].is_array()) {
            for (const auto& a : c["aud"]) audienceOk = audienceOk || a == _config.clientId;
            if (audienceOk && c["aud"].size() > 1 && c.value("azp", "") != _config.clientId)
                audienceOk = false;
        }
        if (!audienceOk)
            return fail(ErrorCode::InvalidArgument, "the ID token's audience " +
                                                        (c.contains("aud") ? c["aud"].dump() : "(none)") +
                                                        " is not this client '" + _config.clientId + "'");
        const std::int64_t now = nowSeconds();
        if (!c.contains("exp") || !c["exp"].is_number())
            return fail(ErrorCode::InvalidArgument, "the ID token has no 'exp'");
        if (c["exp"].get<double>() + kClockSkew_s < static_cast<double>(now))
            return fail(ErrorCode::InvalidArgument,
                        "the ID token expired at " + c["exp"].dump() + " (now " + std::to_string(now) + ")");
        if (c.contains("iat") && c["iat"].is_number() &&
            c["iat"].get<double>() > static_cast<double>(now + kClockSkew_s))
            return fail(ErrorCode::InvalidArgument, "the ID token was issued in the future");
        if (c.contains("nbf") && c["nbf"].is_number() &&
            c["nbf"].get<double>() > static_cast<double>(now + kClockSkew_s))
            return fail(ErrorCode::InvalidArgument, "the ID token is not valid yet");
        if (c.value("nonce", "") != nonce)
            return fail(ErrorCode::InvalidArgument, "the ID token's nonce does not match the sign-in");
        if (c.value("sub", "").empty()) return fail(ErrorCode::InvalidArgument, "the ID token has no 'sub'");
        return c;
    }

    Identity identityFrom(const json& claims) {
        const json& m = _config.mapping;
        Identity identity;
        identity.subject = claimText(claims, m.value("id", "sub"));
        identity.email = claimText(claims, m.value("email", "email"));
        identity.name = claimText(claims, m.value("name", "name"));
        const json* verified = claimAt(claims, m.value("emailVerified", "email_verified"));
        identity.email_verified = verified && ((verified->is_boolean() && verified->get<bool>()) ||
                                               (verified->is_string() && *verified == "true"));
        std::string groupsClaim = m.value("groups", "");
        for (const char* name :
             {"groups", "group", "memberOf", "member_of", "roles", "role", "teams", "team"}) {
            const json* groups = claimAt(claims, groupsClaim.empty() ? name : groupsClaim);
            if (groups && groups->is_array())
                for (const auto& g : *groups)
                    if (g.is_string()) identity.groups.push_back(g.get<std::string>());
            if (groups && groups->is_string()) identity.groups.push_back(groups->get<std::string>());
            if (groups || !groupsClaim.empty()) break;
        }
        identity.claims_json = claims.dump();
        return identity;
    }

    Host& _host;
    const Config _config;
    std::mutex _mutex;
    json _discovery;
    std::int64_t _discoveredAt = 0;
    json _jwks;
    std::int64_t _jwksFetchedAt = 0;
};

Result<Config> parseConfig(const std::string& text) {
    json j;
    try {
        j = json::parse(text);
    } catch (const json::exception& e) {
        return fail(ErrorCode::InvalidArgument, std::string("config is not JSON: ") + e.what());
    }
    auto str = [&](const char* key) {
        return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
    };
    Config c;
    c.issuer = str("issuer");
    c.clientId = str("clientId");
    c.clientSecret = str("clientSecret");
    c.discoveryEndpoint = str("discoveryEndpoint");
    c.authorizationEndpoint = str("authorizationEndpoint");
    c.tokenEndpoint = str("tokenEndpoint");
    c.userInfoEndpoint = str("userInfoEndpoint");
    c.jwksEndpoint = str("jwksEndpoint");
    if (j.contains("scopes") && j["scopes"].is_array()) {
        std::string scopes;
        for (const auto& s : j["scopes"])
            if (s.is_string()) scopes += (scopes.empty() ? "" : " ") + s.get<std::string>();
        if (scopes.find("openid") == std::string::npos) scopes = "openid " + scopes;
        c.scopes = scopes;
    }
    if (!str("tokenEndpointAuthentication").empty()) c.tokenAuth = str("tokenEndpointAuthentication");
    if (j.contains("pkce") && j["pkce"].is_boolean()) c.pkce = j["pkce"].get<bool>();
    if (j.contains("getUserInfo") && j["getUserInfo"].is_boolean()) c.userInfo = j["getUserInfo"].get<bool>();
    if (j.contains("mapping") && j["mapping"].is_object()) c.mapping = j["mapping"];
    if (c.issuer.rfind("http://", 0) != 0 && c.issuer.rfind("https://", 0) != 0)
        return fail(ErrorCode::InvalidArgument, "issuer: expected an http(s) URL, got '" + c.issuer + "'");
    if (c.clientId.empty()) return fail(ErrorCode::InvalidArgument, "clientId: expected a non-empty string");
    if (c.tokenAuth != "client_secret_basic" && c.tokenAuth != "client_secret_post")
        return fail(ErrorCode::InvalidArgument,
                    "tokenEndpointAuthentication: expected client_secret_basic or "
                    "client_secret_post, got '" +
                        c.tokenAuth + "'");
    return c;
}

Status registerFactories(Registrar& registrar) {
    SsoFactory factory;
    factory.name = "oidc";
    factory.description = "OpenID Connect: authorization code + PKCE, JWKS-verified ID tokens";
    factory.config_schema_json = R"({"type":"object","required":["issuer","clientId"],
        "properties":{"issuer":{"type":"string"},"clientId":{"type":"string"},"clientSecret":{"type":"string"},
        "scopes":{"type":"array","items":{"type":"string"}},"pkce":{"type":"boolean"},
        "tokenEndpointAuthentication":{"type":"string","enum":["client_secret_basic","client_secret_post"]},
        "mapping":{"type":"object"}}})";
    factory.create = [](Host& host, const std::string& config) -> Result<std::unique_ptr<SsoProvider>> {
        auto parsed = parseConfig(config);
        if (!parsed.ok()) return parsed.error();
        return std::unique_ptr<SsoProvider>(std::make_unique<OidcProvider>(host, parsed.value()));
    };
    return registrar.addSso(std::move(factory));
}

}  // namespace

ARCHESTRA_PLUGIN(registerFactories)
