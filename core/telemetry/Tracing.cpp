// Trace context, span ids and the bounded export pipeline feeding the telemetry plugins.
#include "core/telemetry/Tracing.h"

#include <Poco/Logger.h>

#include <random>

namespace archestra::telemetry {

namespace {

thread_local const SpanContext* tlsRequestSpan = nullptr;

bool isHex(std::string_view s) {
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

bool allZero(std::string_view s) {
    return s.find_first_not_of('0') == std::string_view::npos;
}

std::string randomHex(std::size_t bytes) {
    // Span ids need uniqueness, not secrecy: a per-thread generator seeded once from the OS.
    thread_local std::mt19937_64 engine{std::random_device{}() ^
                                        (static_cast<std::uint64_t>(std::random_device{}()) << 32)};
    static const char* digits = "0123456789abcdef";
    std::string out(bytes * 2, '0');
    for (std::size_t i = 0; i < bytes; i += 8) {
        std::uint64_t value = engine();
        for (std::size_t j = 0; j < 8 && i + j < bytes; ++j) {
            unsigned char byte = static_cast<unsigned char>(value >> (j * 8));
            out[(i + j) * 2] = digits[byte >> 4];
            out[(i + j) * 2 + 1] = digits[byte & 0xf];
        }
    }
    return out;
}

Poco::Logger& log() {
    return Poco::Logger::get("telemetry");
}

}  // namespace

std::optional<SpanContext> parseTraceparent(std::string_view header) {
    // version(2)-traceid(32)-spanid(16)-flags(2)
    while (!header.empty() && (header.front() == ' ' || header.front() == '\t')) header.remove_prefix(1);
    while (!header.empty() && (header.back() == ' ' || header.back() == '\t')) header.remove_suffix(1);
    if (header.size() < 55 || header[2] != '-' || header[35] != '-' || header[52] != '-') return std::nullopt;
    std::string_view version = header.substr(0, 2), trace = header.substr(3, 32),
                     span = header.substr(36, 16), flags = header.substr(53, 2);
    if (!isHex(version) || version == "ff" || !isHex(trace) || !isHex(span) || !isHex(flags))
        return std::nullopt;
    if (version == "00" && header.size() != 55) return std::nullopt;
    if (allZero(trace) || allZero(span)) return std::nullopt;
    SpanContext context;
    context.traceId = std::string(trace);
    context.spanId = std::string(span);
    context.sampled = (std::stoi(std::string(flags), nullptr, 16) & 1) != 0;
    return context;
}

std::string formatTraceparent(const SpanContext& context) {
    return "00-" + context.traceId + "-" + context.spanId + (context.sampled ? "-01" : "-00");
}

std::string newTraceId() {
    return randomHex(16);
}
std::string newSpanId() {
    return randomHex(8);
}

std::int64_t unixNanos(std::chrono::system_clock::time_point time) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count();
}

const SpanContext* currentRequestSpan() {
    return tlsRequestSpan;
}
void setCurrentRequestSpan(const SpanContext* context) {
    tlsRequestSpan = context;
}

// ---- pipeline --------------------------------------------------------------------------------------------

ExportPipeline::ExportPipeline(ExportOptions options) : _options(options) {}

ExportPipeline::~ExportPipeline() {
    stop(1000);
}

void ExportPipeline::addSpanExporter(std::shared_ptr<sdk::TelemetryExporter> exporter, std::string name) {
    _spanExporters.push_back({std::move(exporter), std::move(name)});
}
void ExportPipeline::addEventExporter(std::shared_ptr<sdk::TelemetryExporter> exporter, std::string name) {
    _eventExporters.push_back({std::move(exporter), std::move(name)});
}

void ExportPipeline::start() {
    if (_thread.joinable() || (_spanExporters.empty() && _eventExporters.empty())) return;
    _thread = std::thread([this] { run(); });
}

void ExportPipeline::stop(long timeout_ms) {
    {
        std::lock_guard lock(_mutex);
        if (_stopping) return;
        _stopping = true;
    }
    _wake.notify_all();
    if (_thread.joinable()) _thread.join();
    drainOnce(true);  // whatever arrived after the thread's last pass (held batches too)
    for (auto* list : {&_spanExporters, &_eventExporters})
        for (auto& named : *list) {
            // At shutdown a failed flush loses what the exporter still held: say so (the process exits
            // anyway).
            sdk::Status status = named.exporter->flush(timeout_ms);
            if (!status.ok())
                log().warning("telemetry exporter " + named.name +
                              " failed to flush at shutdown: " + status.error().message);
        }
}

void ExportPipeline::submit(sdk::Span span) {
    if (_spanExporters.empty()) return;
    bool wake = false;
    {
        std::lock_guard lock(_mutex);
        if (_spans.size() >= _options.spanQueueCapacity) {
            ++_spansDropped;
            return;
        }
        _spans.push_back(std::move(span));
        wake = _spans.size() >= _options.batchSize;
    }
    if (wake) _wake.notify_one();
}

void ExportPipeline::submit(sdk::AnalyticsEvent event) {
    if (_eventExporters.empty()) return;
    std::lock_guard lock(_mutex);
    if (_events.size() >= _options.eventQueueCapacity) {
        ++_eventsDropped;
        return;
    }
    _events.push_back(std::move(event));
}

std::size_t ExportPipeline::spanQueueDepth() const {
    std::lock_guard lock(_mutex);
    return _spans.size();
}

void ExportPipeline::exportTo(Named& named, std::vector<sdk::Span>& spans, bool lastUse, bool final) {
    const auto now = Clock::now();
    if (named.backoff_ms > 0 && now < named.retryAt && !final) {
        // Backing off: keep only the newest batch for the next attempt; nothing is serialised meanwhile.
        if (spans.empty()) return;
        _spansDropped += named.held.size();
        if (lastUse)
            named.held = std::move(spans);
        else
            named.held = spans;
        return;
    }
    std::vector<sdk::Span> batch = std::move(named.held);
    named.held.clear();
    if (batch.empty()) {
        if (lastUse)
            batch = std::move(spans);
        else
            batch = spans;
    } else if (!spans.empty()) {
        batch.insert(batch.end(), spans.begin(), spans.end());
    }
    if (batch.empty()) return;
    sdk::Status status = named.exporter->exportSpans(batch);
    if (status.ok()) {
        _spansExported += batch.size();
        if (named.backoff_ms > 0) log().information("span export via " + named.name + " works again");
        named.backoff_ms = 0;
        return;
    }
    ++_spanExportFailures;
    // One warning per outage (a plugin that throws says nothing itself), then debug lines.
    if (named.backoff_ms == 0)
        log().warning("span export via " + named.name + " failed: " + status.error().message +
                      " (retried with backoff; further failures at debug level, "
                      "archestra_telemetry_span_export_failures_total counts them)");
    _spansDropped += batch.size();
    named.backoff_ms = named.backoff_ms == 0 ? _options.retryInitial_ms
                                             : std::min(named.backoff_ms * 2, _options.retryMax_ms);
    named.retryAt = Clock::now() + std::chrono::milliseconds(named.backoff_ms);
    log().debug("span export via " + named.name + " failed: " + status.error().message + "; next try in " +
                std::to_string(named.backoff_ms) + " ms");
}

void ExportPipeline::drainOnce(bool final) {
    bool first = true;
    while (true) {
        std::vector<sdk::Span> spans;
        std::vector<sdk::AnalyticsEvent> events;
        {
            std::lock_guard lock(_mutex);
            while (!_spans.empty() && spans.size() < _options.batchSize) {
                spans.push_back(std::move(_spans.front()));
                _spans.pop_front();
            }
            while (!_events.empty() && events.size() < _options.batchSize) {
                events.push_back(std::move(_events.front()));
                _events.pop_front();
            }
        }
        // A held batch waits for its exporter's retry time even when nothing new arrived.
        bool anyHeld = false;
        for (const auto& named : _spanExporters) anyHeld = anyHeld || !named.held.empty();
        if (spans.empty() && events.empty() && !(first && anyHeld)) return;
        first = false;
        for (std::size_t i = 0; i < _spanExporters.size(); ++i)
            exportTo(_spanExporters[i], spans, i + 1 == _spanExporters.size(), final);
        if (final) {
            // Shutting down and an exporter just failed (a collector that is down or never answers): the
            // rest would fail alike, one exporter timeout per batch, holding the exit; drop and count them.
            bool failing = false;
            for (const auto& named : _spanExporters) failing = failing || named.backoff_ms > 0;
            if (failing) {
                std::lock_guard lock(_mutex);
                _spansDropped += _spans.size();
                _spans.clear();
                if (events.empty()) return;
            }
        }
        for (auto& named : _eventExporters) {
            if (events.empty()) break;
            sdk::Status status = named.exporter->captureEvents(events);
            if (status.ok())
                _eventsExported += events.size();
            else
                log().debug("analytics via " + named.name + " failed: " + status.error().message);
        }
    }
}

void ExportPipeline::run() {
    while (true) {
        {
            std::unique_lock lock(_mutex);
            _wake.wait_for(lock, std::chrono::milliseconds(_options.flushInterval_ms),
                           [this] { return _stopping || _spans.size() >= _options.batchSize; });
            if (_stopping) return;
        }
        try {
            drainOnce();
        } catch (const std::exception& error) {
            log().warning(std::string("telemetry export failed: ") + error.what());
        }
    }
}

// ---- ActiveSpan ------------------------------------------------------------------------------------------

ActiveSpan::ActiveSpan(ExportPipeline* pipeline, std::string name, const SpanContext* parent)
    : _pipeline(pipeline && pipeline->tracingEnabled() ? pipeline : nullptr) {
    if (!_pipeline) return;
    if (!parent) parent = currentRequestSpan();
    _span.name = std::move(name);
    _span.trace_id = parent ? parent->traceId : newTraceId();
    _span.parent_span_id = parent ? parent->spanId : "";
    _span.span_id = newSpanId();
    _span.start_unix_nanos = unixNanos(std::chrono::system_clock::now());
}

ActiveSpan::~ActiveSpan() {
    end();
}

void ActiveSpan::setError(const std::string& message) {
    _span.status = sdk::SpanStatus::Error;
    _span.status_message = message;
}

void ActiveSpan::end() {
    if (_ended || !_pipeline) return;
    _ended = true;
    _span.end_unix_nanos = unixNanos(std::chrono::system_clock::now());
    _pipeline->submit(std::move(_span));
}

}  // namespace archestra::telemetry
