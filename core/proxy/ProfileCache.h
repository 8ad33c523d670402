// In-memory snapshot of what the proxy's hot path needs (profiles, tool assignments, policies, prices),
// refreshed on write and, across replicas, through PostgreSQL LISTEN/NOTIFY.
#pragma once

#include "core/policy/Cost.h"
#include "core/policy/Limits.h"
#include "core/policy/Optimization.h"
#include "core/policy/Snapshot.h"
#include "core/proxy/ToonCompression.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace Poco {
class Logger;
}
namespace archestra::db {
class Database;
}

namespace archestra::proxy {

/// One profile (table `agents`) with everything the guardrails need, immutable once built.
struct Profile {
    std::string id;
    std::string name;
    bool isDefault = false;
    bool considerContextUntrusted = false;
    std::vector<std::pair<std::string, std::string>> labels;  ///< key, value; sorted by key
    std::vector<std::string> teamIds;
    std::string organizationId;  ///< organization of the first team; empty when the profile has no team
    std::set<std::string> mcpToolNames;    ///< assigned tools that come from MCP servers (not discovered)
    std::set<std::string> knownToolNames;  ///< every tool row of this profile (discovery dedupe)
    policy::ProfilePolicySnapshot policies;
};

/// Everything loaded in one refresh. Shared read-only across request threads.
struct CacheSnapshot {
    std::map<std::string, std::shared_ptr<const Profile>> profiles;  ///< by id
    std::shared_ptr<const Profile> defaultProfile;  ///< is_default, else the oldest; may be null
    policy::PriceTable prices;                      ///< token_price rows
    /// Enabled optimization rules by "<entity_type>:<entity_id>" (organization, team, agent).
    std::map<std::string, std::vector<policy::OptimizationRule>> optimizationRules;
    std::string firstOrganizationWithRules;  ///< for profiles without a team (the original's fallback)
    /// token_cost limits with their usage, by "<entity_type>:<entity_id>".
    std::map<std::string, std::vector<policy::TokenCostLimit>> tokenCostLimits;
    ToonSettings toon;  ///< organisation and team TOON settings (tool-result compression)
    std::chrono::steady_clock::time_point loadedAt;
    std::shared_ptr<const Profile> find(const std::string& id) const {
        auto it = profiles.find(id);
        return it == profiles.end() ? nullptr : it->second;
    }
};

/// Thread-safe. snapshot() is a lock + shared_ptr copy: no database round trip on the hot path.
class ProfileCache {
  public:
    /// Channel every replica listens on; the payload names the sender so a replica skips its own notices.
    static constexpr const char* kChannel = "archestra_proxy_cache";

    ProfileCache(db::Database& database, std::string connectionString);
    ~ProfileCache();
    ProfileCache(const ProfileCache&) = delete;
    ProfileCache& operator=(const ProfileCache&) = delete;

    /// Tries a first load (failure is fine: the database may come later) and starts the listener thread,
    /// which (re)loads whenever a notice arrives, after every reconnect, and every second until loaded.
    void start();
    void stop();

    /// The current snapshot; null until the first successful load.
    std::shared_ptr<const CacheSnapshot> snapshot() const;

    /// Call after writing agents, labels, tools, agent_tools, policies, prices or limits: reloads this
    /// replica now (so the writer sees its own write) and notifies the others. Never throws.
    void invalidate();

    /// Asks the listener thread to reload soon (within ~200 ms), e.g. after limit usage changed.
    void markDirty() { _dirty = true; }

    /// Loads synchronously; throws the database's exceptions.
    void reload();

    /// A profile id not in the snapshot: reload (at most once per second) and look again, so a profile
    /// created a moment ago on another replica is not reported missing. Null when it really does not exist.
    std::shared_ptr<const Profile> findOrRefresh(const std::string& id);

    /// The default profile (the proxy's routes without a profile id). When the snapshot has none, finds or
    /// creates it in the database (db::findOrCreateDefaultProfile, as GET /api/agents/default does) and
    /// reloads, notifying the other replicas when it was created. Throws the database's exceptions; null
    /// only when the reload after the creation failed.
    std::shared_ptr<const Profile> defaultProfileOrCreate();

    std::uint64_t reloads() const { return _reloads.load(); }

  private:
    void listenLoop();
    std::shared_ptr<const CacheSnapshot> load();

    db::Database& _db;
    std::string _connectionString;
    std::string _instanceId;
    Poco::Logger& _logger;
    mutable std::mutex _mutex;
    std::shared_ptr<const CacheSnapshot> _snapshot;
    std::mutex _reloadMutex;  // one load at a time
    std::chrono::steady_clock::time_point _lastMissReload{};
    std::atomic<std::uint64_t> _reloads{0};
    std::atomic<bool> _stopping{false};
    std::atomic<bool> _dirty{false};
    std::thread _listener;
};

}  // namespace archestra::proxy
