// Trace context (W3C traceparent), span building, and the export pipeline: bounded queues of spans and
// analytics events drained by one background thread into the telemetry plugins (sdk::TelemetryExporter).
#pragma once

#include "archestra/sdk/telemetry.h"
#include "core/util/JsonString.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace archestra::telemetry {

/// The ids a child span needs.
struct SpanContext {
    std::string traceId;  ///< 32 lowercase hex
    std::string spanId;   ///< 16 lowercase hex
    bool sampled = true;
};

/// Parses `00-<32 hex>-<16 hex>-<2 hex flags>` (W3C Trace Context); nullopt for anything else, including the
/// all-zero ids the spec forbids.
std::optional<SpanContext> parseTraceparent(std::string_view header);
std::string formatTraceparent(const SpanContext& context);
std::string newTraceId();
std::string newSpanId();
std::int64_t unixNanos(std::chrono::system_clock::time_point time);

/// JSON text of attribute values (sdk::Span::attributes_json): the tree's one escaper (core/util).
using util::jsonString;
inline std::string jsonBool(bool value) {
    return value ? "true" : "false";
}
inline std::string jsonInt(std::int64_t value) {
    return std::to_string(value);
}

struct ExportOptions {
    std::size_t spanQueueCapacity = 4096;
    std::size_t eventQueueCapacity = 1024;
    std::size_t batchSize = 256;
    long flushInterval_ms = 1000;
    /// After a failed span export the exporter is left alone for this long, doubling per failure up to
    /// retryMax_ms; meanwhile spans are not serialised at all, only the newest batch is kept for the next
    /// try.
    long retryInitial_ms = 1000;
    long retryMax_ms = 5000;
};

/// Bounded, never blocks a request: submit() drops (and counts) when a queue is full. One background thread
/// hands batches to the exporters; a slow or failing exporter only delays that thread. A span exporter whose
/// export failed (collector down) is backed off exponentially: while it waits, batches are not handed to it
/// (no serialising, no connection attempts); the newest batch is held for the retry, older ones are dropped
/// and counted in spansDropped().
class ExportPipeline {
  public:
    explicit ExportPipeline(ExportOptions options = {});
    ~ExportPipeline();
    ExportPipeline(const ExportPipeline&) = delete;
    ExportPipeline& operator=(const ExportPipeline&) = delete;

    /// Before start().
    void addSpanExporter(std::shared_ptr<sdk::TelemetryExporter> exporter, std::string name);
    void addEventExporter(std::shared_ptr<sdk::TelemetryExporter> exporter, std::string name);
    bool tracingEnabled() const { return !_spanExporters.empty(); }
    bool analyticsEnabled() const { return !_eventExporters.empty(); }

    void start();
    /// Exports what is queued (waiting at most `timeout_ms` in the exporters' flush) and stops the thread.
    void stop(long timeout_ms = 5000);

    void submit(sdk::Span span);
    void submit(sdk::AnalyticsEvent event);

    std::uint64_t spansDropped() const { return _spansDropped.load(); }
    std::uint64_t spansExported() const { return _spansExported.load(); }
    std::uint64_t spanExportFailures() const { return _spanExportFailures.load(); }
    std::uint64_t eventsDropped() const { return _eventsDropped.load(); }
    std::uint64_t eventsExported() const { return _eventsExported.load(); }
    std::size_t spanQueueDepth() const;

  private:
    void run();
    /// `final`: the last pass at stop(): held batches are tried whatever the backoff says.
    void drainOnce(bool final = false);
    using Clock = std::chrono::steady_clock;

    struct Named {
        std::shared_ptr<sdk::TelemetryExporter> exporter;
        std::string name;
        long backoff_ms = 0;          ///< 0: healthy
        Clock::time_point retryAt{};  ///< while backing off: when the next attempt may go
        std::vector<sdk::Span> held;  ///< the newest batch not yet exported (span exporters only)
    };
    /// Hands `spans` to one span exporter (or holds them while it backs off); the batch is moved when
    /// `lastUse`.
    void exportTo(Named& named, std::vector<sdk::Span>& spans, bool lastUse, bool final);
    ExportOptions _options;
    std::vector<Named> _spanExporters;
    std::vector<Named> _eventExporters;
    mutable std::mutex _mutex;
    std::condition_variable _wake;
    std::deque<sdk::Span> _spans;
    std::deque<sdk::AnalyticsEvent> _events;
    bool _stopping = false;
    std::thread _thread;
    std::atomic<std::uint64_t> _spansDropped{0}, _spansExported{0}, _spanExportFailures{0};
    std::atomic<std::uint64_t> _eventsDropped{0}, _eventsExported{0};
};

/// A span being recorded; submitted to the pipeline by end() (or the destructor). Not thread-safe; for
/// modules that trace their own work (the MCP gateway: name "mcp.tools/call" etc.).
class ActiveSpan {
  public:
    /// `parent` null: a child of the HTTP request span the current thread is serving, if any, else a root.
    ActiveSpan(ExportPipeline* pipeline, std::string name, const SpanContext* parent = nullptr);
    ~ActiveSpan();
    ActiveSpan(const ActiveSpan&) = delete;
    ActiveSpan& operator=(const ActiveSpan&) = delete;

    void setAttribute(const std::string& key, const std::string& value) {
        _span.attributes_json[key] = jsonString(value);
    }
    void setAttribute(const std::string& key, std::int64_t value) {
        _span.attributes_json[key] = jsonInt(value);
    }
    void setAttribute(const std::string& key, bool value) { _span.attributes_json[key] = jsonBool(value); }
    void setError(const std::string& message);
    SpanContext context() const { return {_span.trace_id, _span.span_id, true}; }
    /// Ends now (idempotent).
    void end();

  private:
    ExportPipeline* _pipeline;
    sdk::Span _span;
    bool _ended = false;
};

/// The HTTP server span of the request the current thread is serving (set by the HTTP observer); null
/// outside requests or when tracing is off.
const SpanContext* currentRequestSpan();
void setCurrentRequestSpan(const SpanContext* context);

}  // namespace archestra::telemetry
