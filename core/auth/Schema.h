// Terse builders for the JSON schemas routes declare on their RouteSpec (OpenAPI 3.0 dialect: nullable).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace archestra::auth::schema {

using nlohmann::json;

inline json string() {
    return {{"type", "string"}};
}
inline json nullableString() {
    return {{"type", "string"}, {"nullable", true}};
}
inline json dateTime() {
    return {{"type", "string"}, {"format", "date-time"}};
}
inline json nullableDateTime() {
    return {{"type", "string"}, {"format", "date-time"}, {"nullable", true}};
}
inline json boolean() {
    return {{"type", "boolean"}};
}
inline json nullableBoolean() {
    return {{"type", "boolean"}, {"nullable", true}};
}
inline json integer() {
    return {{"type", "integer"}};
}
inline json enumOf(std::vector<std::string> values) {
    return {{"type", "string"}, {"enum", values}};
}
inline json array(json items) {
    return {{"type", "array"}, {"items", std::move(items)}};
}
inline json object(json properties, std::vector<std::string> required = {}) {
    json out = {{"type", "object"}, {"properties", std::move(properties)}};
    if (!required.empty()) out["required"] = required;
    return out;
}
inline json nullable(json schema) {
    schema["nullable"] = true;
    return schema;
}
inline json success() {
    return object({{"success", boolean()}}, {"success"});
}

}  // namespace archestra::auth::schema
