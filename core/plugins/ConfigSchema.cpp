// Implementation of the JSON Schema subset used to validate plugin configuration.
#include "core/plugins/ConfigSchema.h"

#include <cstdint>

namespace archestra::plugins {
namespace {

std::string typeOf(const nlohmann::json& v) {
    if (v.is_null()) return "null";
    if (v.is_boolean()) return "boolean";
    if (v.is_number_integer() || v.is_number_unsigned()) return "integer";
    if (v.is_number()) return "number";
    if (v.is_string()) return "string";
    if (v.is_array()) return "array";
    return "object";
}

bool hasType(const nlohmann::json& v, const std::string& type) {
    const std::string actual = typeOf(v);
    // JSON Schema: every integer is also a number.
    return actual == type || (type == "number" && actual == "integer");
}

// Short rendering of a value for messages; long values are cut so a message stays one readable line.
std::string show(const nlohmann::json& v) {
    std::string text = v.dump();
    if (text.size() > 60) text = text.substr(0, 57) + "...";
    return text;
}

// Characters (Unicode code points) of a UTF-8 string: every byte that does not continue a sequence.
std::uint64_t characterCount(const std::string& text) {
    std::uint64_t count = 0;
    for (unsigned char byte : text) count += (byte & 0xC0) != 0x80;
    return count;
}

}  // namespace

std::vector<std::string> validateJsonSchema(const nlohmann::json& schema, const nlohmann::json& value,
                                            const std::string& path) {
    std::vector<std::string> errors;
    if (!schema.is_object()) return errors;  // `true`/`{}`-like schemas accept everything

    if (auto it = schema.find("type"); it != schema.end()) {
        std::vector<std::string> allowed;
        if (it->is_string()) allowed.push_back(it->get<std::string>());
        if (it->is_array())
            for (const auto& t : *it)
                if (t.is_string()) allowed.push_back(t.get<std::string>());
        bool matched = allowed.empty();
        for (const auto& t : allowed) matched = matched || hasType(value, t);
        if (!matched) {
            std::string expected;
            for (const auto& t : allowed) expected += (expected.empty() ? "" : " or ") + t;
            errors.push_back(path + ": expected " + expected + ", got " + typeOf(value) + " " + show(value));
            return errors;  // the remaining keywords would only repeat the same mistake
        }
    }
    if (auto it = schema.find("enum"); it != schema.end() && it->is_array()) {
        bool found = false;
        for (const auto& allowed : *it) found = found || allowed == value;
        if (!found) errors.push_back(path + ": value " + show(value) + " is not one of " + it->dump());
    }
    if (value.is_number()) {
        if (auto it = schema.find("minimum"); it != schema.end() && it->is_number() && value < *it)
            errors.push_back(path + ": value " + show(value) + " is below the minimum " + it->dump());
        if (auto it = schema.find("maximum"); it != schema.end() && it->is_number() && value > *it)
            errors.push_back(path + ": value " + show(value) + " is above the maximum " + it->dump());
    }
    if (value.is_string()) {
        // minLength counts characters, not bytes; a bound that is not a non-negative integer (a schema
        // author's mistake) is ignored like any other mistyped keyword, instead of refusing every string.
        if (auto it = schema.find("minLength");
            it != schema.end() && it->is_number_integer() && it->get<std::int64_t>() > 0 &&
            characterCount(value.get_ref<const std::string&>()) < it->get<std::uint64_t>())
            errors.push_back(path + ": string " + show(value) + " is shorter than minLength " + it->dump());
    }
    if (value.is_object()) {
        const auto props = schema.find("properties");
        if (auto it = schema.find("required"); it != schema.end() && it->is_array()) {
            for (const auto& key : *it)
                if (key.is_string() && !value.contains(key.get<std::string>()))
                    errors.push_back(path + ": required property '" + key.get<std::string>() +
                                     "' is missing");
        }
        for (const auto& [key, child] : value.items()) {
            const std::string childPath = path + "." + key;
            if (props != schema.end() && props->is_object() && props->contains(key)) {
                auto sub = validateJsonSchema((*props)[key], child, childPath);
                errors.insert(errors.end(), sub.begin(), sub.end());
                continue;
            }
            auto extra = schema.find("additionalProperties");
            if (extra == schema.end()) continue;
            if (extra->is_boolean() && !extra->get<bool>()) {
                std::string known;
                if (props != schema.end() && props->is_object())
                    for (const auto& [name, _] : props->items()) known += (known.empty() ? "" : ", ") + name;
                errors.push_back(path + ": unknown property '" + key + "'; expected one of [" + known + "]");
            } else if (extra->is_object()) {
                auto sub = validateJsonSchema(*extra, child, childPath);
                errors.insert(errors.end(), sub.begin(), sub.end());
            }
        }
    }
    if (value.is_array()) {
        if (auto it = schema.find("items"); it != schema.end() && it->is_object()) {
            for (std::size_t i = 0; i < value.size(); ++i) {
                auto sub = validateJsonSchema(*it, value[i], path + "[" + std::to_string(i) + "]");
                errors.insert(errors.end(), sub.begin(), sub.end());
            }
        }
    }
    return errors;
}

}  // namespace archestra::plugins
