// BodyValidator: a small recursive JSON-schema check with messages in the API's "Field '<path>': ..." style.
#include "core/http/BodyValidator.h"

#include <cctype>
#include <cmath>
#include <optional>

namespace archestra::http {

namespace {

using nlohmann::json;

std::string shortJson(const json& value) {
    std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
    if (text.size() > 60) text = text.substr(0, 57) + "...";
    return text;
}

std::string jsonTypeName(const json& value) {
    if (value.is_null()) return "null";
    if (value.is_boolean()) return "boolean";
    if (value.is_number_integer() || value.is_number_unsigned()) return "integer";
    if (value.is_number()) return "number";
    if (value.is_string()) return "string";
    if (value.is_array()) return "array";
    return "object";
}

bool hasType(const json& value, const std::string& type) {
    if (type == "string") return value.is_string();
    if (type == "boolean") return value.is_boolean();
    if (type == "integer") {
        if (value.is_number_integer() || value.is_number_unsigned()) return true;
        // 3.0 is an integer in JSON Schema's sense.
        if (!value.is_number_float()) return false;
        double number = value.get<double>();
        return std::isfinite(number) && std::floor(number) == number;
    }
    if (type == "number") return value.is_number();
    if (type == "array") return value.is_array();
    if (type == "object") return value.is_object();
    if (type == "null") return value.is_null();
    return true;
}

std::string article(const std::string& type) {
    return (type == "integer" || type == "object" || type == "array") ? "an " + type : "a " + type;
}

bool looksLikeUuid(const std::string& text) {
    if (text.size() != 36) return false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? text[i] != '-' : !std::isxdigit(static_cast<unsigned char>(text[i]))) return false;
    }
    return true;
}

// A keyword whose value has the wrong JSON type is ignored like an unknown keyword (route schemas come from
// code, but a mistyped bound must not make nlohmann throw out of the validator and turn a request into a
// 500).
std::optional<double> numberKeyword(const json& schema, const char* name) {
    auto it = schema.find(name);
    if (it == schema.end() || !it->is_number()) return std::nullopt;
    return it->get<double>();
}

/// A length or item-count bound: a non-negative whole number (5 or 5.0), else ignored.
std::optional<std::size_t> countKeyword(const json& schema, const char* name) {
    auto it = schema.find(name);
    if (it == schema.end() || !it->is_number()) return std::nullopt;
    if (it->is_number_unsigned()) return it->get<std::size_t>();
    // Compared as a double first: casting a negative, fractional or huge double to size_t is undefined.
    double bound = it->get<double>();
    if (!(bound >= 0 && bound <= 9007199254740992.0) || std::floor(bound) != bound) return std::nullopt;
    return static_cast<std::size_t>(bound);
}

bool flagKeyword(const json& schema, const char* name) {
    auto it = schema.find(name);
    return it != schema.end() && it->is_boolean() && it->get<bool>();
}

std::string fail(const std::string& path, const std::string& what) {
    return "Field '" + path + "': " + what;
}

std::optional<std::string> check(const json& schema, const json& value, const std::string& path);

std::optional<std::string> checkAlternatives(const json& alternatives, const json& value,
                                             const std::string& path) {
    std::optional<std::string> first;
    for (const auto& alternative : alternatives) {
        auto error = check(alternative, value, path);
        if (!error) return std::nullopt;
        if (!first) first = error;
    }
    return first;
}

