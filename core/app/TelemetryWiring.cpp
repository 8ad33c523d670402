// Telemetry wiring: platform gauges over the modules, and the start of export and analytics.
#include "core/app/TelemetryWiring.h"

#include "core/db/Database.h"
#include "core/http/HttpListener.h"
#include "core/mcp/McpRegistry.h"
#include "core/mcp/McpServerStates.h"
#include "core/plugins/PluginManager.h"
#include "core/proxy/ProxyModule.h"
#include "core/telemetry/TelemetryModule.h"

#include <Poco/Logger.h>

#include <prometheus/gauge.h>

#include <map>
#include <mutex>
#include <tuple>

namespace archestra::app {

void addTelemetryGauges(Platform& platform) {
    auto& t = *platform.telemetry;
    if (platform.proxy) {
        auto* proxy = platform.proxy.get();
        t.addGauge("archestra_interaction_log_queue_depth", "Interaction records waiting for the database",
                   [proxy] { return static_cast<double>(proxy->interactionLog().queueDepth()); });
        t.addGauge("archestra_interaction_log_queue_bytes",
                   "Bytes of interaction records waiting for the database (bounded by "
                   "ARCHESTRA_INTERACTION_LOG_QUEUE_BYTES; beyond it they spill to the spool)",
                   [proxy] { return static_cast<double>(proxy->interactionLog().queueBytes()); });
        t.addGauge("archestra_interaction_log_spool_bytes", "Bytes of interaction records spooled to disk",
                   [proxy] { return static_cast<double>(proxy->interactionLog().spoolBytes()); });
        t.addGauge("archestra_interaction_spool_write_errors_total",
                   "Failed writes to the interaction spool directory (write-ahead log and spool file, e.g. "
                   "disk full)",
                   [proxy] { return static_cast<double>(proxy->interactionLog().spoolWriteErrors()); });
        t.addGauge("archestra_interaction_spool_degraded",
                   "1 while the interaction spool directory cannot be written (see /ready)",
                   [proxy] { return proxy->interactionLog().spoolProblem() ? 1.0 : 0.0; });
        t.addGauge("archestra_interaction_log_backlog_rows",
                   "Interaction rows kept in memory because neither the database nor the spool can take them "
                   "(bounded by ARCHESTRA_INTERACTION_LOG_BACKLOG_ROWS)",
                   [proxy] { return static_cast<double>(proxy->interactionLog().backlogRows()); });
        t.addGauge("archestra_interaction_log_rows_dropped_total",
                   "Interaction rows lost: the in-memory backlog was full while neither the database nor the "
                   "spool could take them, or rejected rows",
                   [proxy] { return static_cast<double>(proxy->interactionLog().rowsDropped()); });
        t.addGauge("archestra_upstream_pool_idle_connections", "Idle keep-alive connections to LLM upstreams",
                   [proxy] { return static_cast<double>(proxy->upstreamPool().idleSessions()); });
        t.addGauge("archestra_llm_upstream_errors_total",
                   "LLM calls whose upstream failed (unreachable, timeout)",
                   [proxy] { return static_cast<double>(proxy->proxy().counters().upstreamErrors.load()); });
    }
    if (platform.database) {
        auto* database = platform.database.get();
        t.addGauge("archestra_database_pool_sessions_in_use", "Database sessions lent out",
                   [database] { return static_cast<double>(database->sessionsInUse()); });
        t.addGauge("archestra_database_pool_sessions_open", "Database sessions open",
                   [database] { return static_cast<double>(database->sessionsOpen()); });
        t.addGauge("archestra_database_pool_capacity", "Largest number of database sessions",
                   [database] { return static_cast<double>(database->capacity()); });
        t.addGauge("archestra_database_ready", "1 when the database is connected, migrated and seeded",
                   [&platform] { return platform.databaseReady ? 1.0 : 0.0; });
    }
    if (platform.database) {
        auto& family = prometheus::BuildGauge()
                           .Name("archestra_mcp_servers")
                           .Help("MCP server installations by server type, runtime (orchestrator) and state")
                           .Register(t.metrics().registry());
        // Series seen before stay at 0 when their last server leaves the state (a gauge must not vanish).
        auto seen = std::make_shared<
            std::map<std::tuple<std::string, std::string, std::string>, prometheus::Gauge*>>();
        t.metrics().addScrapeHook([&platform, &family, seen] {
            if (!platform.databaseReady) return;
            std::vector<mcp::McpServerStateCount> counts;
            try {
                counts = mcp::countMcpServerStates(
                    *platform.database, platform.mcpRegistry ? platform.mcpRegistry->orchestratorName() : "");
            } catch (const std::exception& error) {
                // The database is away: keep the last values (the database gauges say why).
                Poco::Logger::get("metrics").debug(std::string("MCP server states unavailable: ") +
                                                   error.what());
                return;
            }
            for (auto& [key, gauge] : *seen) gauge->Set(0);
            for (const auto& c : counts) {
                auto& gauge = (*seen)[{c.serverType, c.runtime, c.state}];
                if (!gauge)
                    gauge = &family.Add(
                        {{"server_type", c.serverType}, {"runtime", c.runtime}, {"state", c.state}});
                gauge->Set(static_cast<double>(c.count));
            }
        });
    }
    auto& inFlight = prometheus::BuildGauge()
                         .Name("archestra_http_requests_in_flight")
                         .Help("Requests being handled per listener")
                         .Register(t.metrics().registry());
    for (auto [name, dispatcher] :
         {std::pair{"api", &platform.apiDispatcher}, std::pair{"ui", &platform.uiDispatcher}}) {
        auto& gauge = inFlight.Add({{"listener", std::string(name)}});
        auto* slot = dispatcher;
        t.metrics().addScrapeHook([&gauge, slot] { gauge.Set(*slot ? (*slot)->inFlight() : 0); });
    }
    if (platform.plugins) {
        auto& family = prometheus::BuildGauge()
                           .Name("archestra_plugin_status")
                           .Help("1 for each plugin and its load status (loaded, skipped, failed)")
                           .Register(t.metrics().registry());
        for (const auto& record : platform.plugins->records())
            family
                .Add({{"plugin", record.name.empty() ? record.file : record.name},
                      {"kind", record.kind},
                      {"status", record.status}})
                .Set(1);
    }
}

void addListenerGauges(Platform& platform) {
    if (!platform.telemetry) return;
    auto& metrics = platform.telemetry->metrics();
    auto& family = prometheus::BuildGauge()
                       .Name("archestra_http_pool_threads")
                       .Help(
                           "Threads of each listener's pool (one serves one connection at a time): allocated "
                           "(bounded by its maximum) and busy (serving a connection or waiting for the next)")
                       .Register(metrics.registry());
    for (const auto& listener : platform.listeners) {
        auto* allocated = &family.Add({{"listener", listener->options().name}, {"state", "allocated"}});
        auto* busy = &family.Add({{"listener", listener->options().name}, {"state", "busy"}});
        // Listeners are destroyed only after all of them (the metrics one included) have stopped, so no
        // scrape outlives them.
        metrics.addScrapeHook([raw = listener.get(), allocated, busy] {
            allocated->Set(raw->poolThreads());
            busy->Set(raw->busyPoolThreads());
        });
    }
}

void startTelemetry(Platform& platform) {
    const auto& s = platform.settings;
    // Which features are on; names and booleans only (no URLs, hosts, ids or secrets).
    nlohmann::json features = {
        {"embeddedDatabase", !s.isSet("ARCHESTRA_DATABASE_URL") && !s.isSet("DATABASE_URL")},
        {"orchestrator", s.get("ARCHESTRA_ORCHESTRATOR")},
        {"secretsManager", s.get("ARCHESTRA_SECRETS_MANAGER")},
        {"enterprise", s.get("ARCHESTRA_ENTERPRISE_LICENSE_ACTIVATED") == "true"},
        {"tracing", platform.telemetry->pipeline().tracingEnabled()}};
    nlohmann::json plugins = nlohmann::json::array();
    if (platform.plugins)
        for (const auto& record : platform.plugins->records())
            if (record.status == "loaded") plugins.push_back(record.kind + "." + record.name);
    features["plugins"] = plugins;
    telemetry::UsageCounter usage;
    if (platform.database) {
        usage = [&platform]() -> nlohmann::json {
            if (!platform.databaseReady) return {{"databaseReady", false}};
            auto rows = platform.database->query(
                "SELECT (SELECT count(*) FROM agents), (SELECT count(*) FROM mcp_server), "
                "(SELECT count(*) FROM interactions WHERE created_at > now() - interval '1 day')");
            auto number = [&](std::size_t i) { return std::stoll(rows.at(0).str(i, "0")); };
            return {{"profiles", number(0)}, {"mcpServers", number(1)}, {"interactionsLastDay", number(2)}};
        };
    }
    long firstReport_ms = s.getInt("ARCHESTRA_ANALYTICS_USAGE_DELAY_MS");
    platform.telemetry->start(features, usage, firstReport_ms);
}

}  // namespace archestra::app
