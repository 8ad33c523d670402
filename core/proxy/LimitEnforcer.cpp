// Limit resets and call-count limits (see LimitEnforcer.h).
#include "core/proxy/LimitEnforcer.h"

#include "core/db/Database.h"
#include "core/proxy/ProfileCache.h"

#include <Poco/Logger.h>

#include <cstdlib>

namespace archestra::proxy {

namespace {

// The organisation a limit belongs to: the entity's own (the agent's first team's), else the first
// organisation (single-organisation deployments; a profile without a team). Limits whose period is over are
// reset in one statement, so a reset and a concurrent usage update never interleave half-way.
const char* kCleanupSql =
    "WITH owner AS (SELECT l.id, COALESCE(l.last_cleanup, l.created_at) AS since, COALESCE(CASE "
    "l.entity_type "
    "WHEN 'organization' THEN l.entity_id "
    "WHEN 'team' THEN (SELECT t.organization_id FROM team t WHERE t.id = l.entity_id) "
    "WHEN 'agent' THEN (SELECT t.organization_id FROM agent_team at JOIN team t ON t.id = at.team_id "
    "  WHERE at.agent_id::text = l.entity_id ORDER BY at.created_at, at.team_id LIMIT 1) END, "
    "(SELECT o.id FROM organization o ORDER BY o.created_at, o.id LIMIT 1)) AS org_id FROM limits l), "
    "due AS (SELECT owner.id FROM owner JOIN organization o ON o.id = owner.org_id "
    "WHERE o.limit_cleanup_interval IS NOT NULL AND owner.since + CASE o.limit_cleanup_interval "
    "WHEN '12h' THEN interval '12 hours' WHEN '24h' THEN interval '24 hours' WHEN '1w' THEN interval '7 "
    "days' "
    "WHEN '1m' THEN interval '1 month' ELSE interval '1 hour' END <= now()), "
    "cleared AS (DELETE FROM limit_model_usage WHERE limit_id IN (SELECT id FROM due)) "
    "UPDATE limits SET last_cleanup = now(), current_usage_calls = 0 WHERE id IN (SELECT id FROM due)";

}  // namespace

LimitEnforcer::LimitEnforcer(db::Database& database, ProfileCache& cache, long cleanupCheck_ms)
    : _db(database),
      _cache(cache),
      _cleanupCheck_ms(cleanupCheck_ms),
      _logger(Poco::Logger::get("proxy.limits")) {}

LimitEnforcer::~LimitEnforcer() {
    stop();
}

void LimitEnforcer::start() {
    {
        std::lock_guard lock(_threadMutex);
        if (_thread.joinable()) return;
        _stopping = false;
    }
    _thread = std::thread([this] { run(); });
}

void LimitEnforcer::stop() {
    {
        std::lock_guard lock(_threadMutex);
        _stopping = true;
    }
    _wake.notify_all();
    if (_thread.joinable()) _thread.join();
}

void LimitEnforcer::run() {
    std::unique_lock lock(_threadMutex);
    while (!_stopping) {
        lock.unlock();
        try {
            cleanupDue();
        } catch (const std::exception& error) {
            _logger.debug(std::string("limit cleanup skipped: ") + error.what());
        }
        lock.lock();
        _wake.wait_for(lock, std::chrono::milliseconds(_cleanupCheck_ms), [this] { return _stopping; });
    }
}

long long LimitEnforcer::cleanupDue() {
    long long reset = _db.execute(kCleanupSql);
    if (reset > 0) {
        _logger.information("reset " + std::to_string(reset) + " limit(s) at the end of their period");
        {
            std::lock_guard lock(_mutex);
            _loaded = false;
        }
        _cache.invalidate();
    }
    return reset;
}

std::vector<std::pair<std::string, std::string>> LimitEnforcer::entitiesOf(
    const std::string& profileId) const {
    std::vector<std::pair<std::string, std::string>> out = {{"agent", profileId}};
    auto snapshot = _cache.snapshot();
    auto profile = snapshot ? snapshot->find(profileId) : nullptr;
    if (profile) {
        for (const auto& team : profile->teamIds) out.emplace_back("team", team);
        if (!profile->organizationId.empty()) out.emplace_back("organization", profile->organizationId);
    }
    return out;
}

void LimitEnforcer::refreshIfStale() {
    // Under _mutex: one reload per second at most, whichever thread comes first.
    auto now = std::chrono::steady_clock::now();
    if (_loaded && now - _loadedAt < std::chrono::seconds(1)) return;
    std::vector<policy::CallLimit> fresh;
    for (const auto& row :
         _db.query("SELECT id::text, entity_type, entity_id, limit_type, COALESCE(mcp_server_name, ''), "
                   "COALESCE(tool_name, ''), limit_value, current_usage_calls FROM limits "
                   "WHERE limit_type IN ('mcp_server_calls', 'tool_calls') ORDER BY created_at, id")) {
        policy::CallLimit limit;
        limit.id = row.str(0);
        limit.entityType =
            policy::tryParseLimitEntityType(row.str(1)).value_or(policy::LimitEntityType::Invalid);
        limit.entityId = row.str(2);
        limit.type = row.str(3) == "tool_calls" ? policy::CallLimitType::ToolCalls
                                                : policy::CallLimitType::McpServerCalls;
        limit.mcpServerName = row.str(4);
        limit.toolName = row.str(5);
        limit.limitValue = std::strtoll(row.str(6).c_str(), nullptr, 10);
        limit.currentCalls = std::strtoll(row.str(7).c_str(), nullptr, 10);
        fresh.push_back(std::move(limit));
    }
    _limits = std::move(fresh);
    _loadedAt = now;
    _loaded = true;
}

policy::CallLimitDecision LimitEnforcer::checkCall(const std::string& profileId,
                                                   const std::string& mcpServerName,
                                                   const std::string& toolName) {
    auto entities = entitiesOf(profileId);
    std::lock_guard lock(_mutex);
    try {
        refreshIfStale();
    } catch (const std::exception& error) {
        _logger.warning(std::string("call limits not checked (database unavailable): ") + error.what());
        if (!_loaded) return {};
    }
    std::vector<policy::CallLimit> mine;
    for (const auto& limit : _limits)
        for (const auto& [type, id] : entities)
            if (policy::toString(limit.entityType) == type && limit.entityId == id) mine.push_back(limit);
    return policy::evaluateCallLimits(mine, mcpServerName, toolName);
}

void LimitEnforcer::recordCall(const std::string& profileId, const std::string& mcpServerName,
                               const std::string& toolName) {
    auto entities = entitiesOf(profileId);
    std::string entityList;
    std::vector<db::Value> params = {mcpServerName, toolName};
    for (const auto& [type, id] : entities) {
        params.push_back(type);
        params.push_back(id);
        entityList += std::string(entityList.empty() ? "" : " OR ") + "(entity_type = $" +
                      std::to_string(params.size() - 1) + " AND entity_id = $" +
                      std::to_string(params.size()) + ")";
    }
    try {
        _db.execute(
            "UPDATE limits SET current_usage_calls = current_usage_calls + 1 WHERE "
            "mcp_server_name = $1 AND (limit_type = 'mcp_server_calls' OR (limit_type = 'tool_calls' AND "
            "tool_name = $2)) AND (" +
                entityList + ")",
            params);
    } catch (const std::exception& error) {
        _logger.warning(std::string("MCP call not counted against limits: ") + error.what());
        return;
    }
    // This replica sees its own call at once; others within a second.
    std::lock_guard lock(_mutex);
    for (auto& limit : _limits)
        for (const auto& [type, id] : entities)
            if (policy::toString(limit.entityType) == type && limit.entityId == id &&
                policy::callLimitApplies(limit, mcpServerName, toolName))
                ++limit.currentCalls;
}

}  // namespace archestra::proxy
