// Guardrail policy CRUD. Both kinds share one flow: create validates the body, update merges the partial body
// over the stored row and validates the result (so a regex check sees the final operator and value), and
// every read renders the row as JSON in SQL.
#include "core/api/PoliciesApi.h"

#include "core/api/CrudRoutes.h"
#include "core/auth/Schema.h"
#include "core/auth/SqlJson.h"
#include "core/http/Context.h"
#include "core/policy/Condition.h"
#include "core/policy/Types.h"

#include <string>
#include <vector>

namespace archestra::api {
namespace {

using auth::isoSql;
using http::Access;
using http::ApiError;
using http::Context;
using nlohmann::json;

/// What differs between the two policy kinds: table, wire fields and how a merged body becomes columns.
struct PolicyKind {
    std::string table;
    std::string jsonSql;                                   // the row `p` as one JSON text column
    std::vector<std::string> fields;                       // writable wire fields, in column order
    std::vector<std::string> columns;                      // matching SQL columns
    std::string notFound;                                  // 404 message
    std::vector<db::Value> (*validate)(const json& body);  // merged body -> column values
};

std::string commonJson(const std::string& extra) {
    return "json_build_object('id', p.id, 'agentToolId', p.agent_tool_id, " + extra +
           ", 'operator', p.operator, 'value', p.value, 'action', p.action, 'createdAt', " +
           isoSql("p.created_at") + ", 'updatedAt', " + isoSql("p.updated_at") + ")::text";
}

std::string agentToolIdField(const json& body) {
    std::string id = auth::requiredStringField(body, "agentToolId");
    if (!http::isUuidV4(id))
        throw ApiError::badRequest("Field 'agentToolId': expected a UUID, got '" + id + "'");
    return id;
}

/// `operator` and `value` together: the value must be a string, and a compiling pattern for `regex`.
std::pair<std::string, std::string> conditionFields(const json& body) {
    auto opText = auth::optionalStringField(body, "operator");
    if (!opText) throw ApiError::badRequest("Field 'operator': required");
    policy::Operator op;
    try {
        op = policy::parseOperator(*opText, "operator");
    } catch (const policy::PolicyError& e) {
        throw ApiError::badRequest(std::string("Field 'operator': ") + e.what());
    }
    auto value = auth::optionalStringField(body, "value");
    if (!value) throw ApiError::badRequest("Field 'value': required (a string)");
    if (op == policy::Operator::Regex)
        if (auto error = policy::regexError(*value))
            throw ApiError::badRequest("Field 'value': invalid regular expression '" + *value +
                                       "': " + *error);
    return {std::string(policy::toString(op)), *value};
}

std::vector<db::Value> validateInvocation(const json& body) {
    std::string agentToolId = agentToolIdField(body);
    std::string argumentName = auth::requiredStringField(body, "argumentName");
    auto [op, value] = conditionFields(body);
    auto actionText = auth::optionalStringField(body, "action");
    if (!actionText) throw ApiError::badRequest("Field 'action': required");
    std::string action;
    try {
        action = std::string(policy::toString(policy::parseInvocationAction(*actionText, "action")));
    } catch (const policy::PolicyError& e) {
        throw ApiError::badRequest(std::string("Field 'action': ") + e.what());
    }
    auto reason = auth::optionalStringField(body, "reason");  // null (Terraform's "unset") -> NULL
    return {agentToolId, argumentName, op, value, action, reason};
}

std::vector<db::Value> validateTrusted(const json& body) {
    std::string agentToolId = agentToolIdField(body);
    auto description = auth::optionalStringField(body, "description");
    std::string attributePath = auth::requiredStringField(body, "attributePath");
    auto [op, value] = conditionFields(body);
    std::string action = "mark_as_trusted";
    if (auto actionText = auth::optionalStringField(body, "action")) {
        try {
            action = std::string(policy::toString(policy::parseTrustedDataAction(*actionText, "action")));
        } catch (const policy::PolicyError& e) {
            throw ApiError::badRequest(std::string("Field 'action': ") + e.what());
        }
    }
    return {agentToolId, description, attributePath, op, value, action};
}

const PolicyKind& invocationKind() {
    static const PolicyKind kind{"tool_invocation_policies",
                                 commonJson("'argumentName', p.argument_name, 'reason', p.reason"),
                                 {"agentToolId", "argumentName", "operator", "value", "action", "reason"},
                                 {"agent_tool_id", "argument_name", "operator", "value", "action", "reason"},
                                 "Tool invocation policy not found",
                                 &validateInvocation};
    return kind;
}

const PolicyKind& trustedKind() {
    static const PolicyKind kind{
        "trusted_data_policies",
        commonJson("'description', p.description, 'attributePath', p.attribute_path"),
        {"agentToolId", "description", "attributePath", "operator", "value", "action"},
        {"agent_tool_id", "description", "attribute_path", "operator", "value", "action"},
        "Trusted data policy not found",
        &validateTrusted};
    return kind;
}

json loadPolicy(db::Database& db, const PolicyKind& kind, const std::string& id) {
    auto rows = db.query("SELECT " + kind.jsonSql + " FROM " + kind.table + " p WHERE p.id = $1::uuid", {id});
    if (rows.empty()) throw ApiError::notFound(kind.notFound);
    return json::parse(rows[0].str(0));
}

void checkAgentTool(db::Connection& conn, const std::string& agentToolId) {
    if (conn.query("SELECT 1 FROM agent_tools WHERE id = $1::uuid", {agentToolId}).empty())
        throw ApiError::badRequest("Field 'agentToolId': unknown agent tool id '" + agentToolId + "'");
}

json invocationSchema() {
    using namespace auth::schema;
    return object(
        {{"id", {{"type", "string"}, {"format", "uuid"}}},
         {"agentToolId", {{"type", "string"}, {"format", "uuid"}}},
         {"argumentName", string()},
         {"operator",
          enumOf({"equal", "notEqual", "contains", "notContains", "startsWith", "endsWith", "regex"})},
         {"value", string()},
         {"action", enumOf({"allow_when_context_is_untrusted", "block_always", "require_approval"})},
         {"reason", nullableString()},
         {"createdAt", dateTime()},
         {"updatedAt", dateTime()}},
        {"id", "agentToolId", "argumentName", "operator", "value", "action", "reason", "createdAt",
         "updatedAt"});
}

json trustedSchema() {
    using namespace auth::schema;
    return object({{"id", {{"type", "string"}, {"format", "uuid"}}},
                   {"agentToolId", {{"type", "string"}, {"format", "uuid"}}},
                   {"description", nullableString()},
                   {"attributePath", string()},
                   {"operator", enumOf({"equal", "notEqual", "contains", "notContains", "startsWith",
                                        "endsWith", "regex"})},
                   {"value", string()},
                   {"action", enumOf({"block_always", "mark_as_trusted", "sanitize_with_dual_llm"})},
                   {"createdAt", dateTime()},
                   {"updatedAt", dateTime()}},
                  {"id", "agentToolId", "description", "attributePath", "operator", "value", "action",
                   "createdAt", "updatedAt"});
}

struct Names {
    std::string path;  // collection path
    std::string tag;
    std::string singular;  // in operationIds: get<Singular>, create<Singular>...
    std::string plural;
    std::string what;  // for summaries
};

json listKind(db::Database& db, const PolicyKind& kind) {
    json out = json::array();
    for (const auto& row :
         db.query("SELECT " + kind.jsonSql + " FROM " + kind.table + " p ORDER BY p.created_at, p.id"))
        out.push_back(json::parse(row.str(0)));
    return out;
}

json createKind(db::Database& db, const PolicyKind& kind, const json& body) {
    auto values = kind.validate(body);
    std::string placeholders;
    std::string columns;
    for (size_t i = 0; i < kind.columns.size(); ++i) {
        columns += (i ? ", " : "") + kind.columns[i];
        placeholders += (i ? ", $" : "$") + std::to_string(i + 1) + (i == 0 ? "::uuid" : "");
    }
    std::string id = db.transaction([&](db::Connection& conn) {
        checkAgentTool(conn, *values[0]);
        return conn
            .query("INSERT INTO " + kind.table + " (" + columns + ") VALUES (" + placeholders +
                       ") RETURNING id::text",
                   values)
            .at(0)
            .str(0);
    });
    return loadPolicy(db, kind, id);
}

json updateKind(db::Database& db, const PolicyKind& kind, const std::string& id, const json& body) {
    auto values = kind.validate(mergePresentFields(loadPolicy(db, kind, id), body, kind.fields));
    std::string sets;
    for (size_t i = 0; i < kind.columns.size(); ++i)
        sets += kind.columns[i] + " = $" + std::to_string(i + 2) + (i == 0 ? "::uuid" : "") + ", ";
    values.insert(values.begin(), id);
    db.transaction([&](db::Connection& conn) {
        checkAgentTool(conn, *values[1]);
        if (conn.execute("UPDATE " + kind.table + " SET " + sets + "updated_at = now() WHERE id = $1::uuid",
                         values) == 0)
            throw ApiError::notFound(kind.notFound);
    });
    return loadPolicy(db, kind, id);
}

void deleteKind(db::Database& db, const PolicyKind& kind, const std::string& id) {
    if (db.execute("DELETE FROM " + kind.table + " WHERE id = $1::uuid", {id}) == 0)
        throw ApiError::notFound(kind.notFound);
}

const PolicyKind& kindOf(PolicyKindId id) {
    if (id == PolicyKindId::ToolInvocation) return invocationKind();
    if (id == PolicyKindId::TrustedData) return trustedKind();
    throw std::invalid_argument("invalid policy kind");
}

void registerKind(http::Router& router, db::Database& db, const PolicyKind& kind, const Names& names,
                  const json& entity, std::vector<std::string> required, std::function<void()> changed) {
    using namespace auth::schema;
    auto [createInput, updateInput] = inputSchemas(entity, {"id", "createdAt", "updatedAt"}, required);
    router.add({.method = "GET",
                .path = names.path,
                .operationId = "get" + names.plural,
                .tag = names.tag,
                .summary = "Every " + names.what,
                .access = Access::permission("policy", "read"),
                .response = array(entity)},
               [&db, &kind](Context& c) { c.sendJson(200, listKind(db, kind)); });
    router.add({.method = "POST",
                .path = names.path,
                .operationId = "create" + names.singular,
                .tag = names.tag,
                .summary = "Create a " + names.what,
                .access = Access::permission("policy", "create"),
                .requestBody = createInput,
                .response = entity},
               [&db, &kind, changed](Context& c) {
                   json created = createKind(db, kind, c.jsonObject());
                   changed();
                   c.sendJson(200, created);
               });
    router.add({.method = "GET",
                .path = names.path + "/{id}",
                .operationId = "get" + names.singular,
                .tag = names.tag,
                .summary = "One " + names.what,
                .access = Access::permission("policy", "read"),
                .response = entity,
                .uuidParams = {"id"}},
               [&db, &kind](Context& c) { c.sendJson(200, loadPolicy(db, kind, c.param("id"))); });
    router.add({.method = "PUT",
                .path = names.path + "/{id}",
                .operationId = "update" + names.singular,
                .tag = names.tag,
                .summary = "Change a " + names.what + "; fields left out keep their value",
                .access = Access::permission("policy", "update"),
                .requestBody = updateInput,
                .response = entity,
                .uuidParams = {"id"}},
               [&db, &kind, changed](Context& c) {
                   json updated = updateKind(db, kind, c.param("id"), c.jsonObject());
                   changed();
                   c.sendJson(200, updated);
               });
    router.add({.method = "DELETE",
                .path = names.path + "/{id}",
                .operationId = "delete" + names.singular,
                .tag = names.tag,
                .summary = "Delete a " + names.what,
                .access = Access::permission("policy", "delete"),
                .response = success(),
                .uuidParams = {"id"}},
               [&db, &kind, changed](Context& c) {
                   deleteKind(db, kind, c.param("id"));
                   changed();
                   c.sendJson(200, {{"success", true}});
               });
}

}  // namespace

nlohmann::json listPolicies(db::Database& db, PolicyKindId kind) {
    return listKind(db, kindOf(kind));
}
nlohmann::json getPolicy(db::Database& db, PolicyKindId kind, const std::string& id) {
    if (!http::isUuidV4(id)) throw ApiError::badRequest("Field 'id': expected a UUID v4, got '" + id + "'");
    return loadPolicy(db, kindOf(kind), id);
}
nlohmann::json createPolicy(db::Database& db, PolicyKindId kind, const nlohmann::json& body) {
    if (!body.is_object()) throw ApiError::badRequest("Body: expected a JSON object");
    return createKind(db, kindOf(kind), body);
}
nlohmann::json updatePolicy(db::Database& db, PolicyKindId kind, const std::string& id,
                            const nlohmann::json& body) {
    if (!http::isUuidV4(id)) throw ApiError::badRequest("Field 'id': expected a UUID v4, got '" + id + "'");
    if (!body.is_object()) throw ApiError::badRequest("Body: expected a JSON object");
    return updateKind(db, kindOf(kind), id, body);
}
void deletePolicy(db::Database& db, PolicyKindId kind, const std::string& id) {
    if (!http::isUuidV4(id)) throw ApiError::badRequest("Field 'id': expected a UUID v4, got '" + id + "'");
    deleteKind(db, kindOf(kind), id);
}

void registerPolicyRoutes(http::Router& router, std::shared_ptr<auth::AuthService> auth,
                          std::function<void()> onChange) {
    using namespace auth::schema;
    db::Database& db = auth->database();
    auto changed = [onChange] {
        if (onChange) onChange();
    };
    router.add({.method = "GET",
                .path = "/api/autonomy-policies/operators",
                .operationId = "getOperators",
                .tag = "Autonomy Policies",
                .summary = "The condition operators policies accept",
                .access = Access::permission("policy", "read"),
                .response = array(object({{"value", string()}, {"label", string()}}, {"value", "label"}))},
               [](Context& c) { c.sendJson(200, policy::operatorsJson()); });
    registerKind(router, db, invocationKind(),
                 {"/api/autonomy-policies/tool-invocation", "Autonomy Policies", "ToolInvocationPolicy",
                  "ToolInvocationPolicies", "tool invocation policy"},
                 invocationSchema(), {"agentToolId", "argumentName", "operator", "value", "action"}, changed);
    registerKind(router, db, trustedKind(),
                 {"/api/trusted-data-policies", "Trusted Data Policies", "TrustedDataPolicy",
                  "TrustedDataPolicies", "trusted data policy"},
                 trustedSchema(), {"agentToolId", "attributePath", "operator", "value"}, changed);
}

}  // namespace archestra::api
