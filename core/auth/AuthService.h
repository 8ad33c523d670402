// AuthService: who is calling (session cookie or API key), what they may do (the permission table), and the
// session, API key and sign-in throttling state behind the /api/auth routes.
#pragma once

#include "core/auth/Permissions.h"
#include "core/db/Database.h"
#include "core/http/Dispatcher.h"

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace archestra::config {
class Settings;
}

namespace archestra::auth {

/// Everything the auth module reads from configuration, resolved once.
struct AuthOptions {
    std::string secret;  ///< ARCHESTRA_AUTH_SECRET (or the generated one)
    std::string frontendUrl = "http://localhost:3000";
    bool frontendUrlExplicit = false;  ///< false: any localhost/127.0.0.1 origin is trusted
    std::string cookieDomain;          ///< ARCHESTRA_AUTH_COOKIE_DOMAIN
    bool disableBasicAuth = false;
    bool disableInvitations = false;
    bool enterprise = false;
    bool analytics =
        true;  ///< ARCHESTRA_ANALYTICS != disabled; /api/features tells the UI (no analytics code when off)
    std::string adminEmail = "admin@localhost.ai";
    std::string defaultAdminEmail =
        "admin@localhost.ai";  ///< the shipped default, for default-credentials-status

    std::chrono::seconds sessionLifetime{7 * 24 * 3600};
    std::chrono::seconds sessionRefreshAfter{24 * 3600};
    /// How long a validated session or API key is trusted without asking the database. Revocation reaches
    /// every replica within this bound.
    std::chrono::milliseconds cacheTtl{5000};
    std::chrono::hours invitationLifetime{48};

    /// Failed sign-ins allowed per account / per client address within the window, then 429.
    int maxFailuresPerAccount = 10;
    std::chrono::seconds accountWindow{15 * 60};
    int maxFailuresPerAddress = 30;
    std::chrono::seconds addressWindow{5 * 60};

    static AuthOptions fromSettings(const config::Settings& settings, const std::string& secret);
};

/// A session as stored (the raw token is only ever in the client's cookie; the table holds its hash).
struct SessionRecord {
    std::string id;
    std::string token;  ///< raw token (known when just created or read from the cookie)
    std::string userId;
};

/// The http::Authenticator of both API listeners, plus the shared state of the auth routes. Thread-safe.
class AuthService : public http::Authenticator {
  public:
    AuthService(db::Database& database, AuthOptions options);

    // ---- http::Authenticator
    std::optional<http::Principal> authenticate(http::Context& context) override;
    void authorize(const http::Principal& principal, const http::Access& access,
                   http::Context& context) override;

    // ---- permissions
    /// The permission map of `role` in `organizationId`: the built-in table, or (enterprise only) a custom
    /// role.
    PermissionMap permissionsOf(const std::string& organizationId, const std::string& role);
    bool hasPermission(const http::Principal& principal, const std::string& resource,
                       const std::string& action);

    // ---- origins and cookies
    bool isTrustedOrigin(const std::string& origin) const;
    /// 403 unless the request's Origin is trusted.
    void requireTrustedOrigin(http::Context& context) const;
    std::string sessionCookieName() const;
    /// Adds Set-Cookie for a fresh session; `rememberMe` false makes it a browser-session cookie.
    void setSessionCookie(http::Context& context, const std::string& token, bool rememberMe) const;
    void clearSessionCookie(http::Context& context) const;
    /// The raw session token of the request's cookie when its signature verifies; "" otherwise.
    std::string sessionTokenFromCookie(http::Context& context) const;

    // ---- sessions
    SessionRecord createSession(db::Connection& conn, const std::string& userId, const std::string& ipAddress,
                                const std::string& userAgent);
    /// Deletes the session with this raw token (sign-out) and forgets it here at once.
    void deleteSession(const std::string& token);
    /// Forgets every cached credential of `userId` on this replica (others follow within cacheTtl).
    void forgetUser(const std::string& userId);
    /// Forgets a cached API key by its stored hash.
    void forgetKeyHash(const std::string& keyHash);
    /// Drops every cached credential (role changes, member removal).
    void forgetAll();

    // ---- sign-in throttling (counters live in the database, shared by all replicas)
    /// Throws 429 with Retry-After when the account or the address is over its limit.
    void checkSignInAllowed(http::Context& context, const std::string& email);
    void recordSignInFailure(http::Context& context, const std::string& email);
    void recordSignInSuccess(const std::string& email);
    /// A scrypt verification against a fixed hash, so an unknown email costs the same time as a wrong
    /// password.
    void dummyPasswordVerify(const std::string& password);

    db::Database& database() { return _db; }
    const AuthOptions& options() const { return _options; }
    /// Where /api/features learns which orchestrator runs MCP servers (the MCP registry, which made the
    /// choice); set once at start-up, before the listeners open.
    void setOrchestratorSource(std::function<std::string()> source) {
        _orchestratorSource = std::move(source);
    }
    /// The active orchestrator's name, or "none" when no orchestrator could be started.
    std::string activeOrchestrator() const {
        std::string name = _orchestratorSource ? _orchestratorSource() : "";
        return name.empty() ? "none" : name;
    }

  private:
    struct CacheEntry {
        http::Principal principal;
        std::chrono::steady_clock::time_point validUntil;
    };
    std::optional<http::Principal> sessionPrincipal(http::Context& context, const std::string& token);
    std::optional<http::Principal> apiKeyPrincipal(const std::string& key);
    std::optional<http::Principal> cached(const std::string& cacheKey);
    void remember(const std::string& cacheKey, const http::Principal& principal);
    std::string cookieAttributes() const;

    db::Database& _db;
    AuthOptions _options;
    std::function<std::string()> _orchestratorSource;
    std::mutex _mutex;
    std::unordered_map<std::string, CacheEntry> _cache;  ///< "s:"+token hash or "k:"+key hash
    struct RoleEntry {
        PermissionMap permissions;
        std::chrono::steady_clock::time_point validUntil;
    };
    std::unordered_map<std::string, RoleEntry> _customRoles;  ///< org + "\n" + role
    std::once_flag _dummyHashOnce;
    std::string _dummyHash;
};

/// Rendering of rows shared by the auth routes: {id,name,email,emailVerified,image,createdAt,updatedAt,...}.
std::string userColumnsSql(const std::string& alias);
nlohmann::json userJson(const db::Row& row);

}  // namespace archestra::auth
