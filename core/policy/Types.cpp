// Wire strings of the policy enums and their parsers.
#include "core/policy/Types.h"

#include <array>
#include <utility>

namespace archestra::policy {
namespace {

template <typename E, std::size_t N>
using Table = std::array<std::pair<E, std::string_view>, N>;

constexpr Table<Operator, 7> kOperators{{{Operator::Equal, "equal"},
                                         {Operator::NotEqual, "notEqual"},
                                         {Operator::Contains, "contains"},
                                         {Operator::NotContains, "notContains"},
                                         {Operator::StartsWith, "startsWith"},
                                         {Operator::EndsWith, "endsWith"},
                                         {Operator::Regex, "regex"}}};
constexpr Table<TrustedDataAction, 3> kTrustedDataActions{
    {{TrustedDataAction::MarkAsTrusted, "mark_as_trusted"},
     {TrustedDataAction::BlockAlways, "block_always"},
     {TrustedDataAction::SanitizeWithDualLlm, "sanitize_with_dual_llm"}}};
constexpr Table<InvocationAction, 3> kInvocationActions{
    {{InvocationAction::AllowWhenContextIsUntrusted, "allow_when_context_is_untrusted"},
     {InvocationAction::BlockAlways, "block_always"},
     {InvocationAction::RequireApproval, "require_approval"}}};
constexpr Table<Treatment, 3> kTreatments{{{Treatment::Trusted, "trusted"},
                                           {Treatment::Untrusted, "untrusted"},
                                           {Treatment::SanitizeWithDualLlm, "sanitize_with_dual_llm"}}};

template <typename E, std::size_t N>
std::string_view nameOf(const Table<E, N>& table, E value) {
    for (const auto& [v, name] : table)
        if (v == value) return name;
    return "invalid";
}

template <typename E, std::size_t N>
std::optional<E> lookup(const Table<E, N>& table, std::string_view text) {
    for (const auto& [v, name] : table)
        if (name == text) return v;
    return std::nullopt;
}

template <typename E, std::size_t N>
E parseOrThrow(const Table<E, N>& table, std::string_view text, std::string_view field) {
    if (auto v = lookup(table, text)) return *v;
    std::string allowed;
    for (const auto& [v, name] : table) {
        if (!allowed.empty()) allowed += ", ";
        allowed += name;
    }
    throw PolicyError("invalid " + std::string(field) + " '" + std::string(text) + "': expected one of " +
                      allowed);
}

}  // namespace

std::string_view toString(Operator op) {
    return nameOf(kOperators, op);
}
std::string_view toString(TrustedDataAction action) {
    return nameOf(kTrustedDataActions, action);
}
std::string_view toString(InvocationAction action) {
    return nameOf(kInvocationActions, action);
}
std::string_view toString(Treatment treatment) {
    return nameOf(kTreatments, treatment);
}

std::optional<Operator> tryParseOperator(std::string_view text) {
    return lookup(kOperators, text);
}
std::optional<TrustedDataAction> tryParseTrustedDataAction(std::string_view text) {
    return lookup(kTrustedDataActions, text);
}
std::optional<InvocationAction> tryParseInvocationAction(std::string_view text) {
    return lookup(kInvocationActions, text);
}
std::optional<Treatment> tryParseTreatment(std::string_view text) {
    return lookup(kTreatments, text);
}

Operator parseOperator(std::string_view text, std::string_view field) {
    return parseOrThrow(kOperators, text, field);
}
TrustedDataAction parseTrustedDataAction(std::string_view text, std::string_view field) {
    return parseOrThrow(kTrustedDataActions, text, field);
}
InvocationAction parseInvocationAction(std::string_view text, std::string_view field) {
    return parseOrThrow(kInvocationActions, text, field);
}
Treatment parseTreatment(std::string_view text, std::string_view field) {
    return parseOrThrow(kTreatments, text, field);
}

nlohmann::json operatorsJson() {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& [op, name] : kOperators) {
        std::string label(name);
        label[0] = static_cast<char>(label[0] - 'a' + 'A');  // title case: "notEqual" -> "NotEqual"
        out.push_back({{"value", name}, {"label", label}});
    }
    return out;
}

}  // namespace archestra::policy
