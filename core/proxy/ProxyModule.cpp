// The LLM proxy as the application wires it (see ProxyModule.h).
#include "core/proxy/ProxyModule.h"

#include "core/config/Settings.h"
#include "core/db/Database.h"
#include "core/proxy/InteractionRoutes.h"

#include <Poco/Logger.h>
#include <Poco/Path.h>

namespace archestra::proxy {

ProxyModule::ProxyModule(const config::Settings& settings, db::Database& database) : _db(database) {
    UpstreamOptions options;
    options.connectTimeout_ms = settings.getInt("ARCHESTRA_UPSTREAM_CONNECT_TIMEOUT_MS");
    options.idleTimeout_ms = settings.getInt("ARCHESTRA_UPSTREAM_IDLE_TIMEOUT_MS");
    options.caFile = settings.get("ARCHESTRA_UPSTREAM_CA_FILE");
    _pool = std::make_unique<UpstreamPool>(options);
    ProxyUpstreams upstreams{UpstreamEndpoint::parse(settings.get("ARCHESTRA_OPENAI_BASE_URL")),
                             UpstreamEndpoint::parse(settings.get("ARCHESTRA_ANTHROPIC_BASE_URL")),
                             UpstreamEndpoint::parse(settings.get("ARCHESTRA_GEMINI_BASE_URL"))};
    for (const auto& [setting, endpoint] : {std::pair{"ARCHESTRA_OPENAI_BASE_URL", &upstreams.openAi},
                                            std::pair{"ARCHESTRA_ANTHROPIC_BASE_URL", &upstreams.anthropic},
                                            std::pair{"ARCHESTRA_GEMINI_BASE_URL", &upstreams.gemini}})
        if (auto warning = endpoint->cleartextWarning(setting)) Poco::Logger::get("proxy").warning(*warning);
    _cache = std::make_unique<ProfileCache>(database, database.connectionString());
    _discovery = std::make_unique<ToolDiscovery>(database, [this] { _cache->invalidate(); });
    std::string spool = Poco::Path(settings.dataDir()).makeAbsolute().append("spool").toString();
    InteractionLogOptions logOptions;
    logOptions.backlogRows =
        static_cast<std::size_t>(settings.getInt("ARCHESTRA_INTERACTION_LOG_BACKLOG_ROWS"));
    logOptions.capacityBytes =
        static_cast<std::size_t>(settings.getInt("ARCHESTRA_INTERACTION_LOG_QUEUE_BYTES"));
    _log = std::make_unique<InteractionLog>(database, spool, logOptions);
    // token_cost usage changed: this replica reloads, and so must every other one (limits count across
    // replicas, and each enforces from its own snapshot). The payload is no replica's id, so all of them
    // reload.
    _log->setUsageListener([this] {
        _cache->markDirty();
        try {
            _db.notify(ProfileCache::kChannel, "usage");
        } catch (const std::exception&) {
            // The database is away: the listeners reload when they reconnect.
        }
    });
    _proxy = std::make_unique<LlmProxy>(upstreams, *_pool, *_cache, *_discovery, *_log);
    _dualLlmStore = std::make_unique<DatabaseDualLlmStore>(database);
    _dualLlm = std::make_unique<DualLlm>(*_pool, *_dualLlmStore);
    _proxy->setDualLlm(_dualLlm.get());
    _limits = std::make_unique<LimitEnforcer>(database, *_cache);
}

ProxyModule::~ProxyModule() {
    stop();
}

void ProxyModule::registerRoutes(http::Router& router, SeesAllProfiles seesAll) {
    registerProxyRoutes(router, *_proxy);
    registerInteractionRoutes(router, _db, std::move(seesAll));
}

void ProxyModule::start() {
    if (_started) return;
    _log->start();
    _discovery->start();
    _cache->start();
    _limits->start();
    _started = true;
}

void ProxyModule::stop() {
    if (!_started) return;
    _started = false;
    _limits->stop();
    _cache->stop();
    _discovery->stop();
    _log->stop();
    _pool->clear();
}

}  // namespace archestra::proxy
