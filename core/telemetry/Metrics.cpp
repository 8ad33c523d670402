// Prometheus metrics of the platform: registry, scrape hooks, process metrics and the text exposition.
#include "core/telemetry/Metrics.h"

#include <prometheus/text_serializer.h>

#include <Poco/Logger.h>

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace archestra::telemetry {

std::string BoundedLabel::admit(const std::string& value) {
    std::string bounded = value.size() > kMaxValueLength ? value.substr(0, kMaxValueLength) : value;
    std::lock_guard lock(_mutex);
    if (_seen.count(bounded)) return bounded;
    if (_seen.size() >= _capacity) return kOther;
    _seen.insert(bounded);
    return bounded;
}

ProcessStats ProcessStats::read() {
    ProcessStats stats;
    const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    const double pageSize = static_cast<double>(sysconf(_SC_PAGESIZE));
    std::ifstream statFile("/proc/self/stat");
    std::string line;
    if (std::getline(statFile, line)) {
        // The command name (field 2) may contain spaces: parse from the closing parenthesis.
        auto close = line.rfind(')');
        if (close != std::string::npos) {
            std::istringstream fields(line.substr(close + 2));
            std::vector<std::string> f;
            std::string token;
            while (fields >> token) f.push_back(token);
            // f[0] is field 3 (state); utime=14, stime=15, num_threads=20, starttime=22, vsize=23, rss=24.
            auto field = [&](int n) {
                return n - 3 < static_cast<int>(f.size()) ? std::stod(f[n - 3]) : 0.0;
            };
            stats.cpuSeconds = (field(14) + field(15)) / ticks;
            stats.threads = field(20);
            stats.virtualBytes = field(23);
            stats.residentBytes = field(24) * pageSize;
            double startTicks = field(22);
            std::ifstream procStat("/proc/stat");
            std::string key;
            double bootTime = 0;
            while (procStat >> key) {
                if (key == "btime") {
                    procStat >> bootTime;
                    break;
                }
            }
            stats.startTimeSeconds = bootTime + startTicks / ticks;
        }
    }
    if (DIR* dir = opendir("/proc/self/fd")) {
        int count = 0;
        while (dirent* entry = readdir(dir))
            if (entry->d_name[0] != '.') ++count;
        closedir(dir);
        stats.openFds = count - 1;  // the directory handle itself
    }
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0) stats.maxFds = static_cast<double>(limit.rlim_cur);
    return stats;
}

MetricsRegistry::MetricsRegistry() : _registry(std::make_shared<prometheus::Registry>()) {
    auto& r = *_registry;
    _cpuSeconds = &prometheus::BuildCounter()
                       .Name("process_cpu_seconds_total")
                       .Help("Total user and system CPU time spent in seconds.")
                       .Register(r)
                       .Add({});
    auto gauge = [&](const char* name, const char* help) {
        return &prometheus::BuildGauge().Name(name).Help(help).Register(r).Add({});
    };
    _residentBytes = gauge("process_resident_memory_bytes", "Resident memory size in bytes.");
    _virtualBytes = gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.");
    _openFds = gauge("process_open_fds", "Number of open file descriptors.");
    _maxFds = gauge("process_max_fds", "Maximum number of open file descriptors.");
    _startTime =
        gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.");
    _threads = gauge("process_threads", "Number of OS threads in the process.");
    updateProcessMetrics();
}

void MetricsRegistry::addScrapeHook(std::function<void()> hook) {
    std::lock_guard lock(_mutex);
    _hooks.push_back(std::move(hook));
}

void MetricsRegistry::updateProcessMetrics() {
    ProcessStats stats = ProcessStats::read();
    if (stats.cpuSeconds > _cpuSecondsReported) {
        _cpuSeconds->Increment(stats.cpuSeconds - _cpuSecondsReported);
        _cpuSecondsReported = stats.cpuSeconds;
    }
    _residentBytes->Set(stats.residentBytes);
    _virtualBytes->Set(stats.virtualBytes);
    _openFds->Set(stats.openFds);
    _maxFds->Set(stats.maxFds);
    _startTime->Set(stats.startTimeSeconds);
    _threads->Set(stats.threads);
}

std::string MetricsRegistry::scrape() {
    {
        std::lock_guard lock(_mutex);
        try {
            updateProcessMetrics();
        } catch (const std::exception& error) {
            Poco::Logger::get("metrics").debug(std::string("process metrics unavailable: ") + error.what());
        }
        for (const auto& hook : _hooks) {
            try {
                hook();
            } catch (const std::exception& error) {
                // One broken source degrades its own gauges only, never the whole scrape.
                Poco::Logger::get("metrics").warning(std::string("a metrics source failed: ") + error.what());
            }
        }
    }
    return prometheus::TextSerializer().Serialize(_registry->Collect());
}

}  // namespace archestra::telemetry
