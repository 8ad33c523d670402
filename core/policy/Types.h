// The policy vocabulary (operators, actions, treatments) and its wire strings, shared by the API and the
// proxy.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace archestra::policy {

/// Thrown when a wire string does not name a known value; the message names the field, the value and the
/// allowed values, so the API can return it as a 400 unchanged.
class PolicyError : public std::invalid_argument {
  public:
    using std::invalid_argument::invalid_argument;
};

enum class Operator { Invalid = 0, Equal, NotEqual, Contains, NotContains, StartsWith, EndsWith, Regex };

/// Actions of trusted-data policies (`trusted_data_policies.action`).
enum class TrustedDataAction { Invalid = 0, MarkAsTrusted, BlockAlways, SanitizeWithDualLlm };

/// Actions of tool-invocation policies. RequireApproval is ours: the original had no approval action.
enum class InvocationAction { Invalid = 0, AllowWhenContextIsUntrusted, BlockAlways, RequireApproval };

/// Default handling of a tool's results when no trusted-data policy decides
/// (`agent_tools.tool_result_treatment`).
enum class Treatment { Invalid = 0, Trusted, Untrusted, SanitizeWithDualLlm };

std::string_view toString(Operator op);
std::string_view toString(TrustedDataAction action);
std::string_view toString(InvocationAction action);
std::string_view toString(Treatment treatment);

std::optional<Operator> tryParseOperator(std::string_view text);
std::optional<TrustedDataAction> tryParseTrustedDataAction(std::string_view text);
std::optional<InvocationAction> tryParseInvocationAction(std::string_view text);
std::optional<Treatment> tryParseTreatment(std::string_view text);

/// Throwing variants: `field` names the JSON field in the error message.
Operator parseOperator(std::string_view text, std::string_view field = "operator");
TrustedDataAction parseTrustedDataAction(std::string_view text, std::string_view field = "action");
InvocationAction parseInvocationAction(std::string_view text, std::string_view field = "action");
Treatment parseTreatment(std::string_view text, std::string_view field = "toolResultTreatment");

/// Body of GET /api/autonomy-policies/operators: [{"value":"equal","label":"Equal"}, ...] in wire order.
nlohmann::json operatorsJson();

}  // namespace archestra::policy
