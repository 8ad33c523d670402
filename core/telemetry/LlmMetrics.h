// The LLM metric families of the reference (llm_request_duration_seconds, llm_tokens_total, ...) with the
// same names, labels and buckets; children pre-resolved per label set so a call costs a hash lookup.
#pragma once

#include "core/proxy/LlmCallObserver.h"
#include "core/telemetry/Metrics.h"

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace archestra::telemetry {

/// Thread-safe. Label sets: provider, model, agent_id, profile_id, profile_name, one label per profile-label
/// key (sanitised `[^a-zA-Z0-9_]` -> `_`, sorted; "" when a profile lacks it), plus status_code / type.
/// model and agent_id come from requests and are bounded (BoundedLabel).
class LlmMetrics {
  public:
    explicit LlmMetrics(prometheus::Registry& registry, std::size_t maxModels = 200,
                        std::size_t maxAgents = 1000);
    void record(const proxy::LlmCallInfo& info, const proxy::LlmCallOutcome& outcome);

    /// `[^a-zA-Z0-9_]` -> `_` (a leading digit gets a `_` prefix so the name stays valid).
    static std::string sanitizeLabelKey(const std::string& key);

  private:
    struct Children {
        prometheus::Labels base;
        std::map<int, prometheus::Histogram*> durationByStatus;
        prometheus::Counter* inputTokens = nullptr;
        prometheus::Counter* outputTokens = nullptr;
        prometheus::Counter* blockedTools = nullptr;
        prometheus::Counter* cost = nullptr;
        prometheus::Histogram* timeToFirstToken = nullptr;
        prometheus::Histogram* tokensPerSecond = nullptr;
    };
    const std::vector<std::string>& labelKeysLocked(const proxy::CacheSnapshot* snapshot);
    Children& childrenLocked(const proxy::LlmCallInfo& info);

    prometheus::Family<prometheus::Histogram>& _duration;
    prometheus::Family<prometheus::Counter>& _tokens;
    prometheus::Family<prometheus::Counter>& _blocked;
    prometheus::Family<prometheus::Counter>& _cost;
    prometheus::Family<prometheus::Histogram>& _ttft;
    prometheus::Family<prometheus::Histogram>& _tps;
    BoundedLabel _models;
    BoundedLabel _agents;

    std::mutex _mutex;
    const proxy::CacheSnapshot* _keysSnapshot = nullptr;
    std::vector<std::string> _labelKeys;  ///< raw keys, sorted by sanitised name
    std::uint64_t _keysGeneration = 0;
    std::unordered_map<std::string, std::unique_ptr<Children>> _byLabels;  ///< by bounded label values
    std::unordered_map<std::string, Children*> _children;                  ///< by raw values (capped cache)
};

}  // namespace archestra::telemetry
