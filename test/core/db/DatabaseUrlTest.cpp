// Tests of database URL parsing, redaction, libpq conversion and the choice of environment variable.
#include "core/db/DatabaseUrl.h"

#include <Poco/Exception.h>

#include <cppunit/extensions/HelperMacros.h>

using archestra::db::DatabaseUrl;
using archestra::db::selectDatabaseUrl;

class DatabaseUrlTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(DatabaseUrlTest);
    CPPUNIT_TEST(testFullUrl);
    CPPUNIT_TEST(testPostgresSchemeAndDefaults);
    CPPUNIT_TEST(testPasswordWithReservedCharacters);
    CPPUNIT_TEST(testSchemaBecomesSearchPath);
    CPPUNIT_TEST(testUnixSocketHost);
    CPPUNIT_TEST(testBadUrlsNeverLeakPassword);
    CPPUNIT_TEST(testSelectPrecedence);
    CPPUNIT_TEST_SUITE_END();

    static std::string parseError(const std::string& url) {
        try {
            DatabaseUrl::parse(url);
        } catch (const Poco::SyntaxException& e) {
            return e.displayText();
        }
        CPPUNIT_FAIL("expected a Poco::SyntaxException for a bad URL");
        return "";
    }

  public:
    void testFullUrl() {
        auto u = DatabaseUrl::parse("postgresql://arch:pw%40x@db.example.com:6543/archestra?sslmode=require");
        CPPUNIT_ASSERT_EQUAL(std::string("arch"), u.user);
        CPPUNIT_ASSERT_EQUAL(std::string("pw@x"), u.password);
        CPPUNIT_ASSERT_EQUAL(std::string("db.example.com"), u.host);
        CPPUNIT_ASSERT_EQUAL(6543, u.port);
        CPPUNIT_ASSERT_EQUAL(std::string("archestra"), u.database);
        CPPUNIT_ASSERT_EQUAL(std::string("require"), u.params.at("sslmode"));
        CPPUNIT_ASSERT_EQUAL(
            std::string("postgresql://arch:***@db.example.com:6543/archestra?sslmode=require"), u.redacted());
        CPPUNIT_ASSERT_EQUAL(std::string("host='db.example.com' port='6543' user='arch' password='pw@x' "
                                         "dbname='archestra' sslmode='require'"),
                             u.connectionString());
    }

    void testPostgresSchemeAndDefaults() {
        auto u = DatabaseUrl::parse("postgres://localhost/db");
        CPPUNIT_ASSERT_EQUAL(5432, u.port);
        CPPUNIT_ASSERT(u.user.empty());
        CPPUNIT_ASSERT_EQUAL(std::string("db"), u.database);
    }

    void testPasswordWithReservedCharacters() {
        auto u = DatabaseUrl::parse("postgresql://me:p/a?s@s:w@host:5433/db");
        CPPUNIT_ASSERT_EQUAL(std::string("p/a?s@s:w"), u.password);
        CPPUNIT_ASSERT_EQUAL(std::string("host"), u.host);
        CPPUNIT_ASSERT_EQUAL(5433, u.port);
        CPPUNIT_ASSERT(u.redacted().find("p/a?s") == std::string::npos);
        // Quotes and backslashes in values are escaped for libpq.
        auto q = DatabaseUrl::parse("postgresql://me:it%27s%5C@host/db");
        CPPUNIT_ASSERT(q.connectionString().find("password='it\\'s\\\\'") != std::string::npos);
    }

    void testSchemaBecomesSearchPath() {
        auto u = DatabaseUrl::parse("postgresql://a:b@h:5432/d?schema=public&connection_limit=5");
        std::string cs = u.connectionString();
        CPPUNIT_ASSERT_MESSAGE(cs, cs.find("options='-c search_path=public'") != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(cs, cs.find("connection_limit") == std::string::npos);
    }

    void testUnixSocketHost() {
        auto u = DatabaseUrl::parse("postgresql://archestra@/archestra?host=/tmp/sock");
        CPPUNIT_ASSERT(u.host.empty());
        CPPUNIT_ASSERT(u.connectionString().find("host='/tmp/sock'") != std::string::npos);
    }

    void testBadUrlsNeverLeakPassword() {
        const std::string secret = "Sup3rS3cret";
        for (const std::string& bad :
             {"mysql://u:" + secret + "@h/db", "u:" + secret + "@h/db",
              "postgresql://u:" + secret + "@h:99999/db", "postgresql://u:" + secret + "@h:abc/db",
              "postgresql://u:" + secret + "@/db", "postgresql://u:" + secret + "%zz@h/db"}) {
            std::string message = parseError(bad);
            CPPUNIT_ASSERT_MESSAGE(message, message.find(secret) == std::string::npos);
            CPPUNIT_ASSERT_MESSAGE(message, message.find("database URL") != std::string::npos);
        }
        CPPUNIT_ASSERT(parseError("").find("empty") != std::string::npos);
        CPPUNIT_ASSERT(parseError("postgresql://u:p@h:abc/db").find("'abc'") != std::string::npos);
    }

    void testSelectPrecedence() {
        CPPUNIT_ASSERT(!selectDatabaseUrl({}).has_value());
        CPPUNIT_ASSERT(
            !selectDatabaseUrl({{"ARCHESTRA_DATABASE_URL", ""}, {"DATABASE_URL", ""}}).has_value());
        auto both = selectDatabaseUrl(
            {{"ARCHESTRA_DATABASE_URL", "postgresql://a/x"}, {"DATABASE_URL", "postgresql://b/y"}});
        CPPUNIT_ASSERT_EQUAL(std::string("ARCHESTRA_DATABASE_URL"), both->first);
        CPPUNIT_ASSERT_EQUAL(std::string("postgresql://a/x"), both->second);
        auto fallback =
            selectDatabaseUrl({{"ARCHESTRA_DATABASE_URL", ""}, {"DATABASE_URL", "postgresql://b/y"}});
        CPPUNIT_ASSERT_EQUAL(std::string("DATABASE_URL"), fallback->first);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(DatabaseUrlTest);
