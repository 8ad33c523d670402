// Tool-invocation decisions: which of the model's tool calls may go back to the client.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/policy/Snapshot.h"

namespace archestra::policy {

struct CallDecision {
    std::string toolCallId;
    std::string toolName;
    bool allowed = true;
    bool requiresApproval = false;  ///< blocked until a human approves it in the UI
    std::string reasonCode;         ///< archestra_tool, policy_block_always, policy_require_approval,
                             ///< missing_argument, untrusted_context, policy_allow_when_context_is_untrusted,
                             ///< tool_allows_untrusted_context, trusted_context
    std::string reason;          ///< for humans; for a blocked call, the <reason> of the refusal text
    std::string policyId;        ///< deciding policy, empty when none
    std::string argumentName;    ///< the argument the deciding policy looked at
    std::string contentMessage;  ///< refusal texts (reference-proxy §2.1); empty when allowed
    std::string refusalMessage;
    std::vector<std::string> notes;
    nlohmann::json toJson() const;
};

/// Judges every call (the original stopped at the first block and dropped the whole response), so the
/// caller can remove only the blocked calls. Per call, in this order:
///  1. `archestra__*` tools are allowed.
///  2. A matching block_always policy blocks (reason: the policy's reason, or "Policy violation: null" as in
///     the original when it has none). A condition on a missing argument does not match.
///  3. A matching require_approval policy blocks and asks for human approval.
///  4. An allow_when_context_is_untrusted policy whose argument is missing blocks with
///     "Missing required argument: <name>" unless the tool allows usage with untrusted data (as the
///     original).
///  5. In an untrusted context the call is allowed only if an allow_when_context_is_untrusted policy matches
///     (every value its path reaches) or the tool sets allowUsageWhenUntrustedDataIsPresent; otherwise
///     "Tool invocation blocked: context contains untrusted data".
///  6. Otherwise allowed (also for tools with no assignment).
/// Policies are taken in id order, so the reported policy is the lowest-id one that decided.
std::vector<CallDecision> evaluateToolCalls(const ProfilePolicySnapshot& snapshot, bool contextTrusted,
                                            const std::vector<ToolCall>& calls);

/// The compact JSON text of the arguments shown in the refusal (the raw text when they did not parse).
std::string argumentsText(const nlohmann::json& arguments);

/// "\nI tried to invoke the <name> tool with the following arguments: <args>.\n\nHowever, I was denied by a
/// tool invocation policy:\n\n<reason>"
std::string refusalContentMessage(std::string_view toolName, std::string_view argumentsJson,
                                  std::string_view reason);

/// "\n<archestra-tool-name>name</archestra-tool-name>\n<archestra-tool-arguments>args</archestra-tool-arguments>
/// \n<archestra-tool-reason>reason</archestra-tool-reason>\n" + contentMessage
std::string refusalMessage(std::string_view toolName, std::string_view argumentsJson,
                           std::string_view reason);

/// The reason given when a require_approval policy matches.
std::string approvalRequiredReason(std::string_view toolName, const std::optional<std::string>& policyReason);

}  // namespace archestra::policy
