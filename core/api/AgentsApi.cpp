// /api/agents CRUD, the default profile and the label key/value lists. Teams are ids in, {id,name} out;
// teams and labels given on create/update replace the whole set (Terraform sends labels:null for "none").
#include "core/api/AgentsApi.h"

#include "core/auth/Schema.h"
#include "core/auth/SqlJson.h"
#include "core/db/Seed.h"
#include "core/http/Context.h"
#include "core/http/Pagination.h"

#include <set>
#include <vector>

namespace archestra::api {
namespace {

using auth::isoSql;
using http::Access;
using http::ApiError;
using http::Context;
using nlohmann::json;

/// The whole agent as one JSON text column, so list and single reads share one shape.
const std::string kAgentJson =
    "json_build_object('id', a.id, 'name', a.name, 'isDemo', a.is_demo, 'isDefault', a.is_default, "
    "'considerContextUntrusted', a.consider_context_untrusted, 'createdAt', " +
    isoSql("a.created_at") + ", 'updatedAt', " + isoSql("a.updated_at") +
    ", 'teams', coalesce((SELECT json_agg(json_build_object('id', t.id, 'name', t.name) ORDER BY t.name, "
    "t.id) FROM agent_team x JOIN team t ON t.id = x.team_id WHERE x.agent_id = a.id), '[]'::json), "
    "'labels', coalesce((SELECT json_agg(json_build_object('key', k.key, 'value', v.value, 'keyId', k.id, "
    "'valueId', v.id) ORDER BY k.key) FROM agent_labels l JOIN label_keys k ON k.id = l.key_id JOIN "
    "label_values v ON v.id = l.value_id WHERE l.agent_id = a.id), '[]'::json), "
    "'tools', coalesce((SELECT json_agg(json_build_object('id', tt.id, 'name', tt.name, 'description', "
    "tt.description, 'parameters', tt.parameters, 'agentId', tt.agent_id, 'catalogId', tt.catalog_id, "
    "'mcpServerId', tt.mcp_server_id, 'createdAt', " +
    isoSql("tt.created_at") + ", 'updatedAt', " + isoSql("tt.updated_at") +
    ") ORDER BY tt.name, tt.id) FROM agent_tools atl JOIN tools tt ON tt.id = atl.tool_id "
    "WHERE atl.agent_id = a.id), '[]'::json))::text";

struct Label {
    std::string key;
    std::string value;
};

/// Visibility: callers with profile:admin see every profile, others only those assigned to one of their
/// teams. Returns an SQL condition on `a` using parameter $index (the user id) when restricted.
struct Visibility {
    bool all = false;
    std::string userId;

