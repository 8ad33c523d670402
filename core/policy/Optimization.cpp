// Optimization rule matching and token estimation.
#include "core/policy/Optimization.h"

#include <algorithm>

#include "core/policy/Types.h"

namespace archestra::policy {

std::vector<OptimizationCondition> parseOptimizationConditions(const nlohmann::json& conditions) {
    if (!conditions.is_array()) throw PolicyError("conditions must be an array of {maxLength} or {hasTools}");
    std::vector<OptimizationCondition> out;
    for (std::size_t i = 0; i < conditions.size(); ++i) {
        const auto& c = conditions[i];
        const std::string where = "conditions[" + std::to_string(i) + "]";
        if (!c.is_object()) throw PolicyError(where + " must be an object");
        OptimizationCondition oc;
        if (auto it = c.find("maxLength"); it != c.end()) {
            if (!it->is_number_integer() || it->get<std::int64_t>() < 0)
                throw PolicyError(where + ".maxLength must be a non-negative integer (tokens)");
            oc.maxLengthTokens = it->get<std::uint64_t>();
        }
        if (auto it = c.find("hasTools"); it != c.end()) {
            if (!it->is_boolean()) throw PolicyError(where + ".hasTools must be a boolean");
            oc.hasTools = it->get<bool>();
        }
        if (!oc.maxLengthTokens && !oc.hasTools)
            throw PolicyError(where + " must have maxLength or hasTools");
        out.push_back(oc);
    }
    return out;
}

const OptimizationRule* selectOptimizationRule(const std::vector<OptimizationRule>& rules,
                                               const OptimizationRequest& request) {
    std::vector<const OptimizationRule*> ordered;
    for (const auto& r : rules) ordered.push_back(&r);
    std::stable_sort(ordered.begin(), ordered.end(), [](const auto* a, const auto* b) {
        return a->createdAt != b->createdAt ? a->createdAt < b->createdAt : a->id < b->id;
    });
    for (const OptimizationRule* r : ordered) {
        if (!r->enabled || r->provider != request.provider) continue;
        bool all =
            std::all_of(r->conditions.begin(), r->conditions.end(), [&](const OptimizationCondition& c) {
                if (c.maxLengthTokens && request.tokenCount > *c.maxLengthTokens) return false;
                if (c.hasTools && request.hasTools != *c.hasTools) return false;
                return true;
            });
        if (all) return r;
    }
    return nullptr;
}

std::uint64_t estimateTokens(std::string_view text) {
    return (text.size() + 3) / 4;
}

}  // namespace archestra::policy
