// MCP gateway sessions in PostgreSQL (see SessionStore.h).
#include "core/gateway/SessionStore.h"

#include "core/db/Database.h"

#include <Poco/Logger.h>
#include <Poco/UUIDGenerator.h>

#include <algorithm>

namespace archestra::gateway {

namespace {

constexpr const char* kColumns = "id, agent_id::text, data::text";

GatewaySession fromRow(const db::Row& row) {
    GatewaySession session;
    session.id = row.str(0);
    session.profileId = row.str(1);
    try {
        session.data = nlohmann::json::parse(row.str(2, "{}"));
    } catch (const nlohmann::json::exception&) {
        session.data = nlohmann::json::object();
    }
    session.protocolVersion = session.data.value("protocolVersion", "");
    session.tainted = session.data.value("tainted", false);
    session.taintReason = session.data.value("taintReason", "");
    return session;
}

std::string newSessionId() {
    // Two random (v4) UUIDs without dashes: 244 random bits, hex only, so it is safe in any header.
    auto& generator = Poco::UUIDGenerator::defaultGenerator();
    std::string id = generator.createRandom().toString() + generator.createRandom().toString();
    id.erase(std::remove(id.begin(), id.end(), '-'), id.end());
    return id.substr(0, 48);
}

std::int64_t nowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

}  // namespace

SessionStore::SessionStore(db::Database& database, std::chrono::milliseconds idle)
    : _db(database), _idle(idle) {}

GatewaySession SessionStore::create(const std::string& profileId, const std::string& protocolVersion,
                                    nlohmann::json data) {
    expireOccasionally();
    if (!data.is_object()) data = nlohmann::json::object();
    data["protocolVersion"] = protocolVersion;
    data["tainted"] = false;
    auto rows = _db.query(
        "INSERT INTO mcp_gateway_session (id, agent_id, data) VALUES ($1, $2::uuid, $3::jsonb) "
        "RETURNING " +
            std::string(kColumns),
        {newSessionId(), profileId, data.dump()});
    return fromRow(rows.at(0));
}

std::optional<GatewaySession> SessionStore::touch(const std::string& id, const std::string& profileId) {
    if (id.empty() || id.size() > 200) return std::nullopt;
    auto rows = _db.query(
        "UPDATE mcp_gateway_session SET last_seen_at = now() WHERE id = $1 AND agent_id = $2::uuid AND "
        "last_seen_at > now() - make_interval(secs => $3::double precision / 1000) RETURNING " +
            std::string(kColumns),
        {id, profileId, std::to_string(_idle.count())});
    if (rows.empty()) return std::nullopt;
    return fromRow(rows[0]);
}

void SessionStore::markTainted(const std::string& id, const std::string& reason) {
    _db.execute(
        "UPDATE mcp_gateway_session SET data = data || jsonb_build_object('tainted', true, 'taintReason', "
        "COALESCE(NULLIF(data->>'taintReason', ''), $2)) WHERE id = $1",
        {id, reason});
}

bool SessionStore::remove(const std::string& id, const std::string& profileId) {
    return _db.execute("DELETE FROM mcp_gateway_session WHERE id = $1 AND agent_id = $2::uuid",
                       {id, profileId}) > 0;
}

long long SessionStore::removeForProfile(const std::string& profileId) {
    return _db.execute("DELETE FROM mcp_gateway_session WHERE agent_id = $1::uuid", {profileId});
}

long long SessionStore::expire() {
    return _db.execute(
        "DELETE FROM mcp_gateway_session WHERE last_seen_at <= now() - make_interval(secs => $1::double "
        "precision / 1000)",
        {std::to_string(_idle.count())});
}

void SessionStore::expireOccasionally() {
    // At most once a minute per replica, on the session-creating path (rare compared to calls).
    std::int64_t now = nowMs();
    std::int64_t last = _lastExpiry_ms.load();
    if (now - last < 60000 && last != 0) return;
    if (!_lastExpiry_ms.compare_exchange_strong(last, now)) return;
    try {
        expire();
    } catch (const std::exception& error) {
        Poco::Logger::get("archestra.gateway")
            .warning(std::string("expiring idle MCP sessions failed: ") + error.what());
    }
}

}  // namespace archestra::gateway
