// Dual-LLM config CRUD (create validates the whole body, PUT the merged row) and read access to the results
// cached per tool call id; a result belongs to an interaction when its tool call id appears among the tool
// results of that interaction's request (OpenAI tool_call_id, Anthropic tool_use_id).
#include "core/api/DualLlmApi.h"

#include "core/api/CrudRoutes.h"
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

/// The ids of the tool results in a chat request: OpenAI's messages[].tool_call_id and Anthropic's
/// messages[].content[].tool_use_id (strings without U+0000, which no text column can hold), each once.
json toolResultIds(const json& request) {
    json ids = json::array();
    auto add = [&](const json& holder, const char* key) {
        auto it = holder.find(key);
        if (it == holder.end() || !it->is_string()) return;
        const auto& text = it->get_ref<const std::string&>();
        if (text.find('\0') != std::string::npos) return;
        for (const auto& seen : ids)
            if (seen == *it) return;
        ids.push_back(*it);
    };
    if (!request.is_object()) return ids;
    auto messages = request.find("messages");
    if (messages == request.end() || !messages->is_array()) return ids;
    for (const auto& message : *messages) {
        if (!message.is_object()) continue;
        add(message, "tool_call_id");
        auto content = message.find("content");
        if (content == message.end() || !content->is_array()) continue;
        for (const auto& part : *content)
            if (part.is_object()) add(part, "tool_use_id");
    }
    return ids;
}

std::string configJsonSql() {
    return "json_build_object('id', c.id, 'enabled', c.enabled, 'mainAgentPrompt', c.main_agent_prompt, "
           "'quarantinedAgentPrompt', c.quarantined_agent_prompt, 'summaryPrompt', c.summary_prompt, "
           "'maxRounds', c.max_rounds, 'createdAt', " +
           isoSql("c.created_at") + ", 'updatedAt', " + isoSql("c.updated_at") + ")::text";
}

std::string resultJsonSql() {
    return "json_build_object('id', r.id, 'agentId', r.agent_id, 'toolCallId', r.tool_call_id, "
           "'conversations', "
           "r.conversations, 'result', r.result, 'createdAt', " +
           isoSql("r.created_at") + ")::text";
}

json configSchema() {
    using namespace auth::schema;
    return object({{"id", {{"type", "string"}, {"format", "uuid"}}},
                   {"enabled", boolean()},
                   {"mainAgentPrompt", string()},
                   {"quarantinedAgentPrompt", string()},
                   {"summaryPrompt", string()},
                   {"maxRounds", {{"type", "integer"}, {"minimum", 1}, {"maximum", 20}}},
                   {"createdAt", dateTime()},
                   {"updatedAt", dateTime()}},
                  {"id", "enabled", "mainAgentPrompt", "quarantinedAgentPrompt", "summaryPrompt", "maxRounds",
                   "createdAt", "updatedAt"});
}

json resultSchema() {
    using namespace auth::schema;
    return object({{"id", {{"type", "string"}, {"format", "uuid"}}},
                   {"agentId", nullableString()},
                   {"toolCallId", string()},
                   {"conversations", {{"type", "array"}, {"items", json::object()}}},
                   {"result", string()},
                   {"createdAt", dateTime()}},
                  {"id", "agentId", "toolCallId", "conversations", "result", "createdAt"});
}

json loadConfig(db::Database& db, const std::string& id) {
    auto rows = db.query("SELECT " + configJsonSql() + " FROM dual_llm_config c WHERE c.id = $1::uuid", {id});
    if (rows.empty()) throw ApiError::notFound("Dual LLM config not found");
    return json::parse(rows[0].str(0));
}

/// Merged body -> (enabled, main, quarantined, summary, max_rounds).
std::vector<db::Value> validate(const json& body) {
    auto enabled = auth::optionalBoolField(body, "enabled").value_or(false);
    std::string main = auth::requiredStringField(body, "mainAgentPrompt");
    std::string quarantined = auth::requiredStringField(body, "quarantinedAgentPrompt");
    std::string summary = auth::requiredStringField(body, "summaryPrompt");
    long long rounds = 5;
    if (auto it = body.find("maxRounds"); it != body.end() && !it->is_null()) {
        if (!it->is_number_integer() || it->get<long long>() < 1 || it->get<long long>() > 20)
            throw ApiError::badRequest("Field 'maxRounds': expected an integer from 1 to 20, got " +
                                       it->dump());
        rounds = it->get<long long>();
    }
    return {enabled ? "true" : "false", main, quarantined, summary, std::to_string(rounds)};
}

}  // namespace

