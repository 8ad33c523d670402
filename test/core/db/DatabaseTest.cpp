// Tests of the session pool against a real PostgreSQL: parameters, NULLs, transactions, bounds, outage
// recovery.
#include "core/db/Database.h"
#include "core/db/EmbeddedPostgres.h"

#include "support/TestPostgres.h"

#include <Poco/File.h>
#include <Poco/Logger.h>

#include <cppunit/extensions/HelperMacros.h>

#include <atomic>
#include <thread>

#include <unistd.h>

using namespace archestra::db;
using archestra::test::TestPostgres;

class DatabaseTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(DatabaseTest);
    CPPUNIT_TEST(testParametersAndNulls);
    CPPUNIT_TEST(testColumnTypesAsText);
    CPPUNIT_TEST(testTransactionCommitAndRollback);
    CPPUNIT_TEST(testSqlErrorNamesStatement);
    CPPUNIT_TEST(testPoolIsBounded);
    CPPUNIT_TEST(testUnreachableServer);
    CPPUNIT_TEST(testOutageAndRecovery);
    CPPUNIT_TEST_SUITE_END();

    std::unique_ptr<Database> _db;

  public:
    void setUp() override {
        _db = std::make_unique<Database>(TestPostgres::shared().createDatabase("dbtest"), 4);
    }
    void tearDown() override { _db.reset(); }

    void testParametersAndNulls() {
        _db->execute("CREATE TABLE t (id serial PRIMARY KEY, name text, data jsonb)");
        CPPUNIT_ASSERT_EQUAL(1LL, _db->execute("INSERT INTO t (name, data) VALUES ($1, $2::jsonb)",
                                               {std::string("it's ? fine"), std::string(R"({"k":1})")}));
        CPPUNIT_ASSERT_EQUAL(
            1LL, _db->execute("INSERT INTO t (name, data) VALUES ($1, $2)", {std::nullopt, std::nullopt}));
        // The jsonb ? operator must reach the server untouched.
        auto rows = _db->query("SELECT name, data ? 'k' AS has_k FROM t ORDER BY id");
        CPPUNIT_ASSERT_EQUAL(size_t(2), rows.size());
        CPPUNIT_ASSERT_EQUAL(std::string("it's ? fine"), rows[0].str("name"));
        CPPUNIT_ASSERT(rows[0].boolean("has_k"));
        CPPUNIT_ASSERT(rows[1].isNull("name"));
        CPPUNIT_ASSERT(rows[1].isNull(1));
        CPPUNIT_ASSERT_EQUAL(std::string("dflt"), rows[1].str("name", "dflt"));
        CPPUNIT_ASSERT_THROW(rows[0].at("nope"), Poco::NotFoundException);
    }

    void testColumnTypesAsText() {
        auto r = _db->query(
            "SELECT gen_random_uuid() AS u, now() AS ts, true AS b, 1.50::numeric(10,2) AS n, "
            "'{\"a\": [1]}'::jsonb AS j, 42 AS i")[0];
        CPPUNIT_ASSERT_EQUAL(size_t(36), r.str("u").size());
        CPPUNIT_ASSERT_EQUAL(std::string("t"), r.str("b"));
        CPPUNIT_ASSERT_EQUAL(std::string("1.50"), r.str("n"));
        CPPUNIT_ASSERT_EQUAL(std::string("{\"a\": [1]}"), r.str("j"));
        CPPUNIT_ASSERT_EQUAL(std::string("42"), r.str("i"));
        CPPUNIT_ASSERT(!r.str("ts").empty());
    }

    void testTransactionCommitAndRollback() {
        _db->execute("CREATE TABLE tx (v int)");
        int got = _db->transaction([](Transaction& tx) {
            tx.execute("INSERT INTO tx VALUES (1)");
            return 7;
        });
        CPPUNIT_ASSERT_EQUAL(7, got);
        try {
            _db->transaction([](Transaction& tx) {
                tx.execute("INSERT INTO tx VALUES (2)");
                throw std::runtime_error("abort");
            });
            CPPUNIT_FAIL("the exception must propagate");
        } catch (const std::runtime_error&) {
        }
        auto rows = _db->query("SELECT v FROM tx ORDER BY v");
        CPPUNIT_ASSERT_EQUAL(size_t(1), rows.size());
        CPPUNIT_ASSERT_EQUAL(std::string("1"), rows[0].str(0));
        CPPUNIT_ASSERT_EQUAL(size_t(0), _db->sessionsInUse());
    }

    void testSqlErrorNamesStatement() {
        try {
            _db->query("SELECT * FROM no_such_table");
            CPPUNIT_FAIL("expected a DatabaseException");
        } catch (const DatabaseUnavailableException&) {
            CPPUNIT_FAIL("an SQL error is not an outage");
        } catch (const DatabaseException& e) {
            CPPUNIT_ASSERT(e.message().find("no_such_table") != std::string::npos);
            CPPUNIT_ASSERT(e.message().find("42P01") != std::string::npos);
        }
        CPPUNIT_ASSERT(_db->ping());  // the session survived the error
    }

    void testPoolIsBounded() {
        std::atomic<int> maxSeen{0};
        std::vector<std::thread> threads;
        for (int i = 0; i < 8; ++i) {
            threads.emplace_back([&] {
                _db->withConnection([&](Connection& c) {
                    int now = static_cast<int>(_db->sessionsInUse());
                    int prev = maxSeen.load();
                    while (now > prev && !maxSeen.compare_exchange_weak(prev, now)) {
                    }
                    c.query("SELECT pg_sleep(0.2)");
                });
            });
        }
        for (auto& t : threads) t.join();
        CPPUNIT_ASSERT(maxSeen.load() <= 4);
        CPPUNIT_ASSERT(maxSeen.load() >= 2);
        CPPUNIT_ASSERT(_db->sessionsOpen() <= 4);
        CPPUNIT_ASSERT_EQUAL(size_t(4), _db->capacity());
    }

    void testUnreachableServer() {
        Database nowhere("host=/nonexistent-dir port=5999 user=x dbname=x");
        CPPUNIT_ASSERT(!nowhere.ping());
        CPPUNIT_ASSERT_THROW(nowhere.query("SELECT 1"), DatabaseUnavailableException);
        auto& logger = Poco::Logger::get("test.db");
        auto start = std::chrono::steady_clock::now();
        CPPUNIT_ASSERT_THROW(waitUntilReachable(nowhere, 600, logger), DatabaseUnavailableException);
        CPPUNIT_ASSERT(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(600));
        // Wrong password against a real server: the message must not repeat it.
        Database wrong(TestPostgres::shared().connectionString("no_such_db") + " password='Hunter2Secret'");
        try {
            wrong.query("SELECT 1");
            CPPUNIT_FAIL("connecting to a missing database must fail");
        } catch (const DatabaseUnavailableException& e) {
            CPPUNIT_ASSERT_MESSAGE(e.message(), e.message().find("Hunter2Secret") == std::string::npos);
            CPPUNIT_ASSERT_MESSAGE(e.message(), e.message().find("no_such_db") != std::string::npos);
        }
    }

    void testOutageAndRecovery() {
        // A private server, so stopping it does not disturb the shared one.
        std::string dir = "/tmp/archestra-test-outage-" + std::to_string(::getpid());
        EmbeddedPostgres pg(dir + "/pg");
        pg.start();
        Database db(pg.connectionString(), 2);
        db.execute("CREATE TABLE IF NOT EXISTS kept (v int)");
        db.execute("INSERT INTO kept VALUES (1)");
        pg.stop();
        CPPUNIT_ASSERT_THROW(db.query("SELECT count(*) FROM kept"), DatabaseUnavailableException);
        CPPUNIT_ASSERT(!db.ping());
        CPPUNIT_ASSERT_EQUAL(size_t(0), db.sessionsInUse());
        pg.start();
        auto rows = db.query("SELECT count(*) FROM kept");
        CPPUNIT_ASSERT_EQUAL(std::string("1"), rows[0].str(0));
        pg.stop();
        Poco::File(dir).remove(true);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(DatabaseTest);
