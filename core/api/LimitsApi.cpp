// Limit CRUD. A limit is validated as a whole (create, and the merged row on PATCH) with the per-type rules:
// token_cost needs models and no server/tool, mcp_server_calls a server, tool_calls a server and a tool.
// Usage is read from the same counters the proxy and the MCP gateway enforce.
#include "core/api/LimitsApi.h"

#include "core/api/CrudRoutes.h"
#include "core/api/TokenPricesApi.h"
#include "core/auth/Schema.h"
#include "core/auth/SqlJson.h"
#include "core/http/Context.h"
#include "core/policy/Cost.h"

#include <climits>
#include <map>

namespace archestra::api {
namespace {

using auth::isoSql;
using http::Access;
using http::ApiError;
using http::Context;
using nlohmann::json;

std::string limitJsonSql() {
    return "json_build_object('id', l.id, 'entityType', l.entity_type, 'entityId', l.entity_id, 'limitType', "
           "l.limit_type, 'limitValue', l.limit_value, 'mcpServerName', l.mcp_server_name, 'toolName', "
           "l.tool_name, 'model', l.model, 'currentUsageCalls', l.current_usage_calls, 'lastCleanup', "
           "CASE WHEN l.last_cleanup IS NULL THEN NULL ELSE " +
           isoSql("l.last_cleanup") + " END, 'createdAt', " + isoSql("l.created_at") + ", 'updatedAt', " +
           isoSql("l.updated_at") +
           ", 'modelUsage', COALESCE((SELECT json_agg(json_build_object('model', u.model, 'tokensIn', "
           "u.current_usage_tokens_in, 'tokensOut', u.current_usage_tokens_out) ORDER BY u.model) FROM "
           "limit_model_usage u WHERE u.limit_id = l.id), '[]'::json))::text";
}

json limitSchema() {
    using namespace auth::schema;
    return object({{"id", {{"type", "string"}, {"format", "uuid"}}},
                   {"entityType", enumOf({"organization", "team", "agent"})},
                   {"entityId", string()},
                   {"limitType", enumOf({"token_cost", "mcp_server_calls", "tool_calls"})},
                   {"limitValue", integer()},
                   {"mcpServerName", nullableString()},
                   {"toolName", nullableString()},
                   {"model", nullable(array(string()))},
                   {"currentUsageCalls", integer()},
                   {"lastCleanup", nullableDateTime()},
                   {"createdAt", dateTime()},
                   {"updatedAt", dateTime()},
                   {"modelUsage", array(object({{"model", string()},
                                                {"tokensIn", integer()},
                                                {"tokensOut", integer()},
                                                {"cost", {{"type", "number"}}}},
                                               {"model", "tokensIn", "tokensOut", "cost"}))}},
                  {"id", "entityType", "entityId", "limitType", "limitValue", "mcpServerName", "toolName",
                   "model", "lastCleanup", "createdAt", "updatedAt", "modelUsage"});
}

policy::PriceTable loadPrices(db::Database& db) {
    policy::PriceTable prices;
    for (const auto& row :
         db.query("SELECT model, price_per_million_input::text, price_per_million_output::text "
                  "FROM token_price")) {
        auto in = policy::Money::parse(row.str(1));
        auto out = policy::Money::parse(row.str(2));
        if (in && out) prices.set(row.str(0), {*in, *out});
    }
    return prices;
}

/// Adds `cost` (USD, priced as the proxy prices it) to each modelUsage entry.
json withCosts(json limit, const policy::PriceTable& prices) {
    for (auto& usage : limit["modelUsage"]) {
        std::uint64_t in = usage["tokensIn"].get<std::uint64_t>();
        std::uint64_t out = usage["tokensOut"].get<std::uint64_t>();
        policy::Money cost =
            policy::tokenCost(prices.priceOrDefault(usage["model"].get<std::string>()), in, out);
        usage["cost"] =
            static_cast<double>(cost.units()) / static_cast<double>(policy::Money::kUnitsPerDollar);
    }
    return limit;
}

json loadLimit(db::Database& db, const std::string& id) {
    auto rows = db.query("SELECT " + limitJsonSql() + " FROM limits l WHERE l.id = $1::uuid", {id});
    if (rows.empty()) throw ApiError::notFound("Limit not found");
    return withCosts(json::parse(rows[0].str(0)), loadPrices(db));
}

/// Merged body -> column values (entity_type, entity_id, limit_type, limit_value, mcp_server_name,
/// tool_name, model), checking that the entity exists.
std::vector<db::Value> validate(db::Database& db, const json& body) {
    std::string entityType = enumField(body, "entityType", {"organization", "team", "agent"});
    std::string entityId = auth::requiredStringField(body, "entityId");
    std::string limitType = enumField(body, "limitType", {"token_cost", "mcp_server_calls", "tool_calls"});
    auto value = body.find("limitValue");
    if (value == body.end() || !value->is_number_integer() || value->get<long long>() < 0 ||
        value->get<long long>() > INT_MAX)
        throw ApiError::badRequest("Field 'limitValue': expected an integer from 0 to " +
                                   std::to_string(INT_MAX) +
                                   (value == body.end() ? ", missing" : ", got " + value->dump()));
    auto server = auth::optionalStringField(body, "mcpServerName");
    auto tool = auth::optionalStringField(body, "toolName");
    if (server && server->empty()) server.reset();
    if (tool && tool->empty()) tool.reset();
    db::Value models;
    auto model = body.find("model");
    bool hasModels = false;
    if (model != body.end() && !model->is_null()) {
        if (!model->is_array())
            throw ApiError::badRequest("Field 'model': expected an array of model names, got " +
                                       model->dump());
        for (std::size_t i = 0; i < model->size(); ++i)
            if (!(*model)[i].is_string() || (*model)[i].get<std::string>().empty())
                throw ApiError::badRequest("Field 'model[" + std::to_string(i) +
                                           "]': expected a non-empty string, got " + (*model)[i].dump());
        hasModels = !model->empty();
        models = model->dump();
    }
    if (limitType == "token_cost") {
        if (!hasModels)
            throw ApiError::badRequest("Field 'model': a token_cost limit needs a non-empty list of models");
        if (server) throw ApiError::badRequest("Field 'mcpServerName': not allowed on a token_cost limit");
        if (tool) throw ApiError::badRequest("Field 'toolName': not allowed on a token_cost limit");
    } else {
        if (!server)
            throw ApiError::badRequest("Field 'mcpServerName': required for a " + limitType + " limit");
        if (limitType == "tool_calls" && !tool)
            throw ApiError::badRequest("Field 'toolName': required for a tool_calls limit");
        if (limitType == "mcp_server_calls" && tool)
            throw ApiError::badRequest(
                "Field 'toolName': not allowed on an mcp_server_calls limit (use tool_calls)");
        if (hasModels) throw ApiError::badRequest("Field 'model': only token_cost limits name models");
        models.reset();
    }
    requireEntityExists(db, entityType, entityId);
    return {entityType, entityId, limitType, std::to_string(value->get<long long>()), server, tool, models};
}

const std::vector<std::string> kFields = {"entityType",    "entityId", "limitType", "limitValue",
                                          "mcpServerName", "toolName", "model"};

}  // namespace

json listLimits(db::Database& db, const LimitFilter& filter) {
    std::vector<db::Value> params;
    std::string where = " WHERE true";
    auto add = [&](const std::optional<std::string>& value, const std::string& column) {
        if (!value || value->empty()) return;
        params.push_back(*value);
        where += " AND " + column + " = $" + std::to_string(params.size());
    };
    add(filter.entityType, "l.entity_type");
    add(filter.entityId, "l.entity_id");
    add(filter.limitType, "l.limit_type");
    auto prices = loadPrices(db);
    json out = json::array();
    for (const auto& row : db.query(
             "SELECT " + limitJsonSql() + " FROM limits l" + where + " ORDER BY l.created_at, l.id", params))
        out.push_back(withCosts(json::parse(row.str(0)), prices));
    return out;
}

json getLimit(db::Database& db, const std::string& id) {
    if (!http::isUuidV4(id)) throw ApiError::notFound("Limit not found");
    return loadLimit(db, id);
}

json createLimit(db::Database& db, const json& body) {
    auto values = validate(db, body);
    std::string id = db.query(
                           "INSERT INTO limits (entity_type, entity_id, limit_type, limit_value, "
                           "mcp_server_name, tool_name, model, last_cleanup) VALUES ($1, $2, $3, "
                           "$4::integer, $5, $6, $7::jsonb, now()) RETURNING id::text",
                           values)
                         .at(0)
                         .str(0);
    return loadLimit(db, id);
}

json updateLimit(db::Database& db, const std::string& id, const json& body) {
    auto values = validate(db, mergePresentFields(getLimit(db, id), body, kFields));
    values.insert(values.begin(), id);
    if (db.execute("UPDATE limits SET entity_type = $2, entity_id = $3, limit_type = $4, limit_value "
                   "= $5::integer, mcp_server_name = $6, tool_name = $7, model = $8::jsonb, "
                   "updated_at = now() WHERE id = $1::uuid",
                   values) == 0)
        throw ApiError::notFound("Limit not found");
    return loadLimit(db, id);
}

void deleteLimit(db::Database& db, const std::string& id) {
    if (!http::isUuidV4(id) || db.execute("DELETE FROM limits WHERE id = $1::uuid", {id}) == 0)
        throw ApiError::notFound("Limit not found");
}

void registerLimitRoutes(http::Router& router, std::shared_ptr<auth::AuthService> auth, LimitHooks hooks) {
    using namespace auth::schema;
    db::Database& db = auth->database();
    auto changed = [hooks] {
        if (hooks.onChange) hooks.onChange();
    };
    const std::string tag = "Limits";
    auto [createInput, updateInput] = inputSchemas(
        limitSchema(), {"id", "createdAt", "updatedAt", "lastCleanup", "modelUsage", "currentUsageCalls"},
        {"entityType", "entityId", "limitType", "limitValue"});

    router.add({.method = "GET",
                .path = "/api/limits",
                .operationId = "getLimits",
                .tag = tag,
                .summary = "Limits with their usage since the last reset",
                .access = Access::permission("limit", "read"),
                .response = array(limitSchema()),
                .query = {{"entityType", enumOf({"organization", "team", "agent"})},
                          {"entityId", string()},
                          {"limitType", enumOf({"token_cost", "mcp_server_calls", "tool_calls"})}}},
               [&db, hooks, changed](Context& c) {
                   if (hooks.beforeRead) {
                       try {
                           hooks.beforeRead();
                       } catch (const std::exception&) {
                           // a failed reset shows the current (older) usage rather than failing the list
                       }
                   }
                   if (seedDefaultTokenPrices(db) > 0) changed();
                   LimitFilter filter;
                   auto pick = [&](const std::string& name, std::vector<std::string> allowed) {
                       auto value = c.query(name);
                       if (!value || value->empty()) return std::optional<std::string>();
                       bool ok = allowed.empty();
                       for (const auto& a : allowed) ok = ok || a == *value;
                       if (!ok)
                           throw ApiError::badRequest("Query parameter '" + name + "': unknown value '" +
                                                      *value + "'");
                       return value;
                   };
                   filter.entityType = pick("entityType", {"organization", "team", "agent"});
                   filter.entityId = pick("entityId", {});
                   filter.limitType = pick("limitType", {"token_cost", "mcp_server_calls", "tool_calls"});
                   json out = listLimits(db, filter);
                   c.sendJson(200, out);
               });
    router.add({.method = "POST",
                .path = "/api/limits",
                .operationId = "createLimit",
                .tag = tag,
                .summary = "Create a limit (its period starts now)",
                .access = Access::permission("limit", "create"),
                .requestBody = createInput,
                .response = limitSchema()},
               [&db, changed](Context& c) {
                   json created = createLimit(db, c.jsonObject());
                   changed();
                   c.sendJson(200, created);
               });
    router.add({.method = "GET",
                .path = "/api/limits/{id}",
                .operationId = "getLimit",
                .tag = tag,
                .summary = "One limit with its usage",
                .access = Access::permission("limit", "read"),
                .response = limitSchema(),
                .uuidParams = {"id"}},
               [&db](Context& c) { c.sendJson(200, loadLimit(db, c.param("id"))); });
    router.add({.method = "PATCH",
                .path = "/api/limits/{id}",
                .operationId = "updateLimit",
                .tag = tag,
                .summary = "Change a limit; fields left out keep their value, usage is kept",
                .access = Access::permission("limit", "update"),
                .requestBody = updateInput,
                .response = limitSchema(),
                .uuidParams = {"id"}},
               [&db, changed](Context& c) {
                   json updated = updateLimit(db, c.param("id"), c.jsonObject());
                   changed();
                   c.sendJson(200, updated);
               });
    addDeleteByIdRoute(router, db,
                       {.path = "/api/limits/{id}",
                        .operationId = "deleteLimit",
                        .tag = tag,
                        .summary = "Delete a limit and its usage",
                        .access = Access::permission("limit", "delete"),
                        .table = "limits",
                        .notFoundMessage = "Limit not found"},
                       changed);
}

}  // namespace archestra::api
