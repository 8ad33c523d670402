// Trusted-data evaluation: which tool results in a conversation are trusted, blocked or to be sanitized, and
// whether the context as a whole is tainted.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/policy/Snapshot.h"

namespace archestra::policy {

enum class Verdict { Invalid = 0, Trusted, Untrusted, Blocked, Sanitize };
std::string_view toString(Verdict verdict);

struct ResultDecision {
    std::string toolCallId;
    std::optional<std::string> toolName;
    Verdict verdict = Verdict::Invalid;
    std::string reasonCode;  ///< machine-readable: archestra_tool, unresolved_tool_name, tool_not_assigned,
                             ///< policy_block_always, policy_sanitize_with_dual_llm, policy_mark_as_trusted,
                             ///< treatment_trusted, treatment_untrusted, treatment_sanitize_with_dual_llm
    std::string reason;      ///< for humans
    std::string policyId;    ///< the deciding policy, empty when none
    std::optional<std::string> replacementContent;  ///< set for Blocked: what the model sees instead
    std::vector<std::string> notes;                 ///< e.g. invalid regex in some policy
    nlohmann::json toJson() const;
};

struct ContextEvaluation {
    /// False when any result is Untrusted or Blocked, or the profile considers every context untrusted.
    /// Sanitize results count as trusted: the caller must replace them with the dual-LLM summary, and if that
    /// fails it must treat the context as untrusted.
    bool trusted = true;
    bool needsSanitization = false;
    std::string
        reasonCode;  ///< consider_context_untrusted, untrusted_tool_result, blocked_tool_result, trusted
    std::string reason;
    std::vector<ResultDecision> perResult;  ///< same order as the input
    nlohmann::json toJson() const;
};

/// Pure and order-independent: each result is judged on its own and the context is trusted only if every
/// result is, so permuting the results permutes `perResult` and changes nothing else. Policies are considered
/// in id order; among matching policies the most restrictive action wins (block > sanitize > trusted).
/// Because the proxy re-evaluates the whole history on every request, one untrusted result keeps the
/// conversation tainted for all later turns.
ContextEvaluation evaluateContext(const ProfilePolicySnapshot& snapshot,
                                  const std::vector<ToolResult>& results);

/// "[Content blocked by policy: Data blocked by policy: <description>]"
std::string blockedContentMessage(std::string_view description);

}  // namespace archestra::policy
