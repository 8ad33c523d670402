// Tests for raiseOpenFileLimit: the soft RLIMIT_NOFILE goes up to the hard limit, never down.
#include "core/http/FileLimit.h"

#include <cppunit/extensions/HelperMacros.h>

#include <sys/resource.h>

using namespace archestra::http;

class FileLimitTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(FileLimitTest);
    CPPUNIT_TEST(testRaisesSoftToHard);
    CPPUNIT_TEST(testAlreadyAtHardIsUnchanged);
    CPPUNIT_TEST_SUITE_END();

  public:
    void testRaisesSoftToHard() {
        FileLimit before = openFileLimit();
        CPPUNIT_ASSERT(before.hard > 0);
        // Lower the soft limit of this test process (allowed without privileges), then raise it back.
        rlimit lowered{};
        getrlimit(RLIMIT_NOFILE, &lowered);
        lowered.rlim_cur = before.hard < 256 ? before.hard : 256;
        CPPUNIT_ASSERT_EQUAL(0, setrlimit(RLIMIT_NOFILE, &lowered));
        CPPUNIT_ASSERT(openFileLimit().soft <= 256);
        FileLimit after = raiseOpenFileLimit();
        CPPUNIT_ASSERT_EQUAL(before.hard, after.hard);
        CPPUNIT_ASSERT_EQUAL(before.hard, after.soft);
    }

    void testAlreadyAtHardIsUnchanged() {
        FileLimit first = raiseOpenFileLimit();
        FileLimit second = raiseOpenFileLimit();
        CPPUNIT_ASSERT_EQUAL(first.soft, second.soft);
        CPPUNIT_ASSERT_EQUAL(first.hard, second.hard);
        CPPUNIT_ASSERT_EQUAL(first.hard, first.soft);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(FileLimitTest);
