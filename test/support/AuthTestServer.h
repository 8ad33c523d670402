// AuthTestServer: a real PostgreSQL database (migrated, seeded) plus the auth, member, team and organisation
// routes behind a Dispatcher with the real AuthService, on an HttpListener at 127.0.0.1. Header-only, so only
// tests that use it link archestra_auth and archestra_api. Other modules' route tests can register their
// routes on router() before start().
#pragma once

#include "core/api/OrganizationApi.h"
#include "core/api/TeamsApi.h"
#include "core/auth/AuthRoutes.h"
#include "core/auth/AuthService.h"
#include "core/auth/Password.h"
#include "core/auth/Tokens.h"
#include "core/db/Database.h"
#include "core/db/Migrator.h"
#include "core/db/Seed.h"
#include "core/http/Dispatcher.h"
#include "core/http/HttpListener.h"
#include "support/HttpTestClient.h"
#include "support/TestPostgres.h"

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <stdexcept>
#include <string>

namespace archestra::test {

class AuthTestServer {
  public:
    static constexpr const char* kSecret = "test-secret-0123456789-0123456789-abcdef";
    static constexpr const char* kAdminEmail = "admin@localhost.ai";
    static constexpr const char* kAdminPassword = "password";

    /// `database` names a fresh database in the shared test server; `configure` adjusts the options.
    explicit AuthTestServer(const std::string& database, auth::AuthOptions options = defaultOptions()) {
        std::string connection = TestPostgres::shared().createDatabase(database);
        _db = std::make_unique<db::Database>(connection, 8);
        db::Migrator(*_db, db::Migrator::defaultMigrationsDir()).migrate();
        _seed = db::seed(*_db, options.adminEmail, kAdminPassword);
        _auth = std::make_shared<auth::AuthService>(*_db, options);
        auth::registerAuthRoutes(_router, _auth);
        auth::registerMemberRoutes(_router, _auth);
        api::registerTeamRoutes(_router, _auth);
        api::registerOrganizationRoutes(_router, _auth);
    }
    ~AuthTestServer() {
        if (_listener) _listener->stop(1000);
    }

    static auth::AuthOptions defaultOptions() {
        auth::AuthOptions o;
        o.secret = kSecret;
        o.adminEmail = kAdminEmail;
        return o;
    }

    http::Router& router() { return _router; }
    void start() {
        http::DispatcherOptions options;
        if (_auth->options().frontendUrlExplicit) options.cors.origins = {_auth->options().frontendUrl};
        _dispatcher = std::make_unique<http::Dispatcher>(_router, options);
        _dispatcher->setAuthenticator(_auth);
        http::ListenerOptions listen;
        listen.name = "api";
        listen.address = "127.0.0.1";
        listen.maxThreads = 8;
        _listener = std::make_unique<http::HttpListener>(listen, *_dispatcher);
        _listener->start();
    }
    int port() const { return _listener->port(); }
    db::Database& db() { return *_db; }
    auth::AuthService& auth() { return *_auth; }
    const db::SeedResult& seeded() const { return _seed; }
    std::string origin() const {
        return _auth->options().frontendUrlExplicit ? _auth->options().frontendUrl : "http://localhost:3000";
    }

    /// A user with a password credential and a membership of the default organisation.
    std::string createUser(const std::string& email, const std::string& role,
                           const std::string& password = "") {
        std::string id = db::newTextId();
        _db->execute("INSERT INTO \"user\" (id, name, email) VALUES ($1, $2, $3)",
                     {id, "User " + role, email});
        if (!password.empty())
            _db->execute(
                "INSERT INTO account (id, account_id, provider_id, user_id, password) VALUES "
                "($1, $2, 'credential', $2, $3)",
                {db::newTextId(), id, auth::hashPassword(password)});
        _db->execute("INSERT INTO member (id, organization_id, user_id, role) VALUES ($1, $2, $3, $4)",
                     {db::newTextId(), _seed.organizationId, id, role});
        return id;
    }

    /// A session row for `userId` (no password round trip) and its Cookie header value.
    std::string sessionCookie(const std::string& userId) {
        std::string token = auth::randomAlphanumeric(32);
        _db->execute(
            "INSERT INTO session (id, token, user_id, expires_at) VALUES ($1, $2, $3, now() + interval '7 "
            "days')",
            {db::newTextId(), auth::sha256Base64Url(token), userId});
        return _auth->sessionCookieName() + "=" + auth::signCookieValue(token, kSecret);
    }

    /// An API key row for `userId`; returns the key.
    std::string apiKey(const std::string& userId) {
        std::string key = "archestra_" + auth::randomLetters(64);
        _db->execute(
            "INSERT INTO apikey (id, name, start, prefix, key, user_id) VALUES ($1, 'test', $2, "
            "'archestra_', $3, $4)",
            {db::newTextId(), key.substr(0, 14), auth::sha256Base64Url(key), userId});
        return key;
    }

    /// Signs in through the API and returns the Cookie header value (name=value).
    std::string signIn(const std::string& email, const std::string& password) {
        auto result = httpRequest(port(), "POST", "/api/auth/sign-in/email",
                                  nlohmann::json{{"email", email}, {"password", password}}.dump(),
                                  {{"Content-Type", "application/json"}, {"Origin", origin()}});
        if (result.status != 200)
            throw std::runtime_error("sign-in of " + email + " failed: " + std::to_string(result.status) +
                                     " " + result.body);
        std::string cookie = result.header("set-cookie");
        return cookie.substr(0, cookie.find(';'));
    }

    /// A request as a browser with the session cookie (Origin = the frontend).
    HttpResult asCookie(const std::string& cookie, const std::string& method, const std::string& path,
                        const std::string& body = "") {
        std::map<std::string, std::string> headers = {{"Origin", origin()},
                                                      {"Content-Type", "application/json"}};
        if (!cookie.empty()) headers["Cookie"] = cookie;
        return httpRequest(port(), method, path, body, headers);
    }
    HttpResult asKey(const std::string& authorization, const std::string& method, const std::string& path,
                     const std::string& body = "") {
        return httpRequest(port(), method, path, body,
                           {{"Authorization", authorization}, {"Content-Type", "application/json"}});
    }

  private:
    std::unique_ptr<db::Database> _db;
    db::SeedResult _seed;
    std::shared_ptr<auth::AuthService> _auth;
    http::Router _router;
    std::unique_ptr<http::Dispatcher> _dispatcher;
    std::unique_ptr<http::HttpListener> _listener;
};

}  // namespace archestra::test
