// Readiness: aggregation of checks into the /ready body.
#include "core/app/Readiness.h"

namespace archestra::app {

void Readiness::add(std::string name, Check check) {
    std::lock_guard lock(_mutex);
    _checks.emplace_back(std::move(name), std::move(check));
}

nlohmann::json Readiness::report(bool& ready) const {
    std::vector<std::pair<std::string, Check>> checks;
    {
        std::lock_guard lock(_mutex);
        checks = _checks;
    }
    ready = true;
    nlohmann::json body = {{"checks", nlohmann::json::object()},
                           {"failing", nlohmann::json::array()},
                           {"degraded", nlohmann::json::array()}};
    for (const auto& [name, check] : checks) {
        CheckResult result;
        try {
            result = check();
        } catch (const std::exception& error) {
            result = {false, error.what()};
        }
        body["checks"][name] = {{"ok", result.ok}, {"detail", result.detail}};
        if (result.ok && result.degraded) {
            body["checks"][name]["degraded"] = true;
            body["degraded"].push_back(name);
        }
        if (!result.ok) {
            ready = false;
            body["failing"].push_back(name);
        }
    }
    body["status"] = !ready ? "not_ready" : body["degraded"].empty() ? "ready" : "degraded";
    return body;
}

}  // namespace archestra::app
