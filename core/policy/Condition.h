// One policy condition (operator + admin value) applied to one value taken from model or tool output.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/policy/Types.h"

namespace archestra::policy {

/// Unknown means the condition could not be decided (subject too large for the regex scanner, invalid
/// operator): callers resolve it in the restrictive direction (a block rule applies, an allow/trust rule does
/// not).
enum class Match { Unknown = 0, No, Yes };

struct ConditionOutcome {
    Match match = Match::Unknown;
    std::string note;  ///< set when the outcome needs explaining (invalid regex, undecidable input)
};

/// The text a condition compares. Strings compare as themselves; numbers, booleans, null, arrays and objects
/// as their compact JSON text. The original compared non-strings with `===` against the string value (so `5`
/// never equalled "5" and string operators never matched), which let a model dodge a block rule by sending
/// a number or wrapping a string in an array; comparing the JSON text closes that.
std::string conditionSubject(const nlohmann::json& value);

/// Evaluates `subject <op> policyValue`. An invalid regex never matches and the note says why.
ConditionOutcome evaluateCondition(Operator op, std::string_view policyValue, const nlohmann::json& value);

/// For the API: nullopt if `pattern` compiles, else the error text.
std::optional<std::string> regexError(std::string_view pattern);

}  // namespace archestra::policy
