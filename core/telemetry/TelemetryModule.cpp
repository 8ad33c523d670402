// Telemetry as the application wires it: /metrics, the HTTP and LLM observers, plugins and analytics.
#include "core/telemetry/TelemetryModule.h"

#include "core/config/Settings.h"
#include "core/http/Context.h"
#include "core/http/Router.h"
#include "core/plugins/PluginManager.h"
#include "core/proxy/ProfileCache.h"

#include <Poco/File.h>
#include <Poco/FileStream.h>
#include <Poco/Logger.h>
#include <Poco/Path.h>
#include <Poco/UUIDGenerator.h>

#include <openssl/crypto.h>
#include <prometheus/summary.h>

#include <unordered_map>

namespace archestra::telemetry {

namespace {

Poco::Logger& log() {
    return Poco::Logger::get("telemetry");
}

constexpr const char* kDefaultMetricsSecret = "archestra-metrics-secret";

const prometheus::Histogram::BucketBoundaries kHttpBuckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                           0.5,   1,    2.5,   5,    10};

/// The reference's fastify-metrics summary uses prom-client's default percentiles; the allowed error per
/// quantile is prometheus-cpp's (CKMS) trade-off between precision and memory.
const prometheus::Summary::Quantiles kHttpQuantiles{{0.01, 0.001}, {0.05, 0.005}, {0.5, 0.05},    {0.9, 0.01},
                                                    {0.95, 0.005}, {0.99, 0.001}, {0.999, 0.0001}};

/// Methods outside this list (any token is a valid HTTP method) share one label value.
std::string boundedMethod(const std::string& method) {
    static const char* known[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"};
    for (const char* k : known)
        if (method == k) return method;
    return "OTHER";
}

std::string routeCategory(const std::string& route) {
    if (route.rfind("/v1/mcp", 0) == 0) return "mcp-gateway";
    if (route.rfind("/v1/", 0) == 0) return "llm-proxy";
    return "api";
}

/// The HTTP server span of the request this thread serves.
struct RequestSpanState {
    bool active = false;
    SpanContext context;
    std::string parentSpanId;
    std::int64_t startNanos = 0;
};
thread_local RequestSpanState tlsRequestSpan;

}  // namespace

// ---- HTTP observer ---------------------------------------------------------------------------------------

class TelemetryModule::HttpObserver : public http::RequestObserver {
  public:
    HttpObserver(prometheus::Registry& registry, ExportPipeline& pipeline)
        : _family(prometheus::BuildHistogram()
                      .Name("http_request_duration_seconds")
                      .Help("request duration in seconds")
                      .Register(registry)),
          _summaryFamily(prometheus::BuildSummary()
                             .Name("http_request_summary_seconds")
                             .Help("request duration in seconds summary")
                             .Register(registry)),
          _pipeline(pipeline) {}

    void onRequestStart(const http::Context& context) override {
        if (!_pipeline.tracingEnabled()) return;
        auto& state = tlsRequestSpan;
        state = RequestSpanState{};
        if (context.path() == "/health") return;
        auto incoming = parseTraceparent(context.header("traceparent"));
        state.active = true;
        state.context.traceId = incoming ? incoming->traceId : newTraceId();
        state.context.spanId = newSpanId();
        state.context.sampled = true;
        state.parentSpanId = incoming ? incoming->spanId : "";
        state.startNanos = unixNanos(std::chrono::system_clock::now());
        setCurrentRequestSpan(&state.context);
    }

    void onRequestDone(const http::Context& context, int status, double seconds) override {
        const std::string& method = context.method();
        const http::Route* route = context.route();
        const std::string routeLabel = route ? route->spec.path : "(unmatched)";
        if (tlsRequestSpan.active) {
            auto& state = tlsRequestSpan;
            sdk::Span span;
            span.trace_id = state.context.traceId;
            span.span_id = state.context.spanId;
            span.parent_span_id = state.parentSpanId;
            span.name = boundedMethod(method) + " " + routeLabel;
            span.start_unix_nanos = state.startNanos;
            span.end_unix_nanos = unixNanos(std::chrono::system_clock::now());
            span.attributes_json["http.request.method"] = jsonString(method);
            span.attributes_json["http.route"] = jsonString(routeLabel);
            span.attributes_json["http.response.status_code"] = jsonInt(status);
            span.attributes_json["url.path"] = jsonString(context.path());
            span.attributes_json["route.category"] = jsonString(routeCategory(routeLabel));
            span.attributes_json["archestra.request_id"] = jsonString(context.requestId());
            if (status >= 500) {
                span.status = sdk::SpanStatus::Error;
                span.status_message = "HTTP " + std::to_string(status);
            }
            _pipeline.submit(std::move(span));
            state.active = false;
            setCurrentRequestSpan(nullptr);
        }
        // As the reference: /health, OPTIONS and HEAD are not measured.
        if (method == "OPTIONS" || method == "HEAD" || context.path() == "/health") return;
        prometheus::Histogram* histogram = nullptr;
        prometheus::Summary* summary = nullptr;
        {
            std::string key = boundedMethod(method) + ' ' + routeLabel + ' ' + std::to_string(status);
            std::lock_guard lock(_mutex);
            auto& slot = _children[key];
            if (!slot)
                slot = &_family.Add({{"method", boundedMethod(method)},
                                     {"route", routeLabel},
                                     {"status_code", std::to_string(status)}},
                                    kHttpBuckets);
            histogram = slot;
            auto& summarySlot = _summaries[key];
            if (!summarySlot)
                summarySlot = &_summaryFamily.Add({{"method", boundedMethod(method)},
                                                   {"route", routeLabel},
                                                   {"status_code", std::to_string(status)}},
                                                  kHttpQuantiles);
            summary = summarySlot;
        }
        histogram->Observe(seconds);
        summary->Observe(seconds);
    }

