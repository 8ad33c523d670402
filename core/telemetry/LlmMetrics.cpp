// The LLM metric families of the reference with pre-resolved children per label set.
#include "core/telemetry/LlmMetrics.h"

#include "core/proxy/ProfileCache.h"

#include <set>

namespace archestra::telemetry {

namespace {
const prometheus::Histogram::BucketBoundaries kDurationBuckets{0.1, 0.5, 1, 2, 5, 10, 30, 60};
const prometheus::Histogram::BucketBoundaries kTtftBuckets{0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10};
const prometheus::Histogram::BucketBoundaries kTpsBuckets{5, 10, 25, 50, 75, 100, 150, 200, 300};
// Upper bound on cached raw-value lookups (the label sets themselves are bounded by BoundedLabel).
constexpr std::size_t kMaxChildren = 5000;
}  // namespace

std::string LlmMetrics::sanitizeLabelKey(const std::string& key) {
    std::string out = key;
    for (auto& c : out)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
            c = '_';
    if (out.empty() || (out[0] >= '0' && out[0] <= '9')) out.insert(out.begin(), '_');
    return out;
}

LlmMetrics::LlmMetrics(prometheus::Registry& registry, std::size_t maxModels, std::size_t maxAgents)
    : _duration(prometheus::BuildHistogram()
                    .Name("llm_request_duration_seconds")
                    .Help("LLM request duration in seconds")
                    .Register(registry)),
      _tokens(
          prometheus::BuildCounter().Name("llm_tokens_total").Help("Total tokens used").Register(registry)),
      _blocked(prometheus::BuildCounter()
                   .Name("llm_blocked_tools_total")
                   .Help("Blocked tool count")
                   .Register(registry)),
      _cost(prometheus::BuildCounter()
                .Name("llm_cost_total")
                .Help("Total cost in USD of the model that was called")
                .Register(registry)),
      _ttft(prometheus::BuildHistogram()
                .Name("llm_time_to_first_token_seconds")
                .Help("Time to first token in seconds (streaming)")
                .Register(registry)),
      _tps(prometheus::BuildHistogram()
               .Name("llm_tokens_per_second")
               .Help("Output tokens per second (streaming)")
               .Register(registry)),
      _models(maxModels),
      _agents(maxAgents) {}

const std::vector<std::string>& LlmMetrics::labelKeysLocked(const proxy::CacheSnapshot* snapshot) {
    if (snapshot == _keysSnapshot || snapshot == nullptr) return _labelKeys;
    std::map<std::string, std::string> bySanitized;  // sanitised -> first raw key (collisions merge)
    for (const auto& [id, profile] : snapshot->profiles)
        for (const auto& [key, value] : profile->labels) bySanitized.emplace(sanitizeLabelKey(key), key);
    std::vector<std::string> keys;
    for (const auto& [sanitized, raw] : bySanitized) keys.push_back(raw);
    _keysSnapshot = snapshot;
    if (keys != _labelKeys) {
        _labelKeys = std::move(keys);
        ++_keysGeneration;  // new label sets from now on; old series simply stop growing
    }
    return _labelKeys;
}

LlmMetrics::Children& LlmMetrics::childrenLocked(const proxy::LlmCallInfo& info) {
    const auto& keys = labelKeysLocked(info.snapshot);
    const proxy::Profile& profile = *info.profile;
    std::string key;
    key.reserve(128);
    key += std::to_string(_keysGeneration);
    key += '\x1f';
    key += proxy::providerName(info.provider);
    key += '\x1f';
    key += profile.id;
    key += '\x1f';
    key += profile.name;  // a renamed profile gets series with its new name
    key += '\x1f';
    key += info.model;
    key += '\x1f';
    key += info.agentId;
    auto it = _children.find(key);
    if (it != _children.end()) return *it->second;

    std::string model = _models.admit(info.model);
    std::string agent = _agents.admit(info.agentId);
    std::string boundedKey = std::to_string(_keysGeneration) + '\x1f' +
                             std::string(proxy::providerName(info.provider)) + '\x1f' + profile.id + '\x1f' +
                             profile.name + '\x1f' + model + '\x1f' + agent;
    auto bounded = _byLabels.find(boundedKey);
    if (bounded == _byLabels.end()) {
        auto children = std::make_unique<Children>();
        prometheus::Labels labels{{"provider", std::string(proxy::providerName(info.provider))},
                                  {"model", model},
                                  {"agent_id", agent},
                                  {"profile_id", profile.id},
                                  {"profile_name", profile.name}};
        for (const auto& raw : keys) {
            std::string value;
            for (const auto& [k, v] : profile.labels)
                if (k == raw) value = v;
            std::string name = sanitizeLabelKey(raw);
            if (!labels.count(name)) labels[name] = value;  // a label key never overrides a base label
        }
        children->base = labels;
        auto withType = [&](const char* type) {
            auto l = labels;
            l["type"] = type;
            return l;
        };
        children->inputTokens = &_tokens.Add(withType("input"));
        children->outputTokens = &_tokens.Add(withType("output"));
        children->blockedTools = &_blocked.Add(labels);
        children->cost = &_cost.Add(labels);
        children->timeToFirstToken = &_ttft.Add(labels, kTtftBuckets);
        children->tokensPerSecond = &_tps.Add(labels, kTpsBuckets);
        bounded = _byLabels.emplace(std::move(boundedKey), std::move(children)).first;
    }
    // Raw values that were folded into "__other__" are remembered only up to the cap, so memory stays bounded
    // whatever clients send; past it such calls take the slower admit() path.
    if (_children.size() < kMaxChildren) _children.emplace(std::move(key), bounded->second.get());
    return *bounded->second;
}

void LlmMetrics::record(const proxy::LlmCallInfo& info, const proxy::LlmCallOutcome& outcome) {
    if (!info.profile) return;
    prometheus::Histogram* duration = nullptr;
    Children* children = nullptr;
    {
        std::lock_guard lock(_mutex);
        children = &childrenLocked(info);
        auto& slot = children->durationByStatus[outcome.upstreamStatus];
        if (!slot) {
            auto labels = children->base;
            labels["status_code"] = std::to_string(outcome.upstreamStatus);
            slot = &_duration.Add(labels, kDurationBuckets);
        }
        duration = slot;
    }
    // The children live as long as this object; the metric objects are thread-safe on their own.
    duration->Observe(outcome.duration_s);
    if (outcome.inputTokens && *outcome.inputTokens > 0)
        children->inputTokens->Increment(static_cast<double>(*outcome.inputTokens));
    if (outcome.outputTokens && *outcome.outputTokens > 0)
        children->outputTokens->Increment(static_cast<double>(*outcome.outputTokens));
    if (outcome.blockedToolCalls > 0) children->blockedTools->Increment(outcome.blockedToolCalls);
    if (outcome.cost_usd && *outcome.cost_usd > 0) children->cost->Increment(*outcome.cost_usd);
    if (outcome.streamed) {
        if (outcome.timeToFirstToken_s) children->timeToFirstToken->Observe(*outcome.timeToFirstToken_s);
        if (outcome.outputTokens && *outcome.outputTokens > 0 && outcome.duration_s > 0)
            children->tokensPerSecond->Observe(static_cast<double>(*outcome.outputTokens) /
                                               outcome.duration_s);
    }
}

}  // namespace archestra::telemetry
