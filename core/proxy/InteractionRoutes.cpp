// Read API of the interaction log (reference-api.md §1 "Observability data").
#include "core/proxy/InteractionRoutes.h"

#include "core/db/Database.h"
#include "core/http/ApiError.h"
#include "core/http/Context.h"
#include "core/http/Pagination.h"
#include "core/http/Router.h"

namespace archestra::proxy {

namespace {

// One JSON object per row, built by PostgreSQL: numeric costs as strings (the original's convention),
// timestamps as ISO-8601 UTC with milliseconds, nullable columns as null.
const char* const kItemSql =
    "json_build_object('id', i.id, 'profileId', i.profile_id, 'externalAgentId', i.external_agent_id, "
    "'request', i.request, 'processedRequest', COALESCE(i.processed_request, i.request), 'response', "
    "i.response, "
    "'type', i.type, 'model', i.model, 'originalModel', i.original_model, 'optimizedModel', "
    "i.optimized_model, "
    "'provider', i.provider, 'inputTokens', i.input_tokens, 'outputTokens', i.output_tokens, "
    "'baselineCost', i.baseline_cost::text, 'cost', i.cost::text, 'toonTokensBefore', i.toon_tokens_before, "
    "'toonTokensAfter', i.toon_tokens_after, 'toonCostSavings', i.toon_cost_savings::text, "
    "'blocked', i.blocked, 'statusCode', i.status_code, 'durationMs', i.duration_ms, "
    "'timeToFirstTokenMs', i.time_to_first_token_ms, 'decisions', i.decisions, "
    "'createdAt', to_char(i.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))::text";

nlohmann::json itemSchema() {
    return {{"type", "object"},
            {"properties",
             {{"id", {{"type", "string"}, {"format", "uuid"}}},
              {"profileId", {{"type", {"string", "null"}}}},
              {"externalAgentId", {{"type", {"string", "null"}}}},
              {"request", {{"type", "object"}}},
              {"processedRequest", {}},
              {"response", {}},
              {"type", {{"type", "string"}}},
              {"model", {{"type", {"string", "null"}}}},
              {"inputTokens", {{"type", {"integer", "null"}}}},
              {"outputTokens", {{"type", {"integer", "null"}}}},
              {"baselineCost", {{"type", {"string", "null"}}}},
              {"cost", {{"type", {"string", "null"}}}},
              {"blocked", {{"type", "boolean"}}},
              {"createdAt", {{"type", "string"}, {"format", "date-time"}}}}}};
}

/// " AND <the row's profile is in one of the caller's teams>" for callers who do not see every profile.
std::string visibleCondition(const SeesAllProfiles& seesAll, const http::Context& context,
                             std::vector<db::Value>& params) {
    if (!seesAll || seesAll(context)) return "";
    params.push_back(context.requirePrincipal().userId);
    return " AND EXISTS (SELECT 1 FROM agent_team vx JOIN team_member vm ON vm.team_id = vx.team_id WHERE "
           "vx.agent_id = i.profile_id AND vm.user_id = $" +
           std::to_string(params.size()) + ")";
}

}  // namespace

void registerInteractionRoutes(http::Router& router, db::Database& database, SeesAllProfiles seesAll) {
    const auto access = http::Access::permission("interaction", "read");
    const http::Sorting sorting{.columns = {{"createdAt", "i.created_at"},
                                            {"profileId", "i.profile_id"},
                                            {"externalAgentId", "i.external_agent_id"},
                                            {"model", "i.model"}},
                                .tieBreak = {"i.created_at", "i.id"}};

    router.add({.method = "GET",
                .path = "/api/interactions",
                .operationId = "getInteractions",
                .tag = "Interaction",
                .summary = "Proxied LLM calls, newest first",
                .access = access,
                .response = http::Page::schema(itemSchema()),
                .query = http::Page::parameters({{"profileId", {{"type", "string"}, {"format", "uuid"}}},
                                                 {"externalAgentId", {{"type", "string"}}},
                                                 {"model", {{"type", "string"}}},
                                                 {"blocked", {{"type", "boolean"}}}},
                                                sorting)},
               [&database, seesAll, sorting](http::Context& context) {
                   std::vector<db::Value> params;
                   std::string where = " WHERE true" + visibleCondition(seesAll, context, params);
                   if (auto profileId = context.query("profileId")) {
                       if (!http::isUuidV4(*profileId))
                           throw http::ApiError::badRequest(
                               "Query parameter 'profileId': expected a UUID v4, got '" + *profileId + "'");
                       params.push_back(*profileId);
                       where += " AND i.profile_id = $" + std::to_string(params.size()) + "::uuid";
                   }
                   if (auto external = context.query("externalAgentId")) {
                       params.push_back(*external);
                       where += " AND i.external_agent_id = $" + std::to_string(params.size());
                   }
                   if (auto model = context.query("model")) {
                       params.push_back(*model);
                       where += " AND i.model = $" + std::to_string(params.size());
                   }
                   if (auto blocked = context.query("blocked")) {
                       if (*blocked != "true" && *blocked != "false")
                           throw http::ApiError::badRequest(
                               "Query parameter 'blocked': expected true or false, got '" + *blocked + "'");
                       where += *blocked == "true" ? " AND i.blocked" : " AND NOT i.blocked";
                   }
                   const auto page = http::Page::fromQuery(context);
                   const std::string order = sorting.orderBy(context);
                   nlohmann::json body;
                   database.withConnection([&](db::Connection& c) {
                       body = page.fetch(c, kItemSql, "FROM interactions i" + where, order, params);
                   });
                   context.sendJson(200, body);
               });

    router.add(
        {.method = "GET",
         .path = "/api/interactions/external-agent-ids",
         .operationId = "getUniqueExternalAgentIds",
         .tag = "Interaction",
         .summary = "Distinct X-Archestra-Agent-Id values seen",
         .access = access,
         .response = {{"type", "array"}, {"items", {{"type", "string"}}}}},
        [&database, seesAll](http::Context& context) {
            nlohmann::json ids = nlohmann::json::array();
            std::vector<db::Value> params;
            std::string visible = visibleCondition(seesAll, context, params);
            for (const auto& row : database.query("SELECT DISTINCT i.external_agent_id FROM interactions i "
                                                  "WHERE i.external_agent_id IS NOT NULL" +
                                                      visible + " ORDER BY 1",
                                                  params))
                ids.push_back(row.str(0));
            context.sendJson(200, ids);
        });

    router.add({.method = "GET",
                .path = "/api/interactions/{interactionId}",
                .operationId = "getInteraction",
                .tag = "Interaction",
                .summary = "One proxied LLM call",
                .access = access,
                .response = itemSchema(),
                .uuidParams = {"interactionId"}},
               [&database, seesAll](http::Context& context) {
                   std::vector<db::Value> params = {context.param("interactionId")};
                   std::string visible = visibleCondition(seesAll, context, params);
                   auto rows = database.query("SELECT " + std::string(kItemSql) +
                                                  " FROM interactions i WHERE i.id = $1::uuid" + visible,
                                              params);
                   if (rows.empty())
                       throw http::ApiError::notFound("Interaction with ID " +
                                                      context.param("interactionId") + " not found");
                   context.send(200, "application/json; charset=utf-8", rows.at(0).str(0));
               });
}

}  // namespace archestra::proxy