    std::string condition(std::vector<db::Value>& params) const {
        if (all) return "true";
        params.push_back(userId);
        return "EXISTS (SELECT 1 FROM agent_team vx JOIN team_member vm ON vm.team_id = vx.team_id WHERE "
               "vx.agent_id = a.id AND vm.user_id = $" +
               std::to_string(params.size()) + ")";
    }
};

Visibility visibilityOf(auth::AuthService& auth, const Context& c) {
    const auto& principal = c.requirePrincipal();
    return {auth.hasPermission(principal, "profile", "admin"), principal.userId};
}

std::optional<json> findAgent(db::Database& db, const std::string& id, const Visibility& visibility) {
    std::vector<db::Value> params = {id};
    std::string where = "a.id = $1::uuid AND " + visibility.condition(params);
    auto rows = db.query("SELECT " + kAgentJson + " FROM agents a WHERE " + where, params);
    if (rows.empty()) return std::nullopt;
    return json::parse(rows[0].str(0));
}

json loadAgent(db::Database& db, const std::string& id, const Visibility& visibility) {
    auto agent = findAgent(db, id, visibility);
    if (!agent) throw ApiError::notFound("Agent with ID " + id + " not found");
    return *agent;
}

/// `teams`: required on create, optional on update; an array of team ids of the caller's organisation.
std::optional<std::vector<std::string>> teamsField(const json& body, bool required) {
    auto it = body.find("teams");
    if (it == body.end() || (!required && it->is_null())) {
        if (required) throw ApiError::badRequest("Field 'teams': required (an array of team ids)");
        return std::nullopt;
    }
    if (!it->is_array())
        throw ApiError::badRequest("Field 'teams': expected an array of team ids, got " + it->dump());
    std::vector<std::string> teams;
    for (const auto& team : *it) {
        if (!team.is_string() || team.get<std::string>().empty())
            throw ApiError::badRequest("Field 'teams': expected an array of team ids, got element " +
                                       team.dump());
        teams.push_back(team.get<std::string>());
    }
    return teams;
}

/// `labels`: absent -> unchanged (nullopt); null -> none; otherwise [{key,value}] with non-empty strings.
std::optional<std::vector<Label>> labelsField(const json& body) {
    auto it = body.find("labels");
    if (it == body.end()) return std::nullopt;
    std::vector<Label> labels;
    if (it->is_null()) return labels;
    if (!it->is_array())
        throw ApiError::badRequest("Field 'labels': expected an array of {key, value} or null, got " +
                                   it->dump());
    for (size_t i = 0; i < it->size(); ++i) {
        const json& label = (*it)[i];
        std::string where = "Field 'labels[" + std::to_string(i) + "]";
        if (!label.is_object())
            throw ApiError::badRequest(where + "': expected an object {key, value}, got " + label.dump());
        for (const char* field : {"key", "value"}) {
            auto value = label.find(field);
            if (value == label.end() || !value->is_string() || value->get<std::string>().empty())
                throw ApiError::badRequest(where + "." + field + "': expected a non-empty string");
        }
        labels.push_back({label["key"].get<std::string>(), label["value"].get<std::string>()});
    }
    return labels;
}

void checkTeams(db::Connection& c, const std::vector<std::string>& teams, const std::string& organizationId) {
    for (const auto& team : teams)
        if (c.query("SELECT 1 FROM team WHERE id = $1 AND organization_id = $2", {team, organizationId})
                .empty())
            throw ApiError::badRequest("Field 'teams': unknown team id '" + team + "'");
}

void replaceTeams(db::Connection& c, const std::string& agentId, const std::vector<std::string>& teams) {
    c.execute("DELETE FROM agent_team WHERE agent_id = $1::uuid", {agentId});
    for (const auto& team : teams)
        c.execute("INSERT INTO agent_team (agent_id, team_id) VALUES ($1::uuid, $2) ON CONFLICT DO NOTHING",
                  {agentId, team});
}

void replaceLabels(db::Connection& c, const std::string& agentId, const std::vector<Label>& labels) {
    c.execute("DELETE FROM agent_labels WHERE agent_id = $1::uuid", {agentId});
    for (const auto& label : labels) {
        // DO UPDATE (a no-op write) so RETURNING yields the id of an existing row too.
        std::string keyId = c.query(
                                 "INSERT INTO label_keys (key) VALUES ($1) ON CONFLICT (key) DO UPDATE "
                                 "SET key = EXCLUDED.key RETURNING id::text",
                                 {label.key})
                                .at(0)
                                .str(0);
        std::string valueId = c.query(
                                   "INSERT INTO label_values (value) VALUES ($1) ON CONFLICT (value) DO "
                                   "UPDATE SET value = EXCLUDED.value RETURNING id::text",
                                   {label.value})
                                  .at(0)
                                  .str(0);
        // A key given twice: the last value wins (the primary key is (agent, key)).
        c.execute(
            "INSERT INTO agent_labels (agent_id, key_id, value_id) VALUES ($1::uuid, $2::uuid, "
            "$3::uuid) ON CONFLICT (agent_id, key_id) DO UPDATE SET value_id = EXCLUDED.value_id",
            {agentId, keyId, valueId});
    }
}

db::Value boolValue(const std::optional<bool>& value) {
    if (!value) return std::nullopt;
    return *value ? "true" : "false";
}

json agentSchema() {
    using namespace auth::schema;
    return object(
        {{"id", {{"type", "string"}, {"format", "uuid"}}},
         {"name", string()},
         {"isDemo", boolean()},
         {"isDefault", boolean()},
         {"considerContextUntrusted", boolean()},
         {"createdAt", dateTime()},
         {"updatedAt", dateTime()},
         {"teams", array(object({{"id", string()}, {"name", string()}}, {"id", "name"}))},
         {"labels",
          array(object({{"key", string()}, {"value", string()}, {"keyId", string()}, {"valueId", string()}},
                       {"key", "value"}))},
         {"tools", array(object({{"id", {{"type", "string"}, {"format", "uuid"}}},
                                 {"name", string()},
                                 {"description", nullableString()},
                                 {"parameters", {{"type", "object"}, {"additionalProperties", true}}},
                                 {"agentId", nullableString()},
                                 {"catalogId", nullableString()},
                                 {"mcpServerId", nullableString()},
                                 {"createdAt", dateTime()},
                                 {"updatedAt", dateTime()}},
                                {"id", "name", "description", "parameters", "agentId", "catalogId",
                                 "mcpServerId", "createdAt", "updatedAt"}))}},
        {"id", "name", "isDemo", "isDefault", "considerContextUntrusted", "createdAt", "updatedAt", "teams",
         "labels", "tools"});
}

json labelsInputSchema() {
    using namespace auth::schema;
    return nullable(array(object({{"key", string()}, {"value", string()}}, {"key", "value"})));
}

const http::Sorting& agentSorting() {
    static const http::Sorting sorting{
        .columns =
            {{"name", "lower(a.name)"},
             {"createdAt", "a.created_at"},
             {"toolsCount", "(SELECT count(*) FROM agent_tools s WHERE s.agent_id = a.id)"},
             {"team",
              "(SELECT min(t.name) FROM agent_team s JOIN team t ON t.id = s.team_id WHERE s.agent_id = "
              "a.id)"}},
        .tieBreak = {"a.created_at", "a.id"}};
    return sorting;
}

}  // namespace

json createAgent(db::Database& db, const std::string& organizationId, const json& body) {
    std::string name = auth::requiredStringField(body, "name");
    auto teams = *teamsField(body, true);
    auto labels = labelsField(body).value_or(std::vector<Label>{});
    bool isDemo = auth::optionalBoolField(body, "isDemo").value_or(false);
    bool isDefault = auth::optionalBoolField(body, "isDefault").value_or(false);
    bool untrusted = auth::optionalBoolField(body, "considerContextUntrusted").value_or(false);
    std::string id = db.transaction([&](db::Connection& conn) {
        checkTeams(conn, teams, organizationId);
        if (isDefault) conn.execute("UPDATE agents SET is_default = false WHERE is_default");
        std::string agentId =
            conn.query(
                    "INSERT INTO agents (name, is_demo, is_default, consider_context_untrusted) "
                    "VALUES ($1, $2::boolean, $3::boolean, $4::boolean) RETURNING id::text",
                    {name, boolValue(isDemo), boolValue(isDefault), boolValue(untrusted)})
                .at(0)
                .str(0);
        replaceTeams(conn, agentId, teams);
        replaceLabels(conn, agentId, labels);
        return agentId;
    });
    return loadAgent(db, id, {.all = true});
}

std::optional<json> findAgentById(db::Database& db, const std::string& id) {
    if (!http::isUuidV4(id)) return std::nullopt;
    return findAgent(db, id, {.all = true});
}

void registerAgentRoutes(http::Router& router, std::shared_ptr<auth::AuthService> auth,
                         std::function<void()> onChange) {
    using namespace auth::schema;
    db::Database& db = auth->database();
    const std::string tag = "Agents";
    auto changed = [onChange] {
        if (onChange) onChange();
    };

    router.add({.method = "GET",
                .path = "/api/agents",
                .operationId = "getAgents",
                .tag = tag,
                .summary = "Profiles visible to the caller, paginated",
                .access = Access::permission("profile", "read"),
                .response = http::Page::schema(agentSchema()),
                .query = http::Page::parameters(
                    {{"name", string(), false, "Case-insensitive substring of the name"}}, agentSorting())},
               [&db, auth](Context& c) {
                   std::vector<db::Value> params;
                   std::string where = " WHERE " + visibilityOf(*auth, c).condition(params);
                   if (auto name = c.query("name"); name && !name->empty()) {
                       params.push_back(*name);
                       where +=
                           " AND strpos(lower(a.name), lower($" + std::to_string(params.size()) + ")) > 0";
                   }
                   const auto page = http::Page::fromQuery(c);
                   const std::string order = agentSorting().orderBy(c);
                   json body;
                   db.withConnection([&](db::Connection& conn) {
                       body = page.fetch(conn, kAgentJson, "FROM agents a" + where, order, params);
                   });
                   c.sendJson(200, body);
               });
    router.add({.method = "GET",
                .path = "/api/agents/all",
                .operationId = "getAllAgents",
                .tag = tag,
                .summary = "Every profile visible to the caller",
                .access = Access::permission("profile", "read"),
                .response = array(agentSchema())},
               [&db, auth](Context& c) {
                   std::vector<db::Value> params;
                   std::string where = visibilityOf(*auth, c).condition(params);
                   json out = json::array();
                   for (const auto& row : db.query("SELECT " + kAgentJson + " FROM agents a WHERE " + where +
                                                       " ORDER BY a.created_at, a.id",
                                                   params))
                       out.push_back(json::parse(row.str(0)));
                   c.sendJson(200, out);
               });
    router.add({.method = "GET",
                .path = "/api/agents/default",
                .operationId = "getDefaultAgent",
                .tag = tag,
                .summary = "The default profile (created when none exists)",
                .access = Access::permission("profile", "read"),
                .response = agentSchema()},
               [&db, changed](Context& c) {
                   bool created = false;
                   std::string id = db::findOrCreateDefaultProfile(db, &created);
                   if (created) changed();
                   c.sendJson(200, loadAgent(db, id, {.all = true}));
               });
    router.add({.method = "POST",
                .path = "/api/agents",
                .operationId = "createAgent",
                .tag = tag,
                .summary = "Create a profile assigned to the given teams",
                .access = Access::permission("profile", "create"),
                .requestBody = object({{"name", string()},
                                       {"teams", array(string())},
                                       {"labels", labelsInputSchema()},
                                       {"isDemo", boolean()},
                                       {"isDefault", boolean()},
                                       {"considerContextUntrusted", boolean()}},
                                      {"name", "teams"}),
                .response = agentSchema()},
               [&db, changed](Context& c) {
                   json created = createAgent(db, c.requirePrincipal().organizationId, c.jsonObject());
                   changed();
                   c.sendJson(200, created);
               });
    router.add(
        {.method = "GET",
         .path = "/api/agents/{id}",
         .operationId = "getAgent",
         .tag = tag,
         .summary = "One profile",
         .access = Access::permission("profile", "read"),
         .response = agentSchema(),
         .uuidParams = {"id"}},
        [&db, auth](Context& c) { c.sendJson(200, loadAgent(db, c.param("id"), visibilityOf(*auth, c))); });
    router.add({.method = "PUT",
                .path = "/api/agents/{id}",
                .operationId = "updateAgent",
                .tag = tag,
                .summary = "Change a profile; teams and labels given replace the whole set",
                .access = Access::permission("profile", "update"),
                .requestBody = object({{"name", string()},
                                       {"teams", array(string())},
                                       {"labels", labelsInputSchema()},
                                       {"isDemo", boolean()},
                                       {"isDefault", boolean()},
                                       {"considerContextUntrusted", boolean()}}),
                .response = agentSchema(),
                .uuidParams = {"id"}},
               [&db, auth, changed](Context& c) {
                   const std::string id = c.param("id");
                   loadAgent(db, id, visibilityOf(*auth, c));
                   const json& body = c.jsonObject();
                   auto name = auth::optionalStringField(body, "name");
                   if (name && name->empty())
                       throw ApiError::badRequest("Field 'name': expected a non-empty string");
                   auto teams = teamsField(body, false);
                   auto labels = labelsField(body);
                   auto isDemo = auth::optionalBoolField(body, "isDemo");
                   auto isDefault = auth::optionalBoolField(body, "isDefault");
                   auto untrusted = auth::optionalBoolField(body, "considerContextUntrusted");
                   const std::string organizationId = c.requirePrincipal().organizationId;
                   db.transaction([&](db::Connection& conn) {
                       if (teams) checkTeams(conn, *teams, organizationId);
                       if (isDefault && *isDefault)
                           conn.execute(
                               "UPDATE agents SET is_default = false WHERE is_default AND id <> $1::uuid",
                               {id});
                       conn.execute(
                           "UPDATE agents SET name = coalesce($2, name), "
                           "is_demo = coalesce($3::boolean, is_demo), "
                           "is_default = coalesce($4::boolean, is_default), "
                           "consider_context_untrusted = coalesce($5::boolean, consider_context_untrusted), "
                           "updated_at = now() WHERE id = $1::uuid",
                           {id, name, boolValue(isDemo), boolValue(isDefault), boolValue(untrusted)});
                       if (teams) replaceTeams(conn, id, *teams);
                       if (labels) replaceLabels(conn, id, *labels);
                   });
                   changed();
                   c.sendJson(200, loadAgent(db, id, {.all = true}));
               });
    router.add({.method = "DELETE",
                .path = "/api/agents/{id}",
                .operationId = "deleteAgent",
                .tag = tag,
                .summary = "Delete a profile (not the default one)",
                .access = Access::permission("profile", "delete"),
                .response = success(),
                .uuidParams = {"id"}},
               [&db, auth, changed](Context& c) {
                   const std::string id = c.param("id");
                   json agent = loadAgent(db, id, visibilityOf(*auth, c));
                   if (agent["isDefault"].get<bool>())
                       throw ApiError::badRequest(
                           "Cannot delete the default profile; make another one the default first");
                   if (db.execute("DELETE FROM agents WHERE id = $1::uuid", {id}) == 0)
                       throw ApiError::notFound("Agent with ID " + id + " not found");
                   changed();
                   c.sendJson(200, {{"success", true}});
               });
    router.add({.method = "GET",
                .path = "/api/agents/labels/keys",
                .operationId = "getLabelKeys",
                .tag = tag,
                .summary = "Every label key in use",
                .access = Access::permission("profile", "read"),
                .response = array(string())},
               [&db](Context& c) {
                   json out = json::array();
                   for (const auto& row : db.query("SELECT key FROM label_keys ORDER BY key"))
                       out.push_back(row.str(0));
                   c.sendJson(200, out);
               });
    router.add({.method = "GET",
                .path = "/api/agents/labels/values",
                .operationId = "getLabelValues",
                .tag = tag,
                .summary = "Label values, optionally only those used with one key",
                .access = Access::permission("profile", "read"),
                .response = array(string()),
                .query = {{"key", string(), false, "Only values used with this key"}}},
               [&db](Context& c) {
                   json out = json::array();
                   auto key = c.query("key");
                   auto rows =
                       key ? db.query(
                                 "SELECT DISTINCT v.value FROM label_values v JOIN agent_labels l ON "
                                 "l.value_id = v.id JOIN label_keys k ON k.id = l.key_id WHERE k.key = "
                                 "$1 ORDER BY 1",
                                 {*key})
                           : db.query("SELECT value FROM label_values ORDER BY value");
                   for (const auto& row : rows) out.push_back(row.str(0));
                   c.sendJson(200, out);
               });
}

}  // namespace archestra::api
