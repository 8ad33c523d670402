// GET/PATCH /api/organization and the onboarding status.
#include "core/api/OrganizationApi.h"

#include "core/auth/Schema.h"
#include "core/auth/SqlJson.h"
#include "core/http/Context.h"

#include <algorithm>

namespace archestra::api {
namespace {

using auth::isoSql;
using http::Access;
using http::ApiError;
using http::Context;
using nlohmann::json;

const std::vector<std::string> kFonts = {"lato", "inter", "open-sans", "roboto", "source-sans-pro"};
const std::vector<std::string> kCleanupIntervals = {"1h", "12h", "24h", "1w", "1m"};
const std::vector<std::string> kCompressionScopes = {"organization", "team"};

const std::string kSelect =
    "SELECT id, name, slug, logo, metadata, limit_cleanup_interval, onboarding_complete, "
    "theme, custom_font, convert_tool_results_to_toon, compression_scope, " +
    isoSql("created_at") + " AS created_at FROM organization WHERE id = $1";

json organizationJson(const db::Row& row) {
    return {{"id", row.str("id")},
            {"name", row.str("name")},
            {"slug", row.str("slug")},
            {"logo", auth::nullableString(row, "logo")},
            {"metadata", auth::nullableString(row, "metadata")},
            {"createdAt", row.str("created_at")},
            {"limitCleanupInterval", auth::nullableString(row, "limit_cleanup_interval")},
            {"onboardingComplete", row.boolean("onboarding_complete")},
            {"theme", row.str("theme")},
            {"customFont", row.str("custom_font")},
            {"convertToolResultsToToon", row.boolean("convert_tool_results_to_toon")},
            {"compressionScope", row.str("compression_scope")}};
}

json load(db::Database& db, const Context& context) {
    const auto& principal = context.requirePrincipal();
    auto rows = db.query(kSelect, {principal.organizationId});
    if (rows.empty()) throw ApiError::notFound("Organization not found");
    return organizationJson(rows[0]);
}

std::string enumField(const json& body, const std::string& field, const std::vector<std::string>& allowed) {
    const json& value = body[field];
    if (!value.is_string() ||
        std::find(allowed.begin(), allowed.end(), value.get<std::string>()) == allowed.end()) {
        std::string list;
        for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
        throw ApiError::badRequest("Field '" + field + "': expected one of " + list + ", got " +
                                   value.dump());
    }
    return value.get<std::string>();
}

json organizationSchema() {
    using namespace auth::schema;
    return object({{"id", string()},
                   {"name", string()},
                   {"slug", string()},
                   {"logo", nullableString()},
                   {"createdAt", dateTime()},
                   {"limitCleanupInterval", nullable(enumOf(kCleanupIntervals))},
                   {"onboardingComplete", boolean()},
                   {"theme", string()},
                   {"customFont", enumOf(kFonts)},
                   {"convertToolResultsToToon", boolean()},
                   {"compressionScope", enumOf(kCompressionScopes)}},
                  {"id", "name", "slug", "createdAt"});
}

}  // namespace

void registerOrganizationRoutes(http::Router& router, std::shared_ptr<auth::AuthService> auth,
                                std::function<void()> onChange) {
    using namespace auth::schema;
    db::Database& db = auth->database();
    router.add({.method = "GET",
                .path = "/api/organization",
                .operationId = "getOrganization",
                .tag = "Organization",
                .summary = "The organization and its appearance and cost settings",
                .access = Access::permission("organization", "read"),
                .response = organizationSchema()},
               [&db](Context& c) { c.sendJson(200, load(db, c)); });
    router.add(
        {.method = "PATCH",
         .path = "/api/organization",
         .operationId = "updateOrganization",
         .tag = "Organization",
         .summary = "Change some of the organization's settings",
         .access = Access::permission("organization", "update"),
         .requestBody = object({{"theme", string()},
                                {"customFont", enumOf(kFonts)},
                                {"limitCleanupInterval", nullable(enumOf(kCleanupIntervals))},
                                {"compressionScope", enumOf(kCompressionScopes)},
                                {"logo", nullableString()},
                                {"onboardingComplete", boolean()},
                                {"convertToolResultsToToon", boolean()}}),
         .response = organizationSchema()},
        [&db, onChange](Context& c) {
            const json& body = c.jsonObject();
            std::vector<std::string> sets;
            std::vector<db::Value> params = {c.requirePrincipal().organizationId};
            auto set = [&](const std::string& column, db::Value value) {
                params.push_back(std::move(value));
                sets.push_back(column + " = $" + std::to_string(params.size()));
            };
            for (const auto& [key, value] : body.items()) {
                if (key == "theme") {
                    auto theme = auth::requiredStringField(body, "theme");
                    if (theme.size() > 64)
                        throw ApiError::badRequest("Field 'theme': expected at most 64 characters");
                    set("theme", theme);
                } else if (key == "customFont") {
                    set("custom_font", enumField(body, key, kFonts));
                } else if (key == "limitCleanupInterval") {
                    set("limit_cleanup_interval",
                        value.is_null() ? std::nullopt : db::Value(enumField(body, key, kCleanupIntervals)));
                } else if (key == "compressionScope") {
                    set("compression_scope", enumField(body, key, kCompressionScopes));
                } else if (key == "logo") {
                    set("logo", auth::optionalStringField(body, "logo"));
                } else if (key == "onboardingComplete" || key == "convertToolResultsToToon") {
                    auto flag = auth::optionalBoolField(body, key);
                    if (!flag) throw ApiError::badRequest("Field '" + key + "': expected a boolean");
                    set(key == "onboardingComplete" ? "onboarding_complete" : "convert_tool_results_to_toon",
                        *flag ? "true" : "false");
                } else {
                    throw ApiError::badRequest("Field '" + key + "' is not a setting of the organization");
                }
            }
            if (!sets.empty()) {
                std::string sql = "UPDATE organization SET ";
                for (size_t i = 0; i < sets.size(); ++i) sql += (i ? ", " : "") + sets[i];
                db.execute(sql + " WHERE id = $1", params);
                if (onChange) onChange();
            }
            c.sendJson(200, load(db, c));
        });
    router.add({.method = "GET",
                .path = "/api/organization/onboarding-status",
                .operationId = "getOnboardingStatus",
                .tag = "Organization",
                .summary = "Whether any proxy or gateway traffic was logged yet",
                .access = Access::authenticated(),
                .response = object({{"hasLlmProxyLogs", boolean()}, {"hasMcpGatewayLogs", boolean()}},
                                   {"hasLlmProxyLogs", "hasMcpGatewayLogs"})},
               [&db](Context& c) {
                   auto rows = db.query(
                       "SELECT EXISTS (SELECT 1 FROM interactions) AS llm, "
                       "EXISTS (SELECT 1 FROM mcp_tool_calls) AS mcp");
                   c.sendJson(200, {{"hasLlmProxyLogs", rows[0].boolean("llm")},
                                    {"hasMcpGatewayLogs", rows[0].boolean("mcp")}});
               });
}

}  // namespace archestra::api
