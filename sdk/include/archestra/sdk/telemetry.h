// Telemetry exporter interface: ships finished trace spans and analytics events somewhere (OTLP, PostHog,
// file).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "archestra/sdk/result.h"

namespace archestra::sdk {

/// Outcome of a span. Zero is invalid.
enum class SpanStatus : int { Invalid = 0, Unset = 1, Ok = 2, Error = 3 };

/// A finished span. Value type, append-only (struct_size).
struct Span {
    std::uint32_t struct_size = sizeof(Span);
    std::string trace_id;        ///< 32 lowercase hex chars
    std::string span_id;         ///< 16 lowercase hex chars
    std::string parent_span_id;  ///< 16 hex chars, empty for a root span
    std::string name;            ///< e.g. "openai.chat.completions"
    std::int64_t start_unix_nanos = 0;
    std::int64_t end_unix_nanos = 0;
    std::map<std::string, std::string>
        attributes_json;  ///< attribute name -> value as JSON text ("\"gpt-4o\"", "true", "3")
    SpanStatus status = SpanStatus::Unset;
    std::string status_message;  ///< set when status is Error
};

/// A product-analytics event. Value type, append-only (struct_size).
struct AnalyticsEvent {
    std::uint32_t struct_size = sizeof(AnalyticsEvent);
    std::string name;             ///< e.g. "agent_created"
    std::string distinct_id;      ///< anonymous user or installation id
    std::string properties_json;  ///< JSON object text
    std::int64_t timestamp_unix_nanos = 0;
};

/// A telemetry exporter instance. Owned by the host. Thread-safe: the host's batch thread calls export while
/// request threads capture events. Never throws.
class TelemetryExporter {
  public:
    virtual ~TelemetryExporter() = default;
    /// Exports one batch of spans (the vector is only borrowed for the call).
    virtual Status exportSpans(const std::vector<Span>& spans) = 0;
    /// Captures analytics events; Unimplemented if the exporter does not do analytics.
    virtual Status captureEvents(const std::vector<AnalyticsEvent>& events) = 0;
    /// Sends whatever is buffered, waiting at most `timeout_ms`; called before shutdown.
    virtual Status flush(std::int64_t timeout_ms) = 0;
};

}  // namespace archestra::sdk
