// In-memory snapshot of what the proxy's hot path needs, refreshed on write and through LISTEN/NOTIFY.
#include "core/proxy/ProfileCache.h"

#include "core/db/Database.h"
#include "core/db/Seed.h"

#include <Poco/Logger.h>
#include <Poco/UUIDGenerator.h>

#include <libpq-fe.h>
#include <sys/select.h>

#include <cstdlib>

namespace archestra::proxy {

namespace {

policy::Operator parseOperatorOr(const std::string& text) {
    return policy::tryParseOperator(text).value_or(policy::Operator::Invalid);
}

}  // namespace

ProfileCache::ProfileCache(db::Database& database, std::string connectionString)
    : _db(database),
      _connectionString(std::move(connectionString)),
      _instanceId(Poco::UUIDGenerator::defaultGenerator().createRandom().toString()),
      _logger(Poco::Logger::get("proxy.cache")) {}

ProfileCache::~ProfileCache() {
    stop();
}

void ProfileCache::start() {
    try {
        reload();
    } catch (const std::exception& error) {
        _logger.warning(std::string("profile cache: first load failed, retrying in the background: ") +
                        error.what());
    }
    _stopping = false;
    _listener = std::thread([this] { listenLoop(); });
}

void ProfileCache::stop() {
    _stopping = true;
    if (_listener.joinable()) _listener.join();
}

std::shared_ptr<const CacheSnapshot> ProfileCache::snapshot() const {
    std::lock_guard lock(_mutex);
    return _snapshot;
}

void ProfileCache::reload() {
    std::lock_guard reloadLock(_reloadMutex);
    _dirty = false;
    auto fresh = load();
    {
        std::lock_guard lock(_mutex);
        _snapshot = std::move(fresh);
    }
    ++_reloads;
}

void ProfileCache::invalidate() {
    try {
        reload();
    } catch (const std::exception& error) {
        _dirty = true;  // the listener thread retries
        _logger.warning(std::string("profile cache: reload after a write failed: ") + error.what());
    }
    try {
        _db.notify(kChannel, _instanceId);
    } catch (const std::exception& error) {
        _logger.warning(std::string("profile cache: NOTIFY failed: ") + error.what());
    }
}

std::shared_ptr<const Profile> ProfileCache::findOrRefresh(const std::string& id) {
    if (auto current = snapshot()) {
        if (auto profile = current->find(id)) return profile;
    }
    {
        std::lock_guard lock(_mutex);
        auto now = std::chrono::steady_clock::now();
        if (now - _lastMissReload < std::chrono::seconds(1)) return nullptr;
        _lastMissReload = now;
    }
    try {
        reload();
    } catch (const std::exception& error) {
        _logger.warning(std::string("profile cache: reload on a miss failed: ") + error.what());
        return nullptr;
    }
    auto current = snapshot();
    return current ? current->find(id) : nullptr;
}

std::shared_ptr<const Profile> ProfileCache::defaultProfileOrCreate() {
    if (auto current = snapshot(); current && current->defaultProfile) return current->defaultProfile;
    bool created = false;
    const std::string id = db::findOrCreateDefaultProfile(_db, &created);
    if (created) {
        _logger.information("profile cache: no default profile existed; created " + id);
        invalidate();  // this replica now, the others through NOTIFY
    } else {
        reload();  // made the default meanwhile (the API, another replica): not in this snapshot yet
    }
    auto current = snapshot();
    return current ? current->find(id) : nullptr;
}

std::shared_ptr<const CacheSnapshot> ProfileCache::load() {
    auto snapshot = std::make_shared<CacheSnapshot>();
    std::map<std::string, std::shared_ptr<Profile>> profiles;
    std::shared_ptr<Profile> defaultProfile;
    _db.withConnection([&](db::Connection& c) {
        for (const auto& row : c.query("SELECT id::text, name, is_default, consider_context_untrusted "
                                       "FROM agents ORDER BY created_at, id")) {
            auto profile = std::make_shared<Profile>();
            profile->id = row.str(0);
            profile->name = row.str(1);
            profile->isDefault = row.boolean(2);
            profile->considerContextUntrusted = row.boolean(3);
            profile->policies.considerContextUntrusted = profile->considerContextUntrusted;
            if (profile->isDefault && !defaultProfile) defaultProfile = profile;
            profiles[profile->id] = profile;
        }
        auto find = [&](const std::string& id) -> Profile* {
            auto it = profiles.find(id);
            return it == profiles.end() ? nullptr : it->second.get();
        };
        for (const auto& row : c.query("SELECT al.agent_id::text, k.key, v.value FROM agent_labels al "
                                       "JOIN label_keys k ON k.id = al.key_id "
                                       "JOIN label_values v ON v.id = al.value_id ORDER BY k.key")) {
            if (auto* p = find(row.str(0))) p->labels.emplace_back(row.str(1), row.str(2));
        }
        for (const auto& row :
             c.query("SELECT at.agent_id::text, at.team_id, t.organization_id FROM agent_team at "
                     "JOIN team t ON t.id = at.team_id ORDER BY at.created_at, at.team_id")) {
            if (auto* p = find(row.str(0))) {
                p->teamIds.push_back(row.str(1));
                if (p->organizationId.empty()) p->organizationId = row.str(2);
            }
        }
        for (const auto& row : c.query("SELECT id, convert_tool_results_to_toon, compression_scope = 'team' "
                                       "FROM organization ORDER BY created_at, id")) {
            if (snapshot->toon.firstOrganization.empty()) snapshot->toon.firstOrganization = row.str(0);
            snapshot->toon.organizations[row.str(0)] = {row.boolean(1), row.boolean(2)};
        }
        for (const auto& row : c.query("SELECT id, convert_tool_results_to_toon FROM team"))
            snapshot->toon.teams[row.str(0)] = row.boolean(1);
        for (const auto& row : c.query("SELECT agent_id::text, name FROM tools WHERE agent_id IS NOT NULL")) {
            if (auto* p = find(row.str(0))) p->knownToolNames.insert(row.str(1));
        }
        for (const auto& row :
             c.query("SELECT at.agent_id::text, t.name, t.mcp_server_id IS NOT NULL, "
                     "at.allow_usage_when_untrusted_data_is_present, at.tool_result_treatment "
                     "FROM agent_tools at JOIN tools t ON t.id = at.tool_id")) {
            Profile* p = find(row.str(0));
            if (!p) continue;
            policy::ToolConfig config;
            config.allowUsageWhenUntrustedDataIsPresent = row.boolean(3);
            config.treatment = policy::tryParseTreatment(row.str(4)).value_or(policy::Treatment::Untrusted);
            p->policies.tools[row.str(1)] = config;
            if (row.boolean(2)) p->mcpToolNames.insert(row.str(1));
        }
        for (const auto& row : c.query(
                 "SELECT p.id::text, at.agent_id::text, t.name, p.argument_name, p.operator, p.value, "
                 "p.action, "
                 "p.reason FROM tool_invocation_policies p JOIN agent_tools at ON at.id = p.agent_tool_id "
                 "JOIN tools t ON t.id = at.tool_id ORDER BY p.id")) {
            Profile* p = find(row.str(1));
            if (!p) continue;
            policy::InvocationPolicy rule;
            rule.id = row.str(0);
            rule.toolName = row.str(2);
            rule.argumentName = row.str(3);
            rule.op = parseOperatorOr(row.str(4));
            rule.value = row.str(5);
            rule.action =
                policy::tryParseInvocationAction(row.str(6)).value_or(policy::InvocationAction::Invalid);
            rule.reason = row.at(7);
            if (rule.op == policy::Operator::Invalid || rule.action == policy::InvocationAction::Invalid) {
                _logger.warning("tool invocation policy " + rule.id +
                                " has an unknown operator or action; ignored");
                continue;
            }
            p->policies.invocationPolicies.push_back(std::move(rule));
        }
        for (const auto& row : c.query(
                 "SELECT p.id::text, at.agent_id::text, t.name, p.description, p.attribute_path, p.operator, "
                 "p.value, p.action FROM trusted_data_policies p JOIN agent_tools at ON at.id = "
                 "p.agent_tool_id "
                 "JOIN tools t ON t.id = at.tool_id ORDER BY p.id")) {
            Profile* p = find(row.str(1));
            if (!p) continue;
            policy::TrustedDataPolicy rule;
            rule.id = row.str(0);
            rule.toolName = row.str(2);
            rule.description = row.str(3);
            rule.attributePath = row.str(4);
            rule.op = parseOperatorOr(row.str(5));
            rule.value = row.str(6);
            rule.action =
                policy::tryParseTrustedDataAction(row.str(7)).value_or(policy::TrustedDataAction::Invalid);
            if (rule.op == policy::Operator::Invalid || rule.action == policy::TrustedDataAction::Invalid) {
                _logger.warning("trusted data policy " + rule.id +
                                " has an unknown operator or action; ignored");
                continue;
            }
            p->policies.trustedDataPolicies.push_back(std::move(rule));
        }
        for (const auto& row : c.query("SELECT model, price_per_million_input::text, "
                                       "price_per_million_output::text FROM token_price")) {
            auto in = policy::Money::parse(row.str(1));
            auto out = policy::Money::parse(row.str(2));
            if (in && out) snapshot->prices.set(row.str(0), policy::ModelPrice{*in, *out});
        }
        for (const auto& row :
             c.query("SELECT id::text, entity_type, entity_id, provider, target_model, conditions::text, "
                     "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') "
                     "FROM optimization_rules WHERE enabled ORDER BY created_at, id")) {
            policy::OptimizationRule rule;
            rule.id = row.str(0);
            rule.provider = row.str(3);
            rule.targetModel = row.str(4);
            rule.createdAt = row.str(6);
            try {
                rule.conditions = policy::parseOptimizationConditions(nlohmann::json::parse(row.str(5)));
            } catch (const std::exception& error) {
                _logger.warning("optimization rule " + rule.id + " ignored: " + error.what());
                continue;
            }
            if (row.str(1) == "organization" && snapshot->firstOrganizationWithRules.empty())
                snapshot->firstOrganizationWithRules = row.str(2);
            snapshot->optimizationRules[row.str(1) + ":" + row.str(2)].push_back(std::move(rule));
        }
        std::map<std::string, policy::TokenCostLimit> limits;
        for (const auto& row : c.query("SELECT id::text, entity_type, entity_id, limit_value FROM limits "
                                       "WHERE limit_type = 'token_cost' ORDER BY created_at, id")) {
            policy::TokenCostLimit limit;
            limit.id = row.str(0);
            limit.entityType =
                policy::tryParseLimitEntityType(row.str(1)).value_or(policy::LimitEntityType::Invalid);
            limit.entityId = row.str(2);
            limit.limitValueUsd = std::strtoll(row.str(3).c_str(), nullptr, 10);
            if (limit.entityType != policy::LimitEntityType::Invalid) limits[limit.id] = limit;
        }
        for (const auto& row : c.query("SELECT limit_id::text, model, current_usage_tokens_in, "
                                       "current_usage_tokens_out FROM limit_model_usage")) {
            auto it = limits.find(row.str(0));
            if (it == limits.end()) continue;
            it->second.usage.push_back({row.str(1), std::strtoull(row.str(2).c_str(), nullptr, 10),
                                        std::strtoull(row.str(3).c_str(), nullptr, 10)});
        }
        for (auto& [id, limit] : limits)
            snapshot->tokenCostLimits[std::string(policy::toString(limit.entityType)) + ":" + limit.entityId]
                .push_back(std::move(limit));
    });
    for (auto& [id, profile] : profiles) snapshot->profiles[id] = profile;
    snapshot->defaultProfile = defaultProfile;
    snapshot->loadedAt = std::chrono::steady_clock::now();
    return snapshot;
}

void ProfileCache::listenLoop() {
    PGconn* conn = nullptr;
    auto disconnect = [&] {
        if (conn) PQfinish(conn);
        conn = nullptr;
    };
    auto lastAttempt = std::chrono::steady_clock::time_point{};
    while (!_stopping) {
        auto now = std::chrono::steady_clock::now();
        if (!conn && now - lastAttempt >= std::chrono::seconds(1)) {
            lastAttempt = now;
            conn = PQconnectdb(_connectionString.c_str());
            if (PQstatus(conn) != CONNECTION_OK) {
                disconnect();
            } else {
                PGresult* result = PQexec(conn, (std::string("LISTEN ") + kChannel).c_str());
                bool ok = PQresultStatus(result) == PGRES_COMMAND_OK;
                PQclear(result);
                if (!ok)
                    disconnect();
                else
                    _dirty = true;  // notices may have been missed while disconnected
            }
        }
        if (_dirty || !snapshot()) {
            try {
                reload();
            } catch (const std::exception&) {
                _dirty = true;
            }
        }
        if (!conn) {
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
            continue;
        }
        int fd = PQsocket(conn);
        fd_set readable;
        FD_ZERO(&readable);
        FD_SET(fd, &readable);
        timeval timeout{0, 200000};  // short, so stop() is prompt
        int ready = ::select(fd + 1, &readable, nullptr, nullptr, &timeout);
        if (ready < 0) continue;
        if (ready == 0) continue;
        if (!PQconsumeInput(conn)) {
            _logger.warning("profile cache: LISTEN connection lost; reconnecting");
            disconnect();
            continue;
        }
        bool changed = false;
        while (PGnotify* notice = PQnotifies(conn)) {
            if (_instanceId != notice->extra) changed = true;
            PQfreemem(notice);
        }
        if (changed) _dirty = true;
    }
    disconnect();
}

}  // namespace archestra::proxy
