// Tests of the plugin loader against real fixture libraries: one per failure mode, plus good plugins of three
// kinds.
#include <cppunit/extensions/HelperMacros.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/plugins/HostServices.h"
#include "core/plugins/PluginManager.h"

using namespace archestra;
namespace fs = std::filesystem;

class PluginManagerTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(PluginManagerTest);
    CPPUNIT_TEST(testGoodPluginsLoadAndWork);
    CPPUNIT_TEST(testConfigIsValidatedBeforeCreate);
    CPPUNIT_TEST(testExceptionInPluginCallBecomesError);
    CPPUNIT_TEST(testOrchestratorChannelIsWrapped);
    CPPUNIT_TEST(testSecretsUseInjectedSql);
    CPPUNIT_TEST(testInstanceOutlivesManager);
    CPPUNIT_TEST(testAbiMajorMismatch);
    CPPUNIT_TEST(testManifestAbiCheckedBeforeDlopen);
    CPPUNIT_TEST(testFingerprintMismatch);
    CPPUNIT_TEST(testMissingEntryPoint);
    CPPUNIT_TEST(testThrowingEntryPoint);
    CPPUNIT_TEST(testManifestDisagreesWithBinary);
    CPPUNIT_TEST(testDuplicatePluginName);
    CPPUNIT_TEST(testDuplicateFactoryName);
    CPPUNIT_TEST(testWorldWritableLibraryRefused);
    CPPUNIT_TEST(testWorldWritableDirectoryRefused);
    CPPUNIT_TEST(testMissingDirectoryIsFineButSelectedPluginIsNot);
    CPPUNIT_TEST(testLibraryWithoutManifestIsListed);
    CPPUNIT_TEST(testBuiltinFactoriesAndTable);
    CPPUNIT_TEST_SUITE_END();

  public:
    void setUp() override {
        char tmpl[] = "/tmp/archestra-plugins-test-XXXXXX";
        CPPUNIT_ASSERT(::mkdtemp(tmpl) != nullptr);
        _root = tmpl;
        _pluginDir = _root + "/plugins";
        _dataDir = _root + "/data";
        fs::create_directories(_pluginDir);
        fs::create_directories(_dataDir);
        ::chmod(_pluginDir.c_str(), 0755);
        _host = std::make_unique<plugins::HostServices>(_dataDir);
    }
    void tearDown() override {
        _host.reset();
        std::error_code ec;
        fs::remove_all(_root, ec);
    }

    void testGoodPluginsLoadAndWork() {
        install("telemetry.good-telemetry");
        install("secrets.good-secrets");
        install("orchestrator.good-orchestrator");
        plugins::PluginManager manager(*_host);
        manager.loadDirectories({_pluginDir}, {"telemetry.good-telemetry", "secrets.good-secrets"});
        auto records = manager.records();
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), records.size());
        for (const auto& r : records) CPPUNIT_ASSERT_EQUAL_MESSAGE(r.reason, std::string("loaded"), r.status);
        CPPUNIT_ASSERT_EQUAL(std::string("good-orchestrator"), records[0].name);  // sorted by directory name
        CPPUNIT_ASSERT_EQUAL(std::string("1.0.0"), records[0].version);
        CPPUNIT_ASSERT_EQUAL(library("orchestrator.good-orchestrator"), records[0].file);

        auto exporter = manager.createTelemetry("good-telemetry", R"({"file":"spans.txt"})");
        CPPUNIT_ASSERT_MESSAGE(exporter.error().message, exporter.ok());
        sdk::Span span;
        span.name = "openai.chat.completions";
        span.trace_id = "0af7651916cd43dd8448eb211c80319c";
        CPPUNIT_ASSERT(exporter.value()->exportSpans({span}).ok());
        CPPUNIT_ASSERT_EQUAL(std::string("openai.chat.completions 0af7651916cd43dd8448eb211c80319c\n"),
                             readFile(_dataDir + "/spans.txt"));
        auto events = exporter.value()->captureEvents({});
        CPPUNIT_ASSERT(events.error().code == sdk::ErrorCode::Unimplemented);

        auto secrets = manager.createSecrets("memory", "{}");
        CPPUNIT_ASSERT(secrets.ok());
        auto created = secrets.value()->create("team-token-1", R"({"token":"t"})");
        CPPUNIT_ASSERT(created.ok());
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"token":"t"})"),
                             secrets.value()->get(created.value().id).value().value_json);
        CPPUNIT_ASSERT(secrets.value()->update(created.value().id, "{}").ok());
        CPPUNIT_ASSERT(secrets.value()->remove(created.value().id).value());
        CPPUNIT_ASSERT(secrets.value()->get(created.value().id).error().code == sdk::ErrorCode::NotFound);

        auto unknown = manager.createSecrets("vault", "{}");
        CPPUNIT_ASSERT(unknown.error().code == sdk::ErrorCode::NotFound);
        CPPUNIT_ASSERT_EQUAL(std::string("no secrets plugin named 'vault'; expected one of [memory]"),
                             unknown.error().message);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), manager.factoryNames("telemetry").size());
    }

    void testConfigIsValidatedBeforeCreate() {
        install("telemetry.good-telemetry");
        plugins::PluginManager manager(*_host);
        manager.loadDirectories({_pluginDir}, {});
        auto wrongType = manager.createTelemetry("good-telemetry", R"({"file":5})");
        CPPUNIT_ASSERT(wrongType.error().code == sdk::ErrorCode::InvalidArgument);
        CPPUNIT_ASSERT_EQUAL(std::string("config of telemetry plugin 'good-telemetry' is invalid: $.file: "
                                         "expected string, got integer 5"),
                             wrongType.error().message);
        auto missing = manager.createTelemetry("good-telemetry", "{}");
        CPPUNIT_ASSERT_EQUAL(
            std::string("config of telemetry plugin 'good-telemetry' is invalid: $: required "
                        "property 'file' is missing"),
            missing.error().message);
        auto notJson = manager.createTelemetry("good-telemetry", "{file:");
        CPPUNIT_ASSERT(notJson.error().message.rfind(
                           "config of telemetry plugin 'good-telemetry' is not valid JSON: ", 0) == 0);
    }

    void testExceptionInPluginCallBecomesError() {
        install("telemetry.good-telemetry");
        plugins::PluginManager manager(*_host);
        manager.loadDirectories({_pluginDir}, {});
        auto exporter = manager.createTelemetry("good-telemetry", R"({"file":"x","throw_on_export":true})");
        CPPUNIT_ASSERT(exporter.ok());
        auto status = exporter.value()->exportSpans({sdk::Span{}});
        CPPUNIT_ASSERT(status.error().code == sdk::ErrorCode::Internal);
        CPPUNIT_ASSERT_EQUAL(
            std::string("plugin 'telemetry.good-telemetry' threw from exportSpans: fixture export failure"),
            status.error().message);
    }

    void testOrchestratorChannelIsWrapped() {
        install("orchestrator.good-orchestrator");
        plugins::PluginManager manager(*_host);
        manager.loadDirectories({_pluginDir}, {"orchestrator.good-orchestrator"});
        auto orch = manager.createOrchestrator("echo", "{}");
        CPPUNIT_ASSERT(orch.ok());
        CPPUNIT_ASSERT(orch.value()->connect("s1").error().code == sdk::ErrorCode::NotFound);
        sdk::McpServerSpec spec;
        spec.server_id = "s1";
        auto started = orch.value()->start(spec);
        CPPUNIT_ASSERT(started.value().state == sdk::McpServerState::Running);
        auto channel = orch.value()->connect("s1");
        CPPUNIT_ASSERT(channel.ok());
        const std::string line = R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})";
        CPPUNIT_ASSERT(channel.value()->send(line).ok());
        auto received = channel.value()->receive(100);
        CPPUNIT_ASSERT(received.ok() && received.value().has_value());
        CPPUNIT_ASSERT_EQUAL(line, *received.value());
        CPPUNIT_ASSERT(!channel.value()->receive(0).value().has_value());
        channel.value()->close();
        CPPUNIT_ASSERT(channel.value()->send(line).error().code == sdk::ErrorCode::Unavailable);
        CPPUNIT_ASSERT(orch.value()->stop("s1").ok());
        CPPUNIT_ASSERT(orch.value()->status("s1").value().state == sdk::McpServerState::NotCreated);
    }

    void testSecretsUseInjectedSql() {
        install("secrets.good-secrets");
        plugins::PluginManager manager(*_host);
        manager.loadDirectories({_pluginDir}, {"secrets.good-secrets"});
        auto secrets = manager.createSecrets("memory", "{}").value();
        CPPUNIT_ASSERT(secrets->checkConnectivity().error().code == sdk::ErrorCode::Unavailable);
        _host->setSqlExecutor([](const std::string& sql, const std::vector<sdk::SqlValue>& params) {
            sdk::SqlResult r;
            r.rows = {{std::to_string(sql.size() + params.size())}};
            return sdk::Result<sdk::SqlResult>(r);
        });
        auto connectivity = secrets->checkConnectivity();
        CPPUNIT_ASSERT(connectivity.ok());
        CPPUNIT_ASSERT_EQUAL(
            std::int64_t(std::string("SELECT count(*) FROM secret WHERE name <> $1").size() + 1),
            connectivity.value().secret_count);
    }

    void testInstanceOutlivesManager() {
        install("secrets.good-secrets");
        std::shared_ptr<sdk::SecretsBackend> secrets;
        {
            plugins::PluginManager manager(*_host);
            manager.loadDirectories({_pluginDir}, {});
            secrets = manager.createSecrets("memory", "{}").value();
        }
        // The library must still be mapped: calling into it after the manager is gone must work.
        CPPUNIT_ASSERT_EQUAL(std::string("Memory"), secrets->describe().value().type);
    }

    void testAbiMajorMismatch() {
        install("telemetry.bad-abi-major");
        expectFailure("telemetry.bad-abi-major", "compiled-in ABI major is 99; expected 1 (the host's)");
    }

    void testManifestAbiCheckedBeforeDlopen() {
        // A library that is not even an ELF file: if the loader opened it, the reason would be a dlopen
        // error.
        const std::string dir = _pluginDir + "/telemetry.future";
        fs::create_directories(dir);
        ::chmod(dir.c_str(), 0755);
        writeFile(dir + "/archestra-telemetry-future.so", "not a library");
        writeFile(dir + "/plugin.json", R"({"name":"future","kind":"telemetry","version":"2.0.0",
            "abi":{"major":2,"minor":0},"file":"archestra-telemetry-future.so"})");
        const std::string reason = "plugin 'telemetry.future' (" + dir +
                                   "/plugin.json): manifest ABI major is 2; expected 1 (the host's)";
        expectOutcome("telemetry.future", reason);
    }

    void testFingerprintMismatch() {
        install("telemetry.bad-fingerprint");
        expectFailure(
            "telemetry.bad-fingerprint",
            std::string("build fingerprint is 'gcc-4.8/libstdc++-20130531/c++201103L'; expected '") +
                sdk::kBuildFingerprint + "' (the host's: same compiler, standard library and C++ standard)");
    }

    void testMissingEntryPoint() {
        install("telemetry.no-entry");
        expectFailure(
            "telemetry.no-entry",
            "does not export the entry point 'archestra_plugin_entry'; expected ARCHESTRA_PLUGIN(...) in "
            "one source file");
    }

    void testThrowingEntryPoint() {
        install("telemetry.throwing-entry");
        expectFailure("telemetry.throwing-entry",
                      "entry point returned an error: uncaught exception: fixture entry failure");
    }

    void testManifestDisagreesWithBinary() {
        install("telemetry.manifest-mismatch");
        expectFailure("telemetry.manifest-mismatch",
                      "compiled-in version is '1.0.0' but plugin.json says '9.9.9'; expected them to agree");
    }

    void testDuplicatePluginName() {
        install("telemetry.good-telemetry", "a-first");
        install("telemetry.good-telemetry", "b-second");
        const std::string first = _pluginDir + "/a-first/archestra-telemetry-good-telemetry.so";
        const std::string second = _pluginDir + "/b-second/archestra-telemetry-good-telemetry.so";
        const std::string reason =
            "plugin 'telemetry.good-telemetry' (" + second +
            "): duplicate plugin name 'telemetry.good-telemetry', already loaded from " + first +
            "; expected each plugin name once";
        {
            plugins::PluginManager manager(*_host);
            manager.loadDirectories({_pluginDir}, {});
            auto records = manager.records();
            CPPUNIT_ASSERT_EQUAL(std::size_t(2), records.size());
            CPPUNIT_ASSERT_EQUAL(std::string("loaded"), records[0].status);
            CPPUNIT_ASSERT_EQUAL(std::string("skipped"), records[1].status);
            CPPUNIT_ASSERT_EQUAL(reason, records[1].reason);
            CPPUNIT_ASSERT(manager.createTelemetry("good-telemetry", R"({"file":"f"})").ok());
        }
        plugins::PluginManager manager(*_host);
        CPPUNIT_ASSERT_THROW_MESSAGE("selected duplicate",
                                     manager.loadDirectories({_pluginDir}, {"telemetry.good-telemetry"}),
                                     plugins::PluginException);
        try {
            plugins::PluginManager again(*_host);
            again.loadDirectories({_pluginDir}, {"telemetry.good-telemetry"});
        } catch (const plugins::PluginException& e) {
            CPPUNIT_ASSERT_EQUAL("selected plugin 'telemetry.good-telemetry' failed to load: " + reason,
                                 e.message());
        }
    }

    void testDuplicateFactoryName() {
        install("secrets.good-secrets");
        install("secrets.duplicate-factory");
        plugins::PluginManager manager(*_host);
        manager.loadDirectories({_pluginDir}, {});
        auto records = manager.records();
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), records.size());
        CPPUNIT_ASSERT_EQUAL(std::string("duplicate-factory"),
                             records[0].name);  // "secrets.d..." sorts first
        CPPUNIT_ASSERT_EQUAL(std::string("loaded"), records[0].status);
        CPPUNIT_ASSERT_EQUAL(std::string("skipped"), records[1].status);
        CPPUNIT_ASSERT_EQUAL(
            "plugin 'secrets.good-secrets' (" + library("secrets.good-secrets") +
                "): registered secrets factory 'memory', but plugin 'secrets.duplicate-factory' (" +
                library("secrets.duplicate-factory") +
                ") registered that name already; expected unique names",
            records[1].reason);
    }

    void testWorldWritableLibraryRefused() {
        install("telemetry.good-telemetry");
        const std::string lib = library("telemetry.good-telemetry");
        ::chmod(lib.c_str(), 0757);
        expectFailure(
            "telemetry.good-telemetry",
            "library " + lib + " is world-writable (mode 0757); expected no write permission for others");
    }

    void testWorldWritableDirectoryRefused() {
        install("telemetry.good-telemetry");
        ::chmod(_pluginDir.c_str(), 0777);
        const std::string reason = "plugin directory " + _pluginDir + ": directory " + _pluginDir +
                                   " is world-writable (mode 0777); expected no write permission for others";
        plugins::PluginManager manager(*_host);
        manager.loadDirectories({_pluginDir}, {});
        auto records = manager.records();
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), records.size());  // nothing inside was even looked at
        CPPUNIT_ASSERT_EQUAL(std::string("skipped"), records[0].status);
        CPPUNIT_ASSERT_EQUAL(reason, records[0].reason);
        plugins::PluginManager selected(*_host);
        try {
            selected.loadDirectories({_pluginDir}, {"telemetry.good-telemetry"});
            CPPUNIT_FAIL("expected PluginException");
        } catch (const plugins::PluginException& e) {
            CPPUNIT_ASSERT_EQUAL("selected plugin 'telemetry.good-telemetry' was not found in [" +
                                     _pluginDir +
                                     "]; expected a plugin.json with that kind and name; refused: " + reason,
                                 e.message());
        }
    }

    void testMissingDirectoryIsFineButSelectedPluginIsNot() {
        plugins::PluginManager manager(*_host);
        manager.loadDirectories({_root + "/does-not-exist"}, {});
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), manager.records().size());
        try {
            manager.loadDirectories({_root + "/does-not-exist"}, {"secrets.db"});
            CPPUNIT_FAIL("expected PluginException");
        } catch (const plugins::PluginException& e) {
            CPPUNIT_ASSERT_EQUAL("selected plugin 'secrets.db' was not found in [" + _root +
                                     "/does-not-exist]; expected a plugin.json with that kind and name",
                                 e.message());
        }
    }

    void testLibraryWithoutManifestIsListed() {
        install("telemetry.good-telemetry");
        fs::remove(_pluginDir + "/telemetry.good-telemetry/plugin.json");
        plugins::PluginManager manager(*_host);
        manager.loadDirectories({_pluginDir}, {});
        auto records = manager.records();
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), records.size());
        CPPUNIT_ASSERT_EQUAL(std::string("skipped"), records[0].status);
        const std::string lib = library("telemetry.good-telemetry");
        CPPUNIT_ASSERT_EQUAL("library " + lib +
                                 " has no plugin.json naming it; expected a plugin.json with \"file\": "
                                 "\"archestra-telemetry-good-telemetry.so\" in the same directory",
                             records[0].reason);
    }

    void testBuiltinFactoriesAndTable() {
        install("telemetry.no-entry");
        plugins::PluginManager manager(*_host);
        manager.registerBuiltin("stub", "secrets", "0.1.0", [](sdk::Registrar& r) {
            sdk::SecretsFactory f;
            f.name = "stub";
            f.create = [](sdk::Host&,
                          const std::string&) -> sdk::Result<std::unique_ptr<sdk::SecretsBackend>> {
                throw std::runtime_error("stub create failure");
            };
            return r.addSecrets(std::move(f));
        });
        // A built-in registering the wrong kind is refused like a library would be.
        CPPUNIT_ASSERT_THROW(
            manager.registerBuiltin("odd", "sso", "0.1.0",
                                    [](sdk::Registrar& r) {
                                        sdk::TelemetryFactory f;
                                        f.name = "odd";
                                        f.create = [](sdk::Host&, const std::string&) {
                                            return sdk::Result<std::unique_ptr<sdk::TelemetryExporter>>(
                                                sdk::fail(sdk::ErrorCode::Internal, "x"));
                                        };
                                        return r.addTelemetry(std::move(f));
                                    }),
            plugins::PluginException);
        auto created = manager.createSecrets("stub", "{}");
        CPPUNIT_ASSERT_EQUAL(
            std::string("creating secrets plugin 'stub' failed: plugin 'secrets.stub' threw from "
                        "create: stub create failure"),
            created.error().message);
        manager.loadDirectories({_pluginDir}, {});
        const std::string table = plugins::formatPluginTable(manager.records());
        std::istringstream lines(table);
        std::string header, first, second;
        std::getline(lines, header);
        std::getline(lines, first);
        std::getline(lines, second);
        CPPUNIT_ASSERT_EQUAL(0, (int)header.rfind("NAME      KIND       VERSION  FILE", 0));
        CPPUNIT_ASSERT_EQUAL(0, (int)first.rfind("stub      secrets    0.1.0    (built-in)", 0));
        CPPUNIT_ASSERT(second.rfind("no-entry  telemetry  1.0.0    " + library("telemetry.no-entry") +
                                        "  skipped  plugin 'telemetry.no-entry'",
                                    0) == 0);
    }

  private:
    // Copies a built fixture plugin folder into the plugin directory with safe permissions.
    void install(const std::string& fixture, const std::string& as = "") {
        const fs::path from = fs::path(ARCHESTRA_PLUGIN_FIXTURE_DIR) / fixture;
        const fs::path to = fs::path(_pluginDir) / (as.empty() ? fixture : as);
        fs::create_directories(to);
        fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
        ::chmod(to.c_str(), 0755);
        for (const auto& e : fs::directory_iterator(to)) ::chmod(e.path().c_str(), 0644);
    }
    std::string library(const std::string& fixture) const {
        const auto dot = fixture.find('.');
        return _pluginDir + "/" + fixture + "/archestra-" + fixture.substr(0, dot) + "-" +
               fixture.substr(dot + 1) + ".so";
    }
    // `detail` follows "plugin '<key>' (<library>): ".
    void expectFailure(const std::string& key, const std::string& detail) {
        expectOutcome(key, "plugin '" + key + "' (" + library(key) + "): " + detail);
    }
    // Not selected: skipped and listed with `reason`. Selected: PluginException carrying `reason`.
    void expectOutcome(const std::string& key, const std::string& reason) {
        {
            plugins::PluginManager manager(*_host);
            manager.loadDirectories({_pluginDir}, {});
            auto records = manager.records();
            CPPUNIT_ASSERT_EQUAL(std::size_t(1), records.size());
            CPPUNIT_ASSERT_EQUAL(std::string("skipped"), records[0].status);
            CPPUNIT_ASSERT_EQUAL(reason, records[0].reason);
            CPPUNIT_ASSERT_EQUAL(std::size_t(0), manager.factoryNames("telemetry").size());
        }
        plugins::PluginManager manager(*_host);
        try {
            manager.loadDirectories({_pluginDir}, {key});
            CPPUNIT_FAIL("expected PluginException for selected plugin " + key);
        } catch (const plugins::PluginException& e) {
            CPPUNIT_ASSERT_EQUAL("selected plugin '" + key + "' failed to load: " + reason, e.message());
        }
        auto records = manager.records();
        CPPUNIT_ASSERT_EQUAL(std::string("failed"), records.at(0).status);
    }
    static std::string readFile(const std::string& path) {
        std::ifstream in(path);
        std::stringstream s;
        s << in.rdbuf();
        return s.str();
    }
    static void writeFile(const std::string& path, const std::string& text) {
        std::ofstream(path) << text;
        ::chmod(path.c_str(), 0644);
    }

    std::string _root, _pluginDir, _dataDir;
    std::unique_ptr<plugins::HostServices> _host;
};

CPPUNIT_TEST_SUITE_REGISTRATION(PluginManagerTest);
