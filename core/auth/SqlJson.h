// Small helpers for turning PostgreSQL text rows into the API's JSON conventions (reference-api.md §0, §2).
#pragma once

#include "core/db/Database.h"

#include <nlohmann/json.hpp>

#include <string>

namespace archestra::auth {

/// SQL expression rendering a timestamptz column as RFC 3339 UTC with milliseconds, e.g.
/// "2025-01-02T03:04:05.678Z".
inline std::string isoSql(const std::string& column) {
    return "to_char(" + column + " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";
}

/// The column as a JSON string, or null for SQL NULL (nullable columns are never omitted).
inline nlohmann::json nullableString(const db::Row& row, const std::string& column) {
    const auto& value = row.at(column);
    return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

inline nlohmann::json nullableBool(const db::Row& row, const std::string& column) {
    const auto& value = row.at(column);
    return value ? nlohmann::json(*value == "t") : nlohmann::json(nullptr);
}

/// Reads an optional string field of a request body: absent -> nullopt, wrong type -> 400 naming the field.
std::optional<std::string> optionalStringField(const nlohmann::json& body, const std::string& field);
/// A required non-empty string field; 400 naming the field otherwise.
std::string requiredStringField(const nlohmann::json& body, const std::string& field);
/// An optional boolean field; 400 naming the field when present with another type.
std::optional<bool> optionalBoolField(const nlohmann::json& body, const std::string& field);

}  // namespace archestra::auth
