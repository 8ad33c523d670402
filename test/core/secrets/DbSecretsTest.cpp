// secrets.db plugin against a real PostgreSQL: round trip, no plaintext in table `secret`, tampered or moved
// ciphertext refused, a changed auth secret refused with a message saying so, and the SecretStore error
// mapping.
#include "core/db/Migrator.h"
#include "core/secrets/SecretsFixture.h"
#include "support/TestPostgres.h"

#include <Poco/AutoPtr.h>
#include <Poco/Channel.h>
#include <Poco/Logger.h>
#include <Poco/Message.h>

#include <cppunit/extensions/HelperMacros.h>

#include <mutex>
#include <vector>

using namespace archestra;
using nlohmann::json;

namespace {

/// Keeps the warnings logged to "archestra.plugins" (the host's logger for plugins) while it lives.
class WarningCapture : public Poco::Channel {
  public:
    WarningCapture() : _logger(Poco::Logger::get("archestra.plugins")), _previous(_logger.getChannel()) {
        duplicate();  // the logger holds a reference while attached
        _logger.setChannel(this);
        _level = _logger.getLevel();
        _logger.setLevel(Poco::Message::PRIO_INFORMATION);
    }
    ~WarningCapture() override = default;
    void detach() {
        _logger.setChannel(_previous);
        _logger.setLevel(_level);
    }
    void log(const Poco::Message& message) override {
        if (message.getPriority() > Poco::Message::PRIO_WARNING) return;
        std::lock_guard lock(_mutex);
        _warnings.push_back(message.getText());
    }
    std::vector<std::string> warnings() {
        std::lock_guard lock(_mutex);
        return _warnings;
    }

  private:
    Poco::Logger& _logger;
    Poco::Channel::Ptr _previous;
    int _level = 0;
    std::mutex _mutex;
    std::vector<std::string> _warnings;
};

}  // namespace

class DbSecretsTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(DbSecretsTest);
    CPPUNIT_TEST(testRoundTripAndNoPlaintext);
    CPPUNIT_TEST(testTamperedCiphertextRefused);
    CPPUNIT_TEST(testCiphertextMovedToAnotherRowRefused);
    CPPUNIT_TEST(testWrongKeyRefused);
    CPPUNIT_TEST(testUnreadableSecretsWarnedOncePerCount);
    CPPUNIT_TEST(testMissingAndNoBackend);
    CPPUNIT_TEST_SUITE_END();

    struct Fixture {
        explicit Fixture(const std::string& name)
            : database(test::TestPostgres::shared().createDatabase(name), 4),
              secrets((migrate(database), database)) {}
        static void migrate(db::Database& db) {
            db::Migrator(db, db::Migrator::defaultMigrationsDir()).migrate();
        }
        std::string stored(const std::string& id) {
            return database.query("SELECT secret::text FROM secret WHERE id = $1::uuid", {id}).at(0).str(0);
        }
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

  public:
    void testRoundTripAndNoPlaintext() {
        Fixture f("secrets_db_roundtrip");
        auto store = f.secrets.dbStore("auth-secret-one-0123456789abcdef0123456789");
        CPPUNIT_ASSERT_MESSAGE(store->unavailableReason(), store->available());
        json value = {{"token", "archestra_0123456789abcdef0123456789abcdef"}, {"n", 5}};
        std::string id = store->create("team-token-Ünïcode name!", value);
        CPPUNIT_ASSERT_EQUAL(size_t(36), id.size());
        CPPUNIT_ASSERT_EQUAL(value, store->get(id).value());
        // Name sanitised as the original does; the row holds only the envelope.
        auto row = f.database.query("SELECT name, is_vault FROM secret WHERE id = $1::uuid", {id}).at(0);
        CPPUNIT_ASSERT_EQUAL(secrets::sanitizeSecretName("team-token-Ünïcode name!"), row.str("name"));
        CPPUNIT_ASSERT(!row.boolean("is_vault"));
        std::string stored = f.stored(id);
        CPPUNIT_ASSERT_MESSAGE(stored, stored.find("archestra_0123456789abcdef") == std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(stored, stored.find("token") == std::string::npos);
        json envelope = json::parse(stored);
        CPPUNIT_ASSERT_EQUAL(std::string("AES-256-GCM"), envelope["alg"].get<std::string>());

        // Two writes of the same value differ (fresh nonce per write).
        CPPUNIT_ASSERT(store->update(id, value));
        CPPUNIT_ASSERT(f.stored(id) != stored);
        CPPUNIT_ASSERT(json::parse(f.stored(id))["nonce"] != envelope["nonce"]);
        json changed = {{"token", "other"}};
        CPPUNIT_ASSERT(store->update(id, changed));
        CPPUNIT_ASSERT_EQUAL(changed, store->get(id).value());

        CPPUNIT_ASSERT_EQUAL(1LL, store->checkConnectivity());
        CPPUNIT_ASSERT_EQUAL(std::string("DB"), store->describe().type);
        CPPUNIT_ASSERT(store->remove(id));
        CPPUNIT_ASSERT(!store->get(id).has_value());
        CPPUNIT_ASSERT(!store->remove(id));
        CPPUNIT_ASSERT_EQUAL(0LL, store->checkConnectivity());
    }

    void testTamperedCiphertextRefused() {
        Fixture f("secrets_db_tamper");
        auto store = f.secrets.dbStore("auth-secret-one-0123456789abcdef0123456789");
        std::string id = store->create("x", json{{"token", "secret-value"}});
        json envelope = json::parse(f.stored(id));
        std::string ct = envelope["ct"].get<std::string>();
        ct[2] = ct[2] == 'A' ? 'B' : 'A';
        envelope["ct"] = ct;
        f.database.execute("UPDATE secret SET secret = $2::jsonb WHERE id = $1::uuid", {id, envelope.dump()});
        std::string error = errorOf([&] { store->get(id); });
        CPPUNIT_ASSERT_MESSAGE(error, error.find("failed authentication") != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(error, error.find("secret-value") == std::string::npos);
        // A plaintext row (the original's format) is refused too, not returned as if it were a value.
        f.database.execute("UPDATE secret SET secret = '{\"token\":\"plain\"}'::jsonb WHERE id = $1::uuid",
                           {id});
        error = errorOf([&] { store->get(id); });
        CPPUNIT_ASSERT_MESSAGE(error, error.find("encrypted format") != std::string::npos);
    }

    void testCiphertextMovedToAnotherRowRefused() {
        Fixture f("secrets_db_move");
        auto store = f.secrets.dbStore("auth-secret-one-0123456789abcdef0123456789");
        std::string a = store->create("a", json{{"v", "A"}});
        std::string b = store->create("b", json{{"v", "B"}});
        f.database.execute(
            "UPDATE secret SET secret = (SELECT secret FROM secret WHERE id = $1::uuid) "
            "WHERE id = $2::uuid",
            {a, b});
        std::string error = errorOf([&] { store->get(b); });
        CPPUNIT_ASSERT_MESSAGE(error, error.find("failed authentication") != std::string::npos);
        CPPUNIT_ASSERT_EQUAL(json({{"v", "A"}}), store->get(a).value());
    }

    void testWrongKeyRefused() {
        Fixture f("secrets_db_wrongkey");
        auto first = f.secrets.dbStore("auth-secret-one-0123456789abcdef0123456789");
        auto second = f.secrets.dbStore("auth-secret-two-0123456789abcdef0123456789");
        std::string id = first->create("x", json{{"v", 1}});
        std::string error = errorOf([&] { second->get(id); });
        CPPUNIT_ASSERT_MESSAGE(error, error.find("different ARCHESTRA_AUTH_SECRET") != std::string::npos);
        // Even with the key id forged to match, the GCM tag refuses the other key.
        json envelope = json::parse(f.stored(id));
        std::string other = second->create("y", json{{"v", 2}});
        envelope["kid"] = json::parse(f.stored(other))["kid"];
        f.database.execute("UPDATE secret SET secret = $2::jsonb WHERE id = $1::uuid", {id, envelope.dump()});
        error = errorOf([&] { second->get(id); });
        CPPUNIT_ASSERT_MESSAGE(error, error.find("failed authentication") != std::string::npos);
    }

    void testUnreadableSecretsWarnedOncePerCount() {
        Fixture f("secrets_db_unreadable");
        auto first = f.secrets.dbStore("auth-secret-one-0123456789abcdef0123456789");
        first->create("a", json{{"v", 1}});
        first->create("b", json{{"v", 2}});
        Poco::AutoPtr<WarningCapture> capture(new WarningCapture);
        auto second = f.secrets.dbStore("auth-secret-two-0123456789abcdef0123456789");
        std::string own = second->create("c", json{{"v", 3}});
        CPPUNIT_ASSERT_EQUAL(3LL, first->checkConnectivity());  // the first key's store: one unreadable
        CPPUNIT_ASSERT_EQUAL(3LL, second->checkConnectivity());
        CPPUNIT_ASSERT_EQUAL(3LL, second->checkConnectivity());
        auto warnings = capture->warnings();
        capture->detach();
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), warnings.size());  // one per store, not one per check
        CPPUNIT_ASSERT_MESSAGE(warnings[0], warnings[0].find("1 of 3 stored secrets") != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(warnings[1], warnings[1].find("2 of 3 stored secrets") != std::string::npos);
        CPPUNIT_ASSERT(warnings[1].find("different ARCHESTRA_AUTH_SECRET") != std::string::npos);
        CPPUNIT_ASSERT(warnings[1].find("auth-secret-") == std::string::npos);  // no secret in the log
        CPPUNIT_ASSERT_EQUAL(json({{"v", 3}}), second->get(own).value());
    }

    void testMissingAndNoBackend() {
        Fixture f("secrets_db_missing");
        auto store = f.secrets.dbStore("auth-secret-one-0123456789abcdef0123456789");
        CPPUNIT_ASSERT(!store->get("8f1e1c7e-1111-4222-8333-444455556666").has_value());
        CPPUNIT_ASSERT(!store->get("not-a-uuid").has_value());
        CPPUNIT_ASSERT(!store->update("8f1e1c7e-1111-4222-8333-444455556666", json{{"v", 1}}));
        // A factory that is not installed: every call is a SecretsUnavailableError naming the plugin.
        auto missing = f.secrets.vaultStore(json{{"nope", true}});
        secrets::SecretsSelection selection;
        selection.plugin = "secrets.none";
        selection.factory = "none";
        auto none = secrets::createSecretStore(f.secrets.plugins(), selection);
        CPPUNIT_ASSERT(!none->available());
        std::string error = errorOf([&] { none->create("x", json::object()); });
        CPPUNIT_ASSERT_MESSAGE(error, error.find("secrets.none") != std::string::npos);
        CPPUNIT_ASSERT(!missing->available());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(DbSecretsTest);
