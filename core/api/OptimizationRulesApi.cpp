// Optimization rule CRUD: conditions are checked by the same parser the proxy uses (core/policy), so a rule
// the API accepts is a rule the proxy applies.
#include "core/api/OptimizationRulesApi.h"

#include "core/api/CrudRoutes.h"
#include "core/auth/Schema.h"
#include "core/auth/SqlJson.h"
#include "core/http/Context.h"
#include "core/policy/Optimization.h"
#include "core/policy/Types.h"

namespace archestra::api {
namespace {

using auth::isoSql;
using http::Access;
using http::ApiError;
using http::Context;
using nlohmann::json;

std::string ruleJsonSql() {
    return "json_build_object('id', r.id, 'entityType', r.entity_type, 'entityId', r.entity_id, "
           "'conditions', "
           "r.conditions, 'provider', r.provider, 'targetModel', r.target_model, 'enabled', r.enabled, "
           "'createdAt', " +
           isoSql("r.created_at") + ", 'updatedAt', " + isoSql("r.updated_at") + ")::text";
}

json ruleSchema() {
    using namespace auth::schema;
    json condition = object({{"maxLength", integer()}, {"hasTools", boolean()}});
    return object({{"id", {{"type", "string"}, {"format", "uuid"}}},
                   {"entityType", enumOf({"organization", "team", "agent"})},
                   {"entityId", string()},
                   {"conditions", array(condition)},
                   {"provider", enumOf({"openai", "anthropic", "gemini"})},
                   {"targetModel", string()},
                   {"enabled", boolean()},
                   {"createdAt", dateTime()},
                   {"updatedAt", dateTime()}},
                  {"id", "entityType", "entityId", "conditions", "provider", "targetModel", "enabled",
                   "createdAt", "updatedAt"});
}

json loadRule(db::Database& db, const std::string& id) {
    auto rows =
        db.query("SELECT " + ruleJsonSql() + " FROM optimization_rules r WHERE r.id = $1::uuid", {id});
    if (rows.empty()) throw ApiError::notFound("Optimization rule not found");
    return json::parse(rows[0].str(0));
}

/// Merged body -> (entity_type, entity_id, conditions, provider, target_model, enabled).
std::vector<db::Value> validate(db::Database& db, const json& body) {
    std::string entityType = enumField(body, "entityType", {"organization", "team", "agent"});
    std::string entityId = auth::requiredStringField(body, "entityId");
    json conditions =
        body.contains("conditions") && !body["conditions"].is_null() ? body["conditions"] : json::array();
    try {
        policy::parseOptimizationConditions(conditions);
    } catch (const policy::PolicyError& e) {
        throw ApiError::badRequest(std::string("Field 'conditions': ") + e.what());
    }
    std::string provider = enumField(body, "provider", {"openai", "anthropic", "gemini"});
    std::string target = auth::requiredStringField(body, "targetModel");
    bool enabled = auth::optionalBoolField(body, "enabled").value_or(true);
    requireEntityExists(db, entityType, entityId);
    return {entityType, entityId, conditions.dump(), provider, target, enabled ? "true" : "false"};
}

}  // namespace

void registerOptimizationRuleRoutes(http::Router& router, std::shared_ptr<auth::AuthService> auth,
                                    std::function<void()> onChange) {
    using namespace auth::schema;
    db::Database& db = auth->database();
    auto changed = [onChange] {
        if (onChange) onChange();
    };
    const std::string tag = "Optimization Rules";
    auto [createInput, updateInput] = inputSchemas(ruleSchema(), {"id", "createdAt", "updatedAt"},
                                                   {"entityType", "entityId", "provider", "targetModel"});

    router.add({.method = "GET",
                .path = "/api/optimization-rules",
                .operationId = "getOptimizationRules",
                .tag = tag,
                .summary = "Every optimization rule, oldest first (the order the proxy tries them)",
                .access = Access::permission("profile", "read"),
                .response = array(ruleSchema())},
               [&db](Context& c) {
                   json out = json::array();
                   for (const auto& row : db.query("SELECT " + ruleJsonSql() +
                                                   " FROM optimization_rules r ORDER BY r.created_at, r.id"))
                       out.push_back(json::parse(row.str(0)));
                   c.sendJson(200, out);
               });
    router.add(
        {.method = "POST",
         .path = "/api/optimization-rules",
         .operationId = "createOptimizationRule",
         .tag = tag,
         .summary = "Create a rule: requests matching all its conditions go to targetModel",
         .access = Access::permission("profile", "create"),
         .requestBody = createInput,
         .response = ruleSchema()},
        [&db, changed](Context& c) {
            auto values = validate(db, c.jsonObject());
            std::string id =
                db.query(
                      "INSERT INTO optimization_rules (entity_type, entity_id, conditions, provider, "
                      "target_model, enabled) VALUES ($1, $2, $3::jsonb, $4, $5, $6::boolean) RETURNING "
                      "id::text",
                      values)
                    .at(0)
                    .str(0);
            changed();
            c.sendJson(200, loadRule(db, id));
        });
    router.add(
        {.method = "PUT",
         .path = "/api/optimization-rules/{id}",
         .operationId = "updateOptimizationRule",
         .tag = tag,
         .summary = "Change a rule; fields left out keep their value",
         .access = Access::permission("profile", "update"),
         .requestBody = updateInput,
         .response = ruleSchema(),
         .uuidParams = {"id"}},
        [&db, changed](Context& c) {
            const std::string id = c.param("id");
            auto values = validate(db, mergePresentFields(loadRule(db, id), c.jsonObject(),
                                                          {"entityType", "entityId", "conditions", "provider",
                                                           "targetModel", "enabled"}));
            values.insert(values.begin(), id);
            if (db.execute("UPDATE optimization_rules SET entity_type = $2, entity_id = $3, conditions = "
                           "$4::jsonb, provider = $5, target_model = $6, enabled = $7::boolean, updated_at = "
                           "now() WHERE id = $1::uuid",
                           values) == 0)
                throw ApiError::notFound("Optimization rule not found");
            changed();
            c.sendJson(200, loadRule(db, id));
        });
    addDeleteByIdRoute(router, db,
                       {.path = "/api/optimization-rules/{id}",
                        .operationId = "deleteOptimizationRule",
                        .tag = tag,
                        .summary = "Delete a rule",
                        .access = Access::permission("profile", "delete"),
                        .table = "optimization_rules",
                        .notFoundMessage = "Optimization rule not found"},
                       changed);
}

}  // namespace archestra::api
