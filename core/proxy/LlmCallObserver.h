// Observer of proxied LLM calls (metrics, tracing): a small interface so core/proxy needs no metrics or
// tracing library; core/telemetry implements it.
#pragma once

#include "core/proxy/adapters/ProviderAdapter.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace Poco::Net {
class HTTPRequest;
}

namespace archestra::http {
class Context;
}

namespace archestra::proxy {

struct Profile;
struct CacheSnapshot;

/// What the proxy knows about one model call when it goes upstream. Borrowed for the duration of a callback.
struct LlmCallInfo {
    Provider provider = Provider::Invalid;
    const Profile* profile = nullptr;         ///< never null in callbacks
    const CacheSnapshot* snapshot = nullptr;  ///< the snapshot the profile came from (label keys)
    std::string model;    ///< what went upstream (the optimized model when a rule applied)
    std::string agentId;  ///< X-Archestra-Agent-Id, trimmed; empty when absent
    bool stream = false;  ///< the client asked for a stream
    std::chrono::steady_clock::time_point started;
    std::chrono::system_clock::time_point startedWall;
};

/// How the call ended.
struct LlmCallOutcome {
    int upstreamStatus = 0;  ///< HTTP status of the upstream; 0 when it never answered (network error)
    int clientStatus = 0;    ///< what the client got (499: it hung up)
    double duration_s = 0;   ///< from the start of the call to the end of the (streamed) body
    std::optional<double> timeToFirstToken_s;  ///< streams only
    bool streamed = false;                     ///< the answer was relayed as an event stream
    std::optional<std::int64_t> inputTokens;
    std::optional<std::int64_t> outputTokens;
    std::optional<double> cost_usd;
    std::uint32_t blockedToolCalls = 0;
    std::string error;  ///< empty on success; else why it failed (no request content)
};

/// Implementations must be thread-safe and cheap: they run on the proxy's request threads. Never throw.
class LlmCallObserver {
  public:
    virtual ~LlmCallObserver() = default;
    /// Just before the request goes upstream. May add headers to `upstream` (W3C traceparent). The returned
    /// state (may be null) comes back in onCallDone.
    virtual std::shared_ptr<void> onCallStart(const LlmCallInfo& info, const http::Context& client,
                                              Poco::Net::HTTPRequest& upstream) noexcept = 0;
    /// Once, when the call ended (after the last byte of a stream).
    virtual void onCallDone(const LlmCallInfo& info, const LlmCallOutcome& outcome,
                            const std::shared_ptr<void>& state) noexcept = 0;
};

}  // namespace archestra::proxy
