// Optimization rules (model switching, reference-proxy §2.6) and the cheap token estimate they use.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace archestra::policy {

/// One condition of a rule: `{"maxLength": n}` (tokens) or `{"hasTools": b}`; an object with both keys
/// requires both.
struct OptimizationCondition {
    std::optional<std::uint64_t> maxLengthTokens;
    std::optional<bool> hasTools;
};

struct OptimizationRule {
    std::string id;
    std::string provider;  ///< openai | anthropic | gemini: a rule applies only to requests to that provider
    std::string targetModel;
    bool enabled = true;
    std::string createdAt;  ///< RFC 3339 UTC, so text order is time order
    std::vector<OptimizationCondition> conditions;
};

struct OptimizationRequest {
    std::string provider;
    std::uint64_t tokenCount = 0;  ///< e.g. estimateTokens over the messages
    bool hasTools = false;
};

/// Parses a rule's `conditions` array; throws PolicyError naming the element on a bad shape.
std::vector<OptimizationCondition> parseOptimizationConditions(const nlohmann::json& conditions);

/// The first enabled rule, by createdAt (then id), of the request's provider whose conditions all hold
/// (`tokenCount <= maxLength`, `hasTools == hasTools`); nullptr when none. A rule with no conditions matches.
const OptimizationRule* selectOptimizationRule(const std::vector<OptimizationRule>& rules,
                                               const OptimizationRequest& request);

/// Cheap token estimate: ceil(bytes / 4). Real tokenizers average about 4 bytes of English per token; this
/// runs on the hot path with no vocabulary. It over-counts dense non-ASCII text, which only makes a
/// maxLength rule (switch to a cheaper model for short prompts) apply less often.
std::uint64_t estimateTokens(std::string_view text);

}  // namespace archestra::policy
