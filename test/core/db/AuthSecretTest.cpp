// Tests of auth secret resolution: env wins, short values rejected, generated once with mode 0600 and reused.
#include "core/db/AuthSecret.h"

#include <Poco/Exception.h>
#include <Poco/File.h>
#include <Poco/Logger.h>
#include <Poco/TemporaryFile.h>

#include <cppunit/extensions/HelperMacros.h>

#include <sys/stat.h>

#include <fstream>
#include <regex>

using archestra::db::resolveAuthSecret;

class AuthSecretTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(AuthSecretTest);
    CPPUNIT_TEST(testEnvWins);
    CPPUNIT_TEST(testShortEnvRejected);
    CPPUNIT_TEST(testGeneratedSavedAndReused);
    CPPUNIT_TEST_SUITE_END();

    std::string _dir;
    Poco::Logger& _logger = Poco::Logger::get("test.authsecret");

  public:
    void setUp() override { _dir = Poco::TemporaryFile::tempName() + "/nested/data"; }
    void tearDown() override {
        Poco::File top(_dir.substr(0, _dir.find("/nested")));
        if (top.exists()) top.remove(true);
    }

    void testEnvWins() {
        std::string env(40, 'x');
        CPPUNIT_ASSERT_EQUAL(env, resolveAuthSecret(env, _dir, _logger));
        CPPUNIT_ASSERT(!Poco::File(_dir + "/.auth_secret").exists());
    }

    void testShortEnvRejected() {
        try {
            resolveAuthSecret(std::string("short"), _dir, _logger);
            CPPUNIT_FAIL("a 5-character secret must be rejected");
        } catch (const Poco::InvalidArgumentException& e) {
            CPPUNIT_ASSERT(e.message().find("ARCHESTRA_AUTH_SECRET") != std::string::npos);
            CPPUNIT_ASSERT(e.message().find("short") == std::string::npos);
        }
    }

    void testGeneratedSavedAndReused() {
        std::string first = resolveAuthSecret(std::nullopt, _dir, _logger);
        CPPUNIT_ASSERT(std::regex_match(first, std::regex("^[A-Za-z0-9]{64}$")));
        struct stat st {};
        CPPUNIT_ASSERT_EQUAL(0, ::stat((_dir + "/.auth_secret").c_str(), &st));
        CPPUNIT_ASSERT_EQUAL(0600, static_cast<int>(st.st_mode & 0777));
        CPPUNIT_ASSERT_EQUAL(first, resolveAuthSecret(std::string(""), _dir, _logger));
        std::ifstream in(_dir + "/.auth_secret");
        std::string content;
        std::getline(in, content);
        CPPUNIT_ASSERT_EQUAL(first, content);
        // A second directory gets a different secret.
        std::string other = resolveAuthSecret(std::nullopt, _dir + "/other", _logger);
        CPPUNIT_ASSERT(other != first);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(AuthSecretTest);
