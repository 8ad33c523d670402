// Operator semantics and a small shared cache of compiled regex patterns.
#include "core/policy/Condition.h"

#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <variant>

#include "core/policy/Regex.h"

namespace archestra::policy {
namespace {

using Compiled = std::variant<SafeRegex, std::string>;

// Patterns repeat on every request, so compile each once. Bounded: a flood of distinct patterns only costs
// recompilation after the cache is cleared.
std::shared_ptr<const Compiled> compiledPattern(std::string_view pattern) {
    static std::shared_mutex mutex;
    static std::map<std::string, std::shared_ptr<const Compiled>, std::less<>> cache;
    constexpr std::size_t kMaxEntries = 4096;
    {
        std::shared_lock lock(mutex);
        auto it = cache.find(pattern);
        if (it != cache.end()) return it->second;
    }
    auto compiled = std::make_shared<const Compiled>(SafeRegex::compile(pattern));
    std::unique_lock lock(mutex);
    if (cache.size() >= kMaxEntries) cache.clear();
    cache.emplace(std::string(pattern), compiled);
    return compiled;
}

Match fromBool(bool b) {
    return b ? Match::Yes : Match::No;
}

}  // namespace

std::string conditionSubject(const nlohmann::json& value) {
    if (value.is_string()) return value.get<std::string>();
    return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

ConditionOutcome evaluateCondition(Operator op, std::string_view policyValue, const nlohmann::json& value) {
    const std::string subject = conditionSubject(value);
    const std::string_view s(subject);
    switch (op) {
        case Operator::Equal:
            return {fromBool(s == policyValue), {}};
        case Operator::NotEqual:
            return {fromBool(s != policyValue), {}};
        case Operator::Contains:
            return {fromBool(s.find(policyValue) != std::string_view::npos), {}};
        case Operator::NotContains:
            return {fromBool(s.find(policyValue) == std::string_view::npos), {}};
        case Operator::StartsWith:
            return {fromBool(s.starts_with(policyValue)), {}};
        case Operator::EndsWith:
            return {fromBool(s.ends_with(policyValue)), {}};
        case Operator::Regex: {
            auto compiled = compiledPattern(policyValue);
            if (const auto* error = std::get_if<std::string>(compiled.get()))
                return {Match::No,
                        "invalid regex '" + std::string(policyValue) + "' (" + *error + "): never matches"};
            switch (std::get<SafeRegex>(*compiled).search(s)) {
                case SafeRegex::Outcome::Match:
                    return {Match::Yes, {}};
                case SafeRegex::Outcome::NoMatch:
                    return {Match::No, {}};
                default:
                    return {Match::Unknown, "value of " + std::to_string(s.size()) +
                                                " bytes exceeds the regex scan limit of " +
                                                std::to_string(SafeRegex::kMaxSubjectBytes) + " bytes"};
            }
        }
        case Operator::Invalid:
            break;
    }
    return {Match::Unknown, "invalid operator"};
}

std::optional<std::string> regexError(std::string_view pattern) {
    auto compiled = compiledPattern(pattern);
    if (const auto* error = std::get_if<std::string>(compiled.get())) return *error;
    return std::nullopt;
}

}  // namespace archestra::policy
