// /api/auth/* routes for sign-in, sign-up (invitation only), sign-out, sessions, passwords and API keys.
#include "core/auth/AuthRoutes.h"

#include "core/auth/Password.h"
#include "core/auth/Schema.h"
#include "core/auth/SqlJson.h"
#include "core/auth/Tokens.h"
#include "core/db/Seed.h"
#include "core/http/Context.h"

#include <Poco/String.h>
#include <Poco/URI.h>

#include <chrono>
#include <mutex>

namespace archestra::auth {
namespace {

using http::Access;
using http::ApiError;
using http::Context;
using nlohmann::json;

constexpr std::size_t kMinPasswordLength = 8;
constexpr std::size_t kMaxPasswordLength = 128;
constexpr long long kMinKeyLifetime_s = 24 * 3600;
constexpr long long kMaxKeyLifetime_s = 365LL * 24 * 3600;

std::string normalizedEmail(const std::string& email) {
    return Poco::toLower(Poco::trim(email));
}

void checkNewPassword(const std::string& field, const std::string& password) {
    if (password.size() < kMinPasswordLength)
        throw ApiError::badRequest("Field '" + field + "': the password must have at least " +
                                   std::to_string(kMinPasswordLength) + " characters");
    if (password.size() > kMaxPasswordLength)
        throw ApiError::badRequest("Field '" + field + "': the password must have at most " +
                                   std::to_string(kMaxPasswordLength) + " characters");
}

json userSchema() {
    using namespace schema;
    return object({{"id", string()},
                   {"name", string()},
                   {"email", string()},
                   {"emailVerified", boolean()},
                   {"image", nullableString()},
                   {"createdAt", dateTime()},
                   {"updatedAt", dateTime()},
                   {"role", nullableString()}},
                  {"id", "name", "email", "emailVerified", "createdAt", "updatedAt"});
}

json userById(db::Connection& conn, const std::string& userId) {
    auto rows = conn.query("SELECT " + userColumnsSql("u") + " FROM \"user\" u WHERE u.id = $1", {userId});
    if (rows.empty()) throw ApiError::notFound("User not found");
    return userJson(rows[0]);
}

/// A pending, unexpired invitation for `email` becomes a membership (any sign-in accepts it, as the
/// original).
void acceptPendingInvitations(db::Connection& conn, const std::string& userId, const std::string& email) {
    auto invitations = conn.query(
        "UPDATE invitation SET status = 'accepted' WHERE lower(email) = $1 AND status = 'pending' "
        "AND expires_at > now() RETURNING organization_id, coalesce(role, 'member') AS role",
        {email});
    for (const auto& row : invitations) {
        conn.execute(
            "INSERT INTO member (id, organization_id, user_id, role) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (organization_id, user_id) DO NOTHING",
            {db::newTextId(), row.str("organization_id"), userId, row.str("role")});
    }
}

std::string apiKeyColumnsSql() {
    return "id, name, start, prefix, user_id, enabled, rate_limit_enabled, rate_limit_time_window, "
           "rate_limit_max, "
           "request_count, remaining, refill_interval, refill_amount, metadata, permissions, " +
           isoSql("last_refill_at") + " AS last_refill_at, " + isoSql("last_request") + " AS last_request, " +
           isoSql("expires_at") + " AS expires_at, " + isoSql("created_at") + " AS created_at, " +
           isoSql("updated_at") + " AS updated_at";
}

json nullableInt(const db::Row& row, const std::string& column) {
    const auto& v = row.at(column);
    return v ? json(std::stoll(*v)) : json(nullptr);
}

json apiKeyJson(const db::Row& row) {
    json metadata = nullptr, permissions = nullptr;
    try {
        if (!row.isNull("metadata")) metadata = json::parse(row.str("metadata"));
        if (!row.isNull("permissions")) permissions = json::parse(row.str("permissions"));
    } catch (const json::exception&) {
    }
    return {{"id", row.str("id")},
            {"name", nullableString(row, "name")},
            {"start", nullableString(row, "start")},
            {"prefix", nullableString(row, "prefix")},
            {"userId", row.str("user_id")},
            {"enabled", row.isNull("enabled") ? true : row.boolean("enabled")},
            {"rateLimitEnabled", row.boolean("rate_limit_enabled")},
            {"rateLimitTimeWindow", nullableInt(row, "rate_limit_time_window")},
            {"rateLimitMax", nullableInt(row, "rate_limit_max")},
            {"requestCount", nullableInt(row, "request_count")},
            {"remaining", nullableInt(row, "remaining")},
            {"refillInterval", nullableInt(row, "refill_interval")},
            {"refillAmount", nullableInt(row, "refill_amount")},
            {"lastRefillAt", nullableString(row, "last_refill_at")},
            {"lastRequest", nullableString(row, "last_request")},
            {"expiresAt", nullableString(row, "expires_at")},
            {"createdAt", row.str("created_at")},
            {"updatedAt", row.str("updated_at")},
            {"metadata", metadata},
            {"permissions", permissions}};
}

json apiKeySchema(bool withKey) {
    using namespace schema;
    json s = object({{"id", string()},
                     {"name", nullableString()},
                     {"start", nullableString()},
                     {"prefix", nullableString()},
                     {"userId", string()},
                     {"enabled", boolean()},
                     {"lastRequest", nullableDateTime()},
                     {"expiresAt", nullableDateTime()},
                     {"createdAt", dateTime()},
                     {"updatedAt", dateTime()}},
                    {"id", "userId", "enabled", "createdAt", "updatedAt"});
    if (withKey) {
        s["properties"]["key"] = string();
        s["required"].push_back("key");
    }
    return s;
}

std::optional<long long> expiresInField(const json& body) {
    auto it = body.find("expiresIn");
    if (it == body.end() || it->is_null()) return std::nullopt;
    if (!it->is_number_integer())
        throw ApiError::badRequest("Field 'expiresIn': expected an integer number of seconds, got " +
                                   it->dump());
    long long seconds = it->get<long long>();
    if (seconds < kMinKeyLifetime_s || seconds > kMaxKeyLifetime_s)
        throw ApiError::badRequest(
            "Field 'expiresIn': expected between " + std::to_string(kMinKeyLifetime_s) + " (1 day) and " +
            std::to_string(kMaxKeyLifetime_s) + " (365 days) seconds, got " + std::to_string(seconds));
    return seconds;
}

/// "invitationId=<id>" inside the sign-up callbackURL (the original's invite-only gate reads it there).
std::string invitationIdFromCallback(const std::string& callbackUrl) {
    auto pos = callbackUrl.find("invitationId=");
    if (pos == std::string::npos) return "";
    if (pos > 0 && callbackUrl[pos - 1] != '?' && callbackUrl[pos - 1] != '&') return "";
    std::string raw = callbackUrl.substr(pos + 13);
    raw = raw.substr(0, raw.find_first_of("&#"));
    std::string decoded;
    try {
        Poco::URI::decode(raw, decoded);
    } catch (const Poco::Exception&) {
        return "";
    }
    return decoded;
}

/// Login CSRF: a browser form on another site must not sign the victim into an attacker's account.
void rejectForeignOrigin(const AuthService& service, Context& context) {
    if (!context.header("Origin").empty()) service.requireTrustedOrigin(context);
}

void signIn(AuthService& service, Context& context) {
    rejectForeignOrigin(service, context);
    const json& body = context.jsonObject();
    std::string email = normalizedEmail(requiredStringField(body, "email"));
    std::string password = requiredStringField(body, "password");
    bool rememberMe = optionalBoolField(body, "rememberMe").value_or(true);
    const auto& options = service.options();
    if (options.disableBasicAuth && email != normalizedEmail(options.adminEmail))
        throw ApiError::forbidden(
            "Password sign-in is disabled (ARCHESTRA_AUTH_DISABLE_BASIC_AUTH); sign in with single sign-on");

    service.checkSignInAllowed(context, email);
    auto rows = service.database().query(
        "SELECT u.id, a.password FROM \"user\" u JOIN account a ON a.user_id = u.id "
        "AND a.provider_id = 'credential' WHERE lower(u.email) = $1 AND a.password IS NOT NULL LIMIT 1",
        {email});
    bool ok = false;
    if (rows.empty()) {
        service.dummyPasswordVerify(password);
    } else {
        ok = verifyPassword(password, rows[0].str("password"));
    }
    if (!ok) {
        service.recordSignInFailure(context, email);
        throw ApiError::unauthenticated("Invalid email or password");
    }
    service.recordSignInSuccess(email);
    std::string userId = rows[0].str("id");
    auto [session, user] = service.database().transaction([&](db::Transaction& tx) {
        acceptPendingInvitations(tx, userId, email);
        auto s = service.createSession(tx, userId, context.clientAddress(), context.header("User-Agent"));
        return std::make_pair(s, userById(tx, userId));
    });
    service.setSessionCookie(context, session.token, rememberMe);
    context.sendJson(200, {{"redirect", false}, {"token", session.token}, {"url", nullptr}, {"user", user}});
}

void signUp(AuthService& service, Context& context) {
    rejectForeignOrigin(service, context);
    const json& body = context.jsonObject();
    if (service.options().disableBasicAuth)
        throw ApiError::forbidden(
            "Password sign-up is disabled (ARCHESTRA_AUTH_DISABLE_BASIC_AUTH); sign in with single sign-on");
    std::string name = requiredStringField(body, "name");
    std::string email = normalizedEmail(requiredStringField(body, "email"));
    std::string password = requiredStringField(body, "password");
    std::string invitationId =
        invitationIdFromCallback(optionalStringField(body, "callbackURL").value_or(""));
    if (invitationId.empty())
        throw ApiError::forbidden("Direct sign-up is disabled. You need an invitation to create an account.");
    if (email.find('@') == std::string::npos)
        throw ApiError::badRequest("Field 'email': expected an email address, got '" + email + "'");
    checkNewPassword("password", password);
    std::string hash = hashPassword(password);  // outside the transaction: scrypt is slow

    auto [session, user] = service.database().transaction([&](db::Transaction& tx) {
        auto invitation = tx.query(
            "SELECT id, organization_id, lower(email) AS email, coalesce(role, 'member') AS role, status, "
            "expires_at > now() AS live FROM invitation WHERE id = $1 FOR UPDATE",
            {invitationId});
        if (invitation.empty())
            throw ApiError::badRequest("Invitation '" + invitationId + "' does not exist");
        if (invitation[0].str("status") != "pending")
            throw ApiError::badRequest("Invitation '" + invitationId + "' is " + invitation[0].str("status") +
                                       ", not pending");
        if (!invitation[0].boolean("live"))
            throw ApiError::badRequest("Invitation '" + invitationId + "' has expired");
        if (invitation[0].str("email") != email)
            throw ApiError::badRequest("Field 'email': this invitation is for another email address");
        if (!tx.query("SELECT 1 FROM \"user\" WHERE lower(email) = $1", {email}).empty())
            throw ApiError::conflict("User already exists: sign in instead");
        std::string userId = db::newTextId();
        tx.execute("INSERT INTO \"user\" (id, name, email, email_verified) VALUES ($1, $2, $3, false)",
                   {userId, name, email});
        tx.execute(
            "INSERT INTO account (id, account_id, provider_id, user_id, password) VALUES ($1, $2, "
            "'credential', $2, $3)",
            {db::newTextId(), userId, hash});
        acceptPendingInvitations(tx, userId, email);
        auto s = service.createSession(tx, userId, context.clientAddress(), context.header("User-Agent"));
        return std::make_pair(s, userById(tx, userId));
    });
    service.setSessionCookie(context, session.token, true);
    context.sendJson(200, {{"token", session.token}, {"user", user}});
}

void signOut(AuthService& service, Context& context) {
    std::string token = service.sessionTokenFromCookie(context);
    if (!token.empty()) {
        service.requireTrustedOrigin(context);
        service.deleteSession(token);
    }
    service.clearSessionCookie(context);
    context.sendJson(200, {{"success", true}});
}

void getSession(AuthService& service, Context& context) {
    std::string token = service.sessionTokenFromCookie(context);
    if (token.empty()) {
        context.sendJson(200, nullptr);
        return;
    }
    auto rows = service.database().query(
        "SELECT s.id, " + isoSql("s.expires_at") + " AS expires_at, " + isoSql("s.created_at") +
            " AS created_at, " + isoSql("s.updated_at") +
            " AS updated_at, s.ip_address, s.user_agent, s.active_organization_id, "
            "s.impersonated_by, " +
            userColumnsSql("u") +
            " FROM session s JOIN \"user\" u ON u.id = s.user_id WHERE s.token = $1 AND s.expires_at > now()",
        {sha256Base64Url(token)});
    if (rows.empty()) {
        context.sendJson(200, nullptr);
        return;
    }
    const auto& row = rows[0];
    json session = {{"id", row.str("id")},
                    {"token", token},
                    {"userId", row.str("user_id")},
                    {"expiresAt", row.str("expires_at")},
                    {"createdAt", row.str("created_at")},
                    {"updatedAt", row.str("updated_at")},
                    {"ipAddress", nullableString(row, "ip_address")},
                    {"userAgent", nullableString(row, "user_agent")},
                    {"activeOrganizationId", nullableString(row, "active_organization_id")},
                    {"impersonatedBy", nullableString(row, "impersonated_by")}};
    context.sendJson(200, {{"session", session}, {"user", userJson(row)}});
}

void changePassword(AuthService& service, Context& context) {
    const auto& principal = context.requirePrincipal();
    const json& body = context.jsonObject();
    std::string current = requiredStringField(body, "currentPassword");
    std::string next = requiredStringField(body, "newPassword");
    bool revokeOthers = optionalBoolField(body, "revokeOtherSessions").value_or(false);
    checkNewPassword("newPassword", next);
    auto rows = service.database().query(
        "SELECT id, password FROM account WHERE user_id = $1 AND provider_id = 'credential' LIMIT 1",
        {principal.userId});
    if (rows.empty() || !verifyPassword(current, rows[0].str("password")))
        throw ApiError::badRequest("Field 'currentPassword': the password is not correct");
    std::string hash = hashPassword(next);
    service.database().execute("UPDATE account SET password = $2, updated_at = now() WHERE id = $1",
                               {rows[0].str("id"), hash});
    if (revokeOthers) {
        service.database().execute("DELETE FROM session WHERE user_id = $1 AND id <> $2",
                                   {principal.userId, principal.sessionId});
        service.forgetUser(principal.userId);
    }
    json user = service.database().withConnection(
        [&](db::Connection& conn) { return userById(conn, principal.userId); });
    context.sendJson(200, {{"token", nullptr}, {"user", user}});
}

// ---- API keys

void createApiKey(AuthService& service, Context& context) {
    const auto& principal = context.requirePrincipal();
    const json& body = context.jsonObject();
    auto name = optionalStringField(body, "name");
    if (name && name->size() > 64) throw ApiError::badRequest("Field 'name': expected at most 64 characters");
    auto expiresIn = expiresInField(body);
    json metadata = body.contains("metadata") ? body["metadata"] : json(nullptr);
    std::string key = "archestra_" + randomLetters(64);
    // Full access of the user's role: the key acts as its user, so the permission check uses the role.
    auto rows = service.database().query(
        "INSERT INTO apikey (id, name, start, prefix, key, user_id, enabled, rate_limit_enabled, "
        "request_count, "
        "expires_at, metadata, permissions) VALUES ($1, $2, $3, 'archestra_', $4, $5, true, false, 0, "
        "CASE WHEN $6::bigint IS NULL THEN NULL ELSE now() + $6::bigint * interval '1 second' END, $7, NULL) "
        "RETURNING " +
            apiKeyColumnsSql(),
        {db::newTextId(), name, key.substr(0, 14), sha256Base64Url(key), principal.userId,
         expiresIn ? db::Value(std::to_string(*expiresIn)) : std::nullopt,
         metadata.is_null() ? std::nullopt : db::Value(metadata.dump())});
    json out = apiKeyJson(rows[0]);
    out["key"] = key;
    context.sendJson(200, out);
}

void listApiKeys(AuthService& service, Context& context) {
    const auto& principal = context.requirePrincipal();
    auto rows = service.database().query(
        "SELECT " + apiKeyColumnsSql() + " FROM apikey WHERE user_id = $1 ORDER BY created_at DESC, id",
        {principal.userId});
    json out = json::array();
    for (const auto& row : rows) out.push_back(apiKeyJson(row));
    context.sendJson(200, out);
}

void getApiKey(AuthService& service, Context& context) {
    const auto& principal = context.requirePrincipal();
    auto id = context.query("id");
    if (!id || id->empty()) throw ApiError::badRequest("Query parameter 'id': expected the API key id");
    auto rows = service.database().query(
        "SELECT " + apiKeyColumnsSql() + " FROM apikey WHERE id = $1 AND user_id = $2",
        {*id, principal.userId});
    if (rows.empty()) throw ApiError::notFound("API Key not found");
    context.sendJson(200, apiKeyJson(rows[0]));
}

void updateApiKey(AuthService& service, Context& context) {
    const auto& principal = context.requirePrincipal();
    const json& body = context.jsonObject();
    std::string keyId = requiredStringField(body, "keyId");
    auto name = optionalStringField(body, "name");
    auto enabled = optionalBoolField(body, "enabled");
    auto expiresIn = expiresInField(body);
    auto rows = service.database().query(
        "UPDATE apikey SET name = coalesce($3, name), enabled = coalesce($4::boolean, enabled), "
        "expires_at = CASE WHEN $5::bigint IS NULL THEN expires_at ELSE now() + $5::bigint * interval '1 "
        "second' END, "
        "updated_at = now() WHERE id = $1 AND user_id = $2 RETURNING key, " +
            apiKeyColumnsSql(),
        {keyId, principal.userId, name, enabled ? db::Value(*enabled ? "true" : "false") : std::nullopt,
         expiresIn ? db::Value(std::to_string(*expiresIn)) : std::nullopt});
    if (rows.empty()) throw ApiError::notFound("API Key not found");
    service.forgetKeyHash(rows[0].str("key"));
    context.sendJson(200, apiKeyJson(rows[0]));
}

void deleteApiKey(AuthService& service, Context& context) {
    const auto& principal = context.requirePrincipal();
    std::string keyId = requiredStringField(context.jsonObject(), "keyId");
    auto rows = service.database().query("DELETE FROM apikey WHERE id = $1 AND user_id = $2 RETURNING key",
                                         {keyId, principal.userId});
    if (rows.empty()) throw ApiError::notFound("API Key not found");
    service.forgetKeyHash(rows[0].str("key"));
    context.sendJson(200, {{"success", true}});
}

// ---- public status

/// Checking the default password is a scrypt run; the public endpoint caches the answer briefly so it cannot
/// be used to burn CPU.
class DefaultCredentialsStatus {
  public:
    bool enabled(AuthService& service) {
        const auto& options = service.options();
        if (normalizedEmail(options.adminEmail) != normalizedEmail(options.defaultAdminEmail)) return false;
        std::lock_guard lock(_mutex);
        auto now = std::chrono::steady_clock::now();
        if (_validUntil > now) return _enabled;
        auto rows = service.database().query(
            "SELECT a.password FROM \"user\" u JOIN account a ON a.user_id = u.id AND a.provider_id = "
            "'credential' "
            "WHERE lower(u.email) = $1 AND a.password IS NOT NULL LIMIT 1",
            {normalizedEmail(options.adminEmail)});
        _enabled = !rows.empty() && verifyPassword("password", rows[0].str("password"));
        _validUntil = now + options.cacheTtl;
        return _enabled;
    }

