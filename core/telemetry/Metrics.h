// Prometheus metrics of the platform: one registry (prometheus-cpp), scrape hooks for gauges read at scrape
// time, process metrics, and the text exposition the /metrics route serves.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

namespace archestra::telemetry {

/// Admits at most `capacity` distinct values of a label that comes from request data; later new values
/// become "__other__", so a client cannot grow the series count without bound. Thread-safe.
class BoundedLabel {
  public:
    static constexpr const char* kOther = "__other__";
    static constexpr std::size_t kMaxValueLength = 128;
    explicit BoundedLabel(std::size_t capacity) : _capacity(capacity) {}
    std::string admit(const std::string& value);

  private:
    std::size_t _capacity;
    std::mutex _mutex;
    std::unordered_set<std::string> _seen;
};

/// The registry plus what runs at scrape time. Thread-safe.
class MetricsRegistry {
  public:
    MetricsRegistry();
    prometheus::Registry& registry() { return *_registry; }
    std::shared_ptr<prometheus::Registry> shared() { return _registry; }
    /// `hook` runs before each scrape (sets gauges from live state). Must not throw (exceptions are caught).
    void addScrapeHook(std::function<void()> hook);
    /// Runs the hooks and returns the Prometheus text format 0.0.4.
    std::string scrape();

  private:
    void updateProcessMetrics();

    std::shared_ptr<prometheus::Registry> _registry;
    std::mutex _mutex;  // hooks and the process counters
    std::vector<std::function<void()>> _hooks;
    prometheus::Counter* _cpuSeconds;
    double _cpuSecondsReported = 0;
    prometheus::Gauge* _residentBytes;
    prometheus::Gauge* _virtualBytes;
    prometheus::Gauge* _openFds;
    prometheus::Gauge* _maxFds;
    prometheus::Gauge* _startTime;
    prometheus::Gauge* _threads;
};

/// Parses /proc/self/stat and friends (Linux); exposed for tests.
struct ProcessStats {
    double cpuSeconds = 0;
    double residentBytes = 0;
    double virtualBytes = 0;
    double startTimeSeconds = 0;  ///< since the Unix epoch
    double threads = 0;
    double openFds = 0;
    double maxFds = 0;
    static ProcessStats read();
};

}  // namespace archestra::telemetry
