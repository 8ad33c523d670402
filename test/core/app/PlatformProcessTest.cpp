// Process-level tests: the real archestra-platform binary started the way operators start it.
#include "core/BuildPaths.h"
#include "core/db/Database.h"
#include "core/db/EmbeddedPostgres.h"
#include "support/HttpTestClient.h"
#include "support/PlatformProcess.h"
#include "support/TestPostgres.h"

#include <Poco/File.h>
#include <cppunit/extensions/HelperMacros.h>
#include <nlohmann/json.hpp>

#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <thread>

using archestra::test::httpRequest;
using archestra::test::PlatformProcess;
using archestra::test::TestPostgres;

class PlatformProcessTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(PlatformProcessTest);
    CPPUNIT_TEST(testBadSettingsStopStartupWithExit2);
    CPPUNIT_TEST(testBadDatabaseUrlNamesVariableNotPassword);
    CPPUNIT_TEST(testVersionHelpAndListPlugins);
    CPPUNIT_TEST(testEmbeddedDatabaseStartHealthReadyShutdownRestart);
    CPPUNIT_TEST(testSelectedBrokenPluginStopsStartup);
    CPPUNIT_TEST(testUnselectedBrokenPluginIsSkippedAndReported);
    CPPUNIT_TEST(testUnreachableDatabaseThenRecovery);
    CPPUNIT_TEST(testTwoReplicasMigrateOnce);
    CPPUNIT_TEST_SUITE_END();

    static int runToExit(const std::map<std::string, std::string>& env, std::string& output,
                         const std::vector<std::string>& args = {}) {
        PlatformProcess process(env);
        process.start(args);
        int code = process.waitExit(30000);
        output = process.output();
        return code;
    }

  public:
    void testBadSettingsStopStartupWithExit2() {
        const std::vector<std::pair<std::string, std::string>> cases = {
            {"ARCHESTRA_API_BASE_URL", "localhost:9000"},
            {"ARCHESTRA_LOGGING_LEVEL", "loud"},
            {"ARCHESTRA_AUTH_SECRET", "0123456789"},
            {"ARCHESTRA_SECRETS_MANAGER", "S3"},
        };
        for (const auto& [name, value] : cases) {
            std::string output;
            int code = runToExit({{name, value}}, output);
            CPPUNIT_ASSERT_EQUAL_MESSAGE(name + ": " + output, 2, code);
            CPPUNIT_ASSERT_MESSAGE(output, output.find(name) != std::string::npos);
            // One line, and a secret's value is never echoed.
            CPPUNIT_ASSERT_MESSAGE(output, output.find('\n') == output.size() - 1);
            if (name == "ARCHESTRA_AUTH_SECRET")
                CPPUNIT_ASSERT_MESSAGE(output, output.find("0123456789") == std::string::npos);
            else
                CPPUNIT_ASSERT_MESSAGE(output, output.find(value) != std::string::npos);
        }
    }

    void testBadDatabaseUrlNamesVariableNotPassword() {
        std::string output;
        int code = runToExit({{"DATABASE_URL", "postgresql://user:hunter2secret@host:notaport/db"}}, output);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(output, 2, code);
        CPPUNIT_ASSERT_MESSAGE(output, output.find("DATABASE_URL") != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(output, output.find("hunter2secret") == std::string::npos);
    }

    void testVersionHelpAndListPlugins() {
        std::string output;
        CPPUNIT_ASSERT_EQUAL(0, runToExit({}, output, {"--version"}));
        CPPUNIT_ASSERT_MESSAGE(output, output.find(ARCHESTRA_VERSION) != std::string::npos);
        CPPUNIT_ASSERT_EQUAL(0, runToExit({{"ARCHESTRA_UI_PORT", "3100"}}, output, {"--help"}));
        for (const char* name :
             {"ARCHESTRA_DATABASE_URL", "ARCHESTRA_API_BASE_URL", "ARCHESTRA_AUTH_SECRET",
              "ARCHESTRA_METRICS_SECRET", "ARCHESTRA_ORCHESTRATOR_K8S_NAMESPACE",
              "ARCHESTRA_OTEL_EXPORTER_OTLP_ENDPOINT", "ARCHESTRA_DATA_DIR", "ARCHESTRA_HTTP_MAX_THREADS"})
            CPPUNIT_ASSERT_MESSAGE(name, output.find(name) != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(output, output.find("value: 3100  [env]") != std::string::npos);
        CPPUNIT_ASSERT_EQUAL(0, runToExit({{"ARCHESTRA_PLUGINS_DIR", ARCHESTRA_PLUGIN_FIXTURE_DIR}}, output,
                                          {"--list-plugins"}));
        CPPUNIT_ASSERT_MESSAGE(output, output.find("good-telemetry") != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(output, output.find("bad-abi-major") != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(output, output.find("loaded") != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(output, output.find("skipped") != std::string::npos);
    }

    void testEmbeddedDatabaseStartHealthReadyShutdownRestart() {
        std::string dataDir = "/tmp/archestra-app-test-" + std::to_string(::getpid());
        Poco::File(dataDir).createDirectories();
        std::string secret;
        for (int round = 0; round < 2; ++round) {
            PlatformProcess process({}, dataDir);
            process.start();
            CPPUNIT_ASSERT_MESSAGE(process.output(), process.waitHealthy(90000));
            auto expected = nlohmann::json{
                {"name", "Archestra Platform API"}, {"status", "ok"}, {"version", ARCHESTRA_VERSION}};
            for (int port : {process.apiPort(), process.uiPort()}) {
                auto health = httpRequest(port, "GET", "/health");
                CPPUNIT_ASSERT_EQUAL(200, health.status);
                CPPUNIT_ASSERT(nlohmann::json::parse(health.body) == expected);
            }
            auto metricsHealth = httpRequest(process.metricsPort(), "GET", "/health");
            CPPUNIT_ASSERT_EQUAL(200, metricsHealth.status);
            CPPUNIT_ASSERT(nlohmann::json::parse(metricsHealth.body) == nlohmann::json({{"status", "ok"}}));
            CPPUNIT_ASSERT_MESSAGE(process.output(), process.waitReady(90000));
            auto missing = httpRequest(process.apiPort(), "GET", "/api/definitely-not-a-route");
            CPPUNIT_ASSERT_EQUAL(404, missing.status);
            CPPUNIT_ASSERT_EQUAL(std::string("api_not_found_error"),
                                 nlohmann::json::parse(missing.body)["error"]["type"].get<std::string>());
            // The metrics listener never serves the API.
            CPPUNIT_ASSERT_EQUAL(404, httpRequest(process.metricsPort(), "GET", "/ready").status);

            struct stat info {};
            CPPUNIT_ASSERT_EQUAL(0, ::stat((dataDir + "/.auth_secret").c_str(), &info));
            CPPUNIT_ASSERT_EQUAL(0600, static_cast<int>(info.st_mode & 0777));
            std::ifstream in(dataDir + "/.auth_secret");
            std::string current((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            if (round == 0) secret = current;
            CPPUNIT_ASSERT_EQUAL(secret, current);                               // reused on restart
            CPPUNIT_ASSERT(process.output().find(secret) == std::string::npos);  // never logged

            auto started = std::chrono::steady_clock::now();
            int code = process.terminate(20000);
            double seconds =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
            CPPUNIT_ASSERT_EQUAL_MESSAGE(process.output(), 0, code);
            CPPUNIT_ASSERT_MESSAGE(std::to_string(seconds), seconds < 10.0);
        }
        Poco::File(dataDir).remove(true);
    }

    void testSelectedBrokenPluginStopsStartup() {
        std::string output;
        int code = runToExit({{"ARCHESTRA_PLUGINS_DIR", ARCHESTRA_PLUGIN_FIXTURE_DIR},
                              {"ARCHESTRA_PLUGINS_ENABLED", "telemetry.bad-abi-major"},
                              {"ARCHESTRA_DATABASE_URL", "postgresql://u:p@127.0.0.1:1/none"}},
                             output);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(output, 1, code);
        CPPUNIT_ASSERT_MESSAGE(output, output.find("bad-abi-major") != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(output, output.find("ABI") != std::string::npos);
    }

    void testUnselectedBrokenPluginIsSkippedAndReported() {
        TestPostgres& pg = TestPostgres::shared();
        PlatformProcess process({{"ARCHESTRA_PLUGINS_DIR", ARCHESTRA_PLUGIN_FIXTURE_DIR},
                                 {"ARCHESTRA_PLUGINS_ENABLED", "telemetry.good-telemetry"},
                                 {"ARCHESTRA_DATABASE_URL", pg.url(dbName("plugins"))}});
        process.start();
        CPPUNIT_ASSERT_MESSAGE(process.output(), process.waitReady(60000));
        auto ready = nlohmann::json::parse(httpRequest(process.apiPort(), "GET", "/ready").body);
        std::string detail = ready["checks"]["plugins"]["detail"].get<std::string>();
        CPPUNIT_ASSERT_MESSAGE(detail, detail.find("bad-abi-major") != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(detail, detail.find("throwing-entry") != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(detail, detail.find("good-telemetry") == std::string::npos);
        CPPUNIT_ASSERT_EQUAL(0, process.terminate());
    }

    void testUnreachableDatabaseThenRecovery() {
        TestPostgres& pg = TestPostgres::shared();
        std::string url = pg.url(dbName("recovery"));
        pg.server().stop();
        PlatformProcess process({{"ARCHESTRA_DATABASE_URL", url}});
        process.start();
        CPPUNIT_ASSERT_MESSAGE(process.output(), process.waitHealthy(30000));
        auto notReady = httpRequest(process.apiPort(), "GET", "/ready");
        CPPUNIT_ASSERT_EQUAL(503, notReady.status);
        CPPUNIT_ASSERT(nlohmann::json::parse(notReady.body)["failing"].dump().find("database") !=
                       std::string::npos);
        pg.server().start();
        CPPUNIT_ASSERT_MESSAGE(process.output(), process.waitReady(60000));
        CPPUNIT_ASSERT(process.output().find("retrying") != std::string::npos);
        // Goes away again while running: degraded but still ready (200: the proxy keeps serving and spools),
        // still alive, recovers by itself.
        pg.server().stop();
        nlohmann::json degraded;
        for (int i = 0; i < 300; ++i) {
            auto r = httpRequest(process.apiPort(), "GET", "/ready");
            degraded = nlohmann::json::parse(r.body);
            if (degraded["status"] == "degraded") {
                CPPUNIT_ASSERT_EQUAL_MESSAGE(r.body, 200, r.status);
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        CPPUNIT_ASSERT_EQUAL_MESSAGE(degraded.dump(), std::string("degraded"),
                                     degraded["status"].get<std::string>());
        CPPUNIT_ASSERT_MESSAGE(degraded.dump(),
                               degraded["degraded"].dump().find("database") != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(degraded.dump(),
                               degraded["checks"]["database"]["detail"].get<std::string>().find(
                                   "database does not answer") != std::string::npos);
        CPPUNIT_ASSERT_EQUAL(200, httpRequest(process.apiPort(), "GET", "/health").status);
        // A request that needs the database fails with a 503 JSON error instead of hanging or crashing.
        auto signIn =
            httpRequest(process.apiPort(), "POST", "/api/auth/sign-in/email",
                        R"({"email":"admin@localhost.ai","password":"password"})",
                        {{"Content-Type", "application/json"}, {"Origin", "http://localhost:3000"}});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(signIn.body, 503, signIn.status);
        CPPUNIT_ASSERT(nlohmann::json::parse(signIn.body)["error"]["message"].is_string());
        pg.server().start();
        bool recovered = false;
        for (int i = 0; i < 600 && !recovered; ++i) {
            auto r = httpRequest(process.apiPort(), "GET", "/ready");
            recovered = r.status == 200 && nlohmann::json::parse(r.body)["status"] == "ready";
            if (!recovered) std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        CPPUNIT_ASSERT_MESSAGE(process.output(), recovered);
        signIn = httpRequest(process.apiPort(), "POST", "/api/auth/sign-in/email",
                             R"({"email":"admin@localhost.ai","password":"password"})",
                             {{"Content-Type", "application/json"}, {"Origin", "http://localhost:3000"}});
        CPPUNIT_ASSERT_EQUAL_MESSAGE(signIn.body, 200, signIn.status);
        CPPUNIT_ASSERT_EQUAL(0, process.terminate());
    }

    void testTwoReplicasMigrateOnce() {
        TestPostgres& pg = TestPostgres::shared();
        std::string name = dbName("replicas");
        PlatformProcess first({{"ARCHESTRA_DATABASE_URL", pg.url(name)}});
        PlatformProcess second({{"ARCHESTRA_DATABASE_URL", pg.url(name)}});
        first.start();
        second.start();
        CPPUNIT_ASSERT_MESSAGE(first.output(), first.waitReady(60000));
        CPPUNIT_ASSERT_MESSAGE(second.output(), second.waitReady(60000));
        archestra::db::Database db(pg.connectionString(name), 2);
        auto versions =
            db.query("SELECT version, count(*) FROM schema_migrations GROUP BY version HAVING count(*) > 1");
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), versions.size());
        auto applied = db.query("SELECT count(*) FROM schema_migrations");
        CPPUNIT_ASSERT(std::stoi(applied[0].str(0)) >= 1);
        auto admins = db.query("SELECT count(*) FROM \"user\"");
        CPPUNIT_ASSERT_EQUAL(std::string("1"), admins[0].str(0));
        auto orgs = db.query("SELECT count(*) FROM organization");
        CPPUNIT_ASSERT_EQUAL(std::string("1"), orgs[0].str(0));
        CPPUNIT_ASSERT_EQUAL(0, first.terminate());
        CPPUNIT_ASSERT_EQUAL(0, second.terminate());
    }

  private:
    static std::string dbName(const std::string& base) {
        std::string name = "app_" + base;
        TestPostgres::shared().createDatabase(name);
        return name;
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(PlatformProcessTest);
