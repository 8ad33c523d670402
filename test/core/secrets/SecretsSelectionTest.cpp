// Secrets backend selection: any-case ARCHESTRA_SECRETS_MANAGER, the enterprise flag, each auth method's
// required variables, the unprefixed HASHICORP_VAULT_* names, KV paths, and name sanitising.
#include "core/config/Settings.h"
#include "core/secrets/SecretsSelection.h"

#include <cppunit/extensions/HelperMacros.h>
#include <nlohmann/json.hpp>

using namespace archestra;
using archestra::config::Settings;
using nlohmann::json;

class SecretsSelectionTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(SecretsSelectionTest);
    CPPUNIT_TEST(testDefaultIsDatabase);
    CPPUNIT_TEST(testVaultNeedsEnterprise);
    CPPUNIT_TEST(testVaultMissingVariablesFallBack);
    CPPUNIT_TEST(testVaultSelectedAnyCaseAndUnprefixedNames);
    CPPUNIT_TEST(testAuthMethodsAndPaths);
    CPPUNIT_TEST(testSanitize);
    CPPUNIT_TEST_SUITE_END();

    static secrets::SecretsSelection select(const std::map<std::string, std::string>& env) {
        return secrets::selectSecretsBackend(Settings::load(env, nullptr), "the-auth-secret");
    }

  public:
    void testDefaultIsDatabase() {
        auto s = select({});
        CPPUNIT_ASSERT_EQUAL(std::string("db"), s.factory);
        CPPUNIT_ASSERT_EQUAL(std::string("secrets.db"), s.plugin);
        CPPUNIT_ASSERT(!s.fallbackReason);
        CPPUNIT_ASSERT_EQUAL(std::string("the-auth-secret"),
                             json::parse(s.configJson)["authSecret"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("db"), select({{"ARCHESTRA_SECRETS_MANAGER", "db"}}).factory);
    }

    void testVaultNeedsEnterprise() {
        auto s = select({{"ARCHESTRA_SECRETS_MANAGER", "Vault"},
                         {"ARCHESTRA_HASHICORP_VAULT_ADDR", "http://127.0.0.1:8200"},
                         {"ARCHESTRA_HASHICORP_VAULT_TOKEN", "t"}});
        CPPUNIT_ASSERT_EQUAL(std::string("db"), s.factory);
        CPPUNIT_ASSERT(s.fallbackReason);
        CPPUNIT_ASSERT_MESSAGE(
            *s.fallbackReason,
            s.fallbackReason->find("ARCHESTRA_ENTERPRISE_LICENSE_ACTIVATED") != std::string::npos);
    }

    void testVaultMissingVariablesFallBack() {
        auto s = select(
            {{"ARCHESTRA_SECRETS_MANAGER", "VAULT"}, {"ARCHESTRA_ENTERPRISE_LICENSE_ACTIVATED", "true"}});
        CPPUNIT_ASSERT_EQUAL(std::string("db"), s.factory);
        CPPUNIT_ASSERT(s.fallbackReason);
        CPPUNIT_ASSERT_MESSAGE(*s.fallbackReason,
                               s.fallbackReason->find("ARCHESTRA_HASHICORP_VAULT_ADDR") != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(*s.fallbackReason, s.fallbackReason->find("ARCHESTRA_HASHICORP_VAULT_TOKEN") !=
                                                      std::string::npos);
        // K8S needs a role, AWS needs a role: each named when missing.
        s = select({{"ARCHESTRA_SECRETS_MANAGER", "vault"},
                    {"ARCHESTRA_ENTERPRISE_LICENSE_ACTIVATED", "true"},
                    {"ARCHESTRA_HASHICORP_VAULT_ADDR", "http://127.0.0.1:8200"},
                    {"ARCHESTRA_HASHICORP_VAULT_AUTH_METHOD", "k8s"}});
        CPPUNIT_ASSERT(s.fallbackReason && s.fallbackReason->find("K8S_ROLE") != std::string::npos);
        s = select({{"ARCHESTRA_SECRETS_MANAGER", "vault"},
                    {"ARCHESTRA_ENTERPRISE_LICENSE_ACTIVATED", "true"},
                    {"ARCHESTRA_HASHICORP_VAULT_ADDR", "http://127.0.0.1:8200"},
                    {"ARCHESTRA_HASHICORP_VAULT_AUTH_METHOD", "AWS"}});
        CPPUNIT_ASSERT(s.fallbackReason && s.fallbackReason->find("AWS_ROLE") != std::string::npos);
    }

    void testVaultSelectedAnyCaseAndUnprefixedNames() {
        auto s = select({{"ARCHESTRA_SECRETS_MANAGER", "vAuLt"},
                         {"ARCHESTRA_ENTERPRISE_LICENSE_ACTIVATED", "true"},
                         {"HASHICORP_VAULT_ADDR", "http://127.0.0.1:8200"},
                         {"HASHICORP_VAULT_TOKEN", "unprefixed-token"}});
        CPPUNIT_ASSERT_MESSAGE(s.fallbackReason.value_or(""), !s.fallbackReason);
        CPPUNIT_ASSERT_EQUAL(std::string("vault"), s.factory);
        json config = json::parse(s.configJson);
        CPPUNIT_ASSERT_EQUAL(std::string("unprefixed-token"), config["token"].get<std::string>());
        // The prefixed name wins over the unprefixed one.
        s = select({{"ARCHESTRA_SECRETS_MANAGER", "Vault"},
                    {"ARCHESTRA_ENTERPRISE_LICENSE_ACTIVATED", "true"},
                    {"HASHICORP_VAULT_ADDR", "http://127.0.0.1:1"},
                    {"ARCHESTRA_HASHICORP_VAULT_ADDR", "http://127.0.0.1:8200"},
                    {"HASHICORP_VAULT_TOKEN", "unprefixed-token"},
                    {"ARCHESTRA_HASHICORP_VAULT_TOKEN", "prefixed-token"}});
        config = json::parse(s.configJson);
        CPPUNIT_ASSERT_EQUAL(std::string("prefixed-token"), config["token"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("http://127.0.0.1:8200"), config["address"].get<std::string>());
    }

    void testAuthMethodsAndPaths() {
        std::map<std::string, std::string> env = {{"ARCHESTRA_SECRETS_MANAGER", "Vault"},
                                                  {"ARCHESTRA_ENTERPRISE_LICENSE_ACTIVATED", "true"},
                                                  {"ARCHESTRA_HASHICORP_VAULT_ADDR", "http://127.0.0.1:8200"},
                                                  {"ARCHESTRA_HASHICORP_VAULT_TOKEN", "t"}};
        json config = json::parse(select(env).configJson);
        CPPUNIT_ASSERT_EQUAL(2, config["kvVersion"].get<int>());
        CPPUNIT_ASSERT_EQUAL(std::string("secret/data/archestra"), config["secretPath"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("secret/metadata/archestra"),
                             config["metadataPath"].get<std::string>());
        env["ARCHESTRA_HASHICORP_VAULT_KV_VERSION"] = "1";
        config = json::parse(select(env).configJson);
        CPPUNIT_ASSERT_EQUAL(std::string("secret/archestra"), config["secretPath"].get<std::string>());
        env["ARCHESTRA_HASHICORP_VAULT_AUTH_METHOD"] = "K8S";
        env["ARCHESTRA_HASHICORP_VAULT_K8S_ROLE"] = "archestra";
        config = json::parse(select(env).configJson);
        CPPUNIT_ASSERT_EQUAL(std::string("K8S"), config["authMethod"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("kubernetes"), config["k8sMountPoint"].get<std::string>());
        CPPUNIT_ASSERT(!config.contains("token"));  // a token is only passed to the token method
    }

    void testSanitize() {
        CPPUNIT_ASSERT_EQUAL(std::string("team_token_abc"), secrets::sanitizeSecretName("team-token-abc"));
        CPPUNIT_ASSERT_EQUAL(std::string("_1abc"), secrets::sanitizeSecretName("1abc"));
        CPPUNIT_ASSERT_EQUAL(std::string("secret"), secrets::sanitizeSecretName(""));
        CPPUNIT_ASSERT_EQUAL(std::string("_a_b"), secrets::sanitizeSecretName("_a b"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(64), secrets::sanitizeSecretName(std::string(100, 'x')).size());
        CPPUNIT_ASSERT_EQUAL(std::string("__"), secrets::sanitizeSecretName("é"));  // two UTF-8 bytes
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(SecretsSelectionTest);
