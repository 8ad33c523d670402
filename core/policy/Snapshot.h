// Provider-neutral inputs of the guardrail decisions: a profile's policies and the conversation's tool
// traffic.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/policy/Types.h"

namespace archestra::policy {

/// A tool result found in the conversation (OpenAI `role:"tool"`, Anthropic `tool_result`, Gemini
/// `functionResponse`). `toolName` is empty when no assistant tool call with the same id exists.
struct ToolResult {
    std::string toolCallId;
    std::optional<std::string> toolName;
    nlohmann::json content;  ///< parsed JSON when the text parsed, else the text as a JSON string
};

/// A tool call the model returned.
struct ToolCall {
    std::string id;
    std::string name;
    nlohmann::json arguments;  ///< parsed JSON; the raw text as a JSON string if it did not parse
};

struct TrustedDataPolicy {
    std::string id;
    std::string toolName;
    std::string description;
    std::string attributePath;
    Operator op = Operator::Invalid;
    std::string value;
    TrustedDataAction action = TrustedDataAction::MarkAsTrusted;
};

struct InvocationPolicy {
    std::string id;
    std::string toolName;
    std::string argumentName;
    Operator op = Operator::Invalid;
    std::string value;
    InvocationAction action = InvocationAction::Invalid;
    std::optional<std::string> reason;
};

/// Per-profile tool settings (`agent_tools`).
struct ToolConfig {
    bool allowUsageWhenUntrustedDataIsPresent = false;
    Treatment treatment = Treatment::Untrusted;
};

/// Everything the decisions need about one profile. The proxy builds it once per change and shares it
/// immutably (shared_ptr<const>) across threads; the evaluators only read it.
struct ProfilePolicySnapshot {
    bool considerContextUntrusted = false;
    std::map<std::string, ToolConfig> tools;  ///< by tool name; a missing name means "not assigned"
    std::vector<TrustedDataPolicy> trustedDataPolicies;
    std::vector<InvocationPolicy> invocationPolicies;
};

/// Tools whose name starts with this prefix are the platform's own and always trusted and allowed.
inline constexpr std::string_view kArchestraToolPrefix = "archestra__";

/// Reads a snapshot from the API's JSON shapes (camelCase fields, wire enum strings):
/// {"considerContextUntrusted":bool, "tools":{"name":{"allowUsageWhenUntrustedDataIsPresent":bool,
///  "toolResultTreatment":"untrusted"}},
///  "trustedDataPolicies":[{id,toolName,description,attributePath,operator, value,action}],
///  "invocationPolicies":[{id,toolName,argumentName,operator,value,action,reason}]}.
/// Throws PolicyError naming the bad field. Used by tests, the fuzzer and tooling.
ProfilePolicySnapshot snapshotFromJson(const nlohmann::json& json);

}  // namespace archestra::policy
