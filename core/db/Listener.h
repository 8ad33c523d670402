// LISTEN/NOTIFY subscriber: lets replicas tell each other to drop cached snapshots.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace Poco {
class Logger;
}

namespace archestra::db {

/// Owns one dedicated libpq connection (not from the pool: Poco Data has no notification API, and a pooled
/// session would be lent to others) and a thread that delivers notifications. Reconnects with backoff when
/// the server goes away and then calls `onReconnect`, since notifications sent meanwhile were lost (callers
/// should reload everything). Callbacks run on the listener thread and must not block for long.
class Listener {
  public:
    using Callback = std::function<void(const std::string& channel, const std::string& payload)>;

    Listener(std::string connectionString, std::vector<std::string> channels, Callback onNotify,
             std::function<void()> onReconnect = {}, Poco::Logger* logger = nullptr);
    ~Listener();
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;

    void start();
    void stop();
    /// True while LISTEN is active on a live connection.
    bool listening() const { return _listening.load(); }

  private:
    void run();

    std::string _connectionString;
    std::vector<std::string> _channels;
    Callback _onNotify;
    std::function<void()> _onReconnect;
    Poco::Logger& _logger;
    std::atomic<bool> _stop{false};
    std::atomic<bool> _listening{false};
    std::thread _thread;
};

}  // namespace archestra::db
