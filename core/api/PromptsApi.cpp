// Prompt CRUD with version chains, scoped to the caller's organisation. Every statement filters by the
// organisation, so another organisation's prompt is a 404 like a missing one.
#include "core/api/PromptsApi.h"

#include "core/auth/Schema.h"
#include "core/auth/SqlJson.h"
#include "core/http/Context.h"

namespace archestra::api {
namespace {

using auth::isoSql;
using http::Access;
using http::ApiError;
using http::Context;
using nlohmann::json;

// The version chain a row belongs to: its root's id.
const std::string kChainSql = "coalesce(p.parent_prompt_id, p.id)";

std::string promptJsonSql() {
    return "json_build_object('id', p.id, 'organizationId', p.organization_id, 'name', p.name, 'agentId', "
           "p.agent_id, 'userPrompt', p.user_prompt, 'systemPrompt', p.system_prompt, 'version', p.version, "
           "'parentPromptId', p.parent_prompt_id, 'isActive', p.is_active, 'createdAt', " +
           isoSql("p.created_at") + ", 'updatedAt', " + isoSql("p.updated_at") + ")::text";
}

json promptSchema() {
    using namespace auth::schema;
    json uuid = {{"type", "string"}, {"format", "uuid"}};
    return object({{"id", uuid},
                   {"organizationId", string()},
                   {"name", string()},
                   {"agentId", nullable(uuid)},
                   {"userPrompt", nullableString()},
                   {"systemPrompt", nullableString()},
                   {"version", integer()},
                   {"parentPromptId", nullable(uuid)},
                   {"isActive", boolean()},
                   {"createdAt", dateTime()},
                   {"updatedAt", dateTime()}},
                  {"id", "organizationId", "name", "agentId", "userPrompt", "systemPrompt", "version",
                   "parentPromptId", "isActive", "createdAt", "updatedAt"});
}

const std::string& organizationOf(const Context& context) {
    const auto& principal = context.requirePrincipal();
    if (principal.organizationId.empty())
        throw ApiError::forbidden("The caller is not a member of any organization");
    return principal.organizationId;
}

json rowsToArray(const db::Rows& rows) {
    json out = json::array();
    for (const auto& row : rows) out.push_back(json::parse(row.str(0)));
    return out;
}

json loadPrompt(db::Connection& conn, const std::string& org, const std::string& id) {
    auto rows = conn.query(
        "SELECT " + promptJsonSql() + " FROM prompts p WHERE p.id = $1::uuid AND p.organization_id = $2",
        {id, org});
    if (rows.empty()) throw ApiError::notFound("Prompt not found");
    return json::parse(rows[0].str(0));
}

/// The chain root of prompt `id` in `org`, locking the chain's rows; 404 when there is no such prompt.
std::string lockChain(db::Connection& conn, const std::string& org, const std::string& id) {
    auto rows = conn.query("SELECT " + kChainSql +
                               "::text FROM prompts p WHERE p.id = $1::uuid AND "
                               "p.organization_id = $2",
                           {id, org});
    if (rows.empty()) throw ApiError::notFound("Prompt not found");
    std::string root = rows[0].str(0);
    conn.query("SELECT 1 FROM prompts p WHERE " + kChainSql + " = $1::uuid FOR UPDATE", {root});
    return root;
}

/// A profile id the caller's organisation may use (profiles are organisation-wide here).
void requireAgent(db::Connection& conn, const std::string& agentId) {
    if (conn.query("SELECT 1 FROM agents WHERE id = $1::uuid", {agentId}).empty())
        throw ApiError::badRequest("Field 'agentId': profile " + agentId + " not found");
}

/// A text field that may be null (clears it) or absent (keeps it): returns {present, value}.
std::pair<bool, db::Value> nullableText(const json& body, const std::string& field) {
    auto it = body.find(field);
    if (it == body.end()) return {false, std::nullopt};
    if (it->is_null()) return {true, std::nullopt};
    if (!it->is_string())
        throw ApiError::badRequest("Field '" + field + "': expected a string or null, got " + it->dump());
    return {true, it->get<std::string>()};
}

std::string nameField(const json& body) {
    std::string name = auth::requiredStringField(body, "name");
    if (name.find_first_not_of(" \t\r\n") == std::string::npos)
        throw ApiError::badRequest("Field 'name': expected a non-empty string");
    return name;
}

}  // namespace

void registerPromptRoutes(http::Router& router, std::shared_ptr<auth::AuthService> auth) {
    using namespace auth::schema;
    db::Database& db = auth->database();
    const std::string tag = "Prompts";
    json uuid = {{"type", "string"}, {"format", "uuid"}};
    json text = {{"type", "string"}, {"maxLength", 100000}, {"nullable", true}};
    json name = {{"type", "string"}, {"minLength", 1}, {"maxLength", 256}};
    json createInput =
        object({{"name", name}, {"agentId", uuid}, {"userPrompt", text}, {"systemPrompt", text}},
               {"name", "agentId"});
    json updateInput =
        object({{"name", name}, {"agentId", uuid}, {"userPrompt", text}, {"systemPrompt", text}});

    router.add({.method = "GET",
                .path = "/api/prompts",
                .operationId = "getPrompts",
                .tag = tag,
                .summary = "The organisation's prompts (the active version of each)",
                .access = Access::permission("prompt", "read"),
                .response = array(promptSchema())},
               [&db](Context& c) {
                   c.sendJson(200,
                              rowsToArray(db.query("SELECT " + promptJsonSql() +
                                                       " FROM prompts p WHERE p.organization_id = $1 AND "
                                                       "p.is_active ORDER BY p.created_at DESC, p.id",
                                                   {organizationOf(c)})));
               });
    router.add({.method = "POST",
                .path = "/api/prompts",
                .operationId = "createPrompt",
                .tag = tag,
                .summary = "Save a prompt for a profile (version 1)",
                .access = Access::permission("prompt", "create"),
                .requestBody = createInput,
                .response = promptSchema()},
               [&db](Context& c) {
                   const json& body = c.jsonObject();
                   const std::string org = organizationOf(c);
                   std::string promptName = nameField(body);
                   std::string agentId = auth::requiredStringField(body, "agentId");
                   auto [hasUser, userPrompt] = nullableText(body, "userPrompt");
                   auto [hasSystem, systemPrompt] = nullableText(body, "systemPrompt");
                   json out = db.transaction([&](db::Connection& conn) {
                       requireAgent(conn, agentId);
                       std::string id = conn.query(
                                                "INSERT INTO prompts (organization_id, name, agent_id, "
                                                "user_prompt, system_prompt) VALUES ($1, $2, $3::uuid, "
                                                "$4, $5) RETURNING id::text",
                                                {org, promptName, agentId, userPrompt, systemPrompt})
                                            .at(0)
                                            .str(0);
                       return loadPrompt(conn, org, id);
                   });
                   c.sendJson(200, out);
               });
    router.add({.method = "GET",
                .path = "/api/prompts/{id}",
                .operationId = "getPrompt",
                .tag = tag,
                .summary = "One prompt version",
                .access = Access::permission("prompt", "read"),
                .response = promptSchema(),
                .uuidParams = {"id"}},
               [&db](Context& c) {
                   const std::string org = organizationOf(c);
                   c.sendJson(200, db.withConnection([&](db::Connection& conn) {
                       return loadPrompt(conn, org, c.param("id"));
                   }));
               });
    router.add(
        {.method = "PATCH",
         .path = "/api/prompts/{id}",
         .operationId = "updatePrompt",
         .tag = tag,
         .summary = "Change a prompt: saves a new version (fields left out are copied) and makes it active",
         .access = Access::permission("prompt", "update"),
         .requestBody = updateInput,
         .response = promptSchema(),
         .uuidParams = {"id"}},
        [&db](Context& c) {
            const json& body = c.jsonObject();
            const std::string org = organizationOf(c);
            std::optional<std::string> newName;
            if (body.contains("name")) newName = nameField(body);
            auto agentId = auth::optionalStringField(body, "agentId");
            auto [hasUser, userPrompt] = nullableText(body, "userPrompt");
            auto [hasSystem, systemPrompt] = nullableText(body, "systemPrompt");
            json out = db.transaction([&](db::Connection& conn) {
                std::string root = lockChain(conn, org, c.param("id"));
                if (agentId) requireAgent(conn, *agentId);
                auto base = conn.query(
                    "SELECT p.name, p.agent_id::text AS agent_id, p.user_prompt, p.system_prompt FROM "
                    "prompts p "
                    "WHERE p.id = $1::uuid",
                    {c.param("id")});
                const auto& row = base.at(0);
                db::Value version = conn.query("SELECT (max(p.version) + 1)::text FROM prompts p WHERE " +
                                                   kChainSql + " = $1::uuid",
                                               {root})
                                        .at(0)
                                        .at(0);
                conn.execute("UPDATE prompts p SET is_active = false, updated_at = now() WHERE " + kChainSql +
                                 " = $1::uuid AND p.is_active",
                             {root});
                std::string id =
                    conn.query(
                            "INSERT INTO prompts (organization_id, name, agent_id, user_prompt, "
                            "system_prompt, "
                            "version, parent_prompt_id, is_active) VALUES ($1, $2, $3::uuid, $4, $5, "
                            "$6::int, $7::uuid, true) RETURNING id::text",
                            {org, newName ? *newName : row.str("name"),
                             agentId ? db::Value(*agentId) : row.at("agent_id"),
                             hasUser ? userPrompt : row.at("user_prompt"),
                             hasSystem ? systemPrompt : row.at("system_prompt"), version, root})
                        .at(0)
                        .str(0);
                return loadPrompt(conn, org, id);
            });
            c.sendJson(200, out);
        });
    router.add({.method = "DELETE",
                .path = "/api/prompts/{id}",
                .operationId = "deletePrompt",
                .tag = tag,
                .summary = "Delete a prompt with all its versions",
                .access = Access::permission("prompt", "delete"),
                .response = success(),
                .uuidParams = {"id"}},
               [&db](Context& c) {
                   const std::string org = organizationOf(c);
                   db.transaction([&](db::Connection& conn) {
                       std::string root = lockChain(conn, org, c.param("id"));
                       conn.execute("DELETE FROM prompts p WHERE " + kChainSql + " = $1::uuid", {root});
                       return 0;
                   });
                   c.sendJson(200, {{"success", true}});
               });
    router.add({.method = "GET",
                .path = "/api/prompts/{id}/versions",
                .operationId = "getPromptVersions",
                .tag = tag,
                .summary = "Every version of a prompt, newest first",
                .access = Access::permission("prompt", "read"),
                .response = array(promptSchema()),
                .uuidParams = {"id"}},
               [&db](Context& c) {
                   const std::string org = organizationOf(c);
                   json out = db.transaction([&](db::Connection& conn) {
                       std::string root = lockChain(conn, org, c.param("id"));
                       return rowsToArray(conn.query("SELECT " + promptJsonSql() + " FROM prompts p WHERE " +
                                                         kChainSql + " = $1::uuid ORDER BY p.version DESC",
                                                     {root}));
                   });
                   c.sendJson(200, out);
               });
    router.add(
        {.method = "POST",
         .path = "/api/prompts/{id}/rollback",
         .operationId = "rollbackPrompt",
         .tag = tag,
         .summary = "Make an earlier version of the prompt the active one",
         .access = Access::permission("prompt", "update"),
         .requestBody = object({{"versionId", uuid}}, {"versionId"}),
         .response = promptSchema(),
         .uuidParams = {"id"}},
        [&db](Context& c) {
            const std::string org = organizationOf(c);
            std::string versionId = auth::requiredStringField(c.jsonObject(), "versionId");
            json out = db.transaction([&](db::Connection& conn) {
                std::string root = lockChain(conn, org, c.param("id"));
                if (conn.query(
                            "SELECT 1 FROM prompts p WHERE p.id = $1::uuid AND " + kChainSql + " = $2::uuid",
                            {versionId, root})
                        .empty())
                    throw ApiError::badRequest("Field 'versionId': not a version of prompt " + c.param("id"));
                conn.execute(
                    "UPDATE prompts p SET is_active = (p.id = $2::uuid), updated_at = now() "
                    "WHERE " +
                        kChainSql + " = $1::uuid AND p.is_active <> (p.id = $2::uuid)",
                    {root, versionId});
                return loadPrompt(conn, org, versionId);
            });
            c.sendJson(200, out);
        });

    // Assignment to profiles: a prompt belongs to at most one profile (prompts.agent_id, on every version).
    router.add({.method = "GET",
                .path = "/api/agents/{agentId}/prompts",
                .operationId = "getAgentPrompts",
                .tag = tag,
                .summary = "The prompts assigned to a profile (active versions)",
                .access = Access::permission("prompt", "read"),
                .response = array(promptSchema()),
                .uuidParams = {"agentId"}},
               [&db](Context& c) {
                   c.sendJson(200,
                              rowsToArray(db.query("SELECT " + promptJsonSql() +
                                                       " FROM prompts p WHERE p.organization_id = $1 AND "
                                                       "p.agent_id = $2::uuid AND p.is_active ORDER BY "
                                                       "p.created_at, p.id",
                                                   {organizationOf(c), c.param("agentId")})));
               });
    router.add({.method = "POST",
                .path = "/api/agents/{agentId}/prompts",
                .operationId = "assignAgentPrompts",
                .tag = tag,
                .summary = "Assign prompts to a profile; answers the profile's prompts",
                .access = Access::permission("prompt", "update"),
                .requestBody = object({{"promptIds", array(uuid)}}, {"promptIds"}),
                .response = array(promptSchema()),
                .uuidParams = {"agentId"}},
               [&db](Context& c) {
                   const std::string org = organizationOf(c);
                   const std::string agentId = c.param("agentId");
                   const json& ids = c.jsonObject().at("promptIds");
                   json out = db.transaction([&](db::Connection& conn) {
                       if (conn.query("SELECT 1 FROM agents WHERE id = $1::uuid", {agentId}).empty())
                           throw ApiError::notFound("Agent with ID " + agentId + " not found");
                       for (const auto& id : ids) {
                           std::string root = lockChain(conn, org, id.get<std::string>());
                           conn.execute(
                               "UPDATE prompts p SET agent_id = $2::uuid, updated_at = now() WHERE " +
                                   kChainSql + " = $1::uuid",
                               {root, agentId});
                       }
                       return rowsToArray(conn.query("SELECT " + promptJsonSql() +
                                                         " FROM prompts p WHERE p.organization_id = $1 AND "
                                                         "p.agent_id = $2::uuid AND p.is_active ORDER BY "
                                                         "p.created_at, p.id",
                                                     {org, agentId}));
                   });
                   c.sendJson(200, out);
               });
    router.add({.method = "DELETE",
                .path = "/api/agents/{agentId}/prompts/{promptId}",
                .operationId = "deleteAgentPrompt",
                .tag = tag,
                .summary = "Unassign a prompt from a profile (the prompt is kept)",
                .access = Access::permission("prompt", "update"),
                .response = success(),
                .uuidParams = {"agentId", "promptId"}},
               [&db](Context& c) {
                   const std::string org = organizationOf(c);
                   db.transaction([&](db::Connection& conn) {
                       std::string root = lockChain(conn, org, c.param("promptId"));
                       if (conn.execute("UPDATE prompts p SET agent_id = NULL, updated_at = now() WHERE " +
                                            kChainSql + " = $1::uuid AND p.agent_id = $2::uuid",
                                        {root, c.param("agentId")}) == 0)
                           throw ApiError::notFound("Prompt is not assigned to this profile");
                       return 0;
                   });
                   c.sendJson(200, {{"success", true}});
               });
}

}  // namespace archestra::api
