// The LLM proxy as the application wires it: upstream pool, profile cache, tool discovery, interaction log
// and the request handler, built from Settings, started before the listeners open and stopped after they
// close (the interaction log is flushed last).
#pragma once

#include "core/proxy/InteractionLog.h"
#include "core/proxy/InteractionRoutes.h"
#include "core/proxy/LimitEnforcer.h"
#include "core/proxy/LlmProxy.h"
#include "core/proxy/ProfileCache.h"
#include "core/proxy/ToolDiscovery.h"
#include "core/proxy/upstream/UpstreamPool.h"

#include <memory>

namespace archestra::config {
class Settings;
}
namespace archestra::db {
class Database;
}
namespace archestra::http {
class Router;
}

namespace archestra::proxy {

class ProxyModule {
  public:
    /// Reads ARCHESTRA_{OPENAI,ANTHROPIC,GEMINI}_BASE_URL, ARCHESTRA_UPSTREAM_{CONNECT,IDLE}_TIMEOUT_MS,
    /// ARCHESTRA_UPSTREAM_CA_FILE and ARCHESTRA_DATA_DIR (spool under <data dir>/spool).
    ProxyModule(const config::Settings& settings, db::Database& database);
    ~ProxyModule();

    /// Registers /v1/{openai,anthropic,gemini}/... and /api/interactions* (scoped by team unless `seesAll`).
    void registerRoutes(http::Router& router, SeesAllProfiles seesAll = {});
    void start();
    /// Stops discovery and the cache, then flushes the interaction log. Idempotent.
    void stop();

    ProfileCache& cache() { return *_cache; }
    InteractionLog& interactionLog() { return *_log; }
    ToolDiscovery& toolDiscovery() { return *_discovery; }
    UpstreamPool& upstreamPool() { return *_pool; }
    LlmProxy& proxy() { return *_proxy; }
    /// Limit resets, and the mcp_server_calls / tool_calls checks the MCP gateway makes (checkCall before a
    /// tools/call, recordCall after it).
    LimitEnforcer& limits() { return *_limits; }

  private:
    db::Database& _db;
    std::unique_ptr<UpstreamPool> _pool;
    std::unique_ptr<ProfileCache> _cache;
    std::unique_ptr<ToolDiscovery> _discovery;
    std::unique_ptr<InteractionLog> _log;
    std::unique_ptr<DualLlmStore> _dualLlmStore;
    std::unique_ptr<DualLlm> _dualLlm;
    std::unique_ptr<LlmProxy> _proxy;
    std::unique_ptr<LimitEnforcer> _limits;
    bool _started = false;
};

}  // namespace archestra::proxy
