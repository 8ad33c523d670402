// The single sign-on broker (see SsoBroker.h): provider CRUD, external groups, login start/callback and the
// provisioning of users, roles and team memberships after a provider plugin vouched for an identity.
#include "core/auth/sso/SsoBroker.h"

#include "core/auth/Schema.h"
#include "core/auth/SqlJson.h"
#include "core/auth/Tokens.h"
#include "core/auth/sso/RoleMapping.h"
#include "core/db/Seed.h"
#include "core/http/ApiError.h"
#include "core/http/Context.h"

#include <Poco/Base64Decoder.h>
#include <Poco/Base64Encoder.h>
#include <Poco/Logger.h>
#include <Poco/Net/HTMLForm.h>
#include <Poco/Net/NameValueCollection.h>
#include <Poco/String.h>
#include <Poco/URI.h>
#include <Poco/UUIDGenerator.h>

#include <chrono>
#include <regex>
#include <sstream>

namespace archestra::auth::sso {

namespace {

using http::Access;
using http::ApiError;
using http::Context;
using nlohmann::json;

constexpr const char* kSsoEnterpriseMessage =
    "SSO is an enterprise feature. Please contact sales@archestra.ai to enable it.";
constexpr const char* kTeamSyncEnterpriseMessage =
    "Team Sync is an enterprise feature. Please contact sales@archestra.ai to enable it.";
constexpr long long kStateLifetime_s = 600;
const std::regex kProviderIdPattern("^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$");

Poco::Logger& log() {
    return Poco::Logger::get("archestra.sso");
}

long long nowSeconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string base64UrlEncode(const std::string& data) {
    std::ostringstream out;
    Poco::Base64Encoder encoder(out, Poco::BASE64_URL_ENCODING | Poco::BASE64_NO_PADDING);
    encoder.rdbuf()->setLineLength(0);
    encoder << data;
    encoder.close();
    return out.str();
}

std::string base64UrlDecode(const std::string& text) {
    std::istringstream in(text);
    Poco::Base64Decoder decoder(in, Poco::BASE64_URL_ENCODING | Poco::BASE64_NO_PADDING);
    std::string out((std::istreambuf_iterator<char>(decoder)), std::istreambuf_iterator<char>());
    return out;
}

std::string urlEncode(const std::string& text) {
    std::string out;
    Poco::URI::encode(text, "!#$&'()*+,/:;=?@[]\"<>%{}|\\^` ", out);
    return out;
}

void requireSsoLicence(AuthService& auth) {
    if (!auth.options().enterprise) throw ApiError::forbidden(kSsoEnterpriseMessage);
}

void requireTeamSyncLicence(AuthService& auth) {
    if (!auth.options().enterprise) throw ApiError::forbidden(kTeamSyncEnterpriseMessage);
}

std::string providerColumns() {
    return "id, issuer, oidc_config, saml_config, role_mapping, team_sync_config, user_id, provider_id, "
           "organization_id, domain, domain_verified";
}

json parsedOrNull(const db::Row& row, const std::string& column) {
    if (row.isNull(column)) return nullptr;
    try {
        return json::parse(row.str(column));
    } catch (const json::exception&) {
        return row.str(column);  // stored by someone else as plain text: show it as it is
    }
}

json providerJson(const db::Row& row) {
    return {{"id", row.str("id")},
            {"providerId", row.str("provider_id")},
            {"issuer", row.str("issuer")},
            {"domain", row.str("domain")},
            {"domainVerified", row.boolean("domain_verified")},
            {"oidcConfig", parsedOrNull(row, "oidc_config")},
            {"samlConfig", parsedOrNull(row, "saml_config")},
            {"roleMapping", parsedOrNull(row, "role_mapping")},
            {"teamSyncConfig", parsedOrNull(row, "team_sync_config")},
            {"organizationId", nullableString(row, "organization_id")},
            {"userId", nullableString(row, "user_id")}};
}

json providerSchema() {
    using namespace schema;
    json anyObject = {{"type", "object"}, {"nullable", true}, {"additionalProperties", true}};
    return object({{"id", string()},
                   {"providerId", string()},
                   {"issuer", string()},
                   {"domain", string()},
                   {"domainVerified", boolean()},
                   {"oidcConfig", anyObject},
                   {"samlConfig", anyObject},
                   {"roleMapping", anyObject},
                   {"teamSyncConfig", anyObject},
                   {"organizationId", nullableString()},
                   {"userId", nullableString()}},
                  {"id", "providerId", "issuer", "domain"});
}

json providerBodySchema(bool create) {
    using namespace schema;
    json anyObject = {{"type", "object"}, {"nullable", true}, {"additionalProperties", true}};
    std::vector<std::string> required;
    if (create) required = {"providerId", "issuer", "domain"};
    return object({{"providerId", string()},
                   {"issuer", string()},
                   {"domain", string()},
                   {"domainVerified", boolean()},
                   {"oidcConfig", anyObject},
                   {"samlConfig", anyObject},
                   {"roleMapping", anyObject},
                   {"teamSyncConfig", anyObject},
                   {"userId", nullableString()}},
                  required);
}

json externalGroupSchema() {
    using namespace schema;
    return object(
        {{"id", string()}, {"teamId", string()}, {"groupIdentifier", string()}, {"createdAt", dateTime()}},
        {"id", "teamId", "groupIdentifier", "createdAt"});
}

json externalGroupJson(const db::Row& row) {
    return {{"id", row.str("id")},
            {"teamId", row.str("team_id")},
            {"groupIdentifier", row.str("group_identifier")},
            {"createdAt", row.str("created_at")}};
}

std::string organizationOf(const Context& context) {
    const auto& principal = context.requirePrincipal();
    if (principal.organizationId.empty())
        throw ApiError::forbidden("The caller is not a member of any organization");
    return principal.organizationId;
}

/// Checks an OIDC or SAML config object of a request body; returns it normalised.
json checkedOidcConfig(const json& config, const std::string& issuer) {
    if (!config.is_object()) throw ApiError::badRequest("Field 'oidcConfig': expected an object");
    json out = config;
    if (!out.contains("issuer") || !out["issuer"].is_string() || out["issuer"].get<std::string>().empty())
        out["issuer"] = issuer;
    if (!out.contains("clientId") || !out["clientId"].is_string() ||
        out["clientId"].get<std::string>().empty())
        throw ApiError::badRequest("Field 'oidcConfig.clientId': expected a non-empty string");
    if (out.contains("clientSecret") && !out["clientSecret"].is_string())
        throw ApiError::badRequest("Field 'oidcConfig.clientSecret': expected a string");
    if (out.contains("tokenEndpointAuthentication")) {
        const json& method = out["tokenEndpointAuthentication"];
        if (!method.is_string() || (method != "client_secret_basic" && method != "client_secret_post"))
            throw ApiError::badRequest(
                "Field 'oidcConfig.tokenEndpointAuthentication': expected 'client_secret_basic' or "
                "'client_secret_post', got " +
                method.dump());
    }
    if (!out.contains("mapping") || !out["mapping"].is_object()) out["mapping"] = json::object();
    // The original's defaults: id=sub, email=email, name=name.
    for (const auto& [key, claim] : {std::pair{"id", "sub"}, {"email", "email"}, {"name", "name"}})
        if (!out["mapping"].contains(key)) out["mapping"][key] = claim;
    return out;
}

json checkedSamlConfig(const json& config) {
    if (!config.is_object()) throw ApiError::badRequest("Field 'samlConfig': expected an object");
    for (const char* field : {"entryPoint", "cert"})
        if (!config.contains(field) || !config[field].is_string() || config[field].get<std::string>().empty())
            throw ApiError::badRequest(std::string("Field 'samlConfig.") + field +
                                       "': expected a non-empty string");
    return config;
}

std::string jsonTextOrNull(const json& body, const std::string& field) {
    return body.contains(field) && !body[field].is_null() ? body[field].dump() : std::string();
}

/// The state kept in a signed, short-lived cookie between the sign-in start and the callback.
struct LoginState {
    std::string providerRowId;
    std::string blob;
    std::string callbackURL;
    std::string errorCallbackURL;
    long long expires_s = 0;
};

/// Standard base64 to the URL alphabet without padding (cookie values stay unquoted).
std::string cookieSafe(std::string text) {
    for (auto& ch : text) ch = ch == '+' ? '-' : ch == '/' ? '_' : ch;
    while (!text.empty() && text.back() == '=') text.pop_back();
    return text;
}

std::string stateCookieName(const AuthService& auth) {
    bool secure = auth.options().frontendUrl.rfind("https://", 0) == 0;
    return std::string(secure ? "__Secure-" : "") + "archestra.sso_state";
}

std::string stateCookieAttributes(const AuthService& auth) {
    bool secure = auth.options().frontendUrl.rfind("https://", 0) == 0;
    // SameSite=None on https so the SAML IdP's cross-site form POST still carries it; Lax on http (browsers
    // refuse None without Secure), which covers the OIDC redirect and a same-site IdP.
    std::string attributes = "; Path=/api/auth/sso; HttpOnly";
    attributes += secure ? "; Secure; SameSite=None" : "; SameSite=Lax";
    if (!auth.options().cookieDomain.empty()) attributes += "; Domain=" + auth.options().cookieDomain;
    return attributes;
}

std::string encodeState(const AuthService& auth, const LoginState& state) {
    std::string payload = base64UrlEncode(json{
        {"p", state.providerRowId},
        {"b", state.blob},
        {"c", state.callbackURL},
        {"e", state.errorCallbackURL},
        {"x", state.expires_s}}.dump());
    std::string signature = hmacSha256Base64(auth.options().secret, "sso-state:" + payload);
    return payload + "." + cookieSafe(signature);
}

std::optional<LoginState> decodeState(const AuthService& auth, const std::string& value) {
    auto dot = value.find('.');
    if (dot == std::string::npos) return std::nullopt;
    std::string payload = value.substr(0, dot);
    std::string expected = cookieSafe(hmacSha256Base64(auth.options().secret, "sso-state:" + payload));
    if (!constantTimeEquals(expected, value.substr(dot + 1))) return std::nullopt;
    try {
        json j = json::parse(base64UrlDecode(payload));
        LoginState state{j.at("p").get<std::string>(), j.at("b").get<std::string>(),
                         j.at("c").get<std::string>(), j.at("e").get<std::string>(),
                         j.at("x").get<long long>()};
        return state;
    } catch (const json::exception&) {
        return std::nullopt;
    }
}

}  // namespace

SsoBroker::SsoBroker(std::shared_ptr<AuthService> auth, ProviderFactory factory, std::string apiBaseUrl)
    : _auth(std::move(auth)), _factory(std::move(factory)), _apiBaseUrl(std::move(apiBaseUrl)) {}

std::string SsoBroker::callbackUrl(const db::Row& row) const {
    std::string base = _auth->options().frontendUrl;
    while (!base.empty() && base.back() == '/') base.pop_back();
    if (!row.isNull("saml_config")) return base + "/api/auth/sso/saml2/sp/acs/" + row.str("provider_id");
    return base + "/api/auth/sso/callback/" + row.str("provider_id");
}

std::string SsoBroker::pluginConfig(const db::Row& row) const {
    if (!row.isNull("oidc_config")) {
        json config = json::parse(row.str("oidc_config"));
        if (!config.contains("issuer")) config["issuer"] = row.str("issuer");
        return config.dump();
    }
    json config = json::parse(row.str("saml_config"));
    std::string acs = callbackUrl(row);
    if (!config.contains("callbackUrl") || !config["callbackUrl"].is_string()) config["callbackUrl"] = acs;
    // The SP entity id: spMetadata.entityID, audience or the SAML issuer, else the metadata URL (a common
    // convention that is unique per provider).
    std::string spEntityId;
    if (config.contains("spMetadata") && config["spMetadata"].is_object())
        spEntityId = config["spMetadata"].value("entityID", "");
    if (spEntityId.empty() && config.contains("audience") && config["audience"].is_string())
        spEntityId = config["audience"].get<std::string>();
    if (spEntityId.empty() && config.contains("issuer") && config["issuer"].is_string())
        spEntityId = config["issuer"].get<std::string>();
    if (spEntityId.empty()) {
        std::string base = _auth->options().frontendUrl;
        while (!base.empty() && base.back() == '/') base.pop_back();
        spEntityId = base + "/api/auth/sso/saml2/sp/metadata?providerId=" + row.str("provider_id");
    }
    config["audience"] = spEntityId;
    // The IdP's entity id is the provider's issuer (what its assertions name as Issuer).
    if (!config.contains("idpIssuer")) config["idpIssuer"] = row.str("issuer");
    config["providerId"] = row.str("provider_id");
    return config.dump();
}

std::shared_ptr<sdk::SsoProvider> SsoBroker::instanceFor(const db::Row& row) {
    const std::string id = row.str("id");
    const std::string plugin = row.isNull("oidc_config") ? "saml" : "oidc";
    std::string config;
    try {
        config = pluginConfig(row);
    } catch (const json::exception&) {
        throw ApiError::internal("SSO provider '" + row.str("provider_id") +
                                 "' has a stored config that is not JSON");
    }
    {
        std::lock_guard lock(_mutex);
        auto it = _instances.find(id);
        if (it != _instances.end() && it->second.configKey == config) return it->second.provider;
    }
    if (!_factory) throw ApiError::unavailable("No SSO plugins are available on this platform");
    auto made = _factory(plugin, config);
    if (!made.ok())
        throw ApiError::unavailable("SSO provider '" + row.str("provider_id") +
                                    "' is unavailable: " + made.error().message);
    std::lock_guard lock(_mutex);
    _instances[id] = Cached{config, made.value()};
    return made.value();
}

void SsoBroker::forget(const std::string& rowId) {
    std::lock_guard lock(_mutex);
    _instances.erase(rowId);
}

// ---- login ------------------------------------------------------------------------------------------------

void SsoBroker::redirectError(Context& context, const std::string& errorURL, const std::string& code,
                              const std::string& description) {
    log().warning("single sign-on refused (" + code + "): " + description);
    std::string target = errorURL.empty() ? "/auth/sign-in" : errorURL;
    target += (target.find('?') == std::string::npos ? "?" : "&");
    target += "error=" + urlEncode(code) + "&error_description=" + urlEncode(description);
    context.response().add("Set-Cookie",
                           stateCookieName(*_auth) + "=" + stateCookieAttributes(*_auth) + "; Max-Age=0");
    context.response().set("Location", target);
    context.send(302, "text/plain; charset=utf-8", "Redirecting to " + target);
}

namespace {

/// A callbackURL must stay on this platform's frontend: a path, or an absolute URL on the frontend origin.
std::string checkedRedirect(const AuthService& auth, const std::string& field, const std::string& url,
                            const std::string& fallback) {
    if (url.empty()) return fallback;
    if (url[0] == '/' && (url.size() == 1 || (url[1] != '/' && url[1] != '\\'))) return url;
    if (auth.isTrustedOrigin(
            url.substr(0, url.find('/', url.find("://") == std::string::npos ? 0 : url.find("://") + 3))))
        return url;
    throw ApiError::badRequest("Field '" + field +
                               "': expected a path or a URL on the platform's origin, got '" + url + "'");
}

}  // namespace

void SsoBroker::signInStart(Context& context) {
    requireSsoLicence(*_auth);
    if (!context.header("Origin").empty()) _auth->requireTrustedOrigin(context);
    const json& body = context.jsonObject();
    std::string providerId = requiredStringField(body, "providerId");
    std::string callbackURL =
        checkedRedirect(*_auth, "callbackURL", optionalStringField(body, "callbackURL").value_or(""), "/");
    std::string errorURL = checkedRedirect(*_auth, "errorCallbackURL",
                                           optionalStringField(body, "errorCallbackURL").value_or(""), "");
    auto rows = _auth->database().query(
        "SELECT " + providerColumns() + " FROM sso_provider WHERE provider_id = $1", {providerId});
    if (rows.empty()) throw ApiError::notFound("SSO provider '" + providerId + "' not found");
    auto provider = instanceFor(rows[0]);
    sdk::LoginRequest request;
    request.callback_url = callbackUrl(rows[0]);
    request.login_hint = optionalStringField(body, "loginHint").value_or("");
    auto started = provider->beginLogin(request);
    if (!started.ok())
        throw ApiError::unavailable("SSO provider '" + providerId +
                                    "' cannot start a login: " + started.error().message);
    LoginState state{rows[0].str("id"), started.value().state_blob, callbackURL, errorURL,
                     nowSeconds() + kStateLifetime_s};
    context.response().add("Set-Cookie", stateCookieName(*_auth) + "=" + encodeState(*_auth, state) +
                                             stateCookieAttributes(*_auth) +
                                             "; Max-Age=" + std::to_string(kStateLifetime_s));
    context.sendJson(200, {{"url", started.value().redirect_url}, {"redirect", true}});
}

namespace {

std::string stateCookie(Context& context, const std::string& name) {
    if (!context.request().has("Cookie")) return "";
    Poco::Net::NameValueCollection cookies;
    context.request().getCookies(cookies);
    return cookies.get(name, "");
}

}  // namespace

void SsoBroker::oidcCallback(Context& context) {
    requireSsoLicence(*_auth);
    std::map<std::string, std::string> params;
    for (const auto& [key, value] : Poco::URI("?" + context.rawQuery()).getQueryParameters())
        params.emplace(key, value);
    std::string formBody;
    if (context.method() == "POST") {  // response_mode=form_post
        formBody = context.body();
        for (const auto& [key, value] : Poco::URI("?" + formBody).getQueryParameters())
            params.emplace(key, value);
    }
    const std::string providerId = context.param("providerId");
    auto rows = _auth->database().query(
        "SELECT " + providerColumns() + " FROM sso_provider WHERE provider_id = $1", {providerId});
    auto state = decodeState(*_auth, stateCookie(context, stateCookieName(*_auth)));
    std::string errorURL = state ? state->errorCallbackURL : "";
    if (rows.empty())
        return redirectError(context, errorURL, "provider_not_found",
                             "SSO provider '" + providerId + "' not found");
    if (!state)
        return redirectError(
            context, errorURL, "invalid_state",
            "the sign-in state cookie is missing or its signature does not verify (start the sign-in "
            "again from this browser)");
    if (state->expires_s < nowSeconds())
        return redirectError(context, errorURL, "invalid_state",
                             "the sign-in took longer than 10 minutes; start again");
    if (state->providerRowId != rows[0].str("id"))
        return redirectError(context, errorURL, "invalid_state",
                             "the sign-in was started for another provider");
    // One use per state: a replayed callback (same cookie and code) is refused here, on every replica.
    long long fresh = _auth->database().execute(
        "INSERT INTO verification (id, identifier, value, expires_at) VALUES ($1, 'sso-state', '', "
        "now() + interval '1 hour') ON CONFLICT (id) DO NOTHING",
        {"sso-state:" + sha256Base64Url(state->blob)});
    if (fresh == 0)
        return redirectError(context, errorURL, "invalid_state", "this sign-in response was already used");
    auto provider = instanceFor(rows[0]);
    auto identity = provider->completeLogin(params, state->blob);
    if (!identity.ok()) return redirectError(context, errorURL, "invalid_response", identity.error().message);
    finish(context, rows[0], identity.value(), state->callbackURL);
}

void SsoBroker::samlAcs(Context& context) {
    requireSsoLicence(*_auth);
    std::map<std::string, std::string> params;
    for (const auto& [key, value] : Poco::URI("?" + context.body()).getQueryParameters())
        params.emplace(key, value);
    const std::string providerId = context.param("providerId");
    auto rows = _auth->database().query(
        "SELECT " + providerColumns() + " FROM sso_provider WHERE provider_id = $1", {providerId});
    auto state = decodeState(*_auth, stateCookie(context, stateCookieName(*_auth)));
    std::string errorURL = state ? state->errorCallbackURL : "";
    if (rows.empty() || rows[0].isNull("saml_config"))
        return redirectError(context, errorURL, "provider_not_found",
                             "SAML provider '" + providerId + "' not found");
    if (!state || state->expires_s < nowSeconds() || state->providerRowId != rows[0].str("id"))
        return redirectError(context, errorURL, "invalid_state",
                             "no live SP-initiated sign-in for this provider in this browser (IdP-initiated "
                             "responses are not accepted)");
    auto provider = instanceFor(rows[0]);
    auto identity = provider->completeLogin(params, state->blob);
    if (!identity.ok()) return redirectError(context, errorURL, "invalid_response", identity.error().message);
    finish(context, rows[0], identity.value(), state->callbackURL);
}

void SsoBroker::spMetadata(Context& context) {
    requireSsoLicence(*_auth);
    std::string providerId = context.query("providerId").value_or("");
    if (providerId.empty()) throw ApiError::badRequest("Query parameter 'providerId': required");
    auto rows = _auth->database().query(
        "SELECT " + providerColumns() + " FROM sso_provider WHERE provider_id = $1", {providerId});
    if (rows.empty() || rows[0].isNull("saml_config"))
        throw ApiError::notFound("SAML provider '" + providerId + "' not found");
    json config = json::parse(pluginConfig(rows[0]));
    auto escape = [](std::string text) {
        Poco::replaceInPlace(text, std::string("&"), std::string("&amp;"));
        Poco::replaceInPlace(text, std::string("<"), std::string("&lt;"));
        Poco::replaceInPlace(text, std::string(">"), std::string("&gt;"));
        Poco::replaceInPlace(text, std::string("\""), std::string("&quot;"));
        return text;
    };
    std::string entityId = config.value("audience", std::string());
    std::string acs = config.value("callbackUrl", callbackUrl(rows[0]));
    bool wantSigned = config.value("wantAssertionsSigned", true);
    std::string xml =
        "<?xml version=\"1.0\"?>\n"
        "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"" +
        escape(entityId) +
        "\">\n"
        "  <md:SPSSODescriptor AuthnRequestsSigned=\"false\" WantAssertionsSigned=\"" +
        std::string(wantSigned ? "true" : "false") +
        "\" protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\n"
        "    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>\n"
        "    <md:AssertionConsumerService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" "
        "Location=\"" +
        escape(acs) +
        "\" index=\"0\" isDefault=\"true\"/>\n"
        "  </md:SPSSODescriptor>\n"
        "</md:EntityDescriptor>\n";
    context.send(200, "application/samlmetadata+xml; charset=utf-8", xml);
}

void SsoBroker::finish(Context& context, const db::Row& row, const sdk::Identity& identity,
                       const std::string& callbackURL) {
    std::string userId;
    try {
        userId = provisionUser(row.str("id"), identity);
    } catch (const ApiError& refused) {
        auto state = decodeState(*_auth, stateCookie(context, stateCookieName(*_auth)));
        return redirectError(context, state ? state->errorCallbackURL : "", "access_denied", refused.what());
    }
    auto session = _auth->database().transaction([&](db::Connection& tx) {
        return _auth->createSession(tx, userId, context.clientAddress(), context.header("User-Agent"));
    });
    _auth->setSessionCookie(context, session.token, true);
    context.response().add("Set-Cookie",
                           stateCookieName(*_auth) + "=" + stateCookieAttributes(*_auth) + "; Max-Age=0");
    log().information("single sign-on: user " + userId + " signed in through '" + row.str("provider_id") +
                      "'");
    context.response().set("Location", callbackURL);
    context.send(302, "text/plain; charset=utf-8", "Redirecting to " + callbackURL);
}

std::string SsoBroker::provisionUser(const std::string& providerRowId, const sdk::Identity& identity) {
    auto rows = _auth->database().query("SELECT " + providerColumns() + " FROM sso_provider WHERE id = $1",
                                        {providerRowId});
    if (rows.empty()) throw ApiError::notFound("SSO provider not found");
    const db::Row& row = rows[0];
    const std::string email = Poco::toLower(Poco::trim(identity.email));
    if (email.empty() || email.find('@') == std::string::npos)
        throw ApiError::forbidden("The identity provider returned no email address for '" + identity.subject +
                                  "'");
    if (!identity.email_verified)
        throw ApiError::forbidden("The identity provider has not verified the email address '" + email +
                                  "'; single sign-on needs a verified email");
    json claims = json::object();
    try {
        if (!identity.claims_json.empty()) claims = json::parse(identity.claims_json);
    } catch (const json::exception&) {
    }
    if (!claims.is_object()) claims = json::object();
    if (!claims.contains("email")) claims["email"] = email;
    if (!claims.contains("groups") && !identity.groups.empty()) claims["groups"] = identity.groups;

    json roleMapping = parsedOrNull(row, "role_mapping");
    RoleDecision decision = resolveRole(roleMapping, claims);
    if (decision.denied)
        throw ApiError::forbidden("Single sign-on refused for '" + email + "': " + decision.reason);
    const bool skipRoleSync = roleMapping.is_object() && roleMapping.value("skipRoleSync", false);

    json teamSync = parsedOrNull(row, "team_sync_config");
    const bool syncTeams =
        _auth->options().enterprise && !(teamSync.is_object() && teamSync.value("enabled", true) == false);
    std::vector<std::string> groups =
        extractGroups(claims, teamSync.is_object() ? teamSync.value("groupsExpression", std::string()) : "");
    for (const auto& g : identity.groups) {
        std::string lower = Poco::toLower(Poco::trim(g));
        if (!lower.empty() && std::find(groups.begin(), groups.end(), lower) == groups.end())
            groups.push_back(lower);
    }

    const std::string providerId = row.str("provider_id");
    std::string userId = _auth->database().transaction([&](db::Connection& tx) {
        std::string orgId = row.str("organization_id");
        if (orgId.empty()) {
            auto orgs = tx.query("SELECT id FROM organization ORDER BY created_at LIMIT 1");
            if (orgs.empty()) throw ApiError::internal("No organization exists to add the user to");
            orgId = orgs[0].str("id");
        }
        auto users = tx.query(
            "SELECT id, coalesce(banned, false) AS banned FROM \"user\" WHERE lower(email) = $1", {email});
        std::string id;
        if (users.empty()) {
            id = db::newTextId();
            std::string name = identity.name.empty() ? email.substr(0, email.find('@')) : identity.name;
            tx.execute("INSERT INTO \"user\" (id, name, email, email_verified) VALUES ($1, $2, $3, true)",
                       {id, name, email});
        } else {
            id = users[0].str("id");
            if (users[0].boolean("banned"))
                throw ApiError::forbidden("The account '" + email + "' is banned");
        }
        tx.execute(
            "INSERT INTO account (id, account_id, provider_id, user_id) SELECT $1, $2, $3, $4 WHERE NOT "
            "EXISTS "
            "(SELECT 1 FROM account WHERE provider_id = $3 AND account_id = $2 AND user_id = $4)",
            {db::newTextId(), identity.subject.empty() ? email : identity.subject, providerId, id});
        // Pending invitations are accepted by any sign-in (as the original).
        auto invitations = tx.query(
            "UPDATE invitation SET status = 'accepted' WHERE lower(email) = $1 AND status = 'pending' "
            "AND expires_at > now() RETURNING organization_id, coalesce(role, 'member') AS role",
            {email});
        for (const auto& invitation : invitations)
            tx.execute(
                "INSERT INTO member (id, organization_id, user_id, role) VALUES ($1, $2, $3, $4) "
                "ON CONFLICT (organization_id, user_id) DO NOTHING",
                {db::newTextId(), invitation.str("organization_id"), id, invitation.str("role")});
        auto member =
            tx.query("SELECT role FROM member WHERE organization_id = $1 AND user_id = $2", {orgId, id});
        if (member.empty())
            tx.execute("INSERT INTO member (id, organization_id, user_id, role) VALUES ($1, $2, $3, $4)",
                       {db::newTextId(), orgId, id, decision.role});
        else if (!skipRoleSync && member[0].str("role") != decision.role)
            tx.execute("UPDATE member SET role = $3 WHERE organization_id = $1 AND user_id = $2",
                       {orgId, id, decision.role});
        if (syncTeams) {
            const std::string groupsJson = json(groups).dump();
            tx.execute(
                "INSERT INTO team_member (id, team_id, user_id, role, synced_from_sso) "
                "SELECT md5(random()::text || g.team_id), g.team_id, $1, 'member', true FROM "
                "(SELECT DISTINCT e.team_id FROM team_external_group e JOIN team t ON t.id = e.team_id "
                " WHERE t.organization_id = $2 AND e.group_identifier IN "
                " (SELECT jsonb_array_elements_text($3::jsonb))) g "
                "ON CONFLICT (team_id, user_id) DO NOTHING",
                {id, orgId, groupsJson});
            // Only memberships this sync created go away; manual ones (synced_from_sso=false) never do.
            tx.execute(
                "DELETE FROM team_member m USING team t WHERE m.team_id = t.id AND t.organization_id = $2 "
                "AND m.user_id = $1 AND m.synced_from_sso AND NOT EXISTS (SELECT 1 FROM team_external_group "
                "e "
                "WHERE e.team_id = m.team_id AND e.group_identifier IN (SELECT "
                "jsonb_array_elements_text($3::jsonb)))",
                {id, orgId, groupsJson});
        }
        return id;
    });
    _auth->forgetUser(userId);
    return userId;
}

// ---- routes -----------------------------------------------------------------------------------------------

void SsoBroker::registerRoutes(http::Router& router) {
    using namespace schema;
    auto self = shared_from_this();
    auto& db = _auth->database();
    auto auth = _auth;
    const std::string tag = "SSO Providers";

    router.add(
        {.method = "GET",
         .path = "/api/sso-providers/public",
         .operationId = "getPublicSsoProviders",
         .tag = tag,
         .summary = "Providers the sign-in page offers (id and providerId only)",
         .access = Access::publicRoute(),
         .response = array(object({{"id", string()}, {"providerId", string()}}, {"id", "providerId"}))},
        [auth, &db](Context& c) {
            requireSsoLicence(*auth);
            json out = json::array();
            for (const auto& row : db.query("SELECT id, provider_id FROM sso_provider ORDER BY provider_id"))
                out.push_back({{"id", row.str("id")}, {"providerId", row.str("provider_id")}});
            c.sendJson(200, out);
        });
    router.add({.method = "GET",
                .path = "/api/sso-providers",
                .operationId = "getSsoProviders",
                .tag = tag,
                .summary = "Every SSO provider, with its secrets",
                .access = Access::permission("ssoProvider", "read"),
                .response = array(providerSchema())},
               [auth, &db](Context& c) {
                   requireSsoLicence(*auth);
                   json out = json::array();
                   for (const auto& row :
                        db.query("SELECT " + providerColumns() + " FROM sso_provider ORDER BY provider_id"))
                       out.push_back(providerJson(row));
                   c.sendJson(200, out);
               });
    router.add({.method = "GET",
                .path = "/api/sso-providers/{id}",
                .operationId = "getSsoProvider",
                .tag = tag,
                .summary = "One SSO provider",
                .access = Access::permission("ssoProvider", "read"),
                .response = providerSchema()},
               [auth, &db](Context& c) {
                   requireSsoLicence(*auth);
                   auto rows = db.query("SELECT " + providerColumns() + " FROM sso_provider WHERE id = $1",
                                        {c.param("id")});
                   if (rows.empty()) throw ApiError::notFound("SSO provider not found");
                   c.sendJson(200, providerJson(rows[0]));
               });

    // Create and update share the checks; `existing` is null on create.
    auto save = [self, auth, &db](Context& c, const db::Row* existing) {
        requireSsoLicence(*auth);
        const json& body = c.jsonObject();
        auto field = [&](const std::string& name) -> std::string {
            auto value = optionalStringField(body, name);
            if (value) return *value;
            return existing ? existing->str(name == "providerId" ? "provider_id" : name) : std::string();
        };
        std::string providerId = field("providerId");
        std::string issuer = field("issuer");
        std::string domain = field("domain");
        if (!existing) {
            requiredStringField(body, "providerId");
            requiredStringField(body, "issuer");
            requiredStringField(body, "domain");
        }
        if (!std::regex_match(providerId, kProviderIdPattern))
            throw ApiError::badRequest(
                "Field 'providerId': expected letters, digits, '_', '-' or '.' (max 64), got '" + providerId +
                "'");
        bool domainVerified = optionalBoolField(body, "domainVerified")
                                  .value_or(existing ? existing->boolean("domain_verified") : false);
        std::string oidc = existing ? existing->str("oidc_config") : "";
        std::string saml = existing ? existing->str("saml_config") : "";
        if (body.contains("oidcConfig") && !body["oidcConfig"].is_null()) {
            oidc = checkedOidcConfig(body["oidcConfig"], issuer).dump();
            saml.clear();
        }
        if (body.contains("samlConfig") && !body["samlConfig"].is_null()) {
            if (body.contains("oidcConfig") && !body["oidcConfig"].is_null())
                throw ApiError::badRequest(
                    "Field 'samlConfig': give either oidcConfig or samlConfig, not both");
            saml = checkedSamlConfig(body["samlConfig"]).dump();
            oidc.clear();
        }
        if (oidc.empty() && saml.empty())
            throw ApiError::badRequest("Field 'oidcConfig': either oidcConfig or samlConfig is required");
        std::string roleMapping = existing ? existing->str("role_mapping") : "";
        if (body.contains("roleMapping")) {
            std::string problem = validateRoleMapping(body["roleMapping"]);
            if (!problem.empty())
                throw ApiError::badRequest("Field '" + problem.substr(0, problem.find(':')) + "'" +
                                           problem.substr(problem.find(':')));
            roleMapping = jsonTextOrNull(body, "roleMapping");
        }
        std::string teamSync = existing ? existing->str("team_sync_config") : "";
        if (body.contains("teamSyncConfig")) {
            const json& t = body["teamSyncConfig"];
            if (!t.is_null() && !t.is_object())
                throw ApiError::badRequest("Field 'teamSyncConfig': expected an object");
            if (t.is_object() && t.contains("groupsExpression") && !t["groupsExpression"].is_string())
                throw ApiError::badRequest("Field 'teamSyncConfig.groupsExpression': expected a string");
            if (t.is_object() && t.contains("enabled") && !t["enabled"].is_boolean())
                throw ApiError::badRequest("Field 'teamSyncConfig.enabled': expected a boolean");
            teamSync = jsonTextOrNull(body, "teamSyncConfig");
        }
        auto nullIfEmpty = [](const std::string& s) -> db::Value {
            return s.empty() ? db::Value() : db::Value(s);
        };
        std::string id = existing ? existing->str("id")
                                  : Poco::UUIDGenerator::defaultGenerator().createRandom().toString();
        std::string orgId = c.requirePrincipal().organizationId;
        // The plugin checks its own config now, so a bad one is a 400 here rather than a failed login later.
        {
            std::string plugin = oidc.empty() ? "saml" : "oidc";
            if (self->_factory) {
                json probe = json::parse(oidc.empty() ? saml : oidc);
                if (!oidc.empty() && !probe.contains("issuer")) probe["issuer"] = issuer;
                if (oidc.empty()) {
                    probe["callbackUrl"] = probe.value("callbackUrl", std::string("http://localhost/acs"));
                    if (!probe.contains("audience")) probe["audience"] = probe.value("issuer", providerId);
                    probe["providerId"] = providerId;
                }
                auto made = self->_factory(plugin, probe.dump());
                if (!made.ok())
                    throw ApiError::badRequest("Field '" +
                                               std::string(oidc.empty() ? "samlConfig" : "oidcConfig") +
                                               "': " + made.error().message);
            }
        }
        try {
            if (existing) {
                db.execute(
                    "UPDATE sso_provider SET provider_id = $2, issuer = $3, domain = $4, domain_verified = "
                    "$5, "
                    "oidc_config = $6, saml_config = $7, role_mapping = $8, team_sync_config = $9 WHERE id = "
                    "$1",
                    {id, providerId, issuer, domain, domainVerified ? "true" : "false", nullIfEmpty(oidc),
                     nullIfEmpty(saml), nullIfEmpty(roleMapping), nullIfEmpty(teamSync)});
            } else {
                std::string userId =
                    optionalStringField(body, "userId").value_or(c.requirePrincipal().userId);
                db.execute(
                    "INSERT INTO sso_provider (id, provider_id, issuer, domain, domain_verified, "
                    "oidc_config, "
                    "saml_config, role_mapping, team_sync_config, organization_id, user_id) VALUES ($1, $2, "
                    "$3, $4, "
                    "$5, $6, $7, $8, $9, $10, (SELECT id FROM \"user\" WHERE id = $11))",
                    {id, providerId, issuer, domain, domainVerified ? "true" : "false", nullIfEmpty(oidc),
                     nullIfEmpty(saml), nullIfEmpty(roleMapping), nullIfEmpty(teamSync), nullIfEmpty(orgId),
                     userId});
            }
        } catch (const db::DatabaseException& e) {
            if (e.message().find("provider_id") != std::string::npos ||
                e.message().find("unique") != std::string::npos)
                throw ApiError::conflict("SSO provider '" + providerId + "' already exists");
            throw;
        }
        self->forget(id);
        auto rows = db.query("SELECT " + providerColumns() + " FROM sso_provider WHERE id = $1", {id});
        c.sendJson(200, providerJson(rows.at(0)));
    };

    router.add({.method = "POST",
                .path = "/api/sso-providers",
                .operationId = "createSsoProvider",
                .tag = tag,
                .summary = "Register an OIDC or SAML provider",
                .access = Access::permission("ssoProvider", "create"),
                .requestBody = providerBodySchema(true),
                .response = providerSchema()},
               [save](Context& c) { save(c, nullptr); });
    router.add({.method = "PUT",
                .path = "/api/sso-providers/{id}",
                .operationId = "updateSsoProvider",
                .tag = tag,
                .summary = "Change an SSO provider (fields given replace the stored ones)",
                .access = Access::permission("ssoProvider", "update"),
                .requestBody = providerBodySchema(false),
                .response = providerSchema()},
               [save, auth, &db](Context& c) {
                   requireSsoLicence(*auth);
                   auto rows = db.query("SELECT " + providerColumns() + " FROM sso_provider WHERE id = $1",
                                        {c.param("id")});
                   if (rows.empty()) throw ApiError::notFound("SSO provider not found");
                   save(c, &rows[0]);
               });
    router.add({.method = "DELETE",
                .path = "/api/sso-providers/{id}",
                .operationId = "deleteSsoProvider",
                .tag = tag,
                .summary = "Remove an SSO provider",
                .access = Access::permission("ssoProvider", "delete"),
                .response = success()},
               [self, auth, &db](Context& c) {
                   requireSsoLicence(*auth);
                   if (db.execute("DELETE FROM sso_provider WHERE id = $1", {c.param("id")}) == 0)
                       throw ApiError::notFound("SSO provider not found");
                   self->forget(c.param("id"));
                   c.sendJson(200, {{"success", true}});
               });

    // ---- sign-in flow (public: the browser is not signed in yet)
    router.add({.method = "POST",
                .path = "/api/auth/sign-in/sso",
                .operationId = "signInSso",
                .tag = "auth",
                .summary = "Start a single sign-on; answers the provider URL to send the browser to",
                .access = Access::publicRoute(),
                .requestBody = object({{"providerId", string()},
                                       {"callbackURL", string()},
                                       {"errorCallbackURL", string()},
                                       {"loginHint", string()}},
                                      {"providerId"}),
                .response = object({{"url", string()}, {"redirect", boolean()}}, {"url", "redirect"}),
                .maxBodyBytes = 16384},
               [self](Context& c) { self->signInStart(c); });
    for (const char* method : {"GET", "POST"})
        router.add(
            {.method = method,
             .path = "/api/auth/sso/callback/{providerId}",
             .operationId = std::string(method) == "GET" ? "ssoCallback" : "ssoCallbackFormPost",
             .tag = "auth",
             .summary = "OpenID Connect redirect target: completes the sign-in and redirects the browser",
             .access = Access::publicRoute(),
             .response = {{"type", "string"}},
             .maxBodyBytes = 65536},
            [self](Context& c) { self->oidcCallback(c); });
    router.add({.method = "POST",
                .path = "/api/auth/sso/saml2/sp/acs/{providerId}",
                .operationId = "ssoSamlAcs",
                .tag = "auth",
                .summary = "SAML assertion consumer (HTTP-POST binding): completes the sign-in and redirects",
                .access = Access::publicRoute(),
                .response = {{"type", "string"}},
                .maxBodyBytes = 1 << 20},
               [self](Context& c) { self->samlAcs(c); });
    router.add({.method = "GET",
                .path = "/api/auth/sso/saml2/sp/metadata",
                .operationId = "ssoSamlSpMetadata",
                .tag = "auth",
                .summary = "SAML service provider metadata (XML) of one provider",
                .access = Access::publicRoute(),
                .response = {{"type", "string"}},
                .query = {{"providerId", {{"type", "string"}}, true, "providerId of the SAML provider"}}},
               [self](Context& c) { self->spMetadata(c); });

    // ---- team external groups (team sync)
    auto loadTeam = [&db](const Context& c) {
        if (db.query("SELECT 1 FROM team WHERE id = $1 AND organization_id = $2",
                     {c.param("id"), organizationOf(c)})
                .empty())
            throw ApiError::notFound("Team not found");
    };
    const std::string groupColumns =
        "id, team_id, group_identifier, " + isoSql("created_at") + " AS created_at";
    router.add(
        {.method = "GET",
         .path = "/api/teams/{id}/external-groups",
         .operationId = "getTeamExternalGroups",
         .tag = "Teams",
         .summary = "Identity provider groups whose members join this team on SSO sign-in",
         .access = Access::permission("team", "read"),
         .response = array(externalGroupSchema())},
        [auth, &db, loadTeam, groupColumns](Context& c) {
            requireTeamSyncLicence(*auth);
            loadTeam(c);
            json out = json::array();
            for (const auto& row : db.query("SELECT " + groupColumns +
                                                " FROM team_external_group WHERE team_id = $1 ORDER BY "
                                                "group_identifier",
                                            {c.param("id")}))
                out.push_back(externalGroupJson(row));
            c.sendJson(200, out);
        });
    router.add(
        {.method = "POST",
         .path = "/api/teams/{id}/external-groups",
         .operationId = "addTeamExternalGroup",
         .tag = "Teams",
         .summary = "Map an identity provider group to this team (stored lowercased)",
         .access = Access::permission("team", "update"),
         .requestBody = object({{"groupIdentifier", string()}}, {"groupIdentifier"}),
         .response = externalGroupSchema()},
        [auth, &db, loadTeam, groupColumns](Context& c) {
            requireTeamSyncLicence(*auth);
            std::string group =
                Poco::toLower(Poco::trim(requiredStringField(c.jsonObject(), "groupIdentifier")));
            if (group.empty())
                throw ApiError::badRequest("Field 'groupIdentifier': expected a non-empty string");
            loadTeam(c);
            auto rows = db.query(
                "INSERT INTO team_external_group (id, team_id, group_identifier) VALUES ($1, $2, $3) "
                "ON CONFLICT (team_id, group_identifier) DO NOTHING RETURNING " +
                    groupColumns,
                {Poco::UUIDGenerator::defaultGenerator().createRandom().toString(), c.param("id"), group});
            if (rows.empty())
                throw ApiError::conflict("Group '" + group + "' is already mapped to this team");
            c.sendJson(200, externalGroupJson(rows[0]));
        });
    router.add({.method = "DELETE",
                .path = "/api/teams/{id}/external-groups/{groupId}",
                .operationId = "removeTeamExternalGroup",
                .tag = "Teams",
                .summary = "Remove a group mapping (synced memberships go at the members' next sign-in)",
                .access = Access::permission("team", "update"),
                .response = success()},
               [auth, &db, loadTeam](Context& c) {
                   requireTeamSyncLicence(*auth);
                   loadTeam(c);
                   if (db.execute("DELETE FROM team_external_group WHERE id = $1 AND team_id = $2",
                                  {c.param("groupId"), c.param("id")}) == 0)
                       throw ApiError::notFound("External group not found");
                   c.sendJson(200, {{"success", true}});
               });
}

}  // namespace archestra::auth::sso
