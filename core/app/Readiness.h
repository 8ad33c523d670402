// Readiness: named checks that together decide GET /ready (database, selected plugins, ...).
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace archestra::app {

struct CheckResult {
    bool ok = false;
    std::string detail;
    /// ok but working in a reduced way (e.g. the interaction spool's disk is full): listed under "degraded",
    /// /ready stays 200 so the instance keeps its traffic.
    bool degraded = false;
};

/// Thread-safe registry of readiness checks; checks are called on each /ready request and must be quick.
class Readiness {
  public:
    using Check = std::function<CheckResult()>;
    void add(std::string name, Check check);
    /// {"status":"ready"|"degraded"|"not_ready","checks":{name:{ok,detail[,degraded]}},"failing":[names],
    /// "degraded":[names]}; `ready` is false only with a failing check. A degraded check does not make the
    /// instance not ready ("degraded": 200, still in its Service).
    nlohmann::json report(bool& ready) const;

  private:
    mutable std::mutex _mutex;
    std::vector<std::pair<std::string, Check>> _checks;
};

}  // namespace archestra::app
