// Tool discovery: tools declared in proxied requests are recorded per profile, off the request path.
#include "core/proxy/ToolDiscovery.h"

#include "core/db/Database.h"
#include "core/policy/Snapshot.h"
#include "core/proxy/ProfileCache.h"

#include <Poco/Logger.h>

namespace archestra::proxy {

ToolDiscovery::ToolDiscovery(db::Database& database, std::function<void()> onWritten)
    : _db(database), _onWritten(std::move(onWritten)), _logger(Poco::Logger::get("proxy.tools")) {}

ToolDiscovery::~ToolDiscovery() {
    stop();
}

void ToolDiscovery::start() {
    std::lock_guard lock(_mutex);
    _stopping = false;
    _thread = std::thread([this] { run(); });
}

void ToolDiscovery::stop() {
    {
        std::lock_guard lock(_mutex);
        if (!_thread.joinable()) return;
        _stopping = true;
    }
    _wake.notify_all();
    _thread.join();
}

void ToolDiscovery::record(const Profile& profile, const std::vector<DeclaredTool>& tools) {
    if (tools.empty()) return;
    std::lock_guard lock(_mutex);
    bool added = false;
    for (const auto& tool : tools) {
        if (tool.name.empty() || tool.name.rfind(policy::kArchestraToolPrefix, 0) == 0) continue;
        if (profile.knownToolNames.count(tool.name) || profile.mcpToolNames.count(tool.name)) continue;
        if (!_seen.insert(profile.id + '\n' + tool.name).second) continue;
        _pending.push_back({profile.id, tool});
        added = true;
    }
    if (added) _wake.notify_one();
}

bool ToolDiscovery::waitUntilIdle(long timeout_ms) {
    std::unique_lock lock(_mutex);
    return _idle.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                          [this] { return _pending.empty() && !_busy; });
}

void ToolDiscovery::run() {
    while (true) {
        std::vector<Pending> batch;
        {
            std::unique_lock lock(_mutex);
            _wake.wait(lock, [this] { return _stopping || !_pending.empty(); });
            if (_pending.empty() && _stopping) break;
            while (!_pending.empty() && batch.size() < 100) {
                batch.push_back(std::move(_pending.front()));
                _pending.pop_front();
            }
            _busy = true;
        }
        std::vector<Pending> failed;
        std::size_t written = 0;
        for (auto& item : batch) {
            try {
                _db.transaction([&](db::Connection& c) {
                    c.execute(
                        "INSERT INTO tools (agent_id, name, parameters, description) "
                        "VALUES ($1::uuid, $2, $3::jsonb, $4) ON CONFLICT DO NOTHING",
                        {item.profileId, item.tool.name,
                         item.tool.parameters.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                         item.tool.description});
                    c.execute(
                        "INSERT INTO agent_tools (agent_id, tool_id) SELECT $1::uuid, id FROM tools "
                        "WHERE agent_id = $1::uuid AND name = $2 AND catalog_id IS NULL ON CONFLICT DO "
                        "NOTHING",
                        {item.profileId, item.tool.name});
                });
                ++written;
            } catch (const std::exception& error) {
                // Forget it so a later request retries (the profile may have been deleted meanwhile).
                _logger.warning("tool " + item.tool.name + " of profile " + item.profileId +
                                " not recorded: " + error.what());
                failed.push_back(std::move(item));
            }
        }
        _inserted += written;
        if (written > 0 && _onWritten) {
            try {
                _onWritten();
            } catch (...) {
            }
        }
        {
            std::lock_guard lock(_mutex);
            for (const auto& item : failed) _seen.erase(item.profileId + '\n' + item.tool.name);
            _busy = false;
        }
        _idle.notify_all();
    }
    _idle.notify_all();
}

}  // namespace archestra::proxy
