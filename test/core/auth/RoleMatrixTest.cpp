// Walks EVERY /api route that app::registerRoutes declares, against the real archestra-platform process, as
// anonymous, member, editor and admin (session cookies) and as member/admin API keys, and checks 401 / 403 /
// allowed against the permission table and RouteAccessTable.h.
#include "RouteAccessTable.h"

#include "core/app/Platform.h"
#include "core/app/Routes.h"
#include "core/auth/Permissions.h"
#include "core/auth/Tokens.h"
#include "core/db/Database.h"
#include "core/db/Seed.h"
#include "core/secrets/PluginSecretStore.h"
#include "support/HttpTestClient.h"
#include "support/PlatformProcess.h"
#include "support/TestPostgres.h"

#include <cppunit/extensions/HelperMacros.h>
#include <nlohmann/json.hpp>

using namespace archestra;
using archestra::test::httpRequest;
using nlohmann::json;

namespace {

const char* kSecret = "matrix-secret-0123456789-0123456789-abcdef";
const std::string kUnauthenticated =
    R"({"error":{"message":"Unauthenticated","type":"api_authentication_error"}})";
const std::string kAccessDenied = "Forbidden: this needs the '";  // the access layer's 403, not a handler's

struct Caller {
    std::string name;
    std::string role;  ///< empty: anonymous
    std::string userId;
    bool apiKey = false;
    std::string credential;  ///< session token or API key
};

std::string describe(const http::Access& access) {
    switch (access.kind) {
        case http::Access::Kind::Public:
            return "public";
        case http::Access::Kind::Authenticated:
            return "authenticated";
        case http::Access::Kind::Permission:
            return access.resource + ":" + access.action;
        default:
            return "invalid";
    }
}

std::string concretePath(const http::RouteSpec& spec) {
    std::string out;
    for (const auto& segment : http::splitPath(spec.path)) {
        std::string part = segment;
        auto open = part.find('{');
        if (part == "*") {
            part = "probe";
        } else if (open != std::string::npos) {
            auto close = part.find('}', open);
            std::string name = part.substr(open + 1, close - open - 1);
            bool uuid =
                std::find(spec.uuidParams.begin(), spec.uuidParams.end(), name) != spec.uuidParams.end();
            part = part.substr(0, open) + (uuid ? "3f0c6d7e-1b2a-4c5d-8e9f-0a1b2c3d4e5f" : "matrix-probe") +
                   part.substr(close + 1);
        }
        out += "/" + part;
    }
    return out;
}

}  // namespace

class RoleMatrixTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(RoleMatrixTest);
    CPPUNIT_TEST(testEveryRouteWithEveryCaller);
    CPPUNIT_TEST_SUITE_END();

  public:
    void testEveryRouteWithEveryCaller() {
        auto& postgres = test::TestPostgres::shared();
        std::string connection = postgres.createDatabase("role_matrix");
        std::map<std::string, std::string> env = {
            {"ARCHESTRA_DATABASE_URL", postgres.url("role_matrix")},
            {"ARCHESTRA_AUTH_SECRET", kSecret},
            {"ARCHESTRA_ENTERPRISE_LICENSE_ACTIVATED", "true"},
            // Nothing may leave the machine, whatever a handler does with its probe request.
            {"ARCHESTRA_OPENAI_BASE_URL", "http://127.0.0.1:9"},
            {"ARCHESTRA_ANTHROPIC_BASE_URL", "http://127.0.0.1:9"},
            {"ARCHESTRA_GEMINI_BASE_URL", "http://127.0.0.1:9"},
            {"ARCHESTRA_ORCHESTRATOR", "local"}};

        // The same route declarations the binary builds, enumerated in-process.
        app::Platform platform;
        std::map<std::string, std::string> settingsEnv = env;
        platform.settings = config::Settings::forTest(settingsEnv);
        platform.database = std::make_unique<db::Database>(connection, 2);
        platform.authSecret = kSecret;
        // The process under test has a secrets backend, so it serves /api/secrets and /api/tokens; a store
        // without a backend makes this in-process platform declare those routes too.
        platform.secrets = std::make_shared<secrets::PluginSecretStore>(nullptr, secrets::SecretsSelection{},
                                                                        "route declarations only");
        app::registerRoutes(platform);

        test::PlatformProcess process(env);
        process.start();
        CPPUNIT_ASSERT_MESSAGE(process.output(), process.waitReady(90000));
        db::Database& db = *platform.database;
        std::string adminId =
            db.query("SELECT user_id FROM member WHERE role = 'admin' LIMIT 1")[0].str("user_id");

        std::vector<Caller> callers = {{"anonymous", "", "", false, ""}};
        for (const std::string role : {"member", "editor"}) {
            std::string id = db::newTextId();
            db.execute("INSERT INTO \"user\" (id, name, email) VALUES ($1, $1, $2)",
                       {id, role + "@matrix.test"});
            db.execute(
                "INSERT INTO member (id, organization_id, user_id, role) VALUES ($1, 'default-org', $2, $3)",
                {db::newTextId(), id, role});
            callers.push_back({role + " (cookie)", role, id, false, auth::randomAlphanumeric(32)});
        }
        callers.push_back({"admin (cookie)", "admin", adminId, false, auth::randomAlphanumeric(32)});
        callers.push_back(
            {"member (API key)", "member", callers[1].userId, true, "archestra_" + auth::randomLetters(64)});
        callers.push_back(
            {"admin (API key)", "admin", adminId, true, "archestra_" + auth::randomLetters(64)});

        // (Re)creates the caller's credential: a probe may sign the caller out or delete its key.
        auto ensureCredential = [&](const Caller& caller) {
            if (caller.role.empty()) return;
            std::string hash = auth::sha256Base64Url(caller.credential);
            if (caller.apiKey)
                db.execute(
                    "INSERT INTO apikey (id, name, key, user_id) SELECT $1, 'matrix', $2, $3 "
                    "WHERE NOT EXISTS (SELECT 1 FROM apikey WHERE key = $2)",
                    {db::newTextId(), hash, caller.userId});
            else
                db.execute(
                    "INSERT INTO session (id, token, user_id, expires_at) VALUES ($1, $2, $3, now() + "
                    "interval '7 days') ON CONFLICT (token) DO NOTHING",
                    {db::newTextId(), hash, caller.userId});
        };

        const auto& table = test::expectedRouteAccess();
        std::vector<std::string> failures;
        int checked = 0, routes = 0;
        for (const auto& route : platform.apiRouter.routes()) {
            const auto& spec = route->spec;
            if (spec.path.rfind("/api/", 0) != 0)
                continue;  // /v1 proxy and gateway check their own credentials
            ++routes;
            std::string key = spec.method + " " + spec.path;
            auto expected = table.find(key);
            if (expected == table.end()) {
                failures.push_back(key + ": not in test/core/auth/RouteAccessTable.h (declared " +
                                   describe(spec.access) + ")");
                continue;
            }
            if (expected->second != describe(spec.access)) {
                failures.push_back(key + ": declared " + describe(spec.access) + ", table says " +
                                   expected->second);
                continue;
            }
            std::string path = concretePath(spec);
            std::string body = spec.method == "GET" || spec.method == "DELETE" ? "" : "{}";
            for (const auto& caller : callers) {
                ensureCredential(caller);
                std::map<std::string, std::string> headers = {{"Origin", "http://localhost:3000"},
                                                              {"Content-Type", "application/json"}};
                if (!caller.role.empty()) {
                    if (caller.apiKey)
                        headers["Authorization"] = caller.credential;
                    else
                        headers["Cookie"] =
                            "archestra.session_token=" + auth::signCookieValue(caller.credential, kSecret);
                }
                auto result = httpRequest(process.apiPort(), spec.method == "*" ? "GET" : spec.method, path,
                                          body, headers);
                ++checked;
                bool unauthenticated = result.status == 401 && result.body == kUnauthenticated;
                bool denied = result.status == 403 && result.body.find(kAccessDenied) != std::string::npos;
                std::string want;
                if (spec.access.kind == http::Access::Kind::Public)
                    want = "allowed";
                else if (caller.role.empty())
                    want = "401";
                else if (spec.access.kind == http::Access::Kind::Authenticated)
                    want = "allowed";
                else
                    want = auth::allows(auth::builtInPermissions(caller.role), spec.access.resource,
                                        spec.access.action)
                               ? "allowed"
                               : "403";
                bool ok = want == "401"   ? unauthenticated
                          : want == "403" ? denied
                                          : !unauthenticated && !denied;
                if (!ok)
                    failures.push_back(key + " as " + caller.name + ": expected " + want + ", got " +
                                       std::to_string(result.status) + " " + result.body.substr(0, 200));
            }
        }
        std::string report;
        for (const auto& f : failures) report += f + "\n";
        CPPUNIT_ASSERT_MESSAGE(report, failures.empty());
        std::string stale;
        for (const auto& [key, access] : table) {
            bool found = false;
            for (const auto& route : platform.apiRouter.routes())
                found |= route->spec.method + " " + route->spec.path == key;
            if (!found) stale += key + "\n";
        }
        CPPUNIT_ASSERT_MESSAGE("in RouteAccessTable.h but not registered:\n" + stale, stale.empty());
        CPPUNIT_ASSERT(checked >= routes * static_cast<int>(callers.size()));
        // Every entry of the table is a registered route (no stale rows that would hide a removed
        // declaration).
        for (const auto& [key, access] : table) {
            bool found = false;
            for (const auto& route : platform.apiRouter.routes())
                found |= route->spec.method + " " + route->spec.path == key;
            CPPUNIT_ASSERT_MESSAGE(key + " is in RouteAccessTable.h but not registered", found);
        }
        CPPUNIT_ASSERT_EQUAL(0, process.terminate());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(RoleMatrixTest);
