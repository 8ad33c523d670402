// Tests of scrypt password hashing: storage format, verification, and a known-answer vector.
#include "core/auth/Password.h"

#include <cppunit/extensions/HelperMacros.h>

#include <regex>

using archestra::auth::hashPassword;
using archestra::auth::verifyPassword;

class PasswordTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(PasswordTest);
    CPPUNIT_TEST(testFormat);
    CPPUNIT_TEST(testVerifyGoodAndBad);
    CPPUNIT_TEST(testSaltIsRandom);
    CPPUNIT_TEST(testKnownAnswer);
    CPPUNIT_TEST(testMalformedStoredValue);
    CPPUNIT_TEST_SUITE_END();

  public:
    void testFormat() {
        std::string stored = hashPassword("s3cret!");
        CPPUNIT_ASSERT_MESSAGE(stored, std::regex_match(stored, std::regex("^[0-9a-f]{32}:[0-9a-f]{128}$")));
    }

    void testVerifyGoodAndBad() {
        std::string stored = hashPassword("correct horse");
        CPPUNIT_ASSERT(verifyPassword("correct horse", stored));
        CPPUNIT_ASSERT(!verifyPassword("correct horsE", stored));
        CPPUNIT_ASSERT(!verifyPassword("", stored));
    }

    void testSaltIsRandom() { CPPUNIT_ASSERT(hashPassword("same") != hashPassword("same")); }

    void testKnownAnswer() {
        // Computed independently with `openssl kdf ... SCRYPT` (N=16384 r=16 p=1, 64 bytes), salt given as
        // the ASCII text of the hex string, as better-auth does.
        std::string stored =
            "0123456789abcdef0123456789abcdef:"
            "f7c278f7f739ad5077f0a82b9a3d67831a7d1b05bc7b8e41fd9d55eb65c87a3f51cef"
            "aa870eda509939a162697e744990e3143cfc78ed746f2f981bb61c569e2";
        CPPUNIT_ASSERT(verifyPassword("password", stored));
        CPPUNIT_ASSERT(!verifyPassword("Password", stored));
    }

    void testMalformedStoredValue() {
        CPPUNIT_ASSERT(!verifyPassword("password", ""));
        CPPUNIT_ASSERT(!verifyPassword("password", "nocolon"));
        CPPUNIT_ASSERT(!verifyPassword("password", "abcd:zz"));
        CPPUNIT_ASSERT(!verifyPassword("password", "abcd:0011"));  // key of the wrong length
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(PasswordTest);
