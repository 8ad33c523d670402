// libFuzzer harness for core/policy: random conversations and policies through evaluateContext and
// evaluateToolCalls (with invariant checks), and raw bytes through the regex engine and path parser.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <tuple>
#include <variant>

#include <nlohmann/json.hpp>

#include "core/policy/Condition.h"
#include "core/policy/Cost.h"
#include "core/policy/JsonPath.h"
#include "core/policy/Optimization.h"
#include "core/policy/Regex.h"
#include "core/policy/ToolInvocation.h"
#include "core/policy/TrustedData.h"
#include "test/fuzz/targets/Invariant.h"

using namespace archestra::policy;
using nlohmann::json;

using archestra::fuzz::violated;

namespace {

std::string stringOr(const json& obj, const char* key) {
    auto it = obj.find(key);
    return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Input shape (see corpus/policy): {"snapshot":{...snapshotFromJson...}, "trusted":bool,
//   "results":[{"toolCallId","toolName"|null,"content"}], "calls":[{"id","name","arguments"}]}
void fuzzConversation(const json& doc) {
    ProfilePolicySnapshot snap;
    try {
        snap = snapshotFromJson(doc.value("snapshot", json::object()));
    } catch (const PolicyError&) {
        return;  // rejected input is a valid outcome
    }
    std::vector<ToolResult> results;
    if (auto it = doc.find("results"); it != doc.end() && it->is_array())
        for (const auto& r : *it) {
            if (!r.is_object()) continue;
            ToolResult tr{stringOr(r, "toolCallId"), std::nullopt, r.value("content", json())};
            if (auto n = r.find("toolName"); n != r.end() && n->is_string())
                tr.toolName = n->get<std::string>();
            results.push_back(std::move(tr));
        }
    std::vector<ToolCall> calls;
    if (auto it = doc.find("calls"); it != doc.end() && it->is_array())
        for (const auto& c : *it)
            if (c.is_object())
                calls.push_back({stringOr(c, "id"), stringOr(c, "name"), c.value("arguments", json())});

    ContextEvaluation ctx = evaluateContext(snap, results);
    if (ctx.perResult.size() != results.size()) violated("one decision per result");
    bool anyBad = false;
    for (const auto& d : ctx.perResult) {
        anyBad = anyBad || d.verdict == Verdict::Untrusted || d.verdict == Verdict::Blocked;
        if (d.verdict == Verdict::Invalid) violated("every result gets a verdict");
        if ((d.verdict == Verdict::Blocked) != d.replacementContent.has_value())
            violated("blocked <=> replacement");
        if (d.toolName && d.toolName->starts_with(kArchestraToolPrefix) && d.verdict != Verdict::Trusted)
            violated("archestra tools are trusted");
    }
    if (ctx.trusted != (!anyBad && !snap.considerContextUntrusted))
        violated("context trust is the AND of results");
    (void)ctx.toJson().dump();

    // Order independence: reversed input gives the same context verdict and reason.
    std::vector<ToolResult> reversed(results.rbegin(), results.rend());
    ContextEvaluation again = evaluateContext(snap, reversed);
    if (again.trusted != ctx.trusted || again.reason != ctx.reason ||
        again.needsSanitization != ctx.needsSanitization)
        violated("context evaluation depends on result order");

    const bool contextTrusted = doc.value("trusted", json(ctx.trusted)).is_boolean()
                                    ? doc.value("trusted", ctx.trusted)
                                    : ctx.trusted;
    auto decisions = evaluateToolCalls(snap, contextTrusted, calls);
    if (decisions.size() != calls.size()) violated("one decision per call");
    for (std::size_t i = 0; i < calls.size(); ++i) {
        const auto& d = decisions[i];
        if (d.toolCallId != calls[i].id) violated("decisions keep call order");
        if (d.allowed == !d.contentMessage.empty()) violated("blocked <=> refusal text");
        if (d.requiresApproval && d.allowed) violated("approval implies blocked");
        if (calls[i].name.starts_with(kArchestraToolPrefix) && !d.allowed)
            violated("archestra tools are allowed");
        if (!d.allowed && d.refusalMessage.find(d.contentMessage) == std::string::npos)
            violated("refusal message embeds the content message");
        (void)d.toJson().dump();
    }
}

// Input shape: {"rules":[{"id","provider","targetModel","enabled","createdAt","conditions":[...]}],
//   "request":{"provider","tokens","hasTools"}}. Conditions are parsed as the optimization rules API stores
// them (PolicyError or a rule); the chosen rule is enabled, of the request's provider, all its conditions
// hold, and no earlier (createdAt, id) rule would have matched.
void fuzzOptimization(const json& doc) {
    std::vector<OptimizationRule> rules;
    for (const auto& r : doc["rules"]) {
        if (!r.is_object()) continue;
        OptimizationRule rule{stringOr(r, "id"),          stringOr(r, "provider"),
                              stringOr(r, "targetModel"), r.value("enabled", json(true)) != json(false),
                              stringOr(r, "createdAt"),   {}};
        try {
            rule.conditions = parseOptimizationConditions(r.value("conditions", json::array()));
        } catch (const PolicyError&) {
            continue;  // the API refuses the rule
        } catch (const json::exception&) {
            violated("parseOptimizationConditions threw a JSON error instead of PolicyError");
        }
        rules.push_back(std::move(rule));
    }
    json request = doc.value("request", json::object());
    if (!request.is_object()) request = json::object();
    OptimizationRequest req{
        stringOr(request, "provider"),
        request.value("tokens", json(0)).is_number_unsigned() ? request["tokens"].get<std::uint64_t>() : 0,
        request.value("hasTools", json(false)) == json(true)};
    auto holds = [&](const OptimizationRule& rule) {
        if (!rule.enabled || rule.provider != req.provider) return false;
        for (const auto& c : rule.conditions)
            if ((c.maxLengthTokens && req.tokenCount > *c.maxLengthTokens) ||
                (c.hasTools && *c.hasTools != req.hasTools))
                return false;
        return true;
    };
    const OptimizationRule* chosen = selectOptimizationRule(rules, req);
    for (const auto& rule : rules) {
        if (!holds(rule)) continue;
        if (!chosen) violated("a matching optimization rule was not chosen");
        if (std::tie(rule.createdAt, rule.id) < std::tie(chosen->createdAt, chosen->id))
            violated("a later optimization rule was chosen over an earlier one");
    }
    if (chosen && !holds(*chosen)) violated("the chosen optimization rule does not match the request");
}

// Non-JSON input: "<pattern>\n<subject>" through the regex engine, plus the path parser and money parser.
void fuzzBytes(std::string_view text) {
    auto nl = text.find('\n');
    std::string_view pattern = text.substr(0, nl);
    std::string_view subject = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    auto compiled = SafeRegex::compile(pattern);
    if (auto* re = std::get_if<SafeRegex>(&compiled)) {
        auto outcome = re->search(subject);
        if (outcome == SafeRegex::Outcome::Invalid) violated("compiled regex answers");
        // A pattern that matches "" matches every subject.
        if (re->search("") == SafeRegex::Outcome::Match &&
            re->search(subject) == SafeRegex::Outcome::NoMatch &&
            pattern.find_first_of("^$\\") == std::string_view::npos)
            violated("empty match implies match everywhere");
    }
    if (auto path = parsePath(pattern)) {
        json doc = json::parse(subject, nullptr, false);
        if (!doc.is_discarded()) (void)extractValues(doc, *path);
    }
    if (estimateTokens(text) != (text.size() + 3) / 4) violated("token estimate is ceil(bytes / 4)");
    if (auto m = Money::parse(pattern)) {
        auto again = Money::parse(m->toFixed(10));
        if (!again || *again != *m) violated("money toFixed(10) round-trips");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    json doc = json::parse(text, nullptr, false);
    if (!doc.is_discarded() && doc.is_object()) {
        try {
            if (doc.contains("rules") && doc["rules"].is_array())
                fuzzOptimization(doc);
            else
                fuzzConversation(doc);
        } catch (const json::exception&) {
            // Type mismatches in the harness's own reading of odd input, not a policy bug.
        }
    } else {
        fuzzBytes(text);
    }
    return 0;
}
