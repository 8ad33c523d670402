// AuthService: authentication (session cookie, API key), RBAC, cookies, sessions and sign-in throttling.
#include "core/auth/AuthService.h"

#include "core/auth/Password.h"
#include "core/auth/SqlJson.h"
#include "core/auth/Tokens.h"
#include "core/config/Settings.h"
#include "core/db/Seed.h"
#include "core/http/Context.h"

#include <Poco/Net/NameValueCollection.h>
#include <Poco/URI.h>

#include <cmath>
#include <cstdlib>

namespace archestra::auth {
namespace {

constexpr std::size_t kMaxCacheEntries = 20000;
const char* kDontRememberCookie = "archestra.dont_remember";

bool isStateChanging(const std::string& method) {
    return method != "GET" && method != "HEAD" && method != "OPTIONS";
}

bool isLocalOrigin(const std::string& origin) {
    for (const char* scheme : {"http://", "https://"}) {
        for (const char* host : {"localhost", "127.0.0.1"}) {
            std::string base = std::string(scheme) + host;
            if (origin == base) return true;
            if (origin.rfind(base + ":", 0) == 0) {
                std::string port = origin.substr(base.size() + 1);
                if (!port.empty() && port.size() <= 5 &&
                    port.find_first_not_of("0123456789") == std::string::npos)
                    return true;
            }
        }
    }
    return false;
}

http::Principal principalFromRow(const db::Row& row, http::AuthMethod method) {
    http::Principal p;
    p.userId = row.str("user_id");
    p.email = row.str("email");
    p.name = row.str("name");
    p.organizationId = row.str("organization_id");
    p.role = row.str("role");
    p.method = method;
    if (method == http::AuthMethod::Session) p.sessionId = row.str("id");
    if (method == http::AuthMethod::ApiKey) p.apiKeyId = row.str("id");
    return p;
}

// The user's membership: one organisation per deployment, so the oldest membership is the one.
const char* kMembershipJoin =
    " LEFT JOIN LATERAL (SELECT organization_id, role FROM member WHERE member.user_id = u.id "
    "ORDER BY created_at LIMIT 1) m ON true";

}  // namespace

AuthOptions AuthOptions::fromSettings(const config::Settings& settings, const std::string& secret) {
    AuthOptions o;
    o.secret = secret;
    o.frontendUrl = settings.frontendUrl();
    o.frontendUrlExplicit = settings.frontendUrlExplicit();
    o.cookieDomain = settings.get("ARCHESTRA_AUTH_COOKIE_DOMAIN");
    o.disableBasicAuth = settings.getBool("ARCHESTRA_AUTH_DISABLE_BASIC_AUTH");
    o.disableInvitations = settings.getBool("ARCHESTRA_AUTH_DISABLE_INVITATIONS");
    o.enterprise = settings.enterprise();
    o.analytics = settings.get("ARCHESTRA_ANALYTICS") != "disabled";
    o.adminEmail = settings.get("ARCHESTRA_AUTH_ADMIN_EMAIL");
    for (const auto& spec : config::Settings::specs())
        if (spec.name == "ARCHESTRA_AUTH_ADMIN_EMAIL") o.defaultAdminEmail = spec.defaultValue;
    return o;
}

AuthService::AuthService(db::Database& database, AuthOptions options)
    : _db(database), _options(std::move(options)) {}

// ---- cache ---------------------------------------------------------------------------------------------

std::optional<http::Principal> AuthService::cached(const std::string& cacheKey) {
    std::lock_guard lock(_mutex);
    auto it = _cache.find(cacheKey);
    if (it == _cache.end()) return std::nullopt;
    if (it->second.validUntil <= std::chrono::steady_clock::now()) {
        _cache.erase(it);
        return std::nullopt;
    }
    return it->second.principal;
}

void AuthService::remember(const std::string& cacheKey, const http::Principal& principal) {
    std::lock_guard lock(_mutex);
    if (_cache.size() >= kMaxCacheEntries) {
        auto now = std::chrono::steady_clock::now();
        for (auto it = _cache.begin(); it != _cache.end();)
            it = it->second.validUntil <= now ? _cache.erase(it) : std::next(it);
        if (_cache.size() >= kMaxCacheEntries) _cache.clear();
    }
    _cache[cacheKey] = {principal, std::chrono::steady_clock::now() + _options.cacheTtl};
}

void AuthService::forgetUser(const std::string& userId) {
    std::lock_guard lock(_mutex);
    for (auto it = _cache.begin(); it != _cache.end();)
        it = it->second.principal.userId == userId ? _cache.erase(it) : std::next(it);
}

void AuthService::forgetKeyHash(const std::string& keyHash) {
    std::lock_guard lock(_mutex);
    _cache.erase("k:" + keyHash);
}

void AuthService::forgetAll() {
    std::lock_guard lock(_mutex);
    _cache.clear();
    _customRoles.clear();
}

// ---- authentication ------------------------------------------------------------------------------------

std::string AuthService::sessionCookieName() const {
    bool secure = _options.frontendUrl.rfind("https://", 0) == 0;
    return std::string(secure ? "__Secure-" : "") + "archestra.session_token";
}

std::string AuthService::sessionTokenFromCookie(http::Context& context) const {
    if (!context.request().has("Cookie")) return "";
    Poco::Net::NameValueCollection cookies;
    context.request().getCookies(cookies);
    std::string value = cookies.get(sessionCookieName(), "");
    // Accept the other variant too: a deployment that switches between http and https keeps its sessions.
    if (value.empty())
        value = cookies.get("archestra.session_token", cookies.get("__Secure-archestra.session_token", ""));
    if (value.empty()) return "";
    return verifyCookieValue(value, _options.secret);
}

std::optional<http::Principal> AuthService::authenticate(http::Context& context) {
    std::string token = sessionTokenFromCookie(context);
    if (!token.empty()) {
        if (auto principal = sessionPrincipal(context, token)) return principal;
    }
    std::string authorization = context.header("Authorization");
    if (!authorization.empty()) {
        // The Terraform provider sends the bare key as the whole header value; Bearer is accepted too.
        std::string key = authorization;
        if (key.rfind("Bearer ", 0) == 0 || key.rfind("bearer ", 0) == 0) key = key.substr(7);
        while (!key.empty() && key.front() == ' ') key.erase(key.begin());
        while (!key.empty() && key.back() == ' ') key.pop_back();
        auto principal = apiKeyPrincipal(key);
        if (!principal) throw http::ApiError::unauthenticated();
        return principal;
    }
    return std::nullopt;
}

std::optional<http::Principal> AuthService::sessionPrincipal(http::Context& context,
                                                             const std::string& token) {
    std::string hash = sha256Base64Url(token);
    if (auto hit = cached("s:" + hash)) return hit;
    auto rows = _db.query(
        "SELECT s.id, s.user_id, u.email, u.name, m.organization_id, m.role, "
        "extract(epoch FROM s.expires_at - now())::bigint AS remaining_s "
        "FROM session s JOIN \"user\" u ON u.id = s.user_id" +
            std::string(kMembershipJoin) + " WHERE s.token = $1 AND s.expires_at > now()",
        {hash});
    if (rows.empty()) return std::nullopt;
    http::Principal principal = principalFromRow(rows[0], http::AuthMethod::Session);
    long long remaining_s = std::stoll(rows[0].str("remaining_s", "0"));
    // Sliding expiry: once a day of use has passed since the last extension, extend to the full lifetime.
    if (remaining_s < (_options.sessionLifetime - _options.sessionRefreshAfter).count()) {
        _db.execute(
            "UPDATE session SET expires_at = now() + $2 * interval '1 second', updated_at = now() "
            "WHERE id = $1",
            {principal.sessionId, std::to_string(_options.sessionLifetime.count())});
        Poco::Net::NameValueCollection cookies;
        context.request().getCookies(cookies);
        if (!cookies.has(kDontRememberCookie) && !context.responded()) setSessionCookie(context, token, true);
    }
    remember("s:" + hash, principal);
    return principal;
}

std::optional<http::Principal> AuthService::apiKeyPrincipal(const std::string& key) {
    if (key.empty()) return std::nullopt;
    std::string hash = sha256Base64Url(key);
    if (auto hit = cached("k:" + hash)) return hit;
    // last_request is written only when the cache misses (at most once per cacheTtl per replica).
    auto rows = _db.query(
        "WITH k AS (UPDATE apikey SET last_request = now() WHERE key = $1 AND coalesce(enabled, true) "
        "AND (expires_at IS NULL OR expires_at > now()) RETURNING id, user_id) "
        "SELECT k.id, k.user_id, u.email, u.name, m.organization_id, m.role FROM k "
        "JOIN \"user\" u ON u.id = k.user_id" +
            std::string(kMembershipJoin),
        {hash});
    if (rows.empty()) return std::nullopt;
    http::Principal principal = principalFromRow(rows[0], http::AuthMethod::ApiKey);
    remember("k:" + hash, principal);
    return principal;
}

// ---- authorization -------------------------------------------------------------------------------------

PermissionMap AuthService::permissionsOf(const std::string& organizationId, const std::string& role) {
    if (isBuiltInRole(role)) return builtInPermissions(role);
    if (!_options.enterprise || role.empty()) return {};
    std::string key = organizationId + "\n" + role;
    {
        std::lock_guard lock(_mutex);
        auto it = _customRoles.find(key);
        if (it != _customRoles.end() && it->second.validUntil > std::chrono::steady_clock::now())
            return it->second.permissions;
    }
    PermissionMap permissions;
    auto rows = _db.query("SELECT permission FROM organization_role WHERE organization_id = $1 AND role = $2",
                          {organizationId, role});
    if (!rows.empty()) {
        try {
            permissions = permissionsFromJson(nlohmann::json::parse(rows[0].str("permission")));
        } catch (const std::exception&) {
            permissions = {};  // a malformed stored role grants nothing
        }
    }
    std::lock_guard lock(_mutex);
    _customRoles[key] = {permissions, std::chrono::steady_clock::now() + _options.cacheTtl};
    return permissions;
}

bool AuthService::hasPermission(const http::Principal& principal, const std::string& resource,
                                const std::string& action) {
    return allows(permissionsOf(principal.organizationId, principal.role), resource, action);
}

void AuthService::authorize(const http::Principal& principal, const http::Access& access,
                            http::Context& context) {
    // A browser sends the cookie along with any cross-site form post; only our own frontend may change state.
    if (principal.method == http::AuthMethod::Session && isStateChanging(context.method()))
        requireTrustedOrigin(context);
    if (access.kind != http::Access::Kind::Permission) return;
    if (!hasPermission(principal, access.resource, access.action))
        throw http::ApiError::forbidden("Forbidden: this needs the '" + access.resource + ":" +
                                        access.action + "' permission, which the role '" +
                                        (principal.role.empty() ? std::string("(none)") : principal.role) +
                                        "' does not have");
}

bool AuthService::isTrustedOrigin(const std::string& origin) const {
    if (origin.empty()) return false;
    if (!_options.frontendUrlExplicit) return isLocalOrigin(origin);
    return origin == _options.frontendUrl;
}

void AuthService::requireTrustedOrigin(http::Context& context) const {
    std::string origin = context.header("Origin");
    if (!isTrustedOrigin(origin))
        throw http::ApiError::forbidden(
            origin.empty()
                ? "Missing Origin header: cookie-authenticated requests that change state must come "
                  "from the frontend (" +
                      _options.frontendUrl + ")"
                : "Invalid origin '" + origin + "': expected " +
                      (_options.frontendUrlExplicit ? _options.frontendUrl
                                                    : std::string("http(s)://localhost or 127.0.0.1")));
}

// ---- cookies -------------------------------------------------------------------------------------------

std::string AuthService::cookieAttributes() const {
    bool secure = _options.frontendUrl.rfind("https://", 0) == 0;
    std::string attributes = "; Path=/; HttpOnly";
    attributes += secure ? "; Secure; SameSite=None" : "; SameSite=Lax";
    if (!_options.cookieDomain.empty()) attributes += "; Domain=" + _options.cookieDomain;
    return attributes;
}

void AuthService::setSessionCookie(http::Context& context, const std::string& token, bool rememberMe) const {
    std::string value;
    Poco::URI::encode(signCookieValue(token, _options.secret), "!#$&'()*+,/:;=?@[]\"<>%{}|\\^`", value);
    std::string cookie = sessionCookieName() + "=" + value + cookieAttributes();
    if (rememberMe) cookie += "; Max-Age=" + std::to_string(_options.sessionLifetime.count());
    context.response().add("Set-Cookie", cookie);
    if (!rememberMe) {
        std::string flag;
        Poco::URI::encode(signCookieValue("true", _options.secret), "!#$&'()*+,/:;=?@[]\"<>%{}|\\^`", flag);
        context.response().add("Set-Cookie",
                               std::string(kDontRememberCookie) + "=" + flag + cookieAttributes());
    }
}

void AuthService::clearSessionCookie(http::Context& context) const {
    context.response().add("Set-Cookie", sessionCookieName() + "=" + cookieAttributes() + "; Max-Age=0");
    context.response().add("Set-Cookie",
                           std::string(kDontRememberCookie) + "=" + cookieAttributes() + "; Max-Age=0");
}

// ---- sessions ------------------------------------------------------------------------------------------

SessionRecord AuthService::createSession(db::Connection& conn, const std::string& userId,
                                         const std::string& ipAddress, const std::string& userAgent) {
    SessionRecord session{db::newTextId(), randomAlphanumeric(32), userId};
    conn.execute(
        "INSERT INTO session (id, token, user_id, expires_at, ip_address, user_agent, "
        "active_organization_id) "
        "VALUES ($1, $2, $3, now() + $4 * interval '1 second', $5, $6, "
        "(SELECT organization_id FROM member WHERE user_id = $3 ORDER BY created_at LIMIT 1))",
        {session.id, sha256Base64Url(session.token), userId, std::to_string(_options.sessionLifetime.count()),
         ipAddress, userAgent.substr(0, 512)});
    return session;
}

void AuthService::deleteSession(const std::string& token) {
    std::string hash = sha256Base64Url(token);
    _db.execute("DELETE FROM session WHERE token = $1", {hash});
    std::lock_guard lock(_mutex);
    _cache.erase("s:" + hash);
}

// ---- sign-in throttling --------------------------------------------------------------------------------

void AuthService::checkSignInAllowed(http::Context& context, const std::string& email) {
    auto rows = _db.query(
        "SELECT id, value::int AS failures, ceil(extract(epoch FROM expires_at - now()))::bigint AS retry_s "
        "FROM verification WHERE id IN ($1, $2) AND expires_at > now()",
        {"signin-fail:account:" + sha256Base64Url(email),
         "signin-fail:address:" + sha256Base64Url(context.clientAddress())});
    long long retry_s = 0;
    for (const auto& row : rows) {
        int failures = std::stoi(row.str("failures", "0"));
        bool account = row.str("id").find(":account:") != std::string::npos;
        int limit = account ? _options.maxFailuresPerAccount : _options.maxFailuresPerAddress;
        if (failures >= limit) retry_s = std::max(retry_s, std::stoll(row.str("retry_s", "1")));
    }
    if (retry_s > 0) {
        context.response().set("Retry-After", std::to_string(std::max(1LL, retry_s)));
        throw http::ApiError::tooManyRequests("Too many failed sign-in attempts; try again in " +
                                              std::to_string(retry_s) + " seconds");
    }
}

void AuthService::recordSignInFailure(http::Context& context, const std::string& email) {
    // Fixed-window counters in the shared `verification` table: every replica sees the same numbers.
    auto bump = [this](const std::string& id, std::chrono::seconds window) {
        _db.execute(
            "INSERT INTO verification (id, identifier, value, expires_at) "
            "VALUES ($1, 'sign-in-failures', '1', now() + $2 * interval '1 second') "
            "ON CONFLICT (id) DO UPDATE SET "
            "value = CASE WHEN verification.expires_at <= now() THEN '1' "
            "ELSE (verification.value::int + 1)::text END, "
            "expires_at = CASE WHEN verification.expires_at <= now() THEN excluded.expires_at "
            "ELSE verification.expires_at END, updated_at = now()",
            {id, std::to_string(window.count())});
    };
    bump("signin-fail:account:" + sha256Base64Url(email), _options.accountWindow);
    bump("signin-fail:address:" + sha256Base64Url(context.clientAddress()), _options.addressWindow);
}

void AuthService::recordSignInSuccess(const std::string& email) {
    _db.execute(
        "DELETE FROM verification WHERE id = $1 OR (identifier = 'sign-in-failures' AND expires_at < now())",
        {"signin-fail:account:" + sha256Base64Url(email)});
}

void AuthService::dummyPasswordVerify(const std::string& password) {
    std::call_once(_dummyHashOnce, [this] { _dummyHash = hashPassword(randomAlphanumeric(24)); });
    (void)verifyPassword(password, _dummyHash);
}

// ---- rendering -----------------------------------------------------------------------------------------

std::string userColumnsSql(const std::string& a) {
    return a + ".id AS user_id, " + a + ".name AS user_name, " + a + ".email AS user_email, " + a +
           ".email_verified AS user_email_verified, " + a + ".image AS user_image, " +
           isoSql(a + ".created_at") + " AS user_created_at, " + isoSql(a + ".updated_at") +
           " AS user_updated_at, " + a + ".role AS user_role, " + a + ".banned AS user_banned, " + a +
           ".ban_reason AS user_ban_reason, " + isoSql(a + ".ban_expires") + " AS user_ban_expires, " + a +
           ".two_factor_enabled AS user_two_factor_enabled";
}

nlohmann::json userJson(const db::Row& row) {
    return {{"id", row.str("user_id")},
            {"name", row.str("user_name")},
            {"email", row.str("user_email")},
            {"emailVerified", row.boolean("user_email_verified")},
            {"image", nullableString(row, "user_image")},
            {"createdAt", row.str("user_created_at")},
            {"updatedAt", row.str("user_updated_at")},
            {"role", nullableString(row, "user_role")},
            {"banned", nullableBool(row, "user_banned")},
            {"banReason", nullableString(row, "user_ban_reason")},
            {"banExpires", nullableString(row, "user_ban_expires")},
            {"twoFactorEnabled", nullableBool(row, "user_two_factor_enabled")}};
}

}  // namespace archestra::auth
