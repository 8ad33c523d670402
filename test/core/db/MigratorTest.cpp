// Tests of migrations: from empty, idempotent re-run, concurrent migrators, refusal of a newer schema.
#include "core/db/Migrator.h"

#include "support/TestPostgres.h"

#include <Poco/File.h>
#include <Poco/TemporaryFile.h>

#include <cppunit/extensions/HelperMacros.h>

#include <fstream>
#include <thread>

using namespace archestra::db;
using archestra::test::TestPostgres;

class MigratorTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(MigratorTest);
    CPPUNIT_TEST(testFromEmptyAndIdempotent);
    CPPUNIT_TEST(testConcurrentMigratorsApplyOnce);
    CPPUNIT_TEST(testNewerSchemaRefused);
    CPPUNIT_TEST(testFailingMigrationRollsBack);
    CPPUNIT_TEST_SUITE_END();

    std::string dir() { return Migrator::defaultMigrationsDir(); }

  public:
    void testFromEmptyAndIdempotent() {
        try {
            fromEmptyAndIdempotent();
        } catch (const Poco::Exception& e) {
            CPPUNIT_FAIL(e.displayText());
        }
    }

    void fromEmptyAndIdempotent() {
        Database db(TestPostgres::shared().createDatabase("mig_empty"));
        Migrator m(db, dir());
        int files = static_cast<int>(m.migrations().size());
        CPPUNIT_ASSERT(files >= 1);
        CPPUNIT_ASSERT_EQUAL(0, m.currentVersion());
        CPPUNIT_ASSERT_EQUAL(files, m.migrate());
        CPPUNIT_ASSERT_EQUAL(m.latestKnownVersion(), m.currentVersion());
        CPPUNIT_ASSERT_EQUAL(0, m.migrate());
        // Some tables the other modules rely on.
        for (const char* table :
             {"user", "account", "session", "apikey", "organization", "member", "team", "agents", "tools",
              "agent_tools", "interactions", "mcp_gateway_session", "dual_llm_config"}) {
            auto rows = db.query("SELECT to_regclass($1) IS NOT NULL", {std::string("\"") + table + "\""});
            CPPUNIT_ASSERT_MESSAGE(table, rows[0].boolean(0));
        }
        // 0012: the log tables' time indexes are ascending (new rows at the right edge, read backwards for
        // newest first); a DESC one would put every new row on the leftmost leaf.
        auto timeIndexes = db.query(
            "SELECT string_agg(indexname || ': ' || indexdef, '; ' ORDER BY indexname), "
            "count(*) FILTER (WHERE indexdef LIKE '%DESC%') FROM pg_indexes "
            "WHERE tablename IN ('interactions', 'mcp_tool_calls') AND indexdef LIKE '%created_at%'");
        CPPUNIT_ASSERT_MESSAGE(timeIndexes[0].str(0),
                               timeIndexes[0].str(0).find("interactions_created_idx") != std::string::npos);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(timeIndexes[0].str(0), std::string("0"), timeIndexes[0].str(1));
    }

    void testConcurrentMigratorsApplyOnce() {
        std::string cs = TestPostgres::shared().createDatabase("mig_race");
        Database a(cs, 2), b(cs, 2);
        int appliedA = -1, appliedB = -1;
        std::thread ta([&] { appliedA = Migrator(a, dir()).migrate(); });
        std::thread tb([&] { appliedB = Migrator(b, dir()).migrate(); });
        ta.join();
        tb.join();
        int files = static_cast<int>(Migrator(a, dir()).migrations().size());
        CPPUNIT_ASSERT_EQUAL(files, appliedA + appliedB);
        CPPUNIT_ASSERT(appliedA == 0 || appliedB == 0);
        CPPUNIT_ASSERT_EQUAL(std::to_string(files),
                             a.query("SELECT count(*) FROM schema_migrations")[0].str(0));
    }

    void testNewerSchemaRefused() {
        Database db(TestPostgres::shared().createDatabase("mig_newer"));
        Migrator m(db, dir());
        m.migrate();
        db.execute("INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_future.sql')");
        try {
            m.migrate();
            CPPUNIT_FAIL("a newer schema must be refused");
        } catch (const SchemaTooNewException& e) {
            CPPUNIT_ASSERT_MESSAGE(e.message(), e.message().find("9999") != std::string::npos);
            CPPUNIT_ASSERT_MESSAGE(
                e.message(), e.message().find(std::to_string(m.latestKnownVersion())) != std::string::npos);
        }
    }

    void testFailingMigrationRollsBack() {
        std::string tmp = Poco::TemporaryFile::tempName();
        Poco::File(tmp).createDirectories();
        std::ofstream(tmp + "/0001_good.sql") << "CREATE TABLE good (v int);\nINSERT INTO good VALUES (1);\n";
        std::ofstream(tmp + "/0002_bad.sql") << "CREATE TABLE half (v int);\nSELECT * FROM missing_table;\n";
        std::ofstream(tmp + "/notes.txt") << "ignored";
        Database db(TestPostgres::shared().createDatabase("mig_bad"));
        Migrator m(db, tmp);
        try {
            m.migrate();
            CPPUNIT_FAIL("a failing migration must throw");
        } catch (const DatabaseException& e) {
            CPPUNIT_ASSERT_MESSAGE(e.message(), e.message().find("0002_bad.sql") != std::string::npos);
        }
        CPPUNIT_ASSERT_EQUAL(1, m.currentVersion());
        CPPUNIT_ASSERT(db.query("SELECT to_regclass('half') IS NULL")[0].str(0) == "t");
        Poco::File(tmp).remove(true);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(MigratorTest);
