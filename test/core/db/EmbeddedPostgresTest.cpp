// Tests of the embedded PostgreSQL: first start, data kept across restarts, socket only, crash restart.
#include "core/db/Database.h"
#include "core/db/EmbeddedPostgres.h"

#include <Poco/File.h>

#include <cppunit/extensions/HelperMacros.h>

#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

using namespace archestra::db;

class EmbeddedPostgresTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(EmbeddedPostgresTest);
    CPPUNIT_TEST(testFindsBinaries);
    CPPUNIT_TEST(testStartRestartKeepsData);
    CPPUNIT_TEST(testLongPathUsesShortSocketDir);
    CPPUNIT_TEST(testCrashIsRestarted);
    CPPUNIT_TEST(testOwnershipAndAncestors);
    CPPUNIT_TEST_SUITE_END();

    std::string _dir;

  public:
    void setUp() override { _dir = "/tmp/archestra-test-emb-" + std::to_string(::getpid()); }
    void tearDown() override {
        if (Poco::File(_dir).exists()) Poco::File(_dir).remove(true);
    }

    void testFindsBinaries() {
        std::string bin = EmbeddedPostgres::findBinDir();
        CPPUNIT_ASSERT(Poco::File(bin + "/postgres").exists());
        CPPUNIT_ASSERT(Poco::File(bin + "/initdb").exists());
    }

    void testStartRestartKeepsData() {
        {
            EmbeddedPostgres pg(_dir + "/postgres");
            pg.start();
            CPPUNIT_ASSERT(pg.pid() > 0);
            CPPUNIT_ASSERT(Poco::File(_dir + "/postgres/PG_VERSION").exists());
            CPPUNIT_ASSERT(Poco::File(pg.socketDir() + "/.s.PGSQL.5432").exists());
            Database db(pg.connectionString());
            db.execute("CREATE TABLE persisted (v text)");
            db.execute("INSERT INTO persisted VALUES ('kept')");
            // No TCP listener at all.
            CPPUNIT_ASSERT_EQUAL(std::string(""), db.query("SHOW listen_addresses")[0].str(0));
            pg.stop();
            CPPUNIT_ASSERT_EQUAL(0, pg.pid());
        }
        EmbeddedPostgres again(_dir + "/postgres");
        again.start();
        Database db(again.connectionString());
        CPPUNIT_ASSERT_EQUAL(std::string("kept"), db.query("SELECT v FROM persisted")[0].str(0));
        CPPUNIT_ASSERT(again.url().find("postgresql://") == 0);
        again.stop();
    }

    void testLongPathUsesShortSocketDir() {
        std::string longDir = _dir + "/" + std::string(90, 'd') + "/postgres";
        EmbeddedPostgres pg(longDir);
        CPPUNIT_ASSERT(pg.socketDir() != pg.dataDir());
        CPPUNIT_ASSERT(pg.socketDir().size() + 14 <= 107);
        pg.start();
        Database db(pg.connectionString());
        CPPUNIT_ASSERT(db.ping());
        pg.stop();
    }

    void testCrashIsRestarted() {
        EmbeddedPostgres pg(_dir + "/postgres");
        pg.start();
        pg.superviseInBackground();
        Database db(pg.connectionString(), 2);
        db.execute("CREATE TABLE IF NOT EXISTS survivor (v int)");
        db.execute("INSERT INTO survivor VALUES (42)");
        int firstPid = pg.pid();
        CPPUNIT_ASSERT_EQUAL(0, ::kill(firstPid, SIGKILL));
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        bool recovered = false;
        while (std::chrono::steady_clock::now() < deadline) {
            try {
                if (pg.restarts() >= 1 && db.query("SELECT v FROM survivor")[0].str(0) == "42") {
                    recovered = true;
                    break;
                }
            } catch (const DatabaseUnavailableException&) {
                // Expected while the server is down.
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
        CPPUNIT_ASSERT_MESSAGE("the supervisor must restart a killed postmaster", recovered);
        CPPUNIT_ASSERT(pg.pid() > 0 && pg.pid() != firstPid);
        pg.stop();
    }

    void testOwnershipAndAncestors() {
        // An ancestor the postgres user cannot traverse (like a clone under /root, mode 700).
        std::string locked = _dir + "/locked";
        Poco::File(locked).createDirectories();
        ::chmod(locked.c_str(), 0700);
        EmbeddedPostgres pg(locked + "/data/postgres");
        pg.start();
        CPPUNIT_ASSERT(Database(pg.connectionString(), 1).ping());
        pg.stop();
        struct stat dataStat {
        }, lockedStat{};
        CPPUNIT_ASSERT_EQUAL(0, ::stat((locked + "/data/postgres").c_str(), &dataStat));
        CPPUNIT_ASSERT_EQUAL(0, ::stat(locked.c_str(), &lockedStat));
        CPPUNIT_ASSERT_EQUAL(0700, static_cast<int>(dataStat.st_mode & 0777));
        if (::geteuid() == 0) {
            CPPUNIT_ASSERT_EQUAL(::getpwnam("postgres")->pw_uid, dataStat.st_uid);
            CPPUNIT_ASSERT(lockedStat.st_mode & S_IXOTH);
        } else {
            CPPUNIT_ASSERT_EQUAL(::geteuid(), dataStat.st_uid);
            CPPUNIT_ASSERT_EQUAL(0700, static_cast<int>(lockedStat.st_mode & 0777));
        }
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(EmbeddedPostgresTest);
