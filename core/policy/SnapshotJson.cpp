// JSON reader for ProfilePolicySnapshot (API field names and enum strings).
#include "core/policy/Snapshot.h"

namespace archestra::policy {
namespace {

std::string stringField(const nlohmann::json& obj, const char* name, const std::string& where,
                        bool required) {
    auto it = obj.find(name);
    if (it == obj.end() || it->is_null()) {
        if (required) throw PolicyError(where + "." + name + " is required");
        return {};
    }
    if (!it->is_string()) throw PolicyError(where + "." + name + " must be a string");
    return it->get<std::string>();
}

bool boolField(const nlohmann::json& obj, const char* name, const std::string& where) {
    auto it = obj.find(name);
    if (it == obj.end() || it->is_null()) return false;
    if (!it->is_boolean()) throw PolicyError(where + "." + name + " must be a boolean");
    return it->get<bool>();
}

const nlohmann::json& arrayField(const nlohmann::json& obj, const char* name) {
    static const nlohmann::json empty = nlohmann::json::array();
    auto it = obj.find(name);
    if (it == obj.end() || it->is_null()) return empty;
    if (!it->is_array()) throw PolicyError(std::string(name) + " must be an array");
    return *it;
}

}  // namespace

ProfilePolicySnapshot snapshotFromJson(const nlohmann::json& json) {
    if (!json.is_object()) throw PolicyError("policy snapshot must be a JSON object");
    ProfilePolicySnapshot snap;
    snap.considerContextUntrusted = boolField(json, "considerContextUntrusted", "snapshot");
    if (auto it = json.find("tools"); it != json.end() && !it->is_null()) {
        if (!it->is_object()) throw PolicyError("tools must be an object keyed by tool name");
        for (const auto& [name, cfg] : it->items()) {
            const std::string where = "tools." + name;
            if (!cfg.is_object()) throw PolicyError(where + " must be an object");
            ToolConfig tc;
            tc.allowUsageWhenUntrustedDataIsPresent =
                boolField(cfg, "allowUsageWhenUntrustedDataIsPresent", where);
            std::string treatment = stringField(cfg, "toolResultTreatment", where, false);
            if (!treatment.empty()) tc.treatment = parseTreatment(treatment, where + ".toolResultTreatment");
            snap.tools.emplace(name, tc);
        }
    }
    std::size_t i = 0;
    for (const auto& p : arrayField(json, "trustedDataPolicies")) {
        const std::string where = "trustedDataPolicies[" + std::to_string(i++) + "]";
        if (!p.is_object()) throw PolicyError(where + " must be an object");
        TrustedDataPolicy t;
        t.id = stringField(p, "id", where, true);
        t.toolName = stringField(p, "toolName", where, true);
        t.description = stringField(p, "description", where, false);
        t.attributePath = stringField(p, "attributePath", where, false);
        t.op = parseOperator(stringField(p, "operator", where, true), where + ".operator");
        t.value = stringField(p, "value", where, false);
        std::string action = stringField(p, "action", where, false);
        t.action = action.empty() ? TrustedDataAction::MarkAsTrusted
                                  : parseTrustedDataAction(action, where + ".action");
        snap.trustedDataPolicies.push_back(std::move(t));
    }
    i = 0;
    for (const auto& p : arrayField(json, "invocationPolicies")) {
        const std::string where = "invocationPolicies[" + std::to_string(i++) + "]";
        if (!p.is_object()) throw PolicyError(where + " must be an object");
        InvocationPolicy t;
        t.id = stringField(p, "id", where, true);
        t.toolName = stringField(p, "toolName", where, true);
        t.argumentName = stringField(p, "argumentName", where, false);
        t.op = parseOperator(stringField(p, "operator", where, true), where + ".operator");
        t.value = stringField(p, "value", where, false);
        t.action = parseInvocationAction(stringField(p, "action", where, true), where + ".action");
        if (auto it = p.find("reason"); it != p.end() && it->is_string()) t.reason = it->get<std::string>();
        snap.invocationPolicies.push_back(std::move(t));
    }
    return snap;
}

}  // namespace archestra::policy
