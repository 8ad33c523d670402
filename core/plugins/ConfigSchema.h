// A small JSON Schema subset validator: checks plugin configuration before it reaches the plugin's create().
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace archestra::plugins {

/// Validates `value` against `schema`, supporting the keywords plugins need: type (string or list), enum,
/// properties, required, additionalProperties (bool or schema), items, minimum, maximum, minLength.
/// Unknown keywords are ignored (as JSON Schema does). Returns one message per violation, each naming the
/// JSON path ("$.address"), the value found and what was expected; empty when valid. Pure, thread-safe.
std::vector<std::string> validateJsonSchema(const nlohmann::json& schema, const nlohmann::json& value,
                                            const std::string& path = "$");

}  // namespace archestra::plugins