void registerDualLlmRoutes(http::Router& router, std::shared_ptr<auth::AuthService> auth,
                           std::function<void()> onChange) {
    using namespace auth::schema;
    db::Database& db = auth->database();
    auto changed = [onChange] {
        if (onChange) onChange();
    };
    const std::string tag = "Dual LLM";
    auto [createInput, updateInput] =
        inputSchemas(configSchema(), {"id", "createdAt", "updatedAt"},
                     {"mainAgentPrompt", "quarantinedAgentPrompt", "summaryPrompt"});

    router.add({.method = "GET",
                .path = "/api/dual-llm-config/default",
                .operationId = "getDefaultDualLlmConfig",
                .tag = tag,
                .summary = "The config the proxy uses (the oldest one)",
                .access = Access::permission("dualLlmConfig", "read"),
                .response = configSchema()},
               [&db](Context& c) {
                   auto rows = db.query("SELECT " + configJsonSql() +
                                        " FROM dual_llm_config c ORDER BY c.created_at, c.id LIMIT 1");
                   if (rows.empty()) throw ApiError::notFound("No dual LLM config exists");
                   c.sendJson(200, json::parse(rows[0].str(0)));
               });
    router.add({.method = "GET",
                .path = "/api/dual-llm-config",
                .operationId = "getDualLlmConfigs",
                .tag = tag,
                .summary = "Every dual LLM config, oldest first",
                .access = Access::permission("dualLlmConfig", "read"),
                .response = array(configSchema())},
               [&db](Context& c) {
                   json out = json::array();
                   for (const auto& row : db.query("SELECT " + configJsonSql() +
                                                   " FROM dual_llm_config c ORDER BY c.created_at, c.id"))
                       out.push_back(json::parse(row.str(0)));
                   c.sendJson(200, out);
               });
    router.add({.method = "POST",
                .path = "/api/dual-llm-config",
                .operationId = "createDualLlmConfig",
                .tag = tag,
                .summary = "Create a dual LLM config",
                .access = Access::permission("dualLlmConfig", "create"),
                .requestBody = createInput,
                .response = configSchema()},
               [&db, changed](Context& c) {
                   auto values = validate(c.jsonObject());
                   std::string id = db.query(
                                          "INSERT INTO dual_llm_config (enabled, main_agent_prompt, "
                                          "quarantined_agent_prompt, summary_prompt, max_rounds) VALUES "
                                          "($1::boolean, $2, $3, $4, $5::integer) RETURNING id::text",
                                          values)
                                        .at(0)
                                        .str(0);
                   changed();
                   c.sendJson(200, loadConfig(db, id));
               });
    router.add({.method = "GET",
                .path = "/api/dual-llm-config/{id}",
                .operationId = "getDualLlmConfig",
                .tag = tag,
                .summary = "One dual LLM config",
                .access = Access::permission("dualLlmConfig", "read"),
                .response = configSchema(),
                .uuidParams = {"id"}},
               [&db](Context& c) { c.sendJson(200, loadConfig(db, c.param("id"))); });
    router.add(
        {.method = "PUT",
         .path = "/api/dual-llm-config/{id}",
         .operationId = "updateDualLlmConfig",
         .tag = tag,
         .summary = "Change a dual LLM config; fields left out keep their value",
         .access = Access::permission("dualLlmConfig", "update"),
         .requestBody = updateInput,
         .response = configSchema(),
         .uuidParams = {"id"}},
        [&db, changed](Context& c) {
            const std::string id = c.param("id");
            auto values = validate(mergePresentFields(
                loadConfig(db, id), c.jsonObject(),
                {"enabled", "mainAgentPrompt", "quarantinedAgentPrompt", "summaryPrompt", "maxRounds"}));
            values.insert(values.begin(), id);
            if (db.execute("UPDATE dual_llm_config SET enabled = $2::boolean, main_agent_prompt = $3, "
                           "quarantined_agent_prompt = $4, summary_prompt = $5, max_rounds = $6::integer, "
                           "updated_at = now() WHERE id = $1::uuid",
                           values) == 0)
                throw ApiError::notFound("Dual LLM config not found");
            changed();
            c.sendJson(200, loadConfig(db, id));
        });
    addDeleteByIdRoute(router, db,
                       {.path = "/api/dual-llm-config/{id}",
                        .operationId = "deleteDualLlmConfig",
                        .tag = tag,
                        .summary = "Delete a dual LLM config",
                        .access = Access::permission("dualLlmConfig", "delete"),
                        .table = "dual_llm_config",
                        .notFoundMessage = "Dual LLM config not found"},
                       changed);
    router.add({.method = "GET",
                .path = "/api/dual-llm-results/by-tool-call-id/{toolCallId}",
                .operationId = "getDualLlmResultByToolCallId",
                .tag = tag,
                .summary = "The sanitised result cached for a tool call, or null",
                .access = Access::permission("dualLlmResult", "read"),
                .response = nullable(resultSchema())},
               [&db](Context& c) {
                   auto rows = db.query("SELECT " + resultJsonSql() +
                                            " FROM dual_llm_results r WHERE r.tool_call_id = $1 ORDER BY "
                                            "r.created_at DESC LIMIT 1",
                                        {c.param("toolCallId")});
                   c.sendJson(200, rows.empty() ? json(nullptr) : json::parse(rows[0].str(0)));
               });
    router.add(
        {.method = "GET",
         .path = "/api/dual-llm-results/by-interaction/{interactionId}",
         .operationId = "getDualLlmResultsByInteraction",
         .tag = tag,
         .summary = "The sanitised results of the tool results in an interaction's request",
         .access = Access::permission("dualLlmResult", "read"),
         .response = array(resultSchema()),
         .uuidParams = {"interactionId"}},
        [&db](Context& c) {
            const std::string id = c.param("interactionId");
            json out = json::array();
            db.withConnection([&](db::Connection& conn) {
                auto stored = conn.query("SELECT request::text FROM interactions WHERE id = $1::uuid", {id});
                if (stored.empty()) throw ApiError::notFound("Interaction not found");
                // The tool result ids are read here, not by SQL: the json column keeps a body as received,
                // and PostgreSQL's json operators (and a ::jsonb cast) refuse a body holding \u0000.
                json ids = toolResultIds(json::parse(stored[0].str(0), nullptr, false));
                if (ids.empty()) return;
                for (const auto& row : conn.query(
                         "SELECT " + resultJsonSql() +
                             " FROM dual_llm_results r WHERE r.tool_call_id IN (SELECT "
                             "json_array_elements_text($1::json)) AND (r.agent_id IS NULL OR r.agent_id = "
                             "(SELECT profile_id FROM interactions WHERE id = $2::uuid)) ORDER BY "
                             "r.created_at, "
                             "r.id",
                         {ids.dump(-1, ' ', false, json::error_handler_t::replace), id}))
                    out.push_back(json::parse(row.str(0)));
            });
            c.sendJson(200, out);
        });
}

}  // namespace archestra::api
