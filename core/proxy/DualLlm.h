// Dual-LLM sanitisation of tool results (reference-proxy.md §2.3): a quarantined model reads the untrusted
// result and may only pick option indices; the main model asks questions and writes the summary that replaces
// the result before the request goes upstream.
#pragma once

#include "core/policy/TrustedData.h"
#include "core/proxy/adapters/ProviderAdapter.h"
#include "core/proxy/upstream/UpstreamPool.h"

#include <Poco/Net/HTTPRequest.h>
#include <nlohmann/json.hpp>

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace archestra::db {
class Database;
}

namespace archestra::proxy {

/// The active row of dual_llm_config (the oldest one), only when it is enabled.
struct DualLlmSettings {
    std::string mainAgentPrompt;         ///< {{originalUserRequest}}
    std::string quarantinedAgentPrompt;  ///< {{toolResultData}}, {{question}}, {{options}}, {{maxIndex}}
    std::string summaryPrompt;           ///< {{qaText}}
    int maxRounds = 5;
};

struct StoredDualLlmResult {
    std::string id;
    std::string result;
};

/// Where the settings come from and where results are cached (per profile and tool call id). The database
/// implementation is below; tests use an in-memory one.
class DualLlmStore {
  public:
    virtual ~DualLlmStore() = default;
    /// nullopt when no config exists or the active one is disabled.
    virtual std::optional<DualLlmSettings> activeSettings() = 0;
    virtual std::optional<StoredDualLlmResult> find(const std::string& profileId,
                                                    const std::string& toolCallId) = 0;
    /// Returns the new row's id.
    virtual std::string save(const std::string& profileId, const std::string& toolCallId,
                             const nlohmann::json& conversations, const std::string& result) = 0;
};

class DatabaseDualLlmStore : public DualLlmStore {
  public:
    explicit DatabaseDualLlmStore(db::Database& database) : _db(database) {}
    std::optional<DualLlmSettings> activeSettings() override;
    std::optional<StoredDualLlmResult> find(const std::string& profileId,
                                            const std::string& toolCallId) override;
    std::string save(const std::string& profileId, const std::string& toolCallId,
                     const nlohmann::json& conversations, const std::string& result) override;

  private:
    db::Database& _db;
};

/// How the internal calls reach the model: the request's provider, upstream, model and client credential.
struct DualLlmTarget {
    Provider provider = Provider::Invalid;
    UpstreamEndpoint endpoint;
    std::string model;
    std::vector<std::pair<std::string, std::string>> headers;  ///< credential and version headers only
    std::string query;  ///< the client's query string ("?key=" for Gemini)
};

/// Credential and version headers of the client's request worth sending with the internal calls (nothing
/// else: no cookies, no tracing, no client-chosen hosts).
std::vector<std::pair<std::string, std::string>> dualLlmCredentialHeaders(
    const std::vector<std::pair<std::string, std::string>>& requestHeaders);

/// The target for a proxied request: its provider, upstream, model (the one going upstream), credential
/// headers and query string.
DualLlmTarget dualLlmTarget(Provider provider, const UpstreamEndpoint& endpoint, const std::string& model,
                            const Poco::Net::HTTPRequest& clientRequest);

/// One step, for streaming clients (the proxy turns it into an SSE comment line).
struct DualLlmProgress {
    std::string toolCallId;
    std::string phase;  ///< "start", "question", "answer", "summary", "done", "cached", "failed"
    int round = 0;
    int maxRounds = 0;
    std::string line() const;  ///< ": archestra-dual-llm phase=question round=1/5 toolCallId=call_1\n\n"
};
using DualLlmProgressFn = std::function<void(const DualLlmProgress&)>;

/// What happened to one tool result.
struct DualLlmOutcome {
    std::string toolCallId;
    bool sanitized = false;  ///< false: the result stays as it was and counts as untrusted
    bool cached = false;
    int rounds = 0;
    int upstreamCalls = 0;
    std::string summary;
    std::string resultId;
    std::string error;  ///< why it failed
    nlohmann::json conversation = nlohmann::json::array();
    nlohmann::json toJson() const;  ///< for the interaction's decisions (no conversation)
};

/// The outcome for a whole request.
struct DualLlmApplied {
    bool allSanitized = true;  ///< every result with verdict Sanitize was replaced by its summary
    nlohmann::json decisions = nlohmann::json::array();
};

/// Thread-safe (no state besides its collaborators).
class DualLlm {
  public:
    DualLlm(UpstreamPool& pool, DualLlmStore& store) : _pool(pool), _store(store) {}

    /// Runs the rounds for one tool result (or reuses the cached summary). Never throws for upstream or model
    /// failures: they come back as sanitized=false with the reason.
    DualLlmOutcome sanitize(const DualLlmTarget& target, const DualLlmSettings& settings,
                            const std::string& profileId, const std::string& toolCallId,
                            const nlohmann::json& toolResult, const DualLlmProgressFn& progress = {});

    /// Sanitises every result the evaluation marked Sanitize and writes the summaries into a copy of the
    /// body (`rewritten`, created from `body` when first needed). When the feature is disabled nothing is
    /// called and allSanitized is false.
    DualLlmApplied apply(const DualLlmTarget& target, const ProviderAdapter& adapter,
                         const std::string& profileId, const RequestView& view,
                         const policy::ContextEvaluation& evaluation, const nlohmann::json& body,
                         std::optional<nlohmann::json>& rewritten, const DualLlmProgressFn& progress = {});

    /// One chat call to the model; throws std::runtime_error naming what failed. Public for tests.
    std::string chat(const DualLlmTarget& target, const nlohmann::json& turns, bool multipleChoice);

  private:
    UpstreamPool& _pool;
    DualLlmStore& _store;
};

/// Parses the quarantined model's answer: {"answer": n} (optionally in a ```json fence) or a bare integer,
/// within [0, maxIndex]. nullopt for anything else (the caller then keeps the result untrusted).
std::optional<int> parseDualLlmAnswer(const std::string& text, int maxIndex);

/// The main model's turn: DONE, or QUESTION: ... OPTIONS: one per line ("0: yes"). nullopt question when it
/// said DONE or the turn could not be parsed (`parsed` tells which).
struct MainTurn {
    bool done = false;
    bool parsed = false;
    std::string question;
    std::vector<std::string> options;
};
MainTurn parseMainTurn(const std::string& text);

}  // namespace archestra::proxy
