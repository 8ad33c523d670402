// Agent-tool assignments and their trust settings. Every read renders the row in SQL; every write validates
// the whole body first (400 naming the field) so nothing is written on bad input.
#include "core/api/AgentToolsApi.h"

#include "core/api/ToolsApi.h"
#include "core/auth/Schema.h"
#include "core/auth/SqlJson.h"
#include "core/http/Context.h"
#include "core/http/Pagination.h"

#include <set>

namespace archestra::api {
namespace {

using auth::isoSql;
using http::Access;
using http::ApiError;
using http::Context;
using nlohmann::json;

const std::vector<std::string> kTreatments = {"trusted", "untrusted", "sanitize_with_dual_llm"};

std::string agentToolJsonSql() {
    return "json_build_object('id', at.id, 'allowUsageWhenUntrustedDataIsPresent', "
           "at.allow_usage_when_untrusted_data_is_present, 'toolResultTreatment', at.tool_result_treatment, "
           "'responseModifierTemplate', at.response_modifier_template, 'credentialSourceMcpServerId', "
           "at.credential_source_mcp_server_id, 'executionSourceMcpServerId', "
           "at.execution_source_mcp_server_id, 'useDynamicTeamCredential', at.use_dynamic_team_credential, "
           "'createdAt', " +
           isoSql("at.created_at") + ", 'updatedAt', " + isoSql("at.updated_at") +
           ", 'agent', json_build_object('id', a.id, 'name', a.name), 'tool', json_build_object('id', t.id, "
           "'name', t.name, 'description', t.description, 'parameters', t.parameters, 'createdAt', " +
           isoSql("t.created_at") + ", 'updatedAt', " + isoSql("t.updated_at") +
           ", 'catalogId', t.catalog_id, 'mcpServerId', t.mcp_server_id, 'mcpServerName', m.name, "
           "'mcpServerCatalogId', m.catalog_id))::text";
}

const std::string kAgentToolFrom =
    " FROM agent_tools at JOIN agents a ON a.id = at.agent_id JOIN tools t ON t.id = at.tool_id "
    "LEFT JOIN mcp_server m ON m.id = t.mcp_server_id";

json agentToolSchema() {
    using namespace auth::schema;
    json uuid = {{"type", "string"}, {"format", "uuid"}};
    return object({{"id", uuid},
                   {"allowUsageWhenUntrustedDataIsPresent", boolean()},
                   {"toolResultTreatment", enumOf(kTreatments)},
                   {"responseModifierTemplate", nullableString()},
                   {"credentialSourceMcpServerId", nullableString()},
                   {"executionSourceMcpServerId", nullableString()},
                   {"useDynamicTeamCredential", boolean()},
                   {"createdAt", dateTime()},
                   {"updatedAt", dateTime()},
                   {"agent", object({{"id", uuid}, {"name", string()}}, {"id", "name"})},
                   {"tool", object({{"id", uuid},
                                    {"name", string()},
                                    {"description", nullableString()},
                                    {"parameters", {{"type", "object"}, {"additionalProperties", true}}},
                                    {"createdAt", dateTime()},
                                    {"updatedAt", dateTime()},
                                    {"catalogId", nullableString()},
                                    {"mcpServerId", nullableString()},
                                    {"mcpServerName", nullableString()},
                                    {"mcpServerCatalogId", nullableString()}},
                                   {"id", "name", "description", "parameters", "createdAt", "updatedAt",
                                    "catalogId", "mcpServerId", "mcpServerName", "mcpServerCatalogId"})}},
                  {"id", "allowUsageWhenUntrustedDataIsPresent", "toolResultTreatment",
                   "responseModifierTemplate", "credentialSourceMcpServerId", "executionSourceMcpServerId",
                   "useDynamicTeamCredential", "createdAt", "updatedAt", "agent", "tool"});
}

const http::Sorting& agentToolSorting() {
    static const http::Sorting sorting{.columns = {{"name", "lower(t.name)"},
                                                   {"agent", "lower(a.name)"},
                                                   {"origin", "COALESCE(t.catalog_id::text, '')"},
                                                   {"createdAt", "at.created_at"},
                                                   {"allowUsageWhenUntrustedDataIsPresent",
                                                    "at.allow_usage_when_untrusted_data_is_present"}},
                                       .tieBreak = {"at.created_at", "at.id"}};
    return sorting;
}

json loadAgentTool(db::Database& db, const std::string& id) {
    auto rows = db.query("SELECT " + agentToolJsonSql() + kAgentToolFrom + " WHERE at.id = $1::uuid", {id});
    if (rows.empty()) throw ApiError::notFound("Agent tool not found");
    return json::parse(rows[0].str(0));
}

bool requiredBool(const json& value, const std::string& field) {
    if (!value.is_boolean())
        throw ApiError::badRequest("Field '" + field + "': expected a boolean, got " + value.dump());
    return value.get<bool>();
}

std::string treatment(const json& value, const std::string& field) {
    if (value.is_string())
        for (const auto& t : kTreatments)
            if (value.get<std::string>() == t) return t;
    throw ApiError::badRequest("Field '" + field +
                               "': expected one of trusted, untrusted, sanitize_with_dual_llm, got " +
                               value.dump());
}

/// An MCP server id field: null clears it, else a UUID of an existing installation.
db::Value mcpServerField(db::Database& db, const json& value, const std::string& field) {
    if (value.is_null()) return std::nullopt;
    if (!value.is_string() || !http::isUuidV4(value.get<std::string>()))
        throw ApiError::badRequest("Field '" + field + "': expected a UUID or null, got " + value.dump());
    std::string id = value.get<std::string>();
    if (db.query("SELECT 1 FROM mcp_server WHERE id = $1::uuid", {id}).empty())
        throw ApiError::badRequest("Field '" + field + "': unknown MCP server id '" + id + "'");
    return id;
}

/// The writable settings present in `body` as column -> value (validated; nothing written yet).
std::vector<std::pair<std::string, db::Value>> settingsFrom(db::Database& db, const json& body,
                                                            bool assignmentOnly) {
    std::vector<std::pair<std::string, db::Value>> out;
    auto has = [&](const char* field) { return body.contains(field); };
    if (!assignmentOnly) {
        if (has("allowUsageWhenUntrustedDataIsPresent"))
            out.emplace_back("allow_usage_when_untrusted_data_is_present",
                             requiredBool(body["allowUsageWhenUntrustedDataIsPresent"],
                                          "allowUsageWhenUntrustedDataIsPresent")
                                 ? "true"
                                 : "false");
        if (has("toolResultTreatment"))
            out.emplace_back("tool_result_treatment",
                             treatment(body["toolResultTreatment"], "toolResultTreatment"));
        if (has("responseModifierTemplate")) {
            const json& v = body["responseModifierTemplate"];
            if (!v.is_null() && !v.is_string())
                throw ApiError::badRequest(
                    "Field 'responseModifierTemplate': expected a string or null, got " + v.dump());
            out.emplace_back("response_modifier_template",
                             v.is_null() ? db::Value() : db::Value(v.get<std::string>()));
        }
    }
    if (has("credentialSourceMcpServerId"))
        out.emplace_back(
            "credential_source_mcp_server_id",
            mcpServerField(db, body["credentialSourceMcpServerId"], "credentialSourceMcpServerId"));
    if (has("executionSourceMcpServerId"))
        out.emplace_back(
            "execution_source_mcp_server_id",
            mcpServerField(db, body["executionSourceMcpServerId"], "executionSourceMcpServerId"));
    if (has("useDynamicTeamCredential"))
        out.emplace_back(
            "use_dynamic_team_credential",
            requiredBool(body["useDynamicTeamCredential"], "useDynamicTeamCredential") ? "true" : "false");
    return out;
}

std::string castFor(const std::string& column) {
    if (column.find("mcp_server_id") != std::string::npos) return "::uuid";
    if (column == "allow_usage_when_untrusted_data_is_present" || column == "use_dynamic_team_credential")
        return "::boolean";
    return "";
}

/// Inserts the assignment (idempotent); true when it was new. Throws 404 for a missing agent or tool.
bool assign(db::Connection& conn, const std::string& agentId, const std::string& toolId,
            const std::vector<std::pair<std::string, db::Value>>& settings) {
    if (conn.query("SELECT 1 FROM agents WHERE id = $1::uuid", {agentId}).empty())
        throw ApiError::notFound("Agent not found");
    if (conn.query("SELECT 1 FROM tools WHERE id = $1::uuid", {toolId}).empty())
        throw ApiError::notFound("Tool not found");
    std::string columns = "agent_id, tool_id";
    std::string values = "$1::uuid, $2::uuid";
    std::vector<db::Value> params = {agentId, toolId};
    for (const auto& [column, value] : settings) {
        params.push_back(value);
        columns += ", " + column;
        values += ", $" + std::to_string(params.size()) + castFor(column);
    }
    return !conn.query("INSERT INTO agent_tools (" + columns + ") VALUES (" + values +
                           ") ON CONFLICT (agent_id, tool_id) DO NOTHING RETURNING id",
                       params)
                .empty();
}

std::string uuidPathField(const json& body, const std::string& field) {
    auto it = body.find(field);
    if (it == body.end() || !it->is_string() || !http::isUuidV4(it->get<std::string>()))
        throw ApiError::badRequest("Field '" + field + "': expected a UUID" +
                                   (it == body.end() ? std::string(", missing") : ", got " + it->dump()));
    return it->get<std::string>();
}

}  // namespace

json bulkAssignTools(db::Database& db, const json& body) {
    auto list = body.find("assignments");
    if (list == body.end() || !list->is_array())
        throw ApiError::badRequest("Field 'assignments': expected an array");
    // Validate everything first so a malformed request writes nothing.
    struct Item {
        std::string agentId, toolId;
        std::vector<std::pair<std::string, db::Value>> settings;
    };
    std::vector<Item> items;
    for (std::size_t i = 0; i < list->size(); ++i) {
        const json& a = (*list)[i];
        std::string prefix = "assignments[" + std::to_string(i) + "].";
        if (!a.is_object())
            throw ApiError::badRequest("Field 'assignments[" + std::to_string(i) + "]': expected an object");
        Item item;
        try {
            item.agentId = uuidPathField(a, "agentId");
            item.toolId = uuidPathField(a, "toolId");
            item.settings = settingsFrom(db, a, true);
        } catch (const ApiError& e) {
            std::string message = e.what();
            throw ApiError::badRequest(message.replace(0, 7, "Field '" + prefix));
        }
        items.push_back(std::move(item));
    }
    json succeeded = json::array(), failures = json::array(), duplicates = json::array();
    for (const auto& item : items) {
        json ref = {{"agentId", item.agentId}, {"toolId", item.toolId}};
        try {
            bool created = db.transaction(
                [&](db::Connection& conn) { return assign(conn, item.agentId, item.toolId, item.settings); });
            (created ? succeeded : duplicates).push_back(ref);
        } catch (const ApiError& e) {
            ref["error"] = e.what();
            failures.push_back(ref);
        }
    }
    return {{"succeeded", succeeded}, {"failed", failures}, {"duplicates", duplicates}};
}

void registerAgentToolRoutes(http::Router& router, std::shared_ptr<auth::AuthService> auth,
                             std::function<void()> onChange) {
    using namespace auth::schema;
    db::Database& db = auth->database();
    auto changed = [onChange] {
        if (onChange) onChange();
    };
    const std::string tag = "Agent Tools";
    json uuid = {{"type", "string"}, {"format", "uuid"}};
    json settingsInput = agentToolSchema();
    for (const char* field : {"id", "createdAt", "updatedAt", "agent", "tool"})
        settingsInput["properties"].erase(field);
    settingsInput.erase("required");

    router.add(
        {.method = "GET",
         .path = "/api/agent-tools",
         .operationId = "getAllAgentTools",
         .tag = tag,
         .summary = "Tool assignments with their trust settings, filtered and paginated",
         .access = Access::permission("tool", "read"),
         .response = http::Page::schema(agentToolSchema()),
         .query = http::Page::parameters(
             {{"search", string(), false, "Case-insensitive substring of the tool name"},
              {"agentId", uuid},
              {"origin", string(), false, "'llm-proxy' (discovered by the proxy) or an MCP catalog id"},
              {"mcpServerOwnerId", string()},
              {"excludeArchestraTools", boolean()}},
             agentToolSorting())},
        [&db](Context& c) {
            std::vector<db::Value> params;
            std::string where = " WHERE true";
            auto bind = [&](const std::string& value) {
                params.push_back(value);
                return "$" + std::to_string(params.size());
            };
            if (auto search = c.query("search"); search && !search->empty())
                where += " AND strpos(lower(t.name), lower(" + bind(*search) + ")) > 0";
            if (auto agentId = c.query("agentId"); agentId && !agentId->empty()) {
                if (!http::isUuidV4(*agentId))
                    throw ApiError::badRequest("Query parameter 'agentId': expected a UUID, got '" +
                                               *agentId + "'");
                where += " AND at.agent_id = " + bind(*agentId) + "::uuid";
            }
            if (auto origin = c.query("origin"); origin && !origin->empty()) {
                if (*origin == "llm-proxy")
                    where += " AND t.catalog_id IS NULL";
                else if (http::isUuidV4(*origin))
                    where += " AND t.catalog_id = " + bind(*origin) + "::uuid";
                else
                    throw ApiError::badRequest(
                        "Query parameter 'origin': expected 'llm-proxy' or a catalog UUID, got '" + *origin +
                        "'");
            }
            if (auto owner = c.query("mcpServerOwnerId"); owner && !owner->empty())
                where += " AND m.owner_id = " + bind(*owner);
            if (auto exclude = c.query("excludeArchestraTools")) {
                if (*exclude != "true" && *exclude != "false")
                    throw ApiError::badRequest(
                        "Query parameter 'excludeArchestraTools': expected true or false, got '" + *exclude +
                        "'");
                if (*exclude == "true") where += " AND left(t.name, 11) <> 'archestra__'";
            }
            const auto page = http::Page::fromQuery(c);
            const std::string order = agentToolSorting().orderBy(c);
            json body;
            db.withConnection([&](db::Connection& conn) {
                body = page.fetch(conn, agentToolJsonSql(), kAgentToolFrom + where, order, params);
            });
            c.sendJson(200, body);
        });

    router.add({.method = "PATCH",
                .path = "/api/agent-tools/{id}",
                .operationId = "updateAgentTool",
                .tag = tag,
                .summary = "Change an assignment's trust settings; fields left out keep their value",
                .access = Access::permission("tool", "update"),
                .requestBody = settingsInput,
                .response = agentToolSchema(),
                .uuidParams = {"id"}},
               [&db, changed](Context& c) {
                   const std::string id = c.param("id");
                   auto settings = settingsFrom(db, c.jsonObject(), false);
                   std::vector<db::Value> params = {id};
                   std::string sets;
                   for (const auto& [column, value] : settings) {
                       params.push_back(value);
                       sets += column + " = $" + std::to_string(params.size()) + castFor(column) + ", ";
                   }
                   if (db.execute("UPDATE agent_tools SET " + sets + "updated_at = now() WHERE id = $1::uuid",
                                  params) == 0)
                       throw ApiError::notFound("Agent tool not found");
                   changed();
                   c.sendJson(200, loadAgentTool(db, id));
               });

    router.add(
        {.method = "POST",
         .path = "/api/agent-tools/bulk-update",
         .operationId = "bulkUpdateAgentTools",
         .tag = tag,
         .summary = "Set one trust setting on many assignments",
         .access = Access::permission("tool", "update"),
         .requestBody =
             object({{"ids", array(uuid)},
                     {"field", enumOf({"allowUsageWhenUntrustedDataIsPresent", "toolResultTreatment"})},
                     {"value", json::object()}},
                    {"ids", "field", "value"}),
         .response = object({{"updatedCount", integer()}}, {"updatedCount"})},
        [&db, changed](Context& c) {
            const json& body = c.jsonObject();
            auto ids = body.find("ids");
            if (ids == body.end() || !ids->is_array())
                throw ApiError::badRequest("Field 'ids': expected an array of UUIDs");
            std::string list = "{";
            for (std::size_t i = 0; i < ids->size(); ++i) {
                const json& v = (*ids)[i];
                if (!v.is_string() || !http::isUuidV4(v.get<std::string>()))
                    throw ApiError::badRequest("Field 'ids[" + std::to_string(i) +
                                               "]': expected a UUID, got " + v.dump());
                list += (i ? "," : "") + v.get<std::string>();
            }
            list += "}";
            auto field = auth::optionalStringField(body, "field");
            if (!field ||
                (*field != "allowUsageWhenUntrustedDataIsPresent" && *field != "toolResultTreatment"))
                throw ApiError::badRequest(
                    "Field 'field': expected allowUsageWhenUntrustedDataIsPresent or toolResultTreatment");
            if (!body.contains("value")) throw ApiError::badRequest("Field 'value': required");
            std::string column;
            std::string value;
            if (*field == "toolResultTreatment") {
                column = "tool_result_treatment";
                value = treatment(body["value"], "value");
            } else {
                column = "allow_usage_when_untrusted_data_is_present";
                value = requiredBool(body["value"], "value") ? "true" : "false";
            }
            long long count = db.execute("UPDATE agent_tools SET " + column + " = $2" + castFor(column) +
                                             ", updated_at = now() WHERE id = ANY($1::uuid[])",
                                         {list, value});
            if (count > 0) changed();
            c.sendJson(200, {{"updatedCount", count}});
        });

    router.add({.method = "GET",
                .path = "/api/agents/{agentId}/tools",
                .operationId = "getAgentTools",
                .tag = tag,
                .summary = "The tools assigned to a profile",
                .access = Access::permission("profile", "read"),
                .response = array(toolSchema()),
                .uuidParams = {"agentId"}},
               [&db](Context& c) {
                   const std::string agentId = c.param("agentId");
                   json out = json::array();
                   db.withConnection([&](db::Connection& conn) {
                       if (conn.query("SELECT 1 FROM agents WHERE id = $1::uuid", {agentId}).empty())
                           throw ApiError::notFound("Agent not found");
                       for (const auto& row :
                            conn.query("SELECT " + toolJsonSql() + "::text" + toolFromSql() +
                                           " JOIN agent_tools s ON s.tool_id = t.id AND s.agent_id = $1::uuid"
                                           " ORDER BY t.name, t.id",
                                       {agentId}))
                           out.push_back(json::parse(row.str(0)));
                   });
                   c.sendJson(200, out);
               });

    json assignBody = object({{"credentialSourceMcpServerId", nullableString()},
                              {"executionSourceMcpServerId", nullableString()},
                              {"useDynamicTeamCredential", boolean()}});
    router.add({.method = "POST",
                .path = "/api/agents/{agentId}/tools/{toolId}",
                .operationId = "assignToolToAgent",
                .tag = tag,
                .summary = "Assign a tool to a profile (assigning twice is not an error)",
                .access = Access::permission("profile", "update"),
                .requestBody = assignBody,
                .response = success(),
                .uuidParams = {"agentId", "toolId"}},
               [&db, changed](Context& c) {
                   json body = c.hasBody() ? c.jsonObject() : json::object();
                   auto settings = settingsFrom(db, body, true);
                   db.transaction([&](db::Connection& conn) {
                       assign(conn, c.param("agentId"), c.param("toolId"), settings);
                   });
                   changed();
                   c.sendJson(200, {{"success", true}});
               });
    router.add({.method = "DELETE",
                .path = "/api/agents/{agentId}/tools/{toolId}",
                .operationId = "unassignToolFromAgent",
                .tag = tag,
                .summary = "Remove a tool from a profile (its policies go with it)",
                .access = Access::permission("profile", "update"),
                .response = success(),
                .uuidParams = {"agentId", "toolId"}},
               [&db, changed](Context& c) {
                   if (db.execute("DELETE FROM agent_tools WHERE agent_id = $1::uuid AND tool_id = $2::uuid",
                                  {c.param("agentId"), c.param("toolId")}) == 0)
                       throw ApiError::notFound("Tool is not assigned to this agent");
                   changed();
                   c.sendJson(200, {{"success", true}});
               });

    json pair = object({{"agentId", uuid}, {"toolId", uuid}}, {"agentId", "toolId"});
    json failed = pair;
    failed["properties"]["error"] = string();
    router.add({.method = "POST",
                .path = "/api/agents/tools/bulk-assign",
                .operationId = "bulkAssignTools",
                .tag = tag,
                .summary = "Assign many tools to many profiles; each assignment succeeds or fails on its own",
                .access = Access::permission("profile", "update"),
                .requestBody = object({{"assignments", array(pair)}}, {"assignments"}),
                .response = object(
                    {{"succeeded", array(pair)}, {"failed", array(failed)}, {"duplicates", array(pair)}},
                    {"succeeded", "failed", "duplicates"})},
               [&db, changed](Context& c) {
                   json result = bulkAssignTools(db, c.jsonObject());
                   if (!result["succeeded"].empty()) changed();
                   c.sendJson(200, result);
               });
}

}  // namespace archestra::api
