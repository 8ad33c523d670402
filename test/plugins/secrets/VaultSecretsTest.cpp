// secrets.vault plugin against the Vault stand-in (test/standins/vault, not a real Vault) and a real
// PostgreSQL: token, Kubernetes and AWS IAM (SigV4) auth, KV v2 and v1, renewal and re-login after expiry, a
// refused token, Vault down (503-class error, no half-written row), sanitised names in the Vault path.
#include "core/db/Migrator.h"
#include "core/secrets/SecretsFixture.h"
#include "support/HttpTestClient.h"
#include "support/TestPostgres.h"

#include <Poco/File.h>
#include <Poco/Process.h>
#include <Poco/TemporaryFile.h>
#include <cppunit/extensions/HelperMacros.h>

#include <cstdlib>
#include <fstream>
#include <thread>

using namespace archestra;
using nlohmann::json;

namespace {

/// One stand-in process on a free port; killed in the destructor.
class VaultStandIn {
  public:
    explicit VaultStandIn(std::vector<std::string> extra) : _port(test::freePort()) {
        std::vector<std::string> args = {
            std::string(ARCHESTRA_SOURCE_DIR) + "/test/standins/vault/vault-standin.mjs", "--port",
            std::to_string(_port)};
        args.insert(args.end(), extra.begin(), extra.end());
        _handle = std::make_unique<Poco::ProcessHandle>(Poco::Process::launch("/usr/bin/node", args));
        if (!test::waitForStatus(_port, "/_standin/stats", 200, 15000))
            throw std::runtime_error("vault stand-in did not start");
    }
    ~VaultStandIn() { stop(); }
    void stop() {
        if (!_handle) return;
        Poco::Process::kill(*_handle);
        _handle->wait();
        _handle.reset();
    }
    json stats() const { return json::parse(test::httpRequest(_port, "GET", "/_standin/stats").body); }
    void expireTokens() const { test::httpRequest(_port, "POST", "/_standin/expire-tokens"); }
    std::string address() const { return "http://127.0.0.1:" + std::to_string(_port); }

  private:
    int _port;
    std::unique_ptr<Poco::ProcessHandle> _handle;
};

json baseConfig(const VaultStandIn& vault, int kvVersion) {
    return {{"address", vault.address() + "/"},
            {"authMethod", "TOKEN"},
            {"token", "root-token"},
            {"kvVersion", kvVersion},
            {"secretPath", kvVersion == 2 ? "secret/data/archestra" : "secret/archestra"},
            {"metadataPath", kvVersion == 2 ? "secret/metadata/archestra" : ""}};
}

}  // namespace

class VaultSecretsTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(VaultSecretsTest);
    CPPUNIT_TEST(testTokenAuthKvV2);
    CPPUNIT_TEST(testKvV1);
    CPPUNIT_TEST(testKubernetesAuthRenewalAndRelogin);
    CPPUNIT_TEST(testAwsIamAuth);
    CPPUNIT_TEST(testBadTokenAndVaultDown);
    CPPUNIT_TEST_SUITE_END();

    struct Fixture {
        explicit Fixture(const std::string& name)
            : database(test::TestPostgres::shared().createDatabase(name), 4),
              secrets((migrate(database), database)) {}
        static void migrate(db::Database& db) {
            db::Migrator(db, db::Migrator::defaultMigrationsDir()).migrate();
        }
        long long rows() { return std::stoll(database.query("SELECT count(*) FROM secret").at(0).str(0)); }
        db::Database database;
        test::SecretsFixture secrets;
    };

    static std::string errorOf(const std::function<void()>& f) {
        try {
            f();
        } catch (const secrets::SecretsUnavailableError& e) {
            return e.what();
        }
        return "";
    }

    static void roundTrip(secrets::PluginSecretStore& store, Fixture& f, const VaultStandIn& vault) {
        json value = {{"token", "archestra_00112233445566778899aabbccddeeff"}};
        std::string id = store.create("mcp-server-my server-env", value);
        CPPUNIT_ASSERT_EQUAL(value, store.get(id).value());
        // The row only says where the value is: is_vault, empty JSON, sanitised name.
        auto row =
            f.database.query("SELECT name, secret::text, is_vault FROM secret WHERE id = $1::uuid", {id})
                .at(0);
        CPPUNIT_ASSERT(row.boolean("is_vault"));
        CPPUNIT_ASSERT_EQUAL(std::string("{}"), row.str(1));
        CPPUNIT_ASSERT_EQUAL(std::string("mcp_server_my_server_env"), row.str("name"));
        json keys = vault.stats()["secrets"];
        CPPUNIT_ASSERT_EQUAL_MESSAGE(keys.dump(), json::array({"archestra/mcp_server_my_server_env-" + id}),
                                     keys);
        json changed = {{"token", "changed"}};
        CPPUNIT_ASSERT(store.update(id, changed));
        CPPUNIT_ASSERT_EQUAL(changed, store.get(id).value());
        CPPUNIT_ASSERT_EQUAL(1LL, store.checkConnectivity());
        CPPUNIT_ASSERT(store.remove(id));
        CPPUNIT_ASSERT(!store.get(id).has_value());
        CPPUNIT_ASSERT_EQUAL(json::array(), vault.stats()["secrets"]);
        CPPUNIT_ASSERT_EQUAL(0LL, f.rows());
        CPPUNIT_ASSERT_EQUAL(0LL, store.checkConnectivity());  // LIST on an empty path is a 404 -> 0
    }

  public:
    void testTokenAuthKvV2() {
        Fixture f("secrets_vault_v2");
        VaultStandIn vault({"--root-token", "root-token", "--kv-version", "2"});
        auto store = f.secrets.vaultStore(baseConfig(vault, 2));
        CPPUNIT_ASSERT_MESSAGE(store->unavailableReason(), store->available());
        roundTrip(*store, f, vault);
        auto description = store->describe();
        CPPUNIT_ASSERT_EQUAL(std::string("Vault"), description.type);
        CPPUNIT_ASSERT_EQUAL(std::string("2"), description.meta["KV Version"]);
        CPPUNIT_ASSERT_EQUAL(std::string("secret/metadata/archestra"), description.meta["Metadata Path"]);
    }

    void testKvV1() {
        Fixture f("secrets_vault_v1");
        VaultStandIn vault({"--root-token", "root-token", "--kv-version", "1"});
        auto store = f.secrets.vaultStore(baseConfig(vault, 1));
        CPPUNIT_ASSERT_MESSAGE(store->unavailableReason(), store->available());
        roundTrip(*store, f, vault);
        CPPUNIT_ASSERT(store->describe().meta.count("Metadata Path") == 0);
    }

    void testKubernetesAuthRenewalAndRelogin() {
        Fixture f("secrets_vault_k8s");
        Poco::TemporaryFile jwtFile;
        std::ofstream(jwtFile.path()) << "  service-account-jwt\n";
        VaultStandIn vault(
            {"--k8s-jwt", "service-account-jwt", "--k8s-role", "archestra", "--token-ttl-ms", "3000"});
        json config = baseConfig(vault, 2);
        config.erase("token");
        config["authMethod"] = "K8S";
        config["k8sRole"] = "archestra";
        config["k8sTokenPath"] = jwtFile.path();
        config["k8sMountPoint"] = "kubernetes";
        auto store = f.secrets.vaultStore(config);
        std::string id = store->create("k8s", json{{"v", 1}});
        CPPUNIT_ASSERT_EQUAL(1, vault.stats()["k8sLogins"].get<int>());
        // Past two thirds of the 3 s TTL the token is renewed, not replaced.
        std::this_thread::sleep_for(std::chrono::milliseconds(2300));
        CPPUNIT_ASSERT_EQUAL(json({{"v", 1}}), store->get(id).value());
        CPPUNIT_ASSERT_EQUAL(1, vault.stats()["renewals"].get<int>());
        CPPUNIT_ASSERT_EQUAL(1, vault.stats()["k8sLogins"].get<int>());
        // Revoked behind the plugin's back: the 403 triggers one fresh login and the call succeeds.
        vault.expireTokens();
        CPPUNIT_ASSERT_EQUAL(json({{"v", 1}}), store->get(id).value());
        CPPUNIT_ASSERT_EQUAL(2, vault.stats()["k8sLogins"].get<int>());
        // A wrong role is refused with Vault's answer in the message.
        config["k8sRole"] = "other";
        auto wrong = f.secrets.vaultStore(config);
        std::string error = errorOf([&] { wrong->get(id); });
        CPPUNIT_ASSERT_MESSAGE(error, error.find("K8S login") != std::string::npos);
    }

    void testAwsIamAuth() {
        Fixture f("secrets_vault_aws");
        VaultStandIn vault({"--aws-access-key", "AKIDEXAMPLE", "--aws-secret-key", "wJalrXUtnFEMI/K7MDENG",
                            "--aws-role", "archestra", "--aws-server-id", "vault.example.com"});
        ::setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
        ::setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG", 1);
        ::setenv("AWS_SESSION_TOKEN", "session-token-1", 1);
        json config = baseConfig(vault, 2);
        config.erase("token");
        config["authMethod"] = "AWS";
        config["awsRole"] = "archestra";
        config["awsMountPoint"] = "aws";
        config["awsRegion"] = "eu-west-1";
        config["awsStsEndpoint"] = "https://sts.eu-west-1.amazonaws.com";
        config["awsIamServerId"] = "vault.example.com";
        auto store = f.secrets.vaultStore(config);
        std::string id = store->create("aws", json{{"v", "aws"}});
        CPPUNIT_ASSERT_EQUAL(json({{"v", "aws"}}), store->get(id).value());
        CPPUNIT_ASSERT_EQUAL(1, vault.stats()["awsLogins"].get<int>());
        // A wrong secret key gives a signature the stand-in (like STS) rejects.
        ::setenv("AWS_SECRET_ACCESS_KEY", "not-the-key", 1);
        auto wrong = f.secrets.vaultStore(config);
        std::string error = errorOf([&] { wrong->get(id); });
        CPPUNIT_ASSERT_MESSAGE(error, error.find("signature does not match") != std::string::npos);
        ::unsetenv("AWS_ACCESS_KEY_ID");
        ::unsetenv("AWS_SECRET_ACCESS_KEY");
        ::unsetenv("AWS_SESSION_TOKEN");
    }

    void testBadTokenAndVaultDown() {
        Fixture f("secrets_vault_down");
        VaultStandIn vault({"--root-token", "root-token"});
        json config = baseConfig(vault, 2);
        config["token"] = "wrong-token";
        auto refused = f.secrets.vaultStore(config);
        std::string error = errorOf([&] { refused->create("x", json{{"v", 1}}); });
        CPPUNIT_ASSERT_MESSAGE(error, error.find("refused the configured token") != std::string::npos);
        CPPUNIT_ASSERT_EQUAL(0LL, f.rows());  // the failed write left no row behind

        auto store = f.secrets.vaultStore(baseConfig(vault, 2));
        std::string id = store->create("kept", json{{"v", 1}});
        vault.stop();
        error = errorOf([&] { store->get(id); });
        CPPUNIT_ASSERT_MESSAGE(error, error.find("unreachable") != std::string::npos);
        error = errorOf([&] { store->create("lost", json{{"v", 2}}); });
        CPPUNIT_ASSERT_MESSAGE(error, error.find("unreachable") != std::string::npos);
        CPPUNIT_ASSERT_EQUAL(1LL, f.rows());  // only the earlier secret; no half-written one
        error = errorOf([&] { store->checkConnectivity(); });
        CPPUNIT_ASSERT_MESSAGE(error, !error.empty());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(VaultSecretsTest);
