// Tests for Settings: precedence, validation messages, normalisation and derived values.
#include "core/config/Settings.h"

#include <Poco/AutoPtr.h>
#include <Poco/Util/MapConfiguration.h>
#include <cppunit/extensions/HelperMacros.h>

using archestra::config::Settings;
using archestra::config::SettingsException;
using archestra::config::SettingSource;

class SettingsTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(SettingsTest);
    CPPUNIT_TEST(testDefaults);
    CPPUNIT_TEST(testPrecedence);
    CPPUNIT_TEST(testBadValuesNameTheVariable);
    CPPUNIT_TEST(testSecretValueNeverPrinted);
    CPPUNIT_TEST(testEnumCaseNormalised);
    CPPUNIT_TEST(testApiPort);
    CPPUNIT_TEST(testDeploymentGuideDefaults);
    CPPUNIT_TEST(testAliases);
    CPPUNIT_TEST(testEmptyCountsAsUnset);
    CPPUNIT_TEST_SUITE_END();

    static std::string failureOf(const std::map<std::string, std::string>& env) {
        try {
            Settings::load(env, nullptr);
        } catch (const SettingsException& error) {
            return error.message();
        }
        return "";
    }

  public:
    void testDefaults() {
        Settings s = Settings::load({}, nullptr);
        CPPUNIT_ASSERT_EQUAL(std::string("admin@localhost.ai"), s.get("ARCHESTRA_AUTH_ADMIN_EMAIL"));
        CPPUNIT_ASSERT_EQUAL(std::string("archestra-metrics-secret"), s.get("ARCHESTRA_METRICS_SECRET"));
        CPPUNIT_ASSERT_EQUAL(9000, s.apiPort());
        CPPUNIT_ASSERT_EQUAL(3000, s.uiPort());
        CPPUNIT_ASSERT_EQUAL(9050, s.metricsPort());
        CPPUNIT_ASSERT(s.getBool("ARCHESTRA_ORCHESTRATOR_LOAD_KUBECONFIG_FROM_CURRENT_CLUSTER"));
        CPPUNIT_ASSERT_EQUAL(std::string("DB"), s.secretsManager());
        CPPUNIT_ASSERT(s.source("ARCHESTRA_UI_PORT") == SettingSource::Default);
        CPPUNIT_ASSERT(!s.isSet("ARCHESTRA_AUTH_SECRET"));
    }

    void testPrecedence() {
        Poco::AutoPtr<Poco::Util::MapConfiguration> file(new Poco::Util::MapConfiguration);
        file->setString("ARCHESTRA_UI_PORT", "3100");
        file->setString("ARCHESTRA_METRICS_PORT", "9100");
        Settings s = Settings::load({{"ARCHESTRA_UI_PORT", "3200"}}, file.get());
        CPPUNIT_ASSERT_EQUAL(3200, s.uiPort());
        CPPUNIT_ASSERT(s.source("ARCHESTRA_UI_PORT") == SettingSource::Environment);
        CPPUNIT_ASSERT_EQUAL(9100, s.metricsPort());
        CPPUNIT_ASSERT(s.source("ARCHESTRA_METRICS_PORT") == SettingSource::File);
    }

    void testBadValuesNameTheVariable() {
        std::string m = failureOf({{"ARCHESTRA_API_BASE_URL", "localhost:9000"}});
        CPPUNIT_ASSERT_MESSAGE(m, m.find("ARCHESTRA_API_BASE_URL") != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(m, m.find("localhost:9000") != std::string::npos);
        m = failureOf({{"ARCHESTRA_LOGGING_LEVEL", "loud"}});
        CPPUNIT_ASSERT_MESSAGE(m, m.find("ARCHESTRA_LOGGING_LEVEL") != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(m, m.find("trace, debug, info, warn, error, fatal") != std::string::npos);
        m = failureOf({{"ARCHESTRA_SECRETS_MANAGER", "S3"}});
        CPPUNIT_ASSERT_MESSAGE(m, m.find("ARCHESTRA_SECRETS_MANAGER") != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(m, m.find("DB, Vault") != std::string::npos);
        m = failureOf({{"ARCHESTRA_AUTH_DISABLE_INVITATIONS", "yes"}});
        CPPUNIT_ASSERT_MESSAGE(m, m.find("expected true or false") != std::string::npos);
        m = failureOf({{"ARCHESTRA_UI_PORT", "70000"}});
        CPPUNIT_ASSERT_MESSAGE(m, m.find("ARCHESTRA_UI_PORT") != std::string::npos);
    }

    void testSecretValueNeverPrinted() {
        std::string m = failureOf({{"ARCHESTRA_AUTH_SECRET", "short-secr"}});
        CPPUNIT_ASSERT_MESSAGE(m, m.find("ARCHESTRA_AUTH_SECRET") != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(m, m.find("at least 32 characters, got 10") != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(m, m.find("short-secr") == std::string::npos);
        Settings ok = Settings::load({{"ARCHESTRA_AUTH_SECRET", std::string(32, 'x')}}, nullptr);
        CPPUNIT_ASSERT(ok.describe().find(std::string(32, 'x')) == std::string::npos);
    }

    void testEnumCaseNormalised() {
        Settings s = Settings::load(
            {{"ARCHESTRA_SECRETS_MANAGER", "vault"}, {"ARCHESTRA_LOGGING_LEVEL", "DEBUG"}}, nullptr);
        CPPUNIT_ASSERT_EQUAL(std::string("Vault"), s.secretsManager());
        CPPUNIT_ASSERT_EQUAL(std::string("debug"), s.get("ARCHESTRA_LOGGING_LEVEL"));
    }

    /// Every "Default:" of the deployment guide's environment variable list, as the platform sees it with
    /// nothing set.
    void testDeploymentGuideDefaults() {
        const std::pair<const char*, const char*> documented[] = {
            {"ARCHESTRA_API_BASE_URL", "http://localhost:9000"},
            {"ARCHESTRA_AUTH_ADMIN_EMAIL", "admin@localhost.ai"},
            {"ARCHESTRA_AUTH_ADMIN_PASSWORD", "password"},
            {"ARCHESTRA_AUTH_DISABLE_BASIC_AUTH", "false"},
            {"ARCHESTRA_AUTH_DISABLE_INVITATIONS", "false"},
            {"ARCHESTRA_ORCHESTRATOR_K8S_NAMESPACE", "default"},
            {"ARCHESTRA_ORCHESTRATOR_MCP_SERVER_BASE_IMAGE",
             "europe-west1-docker.pkg.dev/friendly-path-465518-r6/archestra-public/mcp-server-base:0.0.3"},
            {"ARCHESTRA_ORCHESTRATOR_LOAD_KUBECONFIG_FROM_CURRENT_CLUSTER", "true"},
            {"ARCHESTRA_OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318/v1/traces"},
            {"ARCHESTRA_ANALYTICS", "enabled"},
            {"ARCHESTRA_LOGGING_LEVEL", "info"},
            {"ARCHESTRA_METRICS_SECRET", "archestra-metrics-secret"},
            {"ARCHESTRA_SECRETS_MANAGER", "DB"},
        };
        Settings s = Settings::load({}, nullptr);
        for (const auto& [name, value] : documented) {
            CPPUNIT_ASSERT_EQUAL_MESSAGE(name, std::string(value), s.get(name));
            CPPUNIT_ASSERT_MESSAGE(name, s.source(name) == SettingSource::Default);
        }
        CPPUNIT_ASSERT_EQUAL(9000, s.apiPort());
    }

    void testApiPort() {
        CPPUNIT_ASSERT_EQUAL(
            9001, Settings::load({{"ARCHESTRA_API_BASE_URL", "http://localhost:9001"}}, nullptr).apiPort());
        CPPUNIT_ASSERT_EQUAL(
            9000, Settings::load({{"ARCHESTRA_API_BASE_URL", "https://api.example.com"}}, nullptr).apiPort());
        CPPUNIT_ASSERT_EQUAL(
            8443, Settings::load({{"ARCHESTRA_API_BASE_URL", "https://api.example.com:8443/base"}}, nullptr)
                      .apiPort());
    }

    void testAliases() {
        Settings s = Settings::load({{"HASHICORP_VAULT_ADDR", "http://127.0.0.1:8200"}}, nullptr);
        CPPUNIT_ASSERT_EQUAL(std::string("http://127.0.0.1:8200"), s.get("ARCHESTRA_HASHICORP_VAULT_ADDR"));
        Settings both = Settings::load({{"HASHICORP_VAULT_ADDR", "http://127.0.0.1:8200"},
                                        {"ARCHESTRA_HASHICORP_VAULT_ADDR", "http://127.0.0.2:8200"}},
                                       nullptr);
        CPPUNIT_ASSERT_EQUAL(std::string("http://127.0.0.2:8200"),
                             both.get("ARCHESTRA_HASHICORP_VAULT_ADDR"));
    }

    void testEmptyCountsAsUnset() {
        Settings s =
            Settings::load({{"ARCHESTRA_LOGGING_LEVEL", ""}, {"ARCHESTRA_DATABASE_URL", ""}}, nullptr);
        CPPUNIT_ASSERT_EQUAL(std::string("info"), s.get("ARCHESTRA_LOGGING_LEVEL"));
        CPPUNIT_ASSERT(!s.isSet("ARCHESTRA_DATABASE_URL"));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(SettingsTest);