std::optional<std::string> check(const json& schema, const json& value, const std::string& path) {
    if (!schema.is_object()) return std::nullopt;
    // Collect the allowed types: "type" as a string or an array (with "null"), plus OpenAPI's nullable.
    std::vector<std::string> types;
    bool nullable = flagKeyword(schema, "nullable");
    if (auto it = schema.find("type"); it != schema.end()) {
        if (it->is_string()) types.push_back(*it);
        if (it->is_array())
            for (const auto& t : *it)
                if (t.is_string()) (t == "null" ? nullable = true : (types.push_back(t), true));
    }
    if (value.is_null() && nullable) return std::nullopt;
    if (auto it = schema.find("enum"); it != schema.end() && it->is_array()) {
        bool found = false;
        for (const auto& allowed : *it) found = found || allowed == value;
        if (!found) {
            std::string list;
            for (const auto& allowed : *it)
                list += (list.empty() ? "" : ", ") +
                        (allowed.is_string() ? allowed.get<std::string>() : allowed.dump());
            return fail(
                path, "expected one of " + list + (nullable ? " or null" : "") + ", got " + shortJson(value));
        }
    }
    if (!types.empty()) {
        bool matches = false;
        for (const auto& type : types) matches = matches || hasType(value, type);
        if (!matches) {
            std::string wanted;
            for (const auto& type : types) wanted += (wanted.empty() ? "" : " or ") + article(type);
            if (nullable) wanted += " or null";
            return fail(path, "expected " + wanted + ", got " + shortJson(value));
        }
    }
    if (auto it = schema.find("oneOf"); it != schema.end() && it->is_array())
        if (auto error = checkAlternatives(*it, value, path)) return error;
    if (auto it = schema.find("anyOf"); it != schema.end() && it->is_array())
        if (auto error = checkAlternatives(*it, value, path)) return error;

    if (value.is_string()) {
        const auto& text = value.get_ref<const std::string&>();
        if (auto most = countKeyword(schema, "maxLength"); most && text.size() > *most)
            return fail(path, "expected at most " + std::to_string(*most) + " characters");
        if (auto least = countKeyword(schema, "minLength"); least && text.size() < *least)
            return fail(path, "expected at least " + std::to_string(*least) + " characters");
        if (auto format = schema.find("format");
            format != schema.end() && *format == "uuid" && !looksLikeUuid(text))
            return fail(path, "expected a UUID, got " + shortJson(value));
    } else if (value.is_number()) {
        double number = value.get<double>();
        if (auto least = numberKeyword(schema, "minimum"); least && number < *least)
            return fail(path, "expected at least " + schema["minimum"].dump() + ", got " + shortJson(value));
        if (auto most = numberKeyword(schema, "maximum"); most && number > *most)
            return fail(path, "expected at most " + schema["maximum"].dump() + ", got " + shortJson(value));
    } else if (value.is_array()) {
        if (auto least = countKeyword(schema, "minItems"); least && value.size() < *least)
            return fail(path, "expected at least " + std::to_string(*least) + " items");
        if (auto most = countKeyword(schema, "maxItems"); most && value.size() > *most)
            return fail(path, "expected at most " + std::to_string(*most) + " items");
        if (auto items = schema.find("items"); items != schema.end()) {
            for (std::size_t i = 0; i < value.size(); ++i)
                if (auto error = check(*items, value[i], path + "[" + std::to_string(i) + "]")) return error;
        }
    } else if (value.is_object()) {
        std::string prefix = path.empty() ? "" : path + ".";
        if (auto required = schema.find("required"); required != schema.end() && required->is_array()) {
            for (const auto& name : *required)
                if (name.is_string() && !value.contains(name.get<std::string>()))
                    return fail(prefix + name.get<std::string>(), "required");
        }
        if (auto properties = schema.find("properties");
            properties != schema.end() && properties->is_object()) {
            for (const auto& [name, propertySchema] : properties->items()) {
                auto field = value.find(name);
                if (field == value.end()) continue;
                if (auto error = check(propertySchema, *field, prefix + name)) return error;
            }
        }
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::string> validateBody(const nlohmann::json& schema, const nlohmann::json& value) {
    if (!value.is_object() && schema.is_object() && schema.value("type", json()) == "object")
        return "Request body: expected a JSON object, got " + jsonTypeName(value);
    return check(schema, value, "");
}

}  // namespace archestra::http
