// Tests of LISTEN/NOTIFY delivery through Database::notify and Listener.
#include "core/db/Database.h"
#include "core/db/Listener.h"

#include "support/TestPostgres.h"

#include <cppunit/extensions/HelperMacros.h>

#include <chrono>
#include <mutex>
#include <thread>

using namespace archestra::db;
using archestra::test::TestPostgres;

class ListenerTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ListenerTest);
    CPPUNIT_TEST(testNotificationDelivered);
    CPPUNIT_TEST_SUITE_END();

  public:
    void testNotificationDelivered() {
        std::string cs = TestPostgres::shared().createDatabase("listen");
        std::mutex m;
        std::vector<std::pair<std::string, std::string>> got;
        Listener listener(cs, {"cache_invalidation"}, [&](const std::string& c, const std::string& p) {
            std::lock_guard lock(m);
            got.emplace_back(c, p);
        });
        listener.start();
        for (int i = 0; i < 100 && !listener.listening(); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        CPPUNIT_ASSERT(listener.listening());
        Database db(cs, 2);
        db.notify("other_channel", "ignored");
        db.notify("cache_invalidation", "agents:123");
        for (int i = 0; i < 100; ++i) {
            {
                std::lock_guard lock(m);
                if (!got.empty()) break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        listener.stop();
        std::lock_guard lock(m);
        CPPUNIT_ASSERT_EQUAL(size_t(1), got.size());
        CPPUNIT_ASSERT_EQUAL(std::string("cache_invalidation"), got[0].first);
        CPPUNIT_ASSERT_EQUAL(std::string("agents:123"), got[0].second);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ListenerTest);
