// The single sign-on broker: /api/sso-providers CRUD, team external groups, the sign-in start, the OIDC
// callback and SAML assertion consumer routes; turns a provider plugin's Identity into a user, a role, team
// memberships and the same session cookie as password sign-in.
#pragma once

#include "archestra/sdk/host.h"
#include "archestra/sdk/sso.h"
#include "core/auth/AuthService.h"
#include "core/http/Router.h"

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace archestra::auth::sso {

/// Makes a provider instance from a plugin name ("oidc", "saml") and its JSON config; the app wires it to
/// PluginManager::createSso so this module does not depend on the plugin loader.
using ProviderFactory = std::function<sdk::Result<std::shared_ptr<sdk::SsoProvider>>(
    const std::string& plugin, const std::string& configJson)>;

/// Owns the cached provider instances (one per sso_provider row and config). Thread-safe.
class SsoBroker : public std::enable_shared_from_this<SsoBroker> {
  public:
    SsoBroker(std::shared_ptr<AuthService> auth, ProviderFactory factory, std::string apiBaseUrl);

    /// Adds the routes; they keep this broker alive (create it with std::make_shared).
    void registerRoutes(http::Router& router);

    /// Completes a login for the provider row `providerRowId` from an identity the plugin vouched for:
    /// user by verified email, role mapping, team sync, invitations. Returns the user id; throws ApiError
    /// (403) when the login is refused. Exposed for tests.
    std::string provisionUser(const std::string& providerRowId, const sdk::Identity& identity);

  private:
    struct Cached {
        std::string configKey;
        std::shared_ptr<sdk::SsoProvider> provider;
    };
    std::shared_ptr<sdk::SsoProvider> instanceFor(const db::Row& row);
    void forget(const std::string& rowId);
    std::string callbackUrl(const db::Row& row) const;
    std::string pluginConfig(const db::Row& row) const;

    void signInStart(http::Context& context);
    void oidcCallback(http::Context& context);
    void samlAcs(http::Context& context);
    void spMetadata(http::Context& context);
    void finish(http::Context& context, const db::Row& row, const sdk::Identity& identity,
                const std::string& callbackURL);
    void redirectError(http::Context& context, const std::string& errorURL, const std::string& code,
                       const std::string& description);

    std::shared_ptr<AuthService> _auth;
    ProviderFactory _factory;
    std::string _apiBaseUrl;
    std::mutex _mutex;
    std::map<std::string, Cached> _instances;
};

}  // namespace archestra::auth::sso
