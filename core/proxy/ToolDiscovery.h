// Tool discovery: tools declared in proxied requests are recorded per profile, off the request path.
#pragma once

#include "core/proxy/adapters/ProviderAdapter.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

namespace Poco {
class Logger;
}
namespace archestra::db {
class Database;
}

namespace archestra::proxy {

struct Profile;

/// Thread-safe. record() costs a hash lookup per tool once a (profile, tool) pair was seen; new pairs are
/// written by a background thread (tools + agent_tools with defaults, ON CONFLICT DO NOTHING).
class ToolDiscovery {
  public:
    /// `onWritten` runs on the writer thread after new rows were inserted (the cache reloads).
    ToolDiscovery(db::Database& database, std::function<void()> onWritten);
    ~ToolDiscovery();
    void start();
    void stop();

    void record(const Profile& profile, const std::vector<DeclaredTool>& tools);

    /// Blocks until nothing is pending (tests).
    bool waitUntilIdle(long timeout_ms);
    std::uint64_t inserted() const { return _inserted.load(); }

  private:
    struct Pending {
        std::string profileId;
        DeclaredTool tool;
    };
    void run();

    db::Database& _db;
    std::function<void()> _onWritten;
    Poco::Logger& _logger;
    std::mutex _mutex;
    std::condition_variable _wake;
    std::condition_variable _idle;
    std::unordered_set<std::string> _seen;  // profileId + '\n' + tool name
    std::deque<Pending> _pending;
    bool _busy = false;
    bool _stopping = false;
    std::atomic<std::uint64_t> _inserted{0};
    std::thread _thread;
};

}  // namespace archestra::proxy
