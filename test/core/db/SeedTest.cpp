// Tests of first-run seeding: the default rows, idempotence, concurrency, and never overwriting a password.
#include "core/auth/Password.h"
#include "core/db/Migrator.h"
#include "core/db/Seed.h"

#include "support/TestPostgres.h"

#include <cppunit/extensions/HelperMacros.h>

#include <algorithm>
#include <memory>
#include <thread>
#include <vector>

using namespace archestra::db;
using archestra::test::TestPostgres;

class SeedTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(SeedTest);
    CPPUNIT_TEST(testSeedCreatesDefaults);
    CPPUNIT_TEST(testSeedIsIdempotentAndKeepsPassword);
    CPPUNIT_TEST(testConcurrentSeeding);
    CPPUNIT_TEST(testDefaultProfileCreatedOnceUnderConcurrency);
    CPPUNIT_TEST_SUITE_END();

    std::unique_ptr<Database> fresh(const std::string& name) {
        auto db = std::make_unique<Database>(TestPostgres::shared().createDatabase(name), 4);
        Migrator(*db, Migrator::defaultMigrationsDir()).migrate();
        return db;
    }
    static std::string count(Database& db, const std::string& sql) { return db.query(sql)[0].str(0); }

  public:
    void testSeedCreatesDefaults() {
        auto db = fresh("seed_defaults");
        SeedResult r = seed(*db, "admin@example.com", "password");
        CPPUNIT_ASSERT(r.adminHasDefaultPassword);
        CPPUNIT_ASSERT_EQUAL(std::string("default-org"), r.organizationId);
        auto user =
            db->query("SELECT name, role, email_verified FROM \"user\" WHERE id = $1", {r.adminUserId});
        CPPUNIT_ASSERT_EQUAL(std::string("Admin"), user[0].str("name"));
        CPPUNIT_ASSERT_EQUAL(std::string("admin"), user[0].str("role"));
        CPPUNIT_ASSERT(user[0].boolean("email_verified"));
        auto org = db->query("SELECT name, slug FROM organization WHERE id = 'default-org'");
        CPPUNIT_ASSERT_EQUAL(std::string("Default Organization"), org[0].str("name"));
        CPPUNIT_ASSERT_EQUAL(std::string("default"), org[0].str("slug"));
        CPPUNIT_ASSERT_EQUAL(
            std::string("admin"),
            db->query("SELECT role FROM member WHERE user_id = $1", {r.adminUserId})[0].str(0));
        auto team = db->query("SELECT name, description FROM team WHERE id = $1", {r.defaultTeamId});
        CPPUNIT_ASSERT_EQUAL(std::string("Default Team"), team[0].str("name"));
        CPPUNIT_ASSERT_EQUAL(std::string("Default team for all users"), team[0].str("description"));
        CPPUNIT_ASSERT_EQUAL(std::string("1"), count(*db, "SELECT count(*) FROM team_member"));
        auto profile =
            db->query("SELECT name, is_default FROM agents WHERE id = $1::uuid", {r.defaultProfileId});
        CPPUNIT_ASSERT_EQUAL(std::string("Default Profile with Archestra"), profile[0].str("name"));
        CPPUNIT_ASSERT(profile[0].boolean("is_default"));
        CPPUNIT_ASSERT_EQUAL(std::string("1"), count(*db, "SELECT count(*) FROM agent_team"));
        auto dual = db->query("SELECT enabled, max_rounds FROM dual_llm_config");
        CPPUNIT_ASSERT_EQUAL(size_t(1), dual.size());
        CPPUNIT_ASSERT(!dual[0].boolean("enabled"));
        CPPUNIT_ASSERT_EQUAL(std::string("5"), dual[0].str("max_rounds"));
        auto cred =
            db->query("SELECT password FROM account WHERE user_id = $1 AND provider_id = 'credential'",
                      {r.adminUserId});
        CPPUNIT_ASSERT(archestra::auth::verifyPassword("password", cred[0].str(0)));
    }

    void testSeedIsIdempotentAndKeepsPassword() {
        auto db = fresh("seed_idem");
        SeedResult first = seed(*db, "root@example.com", "first-Passw0rd");
        CPPUNIT_ASSERT(!first.adminHasDefaultPassword);
        std::string hash = db->query("SELECT password FROM account")[0].str(0);
        SeedResult second = seed(*db, "root@example.com", "changed-Passw0rd");
        CPPUNIT_ASSERT_EQUAL(first.adminUserId, second.adminUserId);
        CPPUNIT_ASSERT_EQUAL(first.defaultTeamId, second.defaultTeamId);
        CPPUNIT_ASSERT_EQUAL(first.defaultProfileId, second.defaultProfileId);
        CPPUNIT_ASSERT_EQUAL(hash, db->query("SELECT password FROM account")[0].str(0));
        CPPUNIT_ASSERT(archestra::auth::verifyPassword("first-Passw0rd", hash));
        for (const char* table : {"\"user\"", "account", "organization", "member", "team", "team_member",
                                  "agents", "agent_team", "dual_llm_config"}) {
            CPPUNIT_ASSERT_EQUAL_MESSAGE(table, std::string("1"),
                                         count(*db, std::string("SELECT count(*) FROM ") + table));
        }
    }

    void testConcurrentSeeding() {
        auto db = fresh("seed_race");
        std::string cs = db->connectionString();
        Database other(cs, 2);
        SeedResult a, b;
        std::thread ta([&] { a = seed(*db, "admin@example.com", "password"); });
        std::thread tb([&] { b = seed(other, "admin@example.com", "password"); });
        ta.join();
        tb.join();
        CPPUNIT_ASSERT_EQUAL(a.adminUserId, b.adminUserId);
        CPPUNIT_ASSERT_EQUAL(a.defaultTeamId, b.defaultTeamId);
        CPPUNIT_ASSERT_EQUAL(std::string("1"), count(*db, "SELECT count(*) FROM \"user\""));
        CPPUNIT_ASSERT_EQUAL(std::string("1"), count(*db, "SELECT count(*) FROM agents"));
    }

    /// The proxy and GET /api/agents/default create a missing default profile on first use; a burst of first
    /// requests (several sessions, as several replicas would be) must leave exactly one.
    void testDefaultProfileCreatedOnceUnderConcurrency() {
        auto db = fresh("default_profile_race");
        SeedResult seeded = seed(*db, "admin@example.com", "password");
        bool created = true;
        CPPUNIT_ASSERT_EQUAL(seeded.defaultProfileId, findOrCreateDefaultProfile(*db, &created));
        CPPUNIT_ASSERT(!created);
        for (int round = 0; round < 5; ++round) {
            db->execute("UPDATE agents SET is_default = false");
            constexpr int kThreads = 8;
            std::vector<std::unique_ptr<Database>> sessions;
            for (int i = 0; i < kThreads; ++i)
                sessions.push_back(std::make_unique<Database>(db->connectionString(), 1));
            std::vector<std::string> ids(kThreads);
            std::vector<char> made(kThreads, 0);
            std::vector<std::thread> threads;
            for (int i = 0; i < kThreads; ++i)
                threads.emplace_back([&, i] {
                    bool c = false;
                    ids[i] = findOrCreateDefaultProfile(*sessions[i], &c);
                    made[i] = c;
                });
            for (auto& t : threads) t.join();
            CPPUNIT_ASSERT_EQUAL(std::string("1"),
                                 count(*db, "SELECT count(*) FROM agents WHERE is_default"));
            CPPUNIT_ASSERT_EQUAL(kThreads, static_cast<int>(std::count(ids.begin(), ids.end(), ids[0])));
            CPPUNIT_ASSERT_EQUAL(1, static_cast<int>(std::count(made.begin(), made.end(), 1)));
            CPPUNIT_ASSERT_EQUAL(
                std::string(kDefaultProfileName),
                db->query("SELECT name FROM agents WHERE id = $1::uuid", {ids[0]})[0].str(0));
        }
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(SeedTest);
