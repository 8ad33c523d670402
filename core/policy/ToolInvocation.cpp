// Tool-invocation policies (reference-proxy §2.1): every call judged, deterministic policy order, approval
// action.
#include "core/policy/ToolInvocation.h"

#include <algorithm>

#include "core/policy/Condition.h"
#include "core/policy/JsonPath.h"

namespace archestra::policy {
namespace {

struct Evaluated {
    const InvocationPolicy* policy = nullptr;
    bool present = false;  ///< the path reached at least one value
    bool any = false;      ///< some value matched or was undecidable
    bool all = false;      ///< every value matched
};

Evaluated evaluatePolicy(const InvocationPolicy& p, const nlohmann::json& args,
                         std::vector<std::string>& notes) {
    Evaluated e;
    e.policy = &p;
    auto path = parsePath(p.argumentName);
    if (!path) {
        notes.push_back("policy " + p.id + ": malformed argumentName '" + p.argumentName + "'");
        return e;
    }
    // Unparsable arguments arrive as a JSON string; only the whole-arguments path ("") can look at them.
    auto values = extractValues(args, *path);
    e.present = !values.empty();
    e.all = e.present;
    for (const auto* v : values) {
        ConditionOutcome c = evaluateCondition(p.op, p.value, *v);
        if (!c.note.empty()) notes.push_back("policy " + p.id + ": " + c.note);
        if (c.match != Match::No) e.any = true;
        if (c.match != Match::Yes) e.all = false;
    }
    return e;
}

std::string describe(const InvocationPolicy& p) {
    return "policy " + p.id + " (" +
           (p.argumentName.empty() ? std::string("<all arguments>") : p.argumentName) + " " +
           std::string(toString(p.op)) + " '" + p.value + "')";
}

void block(CallDecision& d, const ToolCall& call, std::string code, std::string reason,
           const InvocationPolicy* policy) {
    d.allowed = false;
    d.reasonCode = std::move(code);
    d.reason = std::move(reason);
    if (policy) {
        d.policyId = policy->id;
        d.argumentName = policy->argumentName;
    }
    const std::string args = argumentsText(call.arguments);
    d.contentMessage = refusalContentMessage(call.name, args, d.reason);
    d.refusalMessage = refusalMessage(call.name, args, d.reason);
}

void allow(CallDecision& d, std::string code, std::string reason, const InvocationPolicy* policy = nullptr) {
    d.allowed = true;
    d.reasonCode = std::move(code);
    d.reason = std::move(reason);
    if (policy) {
        d.policyId = policy->id;
        d.argumentName = policy->argumentName;
    }
}

CallDecision evaluateCall(const ProfilePolicySnapshot& snap,
                          const std::vector<const InvocationPolicy*>& sorted, bool contextTrusted,
                          const ToolCall& call) {
    CallDecision d;
    d.toolCallId = call.id;
    d.toolName = call.name;
    if (call.name.starts_with(kArchestraToolPrefix)) {
        allow(d, "archestra_tool", "built-in Archestra tool " + call.name + " is always allowed");
        return d;
    }
    auto tool = snap.tools.find(call.name);
    const bool allowUsage = tool != snap.tools.end() && tool->second.allowUsageWhenUntrustedDataIsPresent;

    const Evaluated* blockHit = nullptr;
    const Evaluated* approvalHit = nullptr;
    const Evaluated* missingAllow = nullptr;
    const Evaluated* allowHit = nullptr;
    std::vector<Evaluated> evaluated;
    evaluated.reserve(sorted.size());
    for (const InvocationPolicy* p : sorted)
        if (p->toolName == call.name) evaluated.push_back(evaluatePolicy(*p, call.arguments, d.notes));
    for (const Evaluated& e : evaluated) {
        switch (e.policy->action) {
            case InvocationAction::BlockAlways:
                if (e.present && e.any && !blockHit) blockHit = &e;
                break;
            case InvocationAction::RequireApproval:
                if (e.present && e.any && !approvalHit) approvalHit = &e;
                break;
            case InvocationAction::AllowWhenContextIsUntrusted:
                if (!e.present && !missingAllow) missingAllow = &e;
                if (e.all && !allowHit) allowHit = &e;
                break;
            case InvocationAction::Invalid:
                d.notes.push_back("policy " + e.policy->id + ": invalid action, ignored");
                break;
        }
    }

    if (blockHit) {
        const auto& reason = blockHit->policy->reason;
        block(d, call, "policy_block_always",
              reason && !reason->empty() ? *reason : std::string("Policy violation: null"), blockHit->policy);
        return d;
    }
    if (approvalHit) {
        d.requiresApproval = true;
        block(d, call, "policy_require_approval",
              approvalRequiredReason(call.name, approvalHit->policy->reason), approvalHit->policy);
        return d;
    }
    if (missingAllow && !allowUsage) {
        block(d, call, "missing_argument", "Missing required argument: " + missingAllow->policy->argumentName,
              missingAllow->policy);
        return d;
    }
    if (!contextTrusted) {
        if (allowHit) {
            allow(d, "policy_allow_when_context_is_untrusted",
                  "allowed in an untrusted context by " + describe(*allowHit->policy), allowHit->policy);
            return d;
        }
        if (allowUsage) {
            allow(d, "tool_allows_untrusted_context",
                  "tool " + call.name + " allows usage when untrusted data is present");
            return d;
        }
        block(d, call, "untrusted_context", "Tool invocation blocked: context contains untrusted data",
              nullptr);
        return d;
    }
    allow(d, "trusted_context", "context is trusted and no policy blocks " + call.name);
    return d;
}

}  // namespace

std::string argumentsText(const nlohmann::json& arguments) {
    if (arguments.is_string()) return arguments.get<std::string>();
    return arguments.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string refusalContentMessage(std::string_view toolName, std::string_view argumentsJson,
                                  std::string_view reason) {
    std::string out = "\nI tried to invoke the ";
    out.append(toolName).append(" tool with the following arguments: ").append(argumentsJson);
    out.append(".\n\nHowever, I was denied by a tool invocation policy:\n\n").append(reason);
    return out;
}

std::string refusalMessage(std::string_view toolName, std::string_view argumentsJson,
                           std::string_view reason) {
    std::string out = "\n<archestra-tool-name>";
    out.append(toolName).append("</archestra-tool-name>\n<archestra-tool-arguments>").append(argumentsJson);
    out.append("</archestra-tool-arguments>\n<archestra-tool-reason>").append(reason);
    out.append("</archestra-tool-reason>\n");
    return out + refusalContentMessage(toolName, argumentsJson, reason);
}

std::string approvalRequiredReason(std::string_view toolName,
                                   const std::optional<std::string>& policyReason) {
    std::string out = "Tool invocation requires human approval: ask a user to approve this " +
                      std::string(toolName) + " call in the Archestra UI.";
    if (policyReason && !policyReason->empty()) out += " Reason: " + *policyReason;
    return out;
}

// Built member by member into the object's map: the brace-initializer form (a list of two-element arrays,
// each copied, then recognised as key/value pairs) cost about three times as many instructions, and this
// runs for every tool call of every proxied response. The same object.
nlohmann::json CallDecision::toJson() const {
    auto orNull = [](const std::string& text) {
        return text.empty() ? nlohmann::json(nullptr) : nlohmann::json(text);
    };
    nlohmann::json j(nlohmann::json::value_t::object);
    auto& members = j.get_ref<nlohmann::json::object_t&>();
    members.emplace("toolCallId", toolCallId);
    members.emplace("toolName", toolName);
    members.emplace("allowed", allowed);
    members.emplace("requiresApproval", requiresApproval);
    members.emplace("reasonCode", reasonCode);
    members.emplace("reason", reason);
    members.emplace("policyId", orNull(policyId));
    members.emplace("argumentName", orNull(argumentName));
    if (!notes.empty()) members.emplace("notes", notes);
    return j;
}

std::vector<CallDecision> evaluateToolCalls(const ProfilePolicySnapshot& snapshot, bool contextTrusted,
                                            const std::vector<ToolCall>& calls) {
    std::vector<const InvocationPolicy*> sorted;
    sorted.reserve(snapshot.invocationPolicies.size());
    for (const auto& p : snapshot.invocationPolicies) sorted.push_back(&p);
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const auto* a, const auto* b) { return a->id < b->id; });
    std::vector<CallDecision> out;
    out.reserve(calls.size());
    for (const auto& call : calls) out.push_back(evaluateCall(snapshot, sorted, contextTrusted, call));
    return out;
}

}  // namespace archestra::policy