  private:
    std::mutex _mutex;
    bool _enabled = false;
    std::chrono::steady_clock::time_point _validUntil{};
};

}  // namespace

void registerAuthRoutes(http::Router& router, std::shared_ptr<AuthService> service) {
    using namespace schema;
    auto& svc = *service;
    const std::string tag = "auth";
    json signInResponse = object(
        {{"redirect", boolean()}, {"token", string()}, {"url", nullableString()}, {"user", userSchema()}},
        {"redirect", "token", "user"});

    router.add({.method = "POST",
                .path = "/api/auth/sign-in/email",
                .operationId = "signInEmail",
                .tag = tag,
                .summary = "Sign in with email and password; sets the session cookie",
                .access = Access::publicRoute(),
                .requestBody = object({{"email", string()},
                                       {"password", string()},
                                       {"rememberMe", boolean()},
                                       {"callbackURL", string()}},
                                      {"email", "password"}),
                .response = signInResponse,
                .maxBodyBytes = 16384},
               [service](Context& c) { signIn(*service, c); });
    router.add(
        {.method = "POST",
         .path = "/api/auth/sign-up/email",
         .operationId = "signUpEmail",
         .tag = tag,
         .summary = "Create an account from a pending invitation (invitationId in callbackURL)",
         .access = Access::publicRoute(),
         .requestBody = object(
             {{"name", string()}, {"email", string()}, {"password", string()}, {"callbackURL", string()}},
             {"name", "email", "password", "callbackURL"}),
         .response = object({{"token", string()}, {"user", userSchema()}}, {"token", "user"}),
         .maxBodyBytes = 16384},
        [service](Context& c) { signUp(*service, c); });
    router.add({.method = "POST",
                .path = "/api/auth/sign-out",
                .operationId = "signOut",
                .tag = tag,
                .summary = "End the current session and clear the cookie",
                .access = Access::publicRoute(),
                .response = success()},
               [service](Context& c) { signOut(*service, c); });
    router.add({.method = "GET",
                .path = "/api/auth/get-session",
                .operationId = "getSession",
                .tag = tag,
                .summary = "The current session and user, or null",
                .access = Access::publicRoute(),
                .response = nullable(object(
                    {{"session", object({{"id", string()}, {"userId", string()}, {"expiresAt", dateTime()}})},
                     {"user", userSchema()}}))},
               [service](Context& c) { getSession(*service, c); });
    router.add(
        {.method = "POST",
         .path = "/api/auth/change-password",
         .operationId = "changePassword",
         .tag = tag,
         .summary = "Change the caller's password",
         .access = Access::authenticated(),
         .requestBody = object(
             {{"currentPassword", string()}, {"newPassword", string()}, {"revokeOtherSessions", boolean()}},
             {"currentPassword", "newPassword"}),
         .response = object({{"token", nullableString()}, {"user", userSchema()}})},
        [service](Context& c) { changePassword(*service, c); });

    router.add(
        {.method = "POST",
         .path = "/api/auth/api-key/create",
         .operationId = "createApiKey",
         .tag = tag,
         .summary = "Create an API key for the caller; the key is returned only here",
         .access = Access::authenticated(),
         .requestBody = object({{"name", string()}, {"expiresIn", nullable(integer())}, {"metadata", {}}}),
         .response = apiKeySchema(true)},
        [service](Context& c) { createApiKey(*service, c); });
    router.add({.method = "GET",
                .path = "/api/auth/api-key/list",
                .operationId = "listApiKeys",
                .tag = tag,
                .summary = "The caller's API keys (never the keys themselves)",
                .access = Access::authenticated(),
                .response = array(apiKeySchema(false))},
               [service](Context& c) { listApiKeys(*service, c); });
    router.add({.method = "GET",
                .path = "/api/auth/api-key/get",
                .operationId = "getApiKey",
                .tag = tag,
                .summary = "One of the caller's API keys",
                .access = Access::authenticated(),
                .response = apiKeySchema(false),
                .query = {{"id", string(), true, "API key id"}}},
               [service](Context& c) { getApiKey(*service, c); });
    router.add({.method = "POST",
                .path = "/api/auth/api-key/update",
                .operationId = "updateApiKey",
                .tag = tag,
                .summary = "Rename, enable/disable or re-date one of the caller's API keys",
                .access = Access::authenticated(),
                .requestBody = object({{"keyId", string()},
                                       {"name", string()},
                                       {"enabled", boolean()},
                                       {"expiresIn", nullable(integer())}},
                                      {"keyId"}),
                .response = apiKeySchema(false)},
               [service](Context& c) { updateApiKey(*service, c); });
    router.add({.method = "POST",
                .path = "/api/auth/api-key/delete",
                .operationId = "deleteApiKey",
                .tag = tag,
                .summary = "Delete one of the caller's API keys",
                .access = Access::authenticated(),
                .requestBody = object({{"keyId", string()}}, {"keyId"}),
                .response = success()},
               [service](Context& c) { deleteApiKey(*service, c); });

    auto defaults = std::make_shared<DefaultCredentialsStatus>();
    router.add({.method = "GET",
                .path = "/api/auth/default-credentials-status",
                .operationId = "getDefaultCredentialsStatus",
                .tag = tag,
                .summary = "Whether the seeded admin still has the default email and password",
                .access = Access::publicRoute(),
                .response = object({{"enabled", boolean()}}, {"enabled"})},
               [service, defaults](Context& c) {
                   c.sendJson(200, {{"enabled", defaults->enabled(*service)}});
               });

    router.add({.method = "GET",
                .path = "/api/features",
                .operationId = "getFeatures",
                .tag = "Features",
                .summary = "Feature flags the UI needs before sign-in",
                .access = Access::publicRoute(),
                .response = object({{"orchestrator-k8s-runtime", boolean()},
                                    {"orchestrator", string()},
                                    {"basicAuthDisabled", boolean()},
                                    {"invitationsDisabled", boolean()},
                                    {"enterprise", boolean()},
                                    {"analytics", boolean()}},
                                   {"orchestrator-k8s-runtime"})},
               [service](Context& c) {
                   const auto& o = service->options();
                   std::string orchestrator = service->activeOrchestrator();
                   c.sendJson(200, {{"orchestrator-k8s-runtime", orchestrator == "kubernetes"},
                                    {"orchestrator", orchestrator},
                                    {"basicAuthDisabled", o.disableBasicAuth},
                                    {"invitationsDisabled", o.disableInvitations},
                                    {"enterprise", o.enterprise},
                                    {"analytics", o.analytics}});
               });
    (void)svc;
}

}  // namespace archestra::auth
