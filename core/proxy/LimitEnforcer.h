// Limits outside the per-request token check: periodic reset on the organisation's limitCleanupInterval, and
// the call-count limits (mcp_server_calls, tool_calls) the MCP gateway checks and counts.
#pragma once

#include "core/policy/Limits.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace Poco {
class Logger;
}
namespace archestra::db {
class Database;
}

namespace archestra::proxy {

class ProfileCache;

/// Thread-safe. Counters live in the database (`limits.current_usage_calls`, `limit_model_usage`) so every
/// replica sees the same totals; checks read an in-memory copy at most one second old.
class LimitEnforcer {
  public:
    LimitEnforcer(db::Database& database, ProfileCache& cache, long cleanupCheck_ms = 1000);
    ~LimitEnforcer();
    LimitEnforcer(const LimitEnforcer&) = delete;
    LimitEnforcer& operator=(const LimitEnforcer&) = delete;

    /// Starts the thread that resets due limits every `cleanupCheck_ms`.
    void start();
    void stop();

    /// Resets every limit whose period (its organisation's limit_cleanup_interval: 1h, 12h, 24h, 1w, 1m; null
    /// = never) has passed since its last reset: token usage rows deleted, call counter zeroed, last_cleanup
    /// = now. Returns how many limits were reset; the proxy cache reloads when any were. Throws the
    /// database's exceptions.
    long long cleanupDue();

    /// For the MCP gateway, before calling a tool: is a call of `toolName` on `mcpServerName` by the profile
    /// allowed by its agent, team and organisation limits? Reads cached counters (<= 1 s stale, plus this
    /// replica's own calls at once). Fails open (not blocked) when the database cannot be read.
    policy::CallLimitDecision checkCall(const std::string& profileId, const std::string& mcpServerName,
                                        const std::string& toolName);

    /// For the MCP gateway, after a call went out: counts it against every applicable limit (one UPDATE).
    /// Never throws; a failed count is logged.
    void recordCall(const std::string& profileId, const std::string& mcpServerName,
                    const std::string& toolName);

  private:
    /// The (agent, team..., organization) entities the profile's limits can hang on.
    std::vector<std::pair<std::string, std::string>> entitiesOf(const std::string& profileId) const;
    void refreshIfStale();
    void run();

    db::Database& _db;
    ProfileCache& _cache;
    long _cleanupCheck_ms;
    Poco::Logger& _logger;
    std::mutex _mutex;  // _limits, _loadedAt
    std::vector<policy::CallLimit> _limits;
    std::chrono::steady_clock::time_point _loadedAt{};
    bool _loaded = false;
    std::mutex _threadMutex;
    std::condition_variable _wake;
    bool _stopping = false;
    std::thread _thread;
};

}  // namespace archestra::proxy
