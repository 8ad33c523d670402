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
};

/// Thread-safe registry of readiness checks; checks are called on each /ready request and must be quick.
class Readiness {
  public:
    using Check = std::function<CheckResult()>;
    void add(std::string name, Check check);
    /// {"status":"ready"|"not_ready","checks":{name:{ok,detail}},"failing":[names]}; `ready` says which.
    nlohmann::json report(bool& ready) const;

  private:
    mutable std::mutex _mutex;
    std::vector<std::pair<std::string, Check>> _checks;
};

}  // namespace archestra::app
