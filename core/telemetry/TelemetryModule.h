// Telemetry as the application wires it: metrics registry and /metrics route, the HTTP and LLM observers
// (metrics + spans), the export pipeline and the telemetry plugins (telemetry.otlp, telemetry.posthog).
#pragma once

#include "core/http/Dispatcher.h"
#include "core/proxy/LlmCallObserver.h"
#include "core/telemetry/LlmMetrics.h"
#include "core/telemetry/Metrics.h"
#include "core/telemetry/Tracing.h"

#include <nlohmann/json.hpp>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace archestra::config {
class Settings;
}
namespace archestra::http {
class Router;
}
namespace archestra::plugins {
class PluginManager;
}

namespace archestra::telemetry {

/// What the analytics plugin reports once a day; the app fills it from the database. Counts only.
using UsageCounter = std::function<nlohmann::json()>;

class TelemetryModule {
  public:
    /// Reads ARCHESTRA_METRICS_SECRET (warns while it is the documented default), ARCHESTRA_OTEL_*,
    /// ARCHESTRA_ANALYTICS(_HOST) and ARCHESTRA_DATA_DIR.
    explicit TelemetryModule(const config::Settings& settings);
    ~TelemetryModule();

    MetricsRegistry& metrics() { return _metrics; }
    ExportPipeline& pipeline() { return _pipeline; }
    /// For the API and UI dispatchers: http_request_duration_seconds and the HTTP server span.
    std::shared_ptr<http::RequestObserver> httpObserver() { return _httpObserver; }
    /// For the LLM proxy: the llm_* metrics and the LLM call span (traceparent propagated upstream).
    std::shared_ptr<proxy::LlmCallObserver> llmObserver() { return _llmObserver; }

    /// GET /metrics on the metrics listener's router, behind the bearer secret.
    void registerRoutes(http::Router& metricsRouter);
    /// A gauge read at scrape time (platform state). `read` must be thread-safe and must not throw.
    void addGauge(const std::string& name, const std::string& help, std::function<double()> read);
    /// Creates the exporters of the loaded telemetry plugins: "otlp" (traces) and, unless analytics is
    /// disabled, "posthog". A plugin that fails to create is logged and left out (telemetry degrades, the
    /// platform runs).
    void attachPlugins(plugins::PluginManager& plugins);
    bool analyticsEnabled() const { return _analyticsSetting; }
    /// Starts the export thread; with analytics, sends the start-up event (`features`: what is enabled) and,
    /// once a day from `firstReportDelay_ms` on, the counts `usage` returns.
    void start(const nlohmann::json& features, UsageCounter usage, long firstReportDelay_ms = 60000);
    void stop();

    static std::string installationId(const std::string& dataDir);

  private:
    class HttpObserver;
    class LlmObserver;
    void analyticsLoop(UsageCounter usage, long firstDelay_ms);
    void capture(const std::string& name, nlohmann::json properties);

    const config::Settings& _settings;
    std::string _metricsSecret;
    bool _analyticsSetting = true;
    std::string _installationId;
    MetricsRegistry _metrics;
    ExportPipeline _pipeline;
    std::shared_ptr<http::RequestObserver> _httpObserver;
    std::shared_ptr<proxy::LlmCallObserver> _llmObserver;

    std::mutex _mutex;
    std::condition_variable _wake;
    bool _stopping = false;
    std::thread _analyticsThread;
};

}  // namespace archestra::telemetry