  private:
    prometheus::Family<prometheus::Histogram>& _family;
    prometheus::Family<prometheus::Summary>& _summaryFamily;
    ExportPipeline& _pipeline;
    std::mutex _mutex;
    // Keys are bounded: route templates come from the router, methods and status codes from short lists.
    std::unordered_map<std::string, prometheus::Histogram*> _children;
    std::unordered_map<std::string, prometheus::Summary*> _summaries;
};

// ---- LLM observer ----------------------------------------------------------------------------------------

class TelemetryModule::LlmObserver : public proxy::LlmCallObserver {
  public:
    LlmObserver(prometheus::Registry& registry, ExportPipeline& pipeline)
        : _metrics(registry), _pipeline(pipeline) {}

    struct SpanState {
        SpanContext context;
        std::string parentSpanId;
    };

    std::shared_ptr<void> onCallStart(const proxy::LlmCallInfo&, const http::Context& client,
                                      Poco::Net::HTTPRequest& upstream) noexcept override {
        if (!_pipeline.tracingEnabled()) return nullptr;
        try {
            auto state = std::make_shared<SpanState>();
            const SpanContext* parent = currentRequestSpan();
            std::optional<SpanContext> incoming;
            if (!parent) {  // not served through a dispatcher with tracing: the client's header, if any
                incoming = parseTraceparent(client.header("traceparent"));
                if (incoming) parent = &*incoming;
            }
            state->context.traceId = parent ? parent->traceId : newTraceId();
            state->context.spanId = newSpanId();
            state->parentSpanId = parent ? parent->spanId : "";
            upstream.set("traceparent", formatTraceparent(state->context));
            return state;
        } catch (...) {
            return nullptr;
        }
    }

    void onCallDone(const proxy::LlmCallInfo& info, const proxy::LlmCallOutcome& outcome,
                    const std::shared_ptr<void>& state) noexcept override {
        try {
            _metrics.record(info, outcome);
            if (state) submitSpan(info, outcome, *static_cast<const SpanState*>(state.get()));
        } catch (const std::exception& error) {
            log().debug(std::string("LLM telemetry failed: ") + error.what());
        }
    }

  private:
    void submitSpan(const proxy::LlmCallInfo& info, const proxy::LlmCallOutcome& outcome,
                    const SpanState& state) {
        sdk::Span span;
        span.trace_id = state.context.traceId;
        span.span_id = state.context.spanId;
        span.parent_span_id = state.parentSpanId;
        switch (info.provider) {
            case proxy::Provider::OpenAi:
                span.name = "openai.chat.completions";
                break;
            case proxy::Provider::Anthropic:
                span.name = "anthropic.messages";
                break;
            default:
                span.name = "gemini.generateContent";
        }
        span.start_unix_nanos = unixNanos(info.startedWall);
        span.end_unix_nanos = span.start_unix_nanos + static_cast<std::int64_t>(outcome.duration_s * 1e9);
        auto& a = span.attributes_json;
        const auto& profile = *info.profile;
        a["route.category"] = jsonString("llm-proxy");
        a["llm.provider"] = jsonString(proxy::providerName(info.provider));
        a["llm.model"] = jsonString(info.model);
        a["llm.stream"] = jsonBool(info.stream);
        // A profile is what the reference calls an agent; agent.* is kept for its dashboards (deprecated).
        a["agent.id"] = jsonString(profile.id);
        a["agent.name"] = jsonString(profile.name);
        a["profile.id"] = jsonString(profile.id);
        a["profile.name"] = jsonString(profile.name);
        for (const auto& [key, value] : profile.labels) {
            a["agent." + key] = jsonString(value);
            a["profile." + key] = jsonString(value);
        }
        if (!info.agentId.empty()) a["archestra.external_agent_id"] = jsonString(info.agentId);
        a["http.response.status_code"] = jsonInt(outcome.clientStatus);
        if (outcome.inputTokens) a["gen_ai.usage.input_tokens"] = jsonInt(*outcome.inputTokens);
        if (outcome.outputTokens) a["gen_ai.usage.output_tokens"] = jsonInt(*outcome.outputTokens);
        if (outcome.blockedToolCalls) a["llm.blocked_tool_calls"] = jsonInt(outcome.blockedToolCalls);
        if (!outcome.error.empty()) {
            span.status = sdk::SpanStatus::Error;
            span.status_message = outcome.error;
        } else {
            span.status = sdk::SpanStatus::Ok;
        }
        _pipeline.submit(std::move(span));
    }

