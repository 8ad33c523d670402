// The LLM proxy's request handling: profile, guardrails, upstream call, relay, interaction record.
#pragma once

#include "core/proxy/DualLlm.h"
#include "core/proxy/InteractionLog.h"
#include "core/proxy/LlmCallObserver.h"
#include "core/proxy/ProfileCache.h"
#include "core/proxy/ToolDiscovery.h"
#include "core/proxy/adapters/ProviderAdapter.h"
#include "core/proxy/upstream/UpstreamPool.h"

#include <atomic>
#include <memory>
#include <string>

namespace archestra::http {
class Context;
class Router;
}  // namespace archestra::http

namespace archestra::proxy {

struct ProxyUpstreams {
    UpstreamEndpoint openAi;
    UpstreamEndpoint anthropic;
    UpstreamEndpoint gemini;
    const UpstreamEndpoint& of(Provider provider) const;
};

/// Counters for metrics and tests.
struct ProxyCounters {
    std::atomic<std::uint64_t> requests{0};
    std::atomic<std::uint64_t> upstreamErrors{0};
    std::atomic<std::uint64_t> blockedToolCalls{0};
    std::atomic<std::uint64_t> clientDisconnects{0};
};

/// Stateless per request; shared by every worker thread. Collaborators must outlive it.
class LlmProxy {
  public:
    LlmProxy(ProxyUpstreams upstreams, UpstreamPool& pool, ProfileCache& cache, ToolDiscovery& discovery,
             InteractionLog& log);

    /// POST chat/completions, messages, generateContent / streamGenerateContent. `profileId` empty: the
    /// default profile (created when missing); any case. `model`, `streamRoute` and `apiVersion` (the
    /// version segment the upstream path gets) come from the Gemini path; the model must match
    /// ^[a-zA-Z0-9-.]+$ (400 otherwise).
    void handleModelCall(http::Context& context, Provider provider, const std::string& profileId,
                         const std::string& model = "", bool streamRoute = false,
                         const std::string& apiVersion = "v1beta");

    /// Any other path under /v1/<provider>/: forwarded as it is (a leading profile UUID removed), no
    /// policies.
    void handlePassThrough(http::Context& context, Provider provider);

    ProxyCounters& counters() { return _counters; }
    /// Metrics/tracing hook; set before the listeners start (not synchronised).
    void setObserver(std::shared_ptr<LlmCallObserver> observer) { _observer = std::move(observer); }
    /// Dual-LLM sanitisation of tool results; without it such results keep the context untrusted. Set before
    /// the listeners start; must outlive the proxy's requests.
    void setDualLlm(DualLlm* dualLlm) { _dualLlm = dualLlm; }

  private:
    std::string upstreamPathFor(Provider provider, const std::string& rest) const;

    ProxyUpstreams _upstreams;
    UpstreamPool& _pool;
    ProfileCache& _cache;
    ToolDiscovery& _discovery;
    InteractionLog& _log;
    ProxyCounters _counters;
    std::shared_ptr<LlmCallObserver> _observer;
    DualLlm* _dualLlm = nullptr;
};

/// Registers /v1/openai, /v1/anthropic and /v1/gemini (main routes in the OpenAPI document with the
/// original's operationIds, pass-through routes hidden). Public: the provider key is the credential.
void registerProxyRoutes(http::Router& router, LlmProxy& proxy);

}  // namespace archestra::proxy
