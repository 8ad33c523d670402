// MCP gateway sessions kept in PostgreSQL (table mcp_gateway_session), so any replica serves any session and
// a session's taint survives a restart; idle sessions expire.
#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <optional>
#include <string>

namespace archestra::db {
class Database;
}

namespace archestra::gateway {

struct GatewaySession {
    std::string id;
    std::string profileId;
    std::string protocolVersion;
    /// Set once a tool result this session saw was untrusted or blocked; later calls are judged in an
    /// untrusted context (the gateway's equivalent of the proxy re-reading the conversation).
    bool tainted = false;
    std::string taintReason;
    nlohmann::json data;  ///< the whole stored document (clientInfo, auth, taint)
};

/// Thread-safe; every method is one statement, so concurrent replicas need no further coordination.
class SessionStore {
  public:
    SessionStore(db::Database& database, std::chrono::milliseconds idle);

    /// A new session with a random id (128 bits, hex). `data` is stored as given plus protocolVersion.
    GatewaySession create(const std::string& profileId, const std::string& protocolVersion,
                          nlohmann::json data);
    /// The session when it exists, belongs to `profileId` and was used within the idle window; refreshes its
    /// last use. Nullopt otherwise.
    std::optional<GatewaySession> touch(const std::string& id, const std::string& profileId);
    /// Marks the session tainted (kept for its lifetime); the first reason is kept.
    void markTainted(const std::string& id, const std::string& reason);
    bool remove(const std::string& id, const std::string& profileId);
    long long removeForProfile(const std::string& profileId);
    /// Deletes sessions idle longer than the window; returns how many.
    long long expire();

    std::chrono::milliseconds idle() const { return _idle; }

  private:
    void expireOccasionally();

    db::Database& _db;
    std::chrono::milliseconds _idle;
    std::atomic<std::int64_t> _lastExpiry_ms{0};
};

}  // namespace archestra::gateway
