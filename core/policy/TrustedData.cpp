// Trusted-data policies and context tainting (reference-proxy §2.2, with the order dependence and the
// unresolved-result bypass of the original fixed).
#include "core/policy/TrustedData.h"

#include <algorithm>

#include "core/policy/Condition.h"
#include "core/policy/JsonPath.h"

namespace archestra::policy {
namespace {

bool jsTruthy(const nlohmann::json& v) {
    if (v.is_null()) return false;
    if (v.is_boolean()) return v.get<bool>();
    if (v.is_number_integer() || v.is_number_unsigned()) return v.get<long double>() != 0;
    if (v.is_number_float()) return v.get<double>() != 0.0 && v == v;
    if (v.is_string()) return !v.get_ref<const std::string&>().empty();
    return true;
}

// The original reads `toolOutput.value || toolOutput` (MCP results are often wrapped as {value: ...});
// existing policies' paths are written against that, so keep it.
const nlohmann::json& policyRoot(const nlohmann::json& content) {
    if (content.is_object()) {
        auto it = content.find("value");
        if (it != content.end() && jsTruthy(*it)) return *it;
    }
    return content;
}

std::string describe(const TrustedDataPolicy& p) {
    return "policy " + p.id + " (" +
           (p.attributePath.empty() ? std::string("<whole result>") : p.attributePath) + " " +
           std::string(toString(p.op)) + " '" + p.value + "')";
}

struct PolicyMatch {
    bool any = false;  ///< some value matched or was undecidable (used by block rules)
    bool all = false;  ///< at least one value and every value matched (used by trust rules)
};

PolicyMatch matchPolicy(const TrustedDataPolicy& p, const nlohmann::json& root,
                        std::vector<std::string>& notes) {
    PolicyMatch m;
    auto path = parsePath(p.attributePath);
    if (!path) {
        notes.push_back("policy " + p.id + ": malformed attributePath '" + p.attributePath +
                        "': never matches");
        return m;
    }
    auto values = extractValues(root, *path);
    m.all = !values.empty();
    for (const auto* v : values) {
        ConditionOutcome c = evaluateCondition(p.op, p.value, *v);
        if (!c.note.empty()) notes.push_back("policy " + p.id + ": " + c.note);
        if (c.match != Match::No) m.any = true;
        if (c.match != Match::Yes) m.all = false;
    }
    return m;
}

ResultDecision evaluateResult(const ProfilePolicySnapshot& snap,
                              const std::vector<const TrustedDataPolicy*>& sorted, const ToolResult& result) {
    ResultDecision d;
    d.toolCallId = result.toolCallId;
    d.toolName = result.toolName;
    if (!result.toolName || result.toolName->empty()) {
        // The original skipped such results, so a client could hide untrusted data by sending a tool result
        // without the matching assistant tool call. Data of unknown origin is untrusted.
        d.verdict = Verdict::Untrusted;
        d.reasonCode = "unresolved_tool_name";
        d.reason = "tool result " + result.toolCallId +
                   " has no matching tool call, so its origin is unknown and it is treated as untrusted";
        return d;
    }
    const std::string& name = *result.toolName;
    if (name.starts_with(kArchestraToolPrefix)) {
        d.verdict = Verdict::Trusted;
        d.reasonCode = "archestra_tool";
        d.reason = "built-in Archestra tool " + name + " is trusted";
        return d;
    }
    auto tool = snap.tools.find(name);
    if (tool == snap.tools.end()) {
        d.verdict = Verdict::Untrusted;
        d.reasonCode = "tool_not_assigned";
        d.reason = "tool " + name + " is not assigned to this profile, so its result is untrusted";
        return d;
    }

    const nlohmann::json& root = policyRoot(result.content);
    const TrustedDataPolicy* block = nullptr;
    const TrustedDataPolicy* sanitize = nullptr;
    const TrustedDataPolicy* trust = nullptr;
    for (const TrustedDataPolicy* p : sorted) {
        if (p->toolName != name) continue;
        PolicyMatch m = matchPolicy(*p, root, d.notes);
        switch (p->action) {
            case TrustedDataAction::BlockAlways:
                if (m.any && !block) block = p;
                break;
            case TrustedDataAction::SanitizeWithDualLlm:
                if (m.all && !sanitize) sanitize = p;
                break;
            case TrustedDataAction::MarkAsTrusted:
                if (m.all && !trust) trust = p;
                break;
            case TrustedDataAction::Invalid:
                d.notes.push_back("policy " + p->id + ": invalid action, ignored");
                break;
        }
    }
    if (block) {
        d.verdict = Verdict::Blocked;
        d.reasonCode = "policy_block_always";
        d.policyId = block->id;
        d.reason = "result of " + name + " blocked by " + describe(*block);
        d.replacementContent = blockedContentMessage(block->description);
        return d;
    }
    if (sanitize) {
        d.verdict = Verdict::Sanitize;
        d.reasonCode = "policy_sanitize_with_dual_llm";
        d.policyId = sanitize->id;
        d.reason = "result of " + name + " must be sanitized by the dual LLM per " + describe(*sanitize);
        return d;
    }
    if (trust) {
        d.verdict = Verdict::Trusted;
        d.reasonCode = "policy_mark_as_trusted";
        d.policyId = trust->id;
        d.reason = "result of " + name + " marked as trusted by " + describe(*trust);
        return d;
    }
    switch (tool->second.treatment) {
        case Treatment::Trusted:
            d.verdict = Verdict::Trusted;
            break;
        case Treatment::SanitizeWithDualLlm:
            d.verdict = Verdict::Sanitize;
            break;
        default:
            d.verdict = Verdict::Untrusted;
            break;
    }
    Treatment effective = d.verdict == Verdict::Untrusted ? Treatment::Untrusted : tool->second.treatment;
    d.reasonCode = "treatment_" + std::string(toString(effective));
    d.reason = "no trusted-data policy matched; tool " + name + " treats its results as " +
               std::string(toString(effective));
    return d;
}

}  // namespace

std::string_view toString(Verdict verdict) {
    switch (verdict) {
        case Verdict::Trusted:
            return "trusted";
        case Verdict::Untrusted:
            return "untrusted";
        case Verdict::Blocked:
            return "blocked";
        case Verdict::Sanitize:
            return "sanitize_with_dual_llm";
        case Verdict::Invalid:
            break;
    }
    return "invalid";
}

std::string blockedContentMessage(std::string_view description) {
    return "[Content blocked by policy: Data blocked by policy: " + std::string(description) + "]";
}

nlohmann::json ResultDecision::toJson() const {
    nlohmann::json j = {{"toolCallId", toolCallId},
                        {"toolName", toolName ? nlohmann::json(*toolName) : nlohmann::json(nullptr)},
                        {"verdict", toString(verdict)},
                        {"reasonCode", reasonCode},
                        {"reason", reason},
                        {"policyId", policyId.empty() ? nlohmann::json(nullptr) : nlohmann::json(policyId)}};
    if (replacementContent) j["replacementContent"] = *replacementContent;
    if (!notes.empty()) j["notes"] = notes;
    return j;
}

nlohmann::json ContextEvaluation::toJson() const {
    nlohmann::json results = nlohmann::json::array();
    for (const auto& r : perResult) results.push_back(r.toJson());
    return {{"trusted", trusted},
            {"needsSanitization", needsSanitization},
            {"reasonCode", reasonCode},
            {"reason", reason},
            {"results", results}};
}

ContextEvaluation evaluateContext(const ProfilePolicySnapshot& snapshot,
                                  const std::vector<ToolResult>& results) {
    std::vector<const TrustedDataPolicy*> sorted;
    sorted.reserve(snapshot.trustedDataPolicies.size());
    for (const auto& p : snapshot.trustedDataPolicies) sorted.push_back(&p);
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const auto* a, const auto* b) { return a->id < b->id; });

    ContextEvaluation out;
    const ResultDecision* firstBad = nullptr;  // lowest tool call id, so the reason does not depend on order
    for (const auto& r : results) out.perResult.push_back(evaluateResult(snapshot, sorted, r));
    bool anyBlocked = false;
    for (const auto& d : out.perResult) {
        if (d.verdict == Verdict::Sanitize) out.needsSanitization = true;
        if (d.verdict == Verdict::Untrusted || d.verdict == Verdict::Blocked) {
            out.trusted = false;
            anyBlocked = anyBlocked || d.verdict == Verdict::Blocked;
            if (!firstBad || d.toolCallId < firstBad->toolCallId ||
                (d.toolCallId == firstBad->toolCallId && d.reasonCode < firstBad->reasonCode))
                firstBad = &d;
        }
    }
    if (snapshot.considerContextUntrusted) {
        // Still judge each result so block_always replacements apply (the original skipped everything).
        out.trusted = false;
        out.reasonCode = "consider_context_untrusted";
        out.reason = "the profile considers every context untrusted";
    } else if (firstBad) {
        out.reasonCode = anyBlocked ? "blocked_tool_result" : "untrusted_tool_result";
        out.reason = "context is untrusted: " + firstBad->reason;
    } else {
        out.reasonCode = "trusted";
        out.reason = results.empty() ? "no tool results in the conversation" : "every tool result is trusted";
    }
    return out;
}

}  // namespace archestra::policy
