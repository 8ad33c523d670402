// Role mapping and group extraction over identity provider claims (see RoleMapping.h).
#include "core/auth/sso/RoleMapping.h"

#include <Poco/String.h>

#include <algorithm>
#include <regex>
#include <set>
#include <stdexcept>

namespace archestra::auth::sso {

using nlohmann::json;

const json* claimAt(const json& claims, const std::string& path) {
    if (claims.is_object() && claims.contains(path)) return &claims[path];  // claim names may contain dots
    const json* node = &claims;
    std::size_t start = 0;
    while (start <= path.size()) {
        std::size_t dot = path.find('.', start);
        std::string key = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        if (!node->is_object() || !node->contains(key)) return nullptr;
        node = &(*node)[key];
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    return node;
}

namespace {

bool truthy(const json* value) {
    if (!value || value->is_null()) return false;
    if (value->is_boolean()) return value->get<bool>();
    if (value->is_string()) return !value->get<std::string>().empty();
    if (value->is_array() || value->is_object()) return !value->empty();
    if (value->is_number()) return value->get<double>() != 0;
    return false;
}

bool equalsText(const json& value, const std::string& expected) {
    if (value.is_string()) return value.get<std::string>() == expected;
    if (value.is_boolean()) return (value.get<bool>() ? "true" : "false") == expected;
    if (value.is_number()) return value.dump() == expected;
    return false;
}

const std::regex kBlock(
    R"re(^\s*\{\{#(includes|equals)\s+([A-Za-z0-9_.:\-/]+)\s+"([^"]*)"\s*\}\}\s*true\s*\{\{/\1\}\}\s*$)re");
const std::regex kPlain(R"re(^\s*\{\{\s*([A-Za-z0-9_.:\-/]+)\s*\}\}\s*$)re");

}  // namespace

bool evaluateExpression(const std::string& expression, const json& claims) {
    std::smatch m;
    if (std::regex_match(expression, m, kBlock)) {
        const json* value = claimAt(claims, m[2]);
        if (!value) return false;
        const std::string expected = m[3];
        if (m[1] == "includes" && value->is_array())
            return std::any_of(value->begin(), value->end(),
                               [&](const json& item) { return equalsText(item, expected); });
        return equalsText(*value, expected);
    }
    if (std::regex_match(expression, m, kPlain)) return truthy(claimAt(claims, m[1]));
    throw std::invalid_argument("unsupported expression '" + expression +
                                "': expected {{#includes path \"value\"}}true{{/includes}}, "
                                "{{#equals path \"value\"}}true{{/equals}} or {{path}}");
}

std::string validateRoleMapping(const json& roleMapping) {
    if (roleMapping.is_null()) return "";
    if (!roleMapping.is_object()) return "roleMapping: expected an object";
    if (roleMapping.contains("rules")) {
        const json& rules = roleMapping["rules"];
        if (!rules.is_array()) return "roleMapping.rules: expected an array";
        for (std::size_t i = 0; i < rules.size(); ++i) {
            const std::string where = "roleMapping.rules[" + std::to_string(i) + "]";
            const json& rule = rules[i];
            if (!rule.is_object() || !rule.contains("expression") || !rule["expression"].is_string())
                return where + ".expression: expected a string";
            if (!rule.contains("role") || !rule["role"].is_string() ||
                rule["role"].get<std::string>().empty())
                return where + ".role: expected a non-empty string";
            try {
                evaluateExpression(rule["expression"].get<std::string>(), json::object());
            } catch (const std::invalid_argument& e) {
                return where + ".expression: " + e.what();
            }
        }
    }
    for (const char* flag : {"strictMode", "skipRoleSync"})
        if (roleMapping.contains(flag) && !roleMapping[flag].is_boolean())
            return std::string("roleMapping.") + flag + ": expected a boolean";
    if (roleMapping.contains("defaultRole") && !roleMapping["defaultRole"].is_null() &&
        !roleMapping["defaultRole"].is_string())
        return "roleMapping.defaultRole: expected a string";
    return "";
}

RoleDecision resolveRole(const json& roleMapping, const json& claims) {
    RoleDecision decision;
    decision.role = "member";
    if (!roleMapping.is_object()) return decision;
    if (roleMapping.contains("rules") && roleMapping["rules"].is_array()) {
        for (const auto& rule : roleMapping["rules"]) {
            if (!rule.is_object() || !rule.value("expression", json()).is_string()) continue;
            bool match = false;
            try {
                match = evaluateExpression(rule["expression"].get<std::string>(), claims);
            } catch (const std::invalid_argument&) {
                match = false;  // validated on save; an old bad rule never grants a role
            }
            if (match) {
                decision.role = rule.value("role", std::string("member"));
                decision.matchedRule = true;
                return decision;
            }
        }
    }
    if (roleMapping.value("strictMode", false)) {
        decision.denied = true;
        decision.reason = "no role mapping rule matched and strict mode is on";
        return decision;
    }
    if (roleMapping.contains("defaultRole") && roleMapping["defaultRole"].is_string() &&
        !roleMapping["defaultRole"].get<std::string>().empty())
        decision.role = roleMapping["defaultRole"].get<std::string>();
    return decision;
}

std::vector<std::string> extractGroups(const json& claims, const std::string& groupsExpression) {
    const json* source = nullptr;
    std::string expression = Poco::trim(groupsExpression);
    if (!expression.empty()) {
        std::smatch m;
        if (std::regex_match(expression, m, kPlain)) expression = m[1];
        source = claimAt(claims, expression);
    } else {
        for (const char* name :
             {"groups", "group", "memberOf", "member_of", "roles", "role", "teams", "team"}) {
            source = claimAt(claims, name);
            if (source && !source->is_null()) break;
        }
    }
    std::vector<std::string> raw;
    if (source && source->is_array()) {
        for (const auto& item : *source)
            if (item.is_string()) raw.push_back(item.get<std::string>());
    } else if (source && source->is_string()) {
        std::string text = source->get<std::string>();
        std::size_t start = 0;
        while (start <= text.size()) {
            std::size_t comma = text.find(',', start);
            raw.push_back(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
            if (comma == std::string::npos) break;
            start = comma + 1;
        }
    }
    std::set<std::string> seen;
    std::vector<std::string> out;
    for (auto& group : raw) {
        std::string g = Poco::toLower(Poco::trim(group));
        if (!g.empty() && seen.insert(g).second) out.push_back(g);
    }
    return out;
}

}  // namespace archestra::auth::sso