    LlmMetrics _metrics;
    ExportPipeline& _pipeline;
};

// ---- module ----------------------------------------------------------------------------------------------

TelemetryModule::TelemetryModule(const config::Settings& settings) : _settings(settings) {
    _metricsSecret = settings.get("ARCHESTRA_METRICS_SECRET");
    if (_metricsSecret == kDefaultMetricsSecret)
        log().warning(
            "ARCHESTRA_METRICS_SECRET is the documented default: anyone who can reach the metrics port can "
            "read "
            "/metrics; set your own secret");
    _analyticsSetting = settings.get("ARCHESTRA_ANALYTICS") != "disabled";
    _httpObserver = std::make_shared<HttpObserver>(_metrics.registry(), _pipeline);
    _llmObserver = std::make_shared<LlmObserver>(_metrics.registry(), _pipeline);
    addGauge("archestra_telemetry_spans_dropped_total",
             "Spans dropped: the export queue was full, or the collector was down (failed batches and the "
             "batches superseded while the exporter backed off)",
             [this] { return static_cast<double>(_pipeline.spansDropped()); });
    addGauge("archestra_telemetry_spans_exported_total", "Spans handed to the trace exporters successfully",
             [this] { return static_cast<double>(_pipeline.spansExported()); });
    addGauge("archestra_telemetry_span_export_failures_total",
             "Span batches the trace exporters failed to send",
             [this] { return static_cast<double>(_pipeline.spanExportFailures()); });
    addGauge("archestra_telemetry_span_queue_depth", "Spans waiting for export",
             [this] { return static_cast<double>(_pipeline.spanQueueDepth()); });
    addGauge("archestra_analytics_events_dropped_total",
             "Analytics events dropped because the queue was full",
             [this] { return static_cast<double>(_pipeline.eventsDropped()); });
}

TelemetryModule::~TelemetryModule() {
    stop();
}

void TelemetryModule::registerRoutes(http::Router& router) {
    router.add({.method = "GET",
                .path = "/metrics",
                .operationId = "getMetrics",
                .access = http::Access::publicRoute(),  // the bearer secret is checked here, as the reference
                .hidden = true},
               [this](http::Context& context) {
                   const std::string authorization = context.header("Authorization");
                   if (authorization.rfind("Bearer ", 0) != 0) {
                       context.send(401, "application/json; charset=utf-8",
                                    R"({"error":"Unauthorized: Bearer token required"})");
                       return;
                   }
                   const std::string token = authorization.substr(7);
                   if (token.size() != _metricsSecret.size() ||
                       CRYPTO_memcmp(token.data(), _metricsSecret.data(), token.size()) != 0) {
                       context.send(401, "application/json; charset=utf-8",
                                    R"({"error":"Unauthorized: Invalid token"})");
                       return;
                   }
                   context.send(200, "text/plain; version=0.0.4; charset=utf-8", _metrics.scrape());
               });
}

void TelemetryModule::addGauge(const std::string& name, const std::string& help,
                               std::function<double()> read) {
    auto& gauge = prometheus::BuildGauge().Name(name).Help(help).Register(_metrics.registry()).Add({});
    _metrics.addScrapeHook([&gauge, read = std::move(read)] { gauge.Set(read()); });
}

std::string TelemetryModule::installationId(const std::string& dataDir) {
    // Anonymous: a random id kept in the data directory, unrelated to any user, organization or host.
    Poco::Path path = Poco::Path(dataDir).makeAbsolute().append("analytics-id");
    try {
        if (Poco::File(path).exists()) {
            Poco::FileInputStream in(path.toString());
            std::string id;
            in >> id;
            if (id.size() == 36) return id;
        }
        Poco::File(Poco::Path(dataDir).makeAbsolute()).createDirectories();
        std::string id = Poco::UUIDGenerator::defaultGenerator().createRandom().toString();
        Poco::FileOutputStream out(path.toString());
        out << id << "\n";
        return id;
    } catch (const Poco::Exception& error) {
        log().debug("analytics id not stored: " + error.displayText());
        return Poco::UUIDGenerator::defaultGenerator().createRandom().toString();
    }
}

void TelemetryModule::attachPlugins(plugins::PluginManager& plugins) {
    auto names = plugins.factoryNames("telemetry");
    auto has = [&](const std::string& name) {
        return std::find(names.begin(), names.end(), name) != names.end();
    };
    if (has("otlp")) {
        nlohmann::json config = {{"endpoint", _settings.get("ARCHESTRA_OTEL_EXPORTER_OTLP_ENDPOINT")},
                                 {"protocol", _settings.get("ARCHESTRA_OTEL_EXPORTER_OTLP_PROTOCOL")},
                                 {"bearer", _settings.get("ARCHESTRA_OTEL_EXPORTER_OTLP_AUTH_BEARER")},
                                 {"username", _settings.get("ARCHESTRA_OTEL_EXPORTER_OTLP_AUTH_USERNAME")},
                                 {"password", _settings.get("ARCHESTRA_OTEL_EXPORTER_OTLP_AUTH_PASSWORD")},
                                 {"serviceName", "Archestra Platform API"},
                                 {"serviceVersion", ARCHESTRA_VERSION}};
        auto created = plugins.createTelemetry("otlp", config.dump());
        if (created.ok()) {
            _pipeline.addSpanExporter(created.value(), "telemetry.otlp");
            log().information("traces: OTLP/HTTP (" + _settings.get("ARCHESTRA_OTEL_EXPORTER_OTLP_PROTOCOL") +
                              ") to " + _settings.get("ARCHESTRA_OTEL_EXPORTER_OTLP_ENDPOINT"));
        } else {
            log().warning("traces disabled: telemetry.otlp failed to start: " + created.error().message);
        }
    }
    if (!_analyticsSetting) {
        log().information("analytics: disabled (ARCHESTRA_ANALYTICS=disabled)");
    } else if (has("posthog")) {
        nlohmann::json config = {{"host", _settings.get("ARCHESTRA_ANALYTICS_HOST")}};
        auto created = plugins.createTelemetry("posthog", config.dump());
        if (created.ok()) {
            _pipeline.addEventExporter(created.value(), "telemetry.posthog");
            _installationId = installationId(_settings.dataDir());
            log().information("analytics: anonymous usage counts to " +
                              _settings.get("ARCHESTRA_ANALYTICS_HOST") +
                              " (ARCHESTRA_ANALYTICS=disabled turns this off)");
        } else {
            log().warning("analytics disabled: telemetry.posthog failed to start: " +
                          created.error().message);
        }
    }
}

void TelemetryModule::capture(const std::string& name, nlohmann::json properties) {
    sdk::AnalyticsEvent event;
    event.name = name;
    event.distinct_id = _installationId;
    properties["version"] = ARCHESTRA_VERSION;
    event.properties_json = properties.dump();
    event.timestamp_unix_nanos = unixNanos(std::chrono::system_clock::now());
    _pipeline.submit(std::move(event));
}

void TelemetryModule::start(const nlohmann::json& features, UsageCounter usage, long firstReportDelay_ms) {
    _pipeline.start();
    if (!_pipeline.analyticsEnabled()) return;
    capture("platform_started", {{"features", features}});
    _analyticsThread = std::thread(
        [this, usage = std::move(usage), firstReportDelay_ms] { analyticsLoop(usage, firstReportDelay_ms); });
}

void TelemetryModule::analyticsLoop(UsageCounter usage, long firstDelay_ms) {
    auto delay = std::chrono::milliseconds(firstDelay_ms);
    while (true) {
        {
            std::unique_lock lock(_mutex);
            if (_wake.wait_for(lock, delay, [this] { return _stopping; })) return;
        }
        try {
            if (usage) capture("daily_usage", usage());
        } catch (const std::exception& error) {
            log().debug(std::string("analytics counts unavailable: ") + error.what());
        }
        delay = std::chrono::hours(24);
    }
}

void TelemetryModule::stop() {
    {
        std::lock_guard lock(_mutex);
        if (_stopping) return;
        _stopping = true;
    }
    _wake.notify_all();
    if (_analyticsThread.joinable()) _analyticsThread.join();
    _pipeline.stop(3000);
}

}  // namespace archestra::telemetry
