// MCP OAuth: discovery, client registration, the PKCE authorization code flow and token refresh for remote
// MCP servers. Flow state lives in PostgreSQL (table `verification`), so any replica can complete a callback
// that another one started; tokens live in the secrets backend.
#include "core/mcp/McpOAuth.h"

#include "core/auth/Schema.h"
#include "core/auth/SqlJson.h"
#include "core/auth/Tokens.h"
#include "core/auth/sso/HostHttpClient.h"
#include "core/db/Database.h"
#include "core/db/DatabaseException.h"
#include "core/http/ApiError.h"
#include "core/http/Context.h"
#include "core/secrets/SecretStore.h"

#include <Poco/Base64Encoder.h>
#include <Poco/Logger.h>
#include <Poco/String.h>
#include <Poco/URI.h>

#include <algorithm>
#include <chrono>
#include <sstream>

namespace archestra::mcp {
namespace {

using http::ApiError;
using nlohmann::json;

Poco::Logger& log() {
    return Poco::Logger::get("mcp.oauth");
}

std::int64_t nowSeconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

/// expires_at, and refresh_at: refreshBefore_s ahead of it, or half-way for a token that lives less than
/// twice that (a 30 s token refreshed 60 s early would be refreshed on every call).
void setExpiry(json& secret, std::int64_t expiresIn_s, std::int64_t refreshBefore_s) {
    std::int64_t now = nowSeconds();
    secret["expires_at"] = now + expiresIn_s;
    secret["refresh_at"] = now + expiresIn_s - std::min(refreshBefore_s, expiresIn_s / 2);
}

const char* kStateKind = "mcp-oauth-state";
const char* kUsedStateKind = "mcp-oauth-state-used";

std::string stateRowId(const std::string& state) {
    return "mcp-oauth:" + auth::sha256Base64Url(state);
}

std::string stringAt(const json& object, const char* key) {
    if (!object.is_object()) return "";
    auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

std::vector<std::string> stringsAt(const json& object, const char* key) {
    std::vector<std::string> out;
    if (!object.is_object()) return out;
    auto it = object.find(key);
    if (it == object.end()) return out;
    if (it->is_string()) {
        std::istringstream words(it->get<std::string>());
        for (std::string word; words >> word;) out.push_back(word);
    } else if (it->is_array()) {
        for (const auto& item : *it)
            if (item.is_string() && !item.get<std::string>().empty()) out.push_back(item.get<std::string>());
    }
    return out;
}

std::string join(const std::vector<std::string>& parts, const std::string& separator) {
    std::string out;
    for (const auto& part : parts) out += (out.empty() ? "" : separator) + part;
    return out;
}

std::string basicAuth(const std::string& id, const std::string& secret) {
    // RFC 6749 §2.3.1: both parts form-encoded before base64.
    auto encode = [](const std::string& text) {
        std::string out;
        Poco::URI::encode(text, "!#$&'()*+,/:;=?@[]% ", out);
        return out;
    };
    std::ostringstream text;
    Poco::Base64Encoder encoder(text);
    encoder.rdbuf()->setLineLength(0);
    encoder << encode(id) << ":" << encode(secret);
    encoder.close();
    return "Basic " + text.str();
}

/// The AS's error answer as a phrase: "invalid_grant: grant request is invalid" or the status.
std::string describeOAuthError(const OAuthHttpResponse& response) {
    json body = json::parse(response.body, nullptr, false);
    std::string error = stringAt(body, "error"), description = stringAt(body, "error_description");
    if (error.empty()) return "HTTP " + std::to_string(response.status);
    return error + (description.empty() ? "" : ": " + description);
}

/// Client authentication at the token endpoint, as the flow's client record says.
void addClientAuth(const json& client, std::vector<std::pair<std::string, std::string>>& fields,
                   std::vector<std::pair<std::string, std::string>>& headers) {
    std::string id = stringAt(client, "client_id"), secret = stringAt(client, "client_secret");
    std::string method = stringAt(client, "auth_method");
    if (!secret.empty() && method != "client_secret_post" && method != "none") {
        headers.emplace_back("Authorization", basicAuth(id, secret));
        return;
    }
    fields.emplace_back("client_id", id);
    if (!secret.empty() && method == "client_secret_post") fields.emplace_back("client_secret", secret);
}

}  // namespace

// ---- free helpers ---------------------------------------------------------------------------------------

std::string resourceMetadataFromChallenge(const std::string& header) {
    const std::string key = "resource_metadata=";
    auto at = header.find(key);
    if (at == std::string::npos) return "";
    std::size_t start = at + key.size();
    if (start < header.size() && header[start] == '"') {
        auto end = header.find('"', start + 1);
        return end == std::string::npos ? "" : header.substr(start + 1, end - start - 1);
    }
    auto end = header.find_first_of(", ", start);
    return header.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

std::vector<std::string> protectedResourceMetadataUrls(const std::string& serverUrl) {
    Poco::URI uri(serverUrl);
    std::string origin = uri.getScheme() + "://" + uri.getAuthority();
    std::string path = uri.getPath();
    while (!path.empty() && path.back() == '/') path.pop_back();
    std::vector<std::string> urls;
    if (!path.empty()) urls.push_back(origin + "/.well-known/oauth-protected-resource" + path);
    urls.push_back(origin + "/.well-known/oauth-protected-resource");
    return urls;
}

std::vector<std::string> authorizationServerMetadataUrls(const std::string& issuer) {
    Poco::URI uri(issuer);
    std::string origin = uri.getScheme() + "://" + uri.getAuthority();
    std::string path = uri.getPath();
    while (!path.empty() && path.back() == '/') path.pop_back();
    if (path.empty())
        return {origin + "/.well-known/oauth-authorization-server",
                origin + "/.well-known/openid-configuration"};
    return {origin + "/.well-known/oauth-authorization-server" + path,
            origin + "/.well-known/openid-configuration" + path,
            origin + path + "/.well-known/openid-configuration"};
}

std::string formEncode(const std::vector<std::pair<std::string, std::string>>& fields) {
    std::string out;
    for (const auto& [key, value] : fields) {
        std::string k, v;
        Poco::URI::encode(key, "!#$&'()*+,/:;=?@[]%", k);
        Poco::URI::encode(value, "!#$&'()*+,/:;=?@[]%", v);
        out += (out.empty() ? "" : "&") + k + "=" + v;
    }
    return out;
}

std::string pkceChallenge(const std::string& verifier) {
    return auth::sha256Base64Url(verifier);
}

// ---- McpOAuth -------------------------------------------------------------------------------------------

McpOAuth::McpOAuth(db::Database& db, std::function<std::shared_ptr<secrets::SecretStore>()> secrets,
                   Options options)
    : _db(db), _secrets(std::move(secrets)), _options(std::move(options)) {}

std::shared_ptr<secrets::SecretStore> McpOAuth::store() {
    auto store = _secrets ? _secrets() : nullptr;
    if (!store)
        throw ApiError::unavailable(
            "No secrets backend is available to keep OAuth tokens; try again shortly");
    return store;
}

std::optional<OAuthHttpResponse> McpOAuth::send(
    const std::string& method, const std::string& url,
    const std::vector<std::pair<std::string, std::string>>& headers, const std::string& body) {
    if (_options.http) return _options.http(method, url, headers, body);
    sdk::HttpRequest request;
    request.method = method;
    request.url = url;
    request.headers = headers;
    request.body = body;
    request.timeout_ms = _options.httpTimeout_ms;
    auto answer = auth::sso::sendHttpRequest(request);
    if (!answer.ok()) {
        log().warning("OAuth request " + method + " " + url + " failed: " + answer.error().message);
        return std::nullopt;
    }
    OAuthHttpResponse out;
    out.status = answer.value().status;
    out.body = answer.value().body;
    for (const auto& [name, value] : answer.value().headers)
        if (Poco::icompare(name, "WWW-Authenticate") == 0) out.wwwAuthenticate = value;
    return out;
}

std::optional<json> McpOAuth::fetchJson(const std::string& url) {
    auto answer =
        send("GET", url, {{"Accept", "application/json"}, {"MCP-Protocol-Version", "2025-06-18"}}, "");
    if (!answer || answer->status != 200) return std::nullopt;
    json body = json::parse(answer->body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) return std::nullopt;
    return body;
}

OAuthEndpoints McpOAuth::discover(const std::string& serverUrl, const json& oauthConfig) {
    OAuthEndpoints found;
    found.resource = serverUrl;
    // 1. Protected resource metadata (RFC 9728): the URL the server's 401 names, else the well-known ones.
    json resourceMeta;
    bool useResourceMetadata =
        !(oauthConfig.is_object() && oauthConfig.contains("supports_resource_metadata") &&
          oauthConfig["supports_resource_metadata"] == false);
    if (useResourceMetadata) {
        std::vector<std::string> candidates;
        if (auto configured = stringAt(oauthConfig, "resource_metadata_url"); !configured.empty())
            candidates.push_back(configured);
        json probe = {{"jsonrpc", "2.0"},
                      {"id", 0},
                      {"method", "initialize"},
                      {"params",
                       {{"protocolVersion", "2025-06-18"},
                        {"capabilities", json::object()},
                        {"clientInfo", {{"name", "archestra-platform"}, {"version", "1"}}}}}};
        if (candidates.empty())
            if (auto answer = send(
                    "POST", serverUrl,
                    {{"Content-Type", "application/json"}, {"Accept", "application/json, text/event-stream"}},
                    probe.dump());
                answer && answer->status == 401)
                if (auto named = resourceMetadataFromChallenge(answer->wwwAuthenticate); !named.empty())
                    candidates.push_back(named);
        for (const auto& url : protectedResourceMetadataUrls(serverUrl)) candidates.push_back(url);
        for (const auto& url : candidates) {
            found.tried.push_back(url);
            if (auto meta = fetchJson(url); meta && meta->contains("authorization_servers")) {
                resourceMeta = *meta;
                break;
            }
        }
    }
    std::string issuer;
    if (!resourceMeta.is_null()) {
        auto servers = stringsAt(resourceMeta, "authorization_servers");
        if (!servers.empty()) issuer = servers.front();
        if (auto resource = stringAt(resourceMeta, "resource"); !resource.empty()) found.resource = resource;
        found.scopesSupported = stringsAt(resourceMeta, "scopes_supported");
    }
    if (issuer.empty()) issuer = stringAt(oauthConfig, "auth_server_url");
    if (issuer.empty()) {
        // MCP 2025-03-26 fallback: the authorization server lives at the MCP server's origin.
        Poco::URI uri(serverUrl);
        issuer = uri.getScheme() + "://" + uri.getAuthority();
    }
    found.issuer = issuer;
    // 2. Authorization server metadata (RFC 8414, then OpenID discovery).
    json asMeta = json::object();
    for (const auto& url : authorizationServerMetadataUrls(issuer)) {
        found.tried.push_back(url);
        if (auto meta = fetchJson(url); meta && meta->contains("authorization_endpoint")) {
            asMeta = *meta;
            break;
        }
    }
    // 3. The catalog's oauthConfig fills what discovery did not find.
    for (const char* key :
         {"authorization_endpoint", "token_endpoint", "registration_endpoint", "revocation_endpoint"})
        if (stringAt(asMeta, key).empty() && !stringAt(oauthConfig, key).empty())
            asMeta[key] = oauthConfig[key];
    found.authorizationEndpoint = stringAt(asMeta, "authorization_endpoint");
    found.tokenEndpoint = stringAt(asMeta, "token_endpoint");
    found.registrationEndpoint = stringAt(asMeta, "registration_endpoint");
    found.revocationEndpoint = stringAt(asMeta, "revocation_endpoint");
    if (!stringAt(asMeta, "issuer").empty()) found.issuer = stringAt(asMeta, "issuer");
    if (found.scopesSupported.empty()) found.scopesSupported = stringsAt(asMeta, "scopes_supported");
    if (found.authorizationEndpoint.empty() || found.tokenEndpoint.empty())
        throw ApiError::badRequest(
            "Could not discover the OAuth authorization server of " + serverUrl + " (asked " +
            join(found.tried, ", ") +
            "); set oauthConfig.authorization_endpoint and oauthConfig.token_endpoint on the catalog item");
    auto methods = stringsAt(asMeta, "code_challenge_methods_supported");
    if (asMeta.contains("code_challenge_methods_supported") &&
        std::find(methods.begin(), methods.end(), "S256") == methods.end())
        throw ApiError::badRequest("The authorization server " + found.issuer +
                                   " does not support PKCE with S256, which MCP requires");
    return found;
}

json McpOAuth::registerClient(const OAuthEndpoints& endpoints, const std::string& clientName,
                              const std::string& scope) {
    std::string cacheKey = endpoints.registrationEndpoint + " " + _options.redirectUri;
    {
        std::lock_guard lock(_mutex);
        if (auto it = _registrations.find(cacheKey); it != _registrations.end()) return it->second;
    }
    json request = {{"client_name", clientName},
                    {"redirect_uris", {_options.redirectUri}},
                    {"grant_types", {"authorization_code", "refresh_token"}},
                    {"response_types", {"code"}},
                    {"token_endpoint_auth_method", "none"}};
    if (!scope.empty()) request["scope"] = scope;
    auto answer =
        send("POST", endpoints.registrationEndpoint,
             {{"Content-Type", "application/json"}, {"Accept", "application/json"}}, request.dump());
    if (!answer)
        throw ApiError(502, "api_bad_gateway_error",
                       "The authorization server's registration endpoint " + endpoints.registrationEndpoint +
                           " cannot be reached");
    json body = json::parse(answer->body, nullptr, false);
    if ((answer->status != 200 && answer->status != 201) || stringAt(body, "client_id").empty())
        throw ApiError::badRequest("Dynamic client registration at " + endpoints.registrationEndpoint +
                                   " was refused: " + describeOAuthError(*answer));
    json client = {{"client_id", stringAt(body, "client_id")},
                   {"client_secret", stringAt(body, "client_secret")},
                   {"auth_method", stringAt(body, "token_endpoint_auth_method").empty()
                                       ? std::string("none")
                                       : stringAt(body, "token_endpoint_auth_method")}};
    std::lock_guard lock(_mutex);
    _registrations[cacheKey] = client;
    return client;
}

json McpOAuth::initiate(const std::string& userId, const std::string& catalogId,
                        const std::optional<std::string>& serverId) {
    auto rows = _db.query(
        "SELECT name, server_type, server_url, oauth_config, client_secret_id FROM internal_mcp_catalog "
        "WHERE id "
        "= $1::uuid",
        {catalogId});
    if (rows.empty()) throw ApiError::badRequest("Field 'catalogId': Catalog item not found");
    const auto& row = rows[0];
    json oauthConfig = json::parse(row.at("oauth_config").value_or("null"), nullptr, false);
    if (oauthConfig.is_discarded() || !oauthConfig.is_object()) oauthConfig = json::object();
    std::string serverUrl = row.at("server_url").value_or("");
    if (serverUrl.empty()) serverUrl = stringAt(oauthConfig, "server_url");
    if (row.str("server_type") != "remote" || serverUrl.empty())
        throw ApiError::badRequest("Field 'catalogId': OAuth needs a remote catalog item with a serverUrl");
    if (serverId && _db.query("SELECT 1 FROM mcp_server s WHERE s.id = $1::uuid AND s.catalog_id = $2::uuid "
                              "AND (s.owner_id = "
                              "$3 OR EXISTS (SELECT 1 FROM mcp_server_user su WHERE su.mcp_server_id = s.id "
                              "AND su.user_id = "
                              "$3))",
                              {*serverId, catalogId, userId})
                        .empty())
        throw ApiError::badRequest("Field 'serverId': no installation of this catalog item that you can use");

    OAuthEndpoints endpoints = discover(serverUrl, oauthConfig);
    auto scopes = stringsAt(oauthConfig, "scopes");
    if (scopes.empty()) scopes = stringsAt(oauthConfig, "default_scopes");
    if (scopes.empty()) scopes = endpoints.scopesSupported;
    std::string scope = join(scopes, " ");

    json client;
    if (auto clientId = stringAt(oauthConfig, "client_id"); !clientId.empty()) {
        client = {{"client_id", clientId},
                  {"client_secret_id", row.at("client_secret_id").value_or("")},
                  {"auth_method", row.at("client_secret_id")
                                      ? stringAt(oauthConfig, "token_endpoint_auth_method").empty()
                                            ? std::string("client_secret_basic")
                                            : stringAt(oauthConfig, "token_endpoint_auth_method")
                                      : std::string("none")}};
    } else if (!endpoints.registrationEndpoint.empty()) {
        client = registerClient(endpoints, "Archestra Platform (" + row.str("name") + ")", scope);
    } else {
        throw ApiError::badRequest(
            "The catalog item's oauthConfig has no client_id and the authorization server " +
            endpoints.issuer + " offers no dynamic client registration");
    }

    std::string state = auth::randomAlphanumeric(43);
    std::string verifier = auth::randomAlphanumeric(64);  // RFC 7636: 43..128 unreserved characters
    json flow = {{"userId", userId},
                 {"catalogId", catalogId},
                 {"serverId", serverId ? json(*serverId) : json(nullptr)},
                 {"verifier", verifier},
                 {"redirectUri", _options.redirectUri},
                 {"tokenEndpoint", endpoints.tokenEndpoint},
                 {"revocationEndpoint", endpoints.revocationEndpoint},
                 {"issuer", endpoints.issuer},
                 {"resource", endpoints.resource},
                 {"client", client}};
    _db.execute("DELETE FROM verification WHERE identifier IN ($1, $2) AND expires_at < now()",
                {std::string(kStateKind), std::string(kUsedStateKind)});
    _db.execute(
        "INSERT INTO verification (id, identifier, value, expires_at) VALUES ($1, $2, $3, now() + "
        "make_interval(secs "
        "=> $4::int))",
        {stateRowId(state), std::string(kStateKind), flow.dump(), std::to_string(_options.stateTtl_s)});

    std::vector<std::pair<std::string, std::string>> query = {{"response_type", "code"},
                                                              {"client_id", stringAt(client, "client_id")},
                                                              {"redirect_uri", _options.redirectUri},
                                                              {"state", state},
                                                              {"code_challenge", pkceChallenge(verifier)},
                                                              {"code_challenge_method", "S256"},
                                                              {"resource", endpoints.resource}};
    if (!scope.empty()) query.emplace_back("scope", scope);
    std::string url = endpoints.authorizationEndpoint +
                      (endpoints.authorizationEndpoint.find('?') == std::string::npos ? "?" : "&") +
                      formEncode(query);
    return {{"authorizationUrl", url}, {"state", state}};
}

json McpOAuth::callback(const std::string& userId, const std::string& code, const std::string& state) {
    std::string id = stateRowId(state);
    auto rows = _db.query(
        "SELECT identifier, value, expires_at < now() AS expired FROM verification WHERE id = $1 AND "
        "identifier "
        "IN ($2, $3)",
        {id, std::string(kStateKind), std::string(kUsedStateKind)});
    if (rows.empty())
        throw ApiError::badRequest(
            "Field 'state': unknown OAuth state (start again with /api/oauth/initiate)");
    if (rows[0].str("identifier") == kUsedStateKind)
        throw ApiError::badRequest("Field 'state': this OAuth state was already used");
    if (rows[0].boolean("expired"))
        throw ApiError::badRequest(
            "Field 'state': this OAuth state has expired (flows must complete within " +
            std::to_string(_options.stateTtl_s / 60) + " minutes)");
    json flow = json::parse(rows[0].str("value"), nullptr, false);
    if (!flow.is_object()) throw ApiError::badRequest("Field 'state': unknown OAuth state");
    if (stringAt(flow, "userId") != userId)
        throw ApiError::badRequest("Field 'state': this OAuth flow was started by another user");
    // Single use, on every replica: whoever flips the row first completes the flow.
    if (_db.execute(
            "UPDATE verification SET identifier = $2, value = '', updated_at = now() WHERE id = $1 AND "
            "identifier = $3",
            {id, std::string(kUsedStateKind), std::string(kStateKind)}) == 0)
        throw ApiError::badRequest("Field 'state': this OAuth state was already used");

    json client = flow["client"];
    if (auto secretId = stringAt(client, "client_secret_id"); !secretId.empty())
        if (auto value = store()->get(secretId); value && value->is_object())
            client["client_secret"] = stringAt(*value, "client_secret");
    std::vector<std::pair<std::string, std::string>> fields = {
        {"grant_type", "authorization_code"},
        {"code", code},
        {"redirect_uri", stringAt(flow, "redirectUri")},
        {"code_verifier", stringAt(flow, "verifier")},
        {"resource", stringAt(flow, "resource")}};
    std::vector<std::pair<std::string, std::string>> headers = {
        {"Content-Type", "application/x-www-form-urlencoded"}, {"Accept", "application/json"}};
    addClientAuth(client, fields, headers);
    std::string tokenEndpoint = stringAt(flow, "tokenEndpoint");
    auto answer = send("POST", tokenEndpoint, headers, formEncode(fields));
    if (!answer)
        throw ApiError(502, "api_bad_gateway_error",
                       "The authorization server's token endpoint " + tokenEndpoint + " cannot be reached");
    json tokens = json::parse(answer->body, nullptr, false);
    if (answer->status != 200 || stringAt(tokens, "access_token").empty())
        throw ApiError::badRequest("Field 'code': the authorization server refused the code (" +
                                   describeOAuthError(*answer) + ")");

    std::string catalogId = stringAt(flow, "catalogId");
    auto catalog = _db.query("SELECT name FROM internal_mcp_catalog WHERE id = $1::uuid", {catalogId});
    std::string name = catalog.empty() ? catalogId : catalog[0].str("name");
    json secret = {{"access_token", tokens["access_token"]},
                   {"token_type", stringAt(tokens, "token_type")},
                   {"oauth",
                    {{"token_endpoint", tokenEndpoint},
                     {"revocation_endpoint", stringAt(flow, "revocationEndpoint")},
                     {"issuer", stringAt(flow, "issuer")},
                     {"resource", stringAt(flow, "resource")},
                     {"client", flow["client"]},
                     {"catalog_id", catalogId}}}};
    if (!stringAt(tokens, "refresh_token").empty()) secret["refresh_token"] = tokens["refresh_token"];
    if (!stringAt(tokens, "scope").empty()) secret["scope"] = tokens["scope"];
    std::optional<std::int64_t> expiresIn;
    if (tokens.contains("expires_in") && tokens["expires_in"].is_number()) {
        expiresIn = tokens["expires_in"].get<std::int64_t>();
        setExpiry(secret, *expiresIn, _options.refreshBefore_s);
    }
    std::string secretId;
    try {
        secretId = store()->create(name + "-oauth", secret);
    } catch (const secrets::SecretsUnavailableError& error) {
        throw ApiError::unavailable(std::string("The secrets backend is unavailable: ") + error.what());
    }

    json out = {{"success", true},
                {"catalogId", catalogId},
                {"name", name},
                {"accessToken", tokens["access_token"]},
                {"secretId", secretId}};
    if (secret.contains("refresh_token")) out["refreshToken"] = secret["refresh_token"];
    if (expiresIn) out["expiresIn"] = *expiresIn;
    // A re-authorization: the installation uses the new tokens from now on.
    if (auto serverId = stringAt(flow, "serverId"); !serverId.empty()) {
        auto old = _db.query(
            "UPDATE mcp_server s SET secret_id = $2::uuid, updated_at = now() FROM mcp_server o "
            "WHERE s.id = $1::uuid AND o.id = s.id RETURNING o.secret_id::text AS old",
            {serverId, secretId});
        if (!old.empty()) {
            if (auto previous = old[0].at("old"); previous && *previous != secretId) {
                revoke(*previous);
                try {
                    store()->remove(*previous);
                } catch (const std::exception&) {
                }
                std::lock_guard guard(_mutex);
                _cache.erase(*previous);
            }
            if (_reauthorized) _reauthorized(serverId);
            out["serverId"] = serverId;
        }
    }
    return out;
}

bool McpOAuth::refresh(const std::string& secretId, json& value) {
    const json& oauth = value["oauth"];
    json client = oauth.value("client", json::object());
    try {
        if (auto clientSecretId = stringAt(client, "client_secret_id"); !clientSecretId.empty())
            if (auto stored = store()->get(clientSecretId); stored && stored->is_object())
                client["client_secret"] = stringAt(*stored, "client_secret");
    } catch (const std::exception&) {
    }
    std::vector<std::pair<std::string, std::string>> fields = {
        {"grant_type", "refresh_token"}, {"refresh_token", stringAt(value, "refresh_token")}};
    if (!stringAt(oauth, "resource").empty()) fields.emplace_back("resource", stringAt(oauth, "resource"));
    std::vector<std::pair<std::string, std::string>> headers = {
        {"Content-Type", "application/x-www-form-urlencoded"}, {"Accept", "application/json"}};
    addClientAuth(client, fields, headers);
    auto answer = send("POST", stringAt(oauth, "token_endpoint"), headers, formEncode(fields));
    if (!answer) return false;
    json tokens = json::parse(answer->body, nullptr, false);
    if (answer->status != 200 || stringAt(tokens, "access_token").empty()) {
        log().warning("Refreshing the OAuth token of secret " + secretId +
                      " was refused: " + describeOAuthError(*answer));
        return false;
    }
    value["access_token"] = tokens["access_token"];
    if (!stringAt(tokens, "refresh_token").empty())
        value["refresh_token"] = tokens["refresh_token"];  // rotated
    if (tokens.contains("expires_in") && tokens["expires_in"].is_number()) {
        setExpiry(value, tokens["expires_in"].get<std::int64_t>(), _options.refreshBefore_s);
    } else {
        value.erase("expires_at");
        value.erase("refresh_at");
    }
    if (!stringAt(tokens, "scope").empty()) value["scope"] = tokens["scope"];
    value["refreshed_at"] = nowSeconds();
    try {
        store()->update(secretId, value);
    } catch (const std::exception& error) {
        log().warning("The refreshed OAuth token of secret " + secretId +
                      " could not be stored: " + error.what());
    }
    log().information("Refreshed the OAuth access token of secret " + secretId);
    return true;
}

bool McpOAuth::refreshShared(const std::string& secretId, json& value) {
    const std::string held = stringAt(value, "access_token");
    try {
        return _db.transaction([&](db::Connection& c) {
            // Waits at most as long as the other replica's refresh may take; the lock goes with the
            // transaction (commit, rollback or a lost connection), so a crashed replica cannot keep it.
            c.execute("SET LOCAL lock_timeout = '" + std::to_string(_options.httpTimeout_ms + 5000) + "ms'");
            c.query("SELECT pg_advisory_xact_lock(1836016741, hashtext($1))", {"mcp-oauth:" + secretId});
            std::optional<json> stored;
            try {
                stored = store()->get(secretId);
            } catch (const std::exception& error) {
                log().warning("Reading OAuth secret " + secretId +
                              " before a refresh failed: " + error.what());
            }
            if (stored && stored->is_object() && !stringAt(*stored, "access_token").empty() &&
                stringAt(*stored, "access_token") != held) {
                log().information("The OAuth token of secret " + secretId +
                                  " was refreshed by another replica meanwhile; using it");
                value = *stored;
                return true;
            }
            if (stored && stored->is_object()) value = *stored;  // the freshest refresh token
            return refresh(secretId, value);
        });
    } catch (const db::DatabaseUnavailableException& error) {
        // Without the database there is no cross-replica lock: refreshing unserialised beats failing the
        // call.
        log().warning("No database for the OAuth refresh lock of secret " + secretId +
                      ", refreshing without it: " + error.displayText());
        return refresh(secretId, value);
    } catch (const db::DatabaseException& error) {
        log().warning("Waiting for another replica's refresh of OAuth secret " + secretId +
                      " failed: " + error.displayText());
        return false;
    }
}

int McpOAuth::revokeValue(const std::string& secretId, const json& value) {
    if (!value.is_object() || !value.contains("oauth") || !value["oauth"].is_object()) return 0;
    const json& oauth = value["oauth"];
    std::string endpoint = stringAt(oauth, "revocation_endpoint");
    if (endpoint.empty() && !oauth.contains("revocation_endpoint") && !stringAt(oauth, "issuer").empty()) {
        // A secret stored before revocation endpoints were kept: ask the authorization server's metadata.
        for (const auto& url : authorizationServerMetadataUrls(stringAt(oauth, "issuer")))
            if (auto meta = fetchJson(url); meta && meta->contains("token_endpoint")) {
                endpoint = stringAt(*meta, "revocation_endpoint");
                break;
            }
    }
    if (endpoint.empty()) return 0;  // the server offers no revocation: nothing to do
    json client = oauth.value("client", json::object());
    try {
        if (auto clientSecretId = stringAt(client, "client_secret_id"); !clientSecretId.empty())
            if (auto stored = store()->get(clientSecretId); stored && stored->is_object())
                client["client_secret"] = stringAt(*stored, "client_secret");
    } catch (const std::exception&) {
    }
    int revoked = 0;
    // The refresh token first: revoking it ends the grant, so the access token goes with it on most servers.
    for (const char* kind : {"refresh_token", "access_token"}) {
        std::string token = stringAt(value, kind);
        if (token.empty()) continue;
        std::vector<std::pair<std::string, std::string>> fields = {{"token", token},
                                                                   {"token_type_hint", kind}};
        std::vector<std::pair<std::string, std::string>> headers = {
            {"Content-Type", "application/x-www-form-urlencoded"}, {"Accept", "application/json"}};
        addClientAuth(client, fields, headers);
        auto answer = send("POST", endpoint, headers, formEncode(fields));
        if (!answer) {
            log().warning("Revoking the OAuth " + std::string(kind) + " of secret " + secretId + " at " +
                          endpoint + " failed: the revocation endpoint cannot be reached");
        } else if (answer->status != 200) {
            log().warning("Revoking the OAuth " + std::string(kind) + " of secret " + secretId + " at " +
                          endpoint + " was refused: " + describeOAuthError(*answer));
        } else {
            ++revoked;
        }
    }
    if (revoked)
        log().information("Revoked " + std::to_string(revoked) + " OAuth token(s) of secret " + secretId);
    return revoked;
}

int McpOAuth::revoke(const std::string& secretId) noexcept {
    try {
        auto stored = _secrets ? _secrets() : nullptr;
        if (!stored) return 0;
        auto value = stored->get(secretId);
        {
            std::lock_guard guard(_mutex);
            _cache.erase(secretId);
        }
        return value ? revokeValue(secretId, *value) : 0;
    } catch (const std::exception& error) {
        log().warning("Revoking the OAuth tokens of secret " + secretId + " failed: " + error.what());
        return 0;
    }
}

std::optional<std::string> McpOAuth::authorization(const std::string& secretId, const std::string& rejected) {
    std::shared_ptr<std::mutex> lock;
    {
        std::lock_guard guard(_mutex);
        auto& slot = _refreshLocks[secretId];
        if (!slot) slot = std::make_shared<std::mutex>();
        lock = slot;
    }
    std::lock_guard serialized(*lock);  // one refresh per secret at a time; the others read its result
    auto due = [](const json& v) {
        return v.contains("refresh_at") && v["refresh_at"].is_number() &&
               nowSeconds() >= v["refresh_at"].get<std::int64_t>();
    };
    // The value is cached per process: the secrets backend is read again only when the token is due, after
    // a 401 to the cached token (another replica may have refreshed it), and the first time.
    std::optional<json> value;
    {
        std::lock_guard guard(_mutex);
        if (auto it = _cache.find(secretId); it != _cache.end()) value = it->second;
    }
    if (!value || due(*value) || (!rejected.empty() && rejected == stringAt(*value, "access_token"))) {
        auto stored = _secrets ? _secrets() : nullptr;
        if (!stored) return std::nullopt;
        value = stored->get(secretId);
        std::lock_guard guard(_mutex);
        if (!value || !value->is_object()) {
            _cache.erase(secretId);
            return std::nullopt;
        }
        _cache[secretId] = *value;
    }
    if (stringAt(*value, "access_token").empty()) return std::nullopt;
    std::string current = stringAt(*value, "access_token");
    bool oauth = value->contains("oauth") && (*value)["oauth"].is_object();
    bool refused = !rejected.empty() && rejected == current;
    if (!oauth || stringAt(*value, "refresh_token").empty()) {
        if (refused) return std::nullopt;  // nothing better to offer
        return "Bearer " + current;
    }
    if (refused || due(*value)) {
        if (refreshShared(secretId, *value)) {
            std::lock_guard guard(_mutex);
            _cache[secretId] = *value;
        } else if (refused) {
            return std::nullopt;
        }
    }
    return "Bearer " + stringAt(*value, "access_token");
}

// ---- routes ---------------------------------------------------------------------------------------------

void registerOAuthRoutes(http::Router& router, std::shared_ptr<McpOAuth> oauth) {
    using namespace auth::schema;
    router.add(
        {.method = "POST",
         .path = "/api/oauth/initiate",
         .operationId = "initiateOAuth",
         .tag = "MCP Server",
         .summary =
             "Start OAuth for a remote MCP server: discovery, PKCE, state; answers where to send the browser",
         .access = http::Access::permission("mcpServer", "create"),
         .requestBody = object({{"catalogId", string()}, {"serverId", string()}}, {"catalogId"}),
         .response =
             object({{"authorizationUrl", string()}, {"state", string()}}, {"authorizationUrl", "state"})},
        [oauth](http::Context& c) {
            const json& body = c.jsonObject();
            std::string catalogId = auth::requiredStringField(body, "catalogId");
            if (!http::isUuidV4(catalogId))
                throw ApiError::badRequest("Field 'catalogId': expected a UUID, got '" + catalogId + "'");
            auto serverId = auth::optionalStringField(body, "serverId");
            if (serverId && !http::isUuidV4(*serverId))
                throw ApiError::badRequest("Field 'serverId': expected a UUID, got '" + *serverId + "'");
            c.sendJson(200, oauth->initiate(c.requirePrincipal().userId, catalogId, serverId));
        });
    router.add({.method = "POST",
                .path = "/api/oauth/callback",
                .operationId = "completeOAuth",
                .tag = "MCP Server",
                .summary = "Finish OAuth: checks the state, exchanges the code, keeps the tokens in a secret",
                .access = http::Access::permission("mcpServer", "create"),
                .requestBody = object({{"code", string()}, {"state", string()}}, {"code", "state"}),
                .response = object({{"success", boolean()},
                                    {"catalogId", string()},
                                    {"name", string()},
                                    {"accessToken", string()},
                                    {"refreshToken", string()},
                                    {"expiresIn", integer()},
                                    {"secretId", string()},
                                    {"serverId", string()}},
                                   {"success", "catalogId", "name", "accessToken", "secretId"})},
               [oauth](http::Context& c) {
                   const json& body = c.jsonObject();
                   std::string code = auth::requiredStringField(body, "code");
                   std::string state = auth::requiredStringField(body, "state");
                   if (code.empty()) throw ApiError::badRequest("Field 'code': expected a non-empty string");
                   if (state.empty())
                       throw ApiError::badRequest("Field 'state': expected a non-empty string");
                   c.sendJson(200, oauth->callback(c.requirePrincipal().userId, code, state));
               });
}

}  // namespace archestra::mcp
