// Statistics: every number is one SQL aggregate over `interactions` (costs summed as numeric, converted to a
// JSON number only at the end), grouped by team, profile or model, with a time series per group.
#include "core/api/StatisticsApi.h"

#include "core/auth/Schema.h"
#include "core/auth/SqlJson.h"
#include "core/http/Context.h"

#include <cmath>
#include <map>
#include <regex>

namespace archestra::api {

using auth::isoSql;
using http::Access;
using http::ApiError;
using http::Context;
using nlohmann::json;

Timeframe parseTimeframe(const std::optional<std::string>& value) {
    static const std::map<std::string, std::pair<std::string, std::string>> relative = {
        {"5m", {"5 minutes", "minute"}}, {"15m", {"15 minutes", "minute"}}, {"30m", {"30 minutes", "minute"}},
        {"1h", {"1 hour", "minute"}},    {"24h", {"24 hours", "hour"}},     {"7d", {"7 days", "day"}},
        {"30d", {"30 days", "day"}},     {"90d", {"90 days", "week"}},      {"12m", {"12 months", "month"}}};
    std::string text = value && !value->empty() ? *value : "24h";
    if (auto it = relative.find(text); it != relative.end())
        return {"i.created_at >= now() - $1::interval", {it->second.first}, it->second.second};
    if (text == "all") return {"true", {}, "month"};
    static const std::regex custom(
        "^custom:(\\d{4}-\\d{2}-\\d{2}(?:T\\d{2}:\\d{2}(?::\\d{2}(?:\\.\\d{1,6})?)?(?:Z|[+-]\\d{2}:?\\d{2})?)"
        "?)_"
        "(\\d{4}-\\d{2}-\\d{2}(?:T\\d{2}:\\d{2}(?::\\d{2}(?:\\.\\d{1,6})?)?(?:Z|[+-]\\d{2}:?\\d{2})?)?)$");
    std::smatch match;
    if (std::regex_match(text, match, custom)) {
        // The bucket follows the span, so a series has at most a few hundred points.
        return {"i.created_at >= $1::timestamptz AND i.created_at <= $2::timestamptz",
                {match[1].str(), match[2].str()},
                ""};
    }
    throw ApiError::badRequest(
        "Query parameter 'timeframe': expected 5m, 15m, 30m, 1h, 24h, 7d, 30d, 90d, 12m, all or "
        "custom:<start>_<end>, got '" +
        text + "'");
}

namespace {

/// date_trunc unit: fixed for relative frames, from the span for custom ones.
std::string bucketSql(const Timeframe& frame) {
    if (!frame.bucket.empty()) return "'" + frame.bucket + "'";
    return "(CASE WHEN $2::timestamptz - $1::timestamptz <= interval '2 hours' THEN 'minute' WHEN "
           "$2::timestamptz - $1::timestamptz <= interval '3 days' THEN 'hour' WHEN $2::timestamptz - "
           "$1::timestamptz <= interval '120 days' THEN 'day' ELSE 'month' END)";
}

double toNumber(const std::string& text) {
    return text.empty() ? 0.0 : std::stod(text);
}

json seriesSchema() {
    using namespace auth::schema;
    return array(
        object({{"timestamp", dateTime()}, {"value", {{"type", "number"}}}}, {"timestamp", "value"}));
}

/// One grouping: `keySql` is the group key over interactions `i` (joined with `joinSql`), rows come back
/// ordered by cost. Returns key -> {requests, inputTokens, outputTokens, cost, timeSeries}.
struct Group {
    std::string key;
    long long requests = 0;
    long long inputTokens = 0;
    long long outputTokens = 0;
    double cost = 0;
    json timeSeries = json::array();
};

std::vector<Group> aggregate(db::Database& db, const Timeframe& frame, const std::string& keySql,
                             const std::string& joinSql) {
    std::vector<Group> groups;
    std::map<std::string, std::size_t> index;
    db.withConnection([&](db::Connection& conn) {
        for (const auto& row : conn.query(
                 "SELECT " + keySql +
                     ", count(*), COALESCE(sum(i.input_tokens), 0), COALESCE(sum(i.output_tokens), 0), "
                     "COALESCE(sum(i.cost), 0)::text FROM interactions i " +
                     joinSql + " WHERE " + frame.condition + " AND " + keySql +
                     " IS NOT NULL GROUP BY 1 ORDER BY 5::numeric DESC, 2 DESC, 1",
                 frame.params)) {
            Group g;
            g.key = row.str(0);
            g.requests = std::stoll(row.str(1));
            g.inputTokens = std::stoll(row.str(2));
            g.outputTokens = std::stoll(row.str(3));
            g.cost = toNumber(row.str(4));
            index[g.key] = groups.size();
            groups.push_back(std::move(g));
        }
        for (const auto& row : conn.query(
                 "SELECT " + keySql + ", " + isoSql("date_trunc(" + bucketSql(frame) + ", i.created_at)") +
                     ", COALESCE(sum(i.cost), 0)::text FROM interactions i " + joinSql + " WHERE " +
                     frame.condition + " AND " + keySql + " IS NOT NULL GROUP BY 1, 2 ORDER BY 2",
                 frame.params)) {
            auto it = index.find(row.str(0));
            if (it != index.end())
                groups[it->second].timeSeries.push_back(
                    {{"timestamp", row.str(1)}, {"value", toNumber(row.str(2))}});
        }
    });
    return groups;
}

const std::string kTeamJoin = " JOIN agent_team g ON g.agent_id = i.profile_id";

}  // namespace

void registerStatisticsRoutes(http::Router& router, std::shared_ptr<auth::AuthService> auth) {
    using namespace auth::schema;
    db::Database& db = auth->database();
    const std::string tag = "Statistics";
    const std::vector<http::QueryParam> query = {
        {"timeframe", string(), false,
         "5m, 15m, 30m, 1h, 24h (default), 7d, 30d, 90d, 12m, all or custom:<start>_<end>"}};
    json number = {{"type", "number"}};
    json usage = {{"requests", integer()},
                  {"inputTokens", integer()},
                  {"outputTokens", integer()},
                  {"cost", number},
                  {"timeSeries", seriesSchema()}};

    json teamItem =
        object({{"teamId", string()}, {"teamName", string()}, {"members", integer()}, {"agents", integer()}},
               {"teamId", "teamName", "members", "agents", "requests", "inputTokens", "outputTokens", "cost",
                "timeSeries"});
    teamItem["properties"].update(usage);
    router.add(
        {.method = "GET",
         .path = "/api/statistics/teams",
         .operationId = "getTeamStatistics",
         .tag = tag,
         .summary = "Requests, tokens and cost per team (through its profiles)",
         .access = Access::permission("interaction", "read"),
         .response = array(teamItem),
         .query = query},
        [&db](Context& c) {
            Timeframe frame = parseTimeframe(c.query("timeframe"));
            auto groups = aggregate(db, frame, "g.team_id", kTeamJoin);
            std::map<std::string, const Group*> byKey;
            for (const auto& g : groups) byKey[g.key] = &g;
            json out = json::array();
            std::vector<db::Value> params;
            std::string where = "true";
            if (const auto* p = c.principal(); p && !p->organizationId.empty()) {
                params.push_back(p->organizationId);
                where = "t.organization_id = $1";
            }
            // Every team of the organisation, the busiest first; idle teams report zeros.
            std::vector<json> idle;
            std::map<std::string, json> active;
            for (const auto& row :
                 db.query("SELECT t.id, t.name, (SELECT count(*) FROM team_member m WHERE m.team_id = t.id), "
                          "(SELECT count(*) FROM agent_team a WHERE a.team_id = t.id) FROM team t WHERE " +
                              where + " ORDER BY t.name, t.id",
                          params)) {
                json item = {{"teamId", row.str(0)},
                             {"teamName", row.str(1)},
                             {"members", std::stoll(row.str(2))},
                             {"agents", std::stoll(row.str(3))},
                             {"requests", 0},
                             {"inputTokens", 0},
                             {"outputTokens", 0},
                             {"cost", 0.0},
                             {"timeSeries", json::array()}};
                if (auto it = byKey.find(row.str(0)); it != byKey.end())
                    active[row.str(0)] = item;
                else
                    idle.push_back(item);
            }
            for (const auto& g : groups) {
                auto it = active.find(g.key);
                if (it == active.end()) continue;
                json item = it->second;
                item["requests"] = g.requests;
                item["inputTokens"] = g.inputTokens;
                item["outputTokens"] = g.outputTokens;
                item["cost"] = g.cost;
                item["timeSeries"] = g.timeSeries;
                out.push_back(item);
            }
            for (auto& item : idle) out.push_back(item);
            c.sendJson(200, out);
        });

    json agentItem = object({{"agentId", string()}, {"agentName", string()}, {"teamName", nullableString()}},
                            {"agentId", "agentName", "teamName", "requests", "inputTokens", "outputTokens",
                             "cost", "timeSeries"});
    agentItem["properties"].update(usage);
    router.add(
        {.method = "GET",
         .path = "/api/statistics/agents",
         .operationId = "getAgentStatistics",
         .tag = tag,
         .summary = "Requests, tokens and cost per profile",
         .access = Access::permission("interaction", "read"),
         .response = array(agentItem),
         .query = query},
        [&db](Context& c) {
            Timeframe frame = parseTimeframe(c.query("timeframe"));
            auto groups = aggregate(db, frame, "i.profile_id::text", "");
            std::map<std::string, std::pair<std::string, json>> names;
            for (const auto& row : db.query(
                     "SELECT a.id::text, a.name, (SELECT string_agg(t.name, ', ' ORDER BY t.name) FROM "
                     "agent_team s JOIN team t ON t.id = s.team_id WHERE s.agent_id = a.id) FROM agents a"))
                names[row.str(0)] = {row.str(1), row.isNull(2) ? json(nullptr) : json(row.str(2))};
            json out = json::array();
            for (const auto& g : groups) {
                auto it = names.find(g.key);
                if (it == names.end()) continue;
                out.push_back({{"agentId", g.key},
                               {"agentName", it->second.first},
                               {"teamName", it->second.second},
                               {"requests", g.requests},
                               {"inputTokens", g.inputTokens},
                               {"outputTokens", g.outputTokens},
                               {"cost", g.cost},
                               {"timeSeries", g.timeSeries}});
            }
            c.sendJson(200, out);
        });

    json modelItem =
        object({{"model", string()}, {"percentage", number}},
               {"model", "requests", "inputTokens", "outputTokens", "cost", "percentage", "timeSeries"});
    modelItem["properties"].update(usage);
    router.add(
        {.method = "GET",
         .path = "/api/statistics/models",
         .operationId = "getModelStatistics",
         .tag = tag,
         .summary = "Requests, tokens and cost per model (the model that answered), with its share of cost",
         .access = Access::permission("interaction", "read"),
         .response = array(modelItem),
         .query = query},
        [&db](Context& c) {
            Timeframe frame = parseTimeframe(c.query("timeframe"));
            auto groups = aggregate(db, frame, "i.model", "");
            double totalCost = 0;
            long long totalRequests = 0;
            for (const auto& g : groups) {
                totalCost += g.cost;
                totalRequests += g.requests;
            }
            json out = json::array();
            for (const auto& g : groups) {
                // Share of cost; of requests while nothing has a cost yet.
                double share = totalCost > 0
                                   ? g.cost / totalCost
                                   : (totalRequests ? double(g.requests) / double(totalRequests) : 0);
                out.push_back({{"model", g.key},
                               {"requests", g.requests},
                               {"inputTokens", g.inputTokens},
                               {"outputTokens", g.outputTokens},
                               {"cost", g.cost},
                               {"percentage", std::round(share * 10000.0) / 100.0},
                               {"timeSeries", g.timeSeries}});
            }
            c.sendJson(200, out);
        });

    router.add(
        {.method = "GET",
         .path = "/api/statistics/overview",
         .operationId = "getOverviewStatistics",
         .tag = tag,
         .summary = "Totals over the timeframe and the costliest team, profile and model",
         .access = Access::permission("interaction", "read"),
         .response = object({{"totalRequests", integer()},
                             {"totalTokens", integer()},
                             {"totalCost", number},
                             {"topTeam", nullableString()},
                             {"topAgent", nullableString()},
                             {"topModel", nullableString()}},
                            {"totalRequests", "totalTokens", "totalCost", "topTeam", "topAgent", "topModel"}),
         .query = query},
        [&db](Context& c) {
            Timeframe frame = parseTimeframe(c.query("timeframe"));
            auto top = [&](const std::string& nameSql, const std::string& join) -> json {
                auto rows = db.query("SELECT " + nameSql + " FROM interactions i " + join + " WHERE " +
                                         frame.condition + " AND " + nameSql +
                                         " IS NOT NULL GROUP BY 1 ORDER BY COALESCE(sum(i.cost), 0) DESC, "
                                         "count(*) DESC, 1 LIMIT 1",
                                     frame.params);
                return rows.empty() ? json(nullptr) : json(rows[0].str(0));
            };
            auto totals = db.query(
                "SELECT count(*), COALESCE(sum(COALESCE(i.input_tokens, 0) + "
                "COALESCE(i.output_tokens, 0)), 0), COALESCE(sum(i.cost), 0)::text FROM "
                "interactions i WHERE " +
                    frame.condition,
                frame.params);
            c.sendJson(200, {{"totalRequests", std::stoll(totals[0].str(0))},
                             {"totalTokens", std::stoll(totals[0].str(1))},
                             {"totalCost", toNumber(totals[0].str(2))},
                             {"topTeam", top("t.name", kTeamJoin + " JOIN team t ON t.id = g.team_id")},
                             {"topAgent", top("a.name", " JOIN agents a ON a.id = i.profile_id")},
                             {"topModel", top("i.model", "")}});
        });

    json savingsPoint =
        object({{"timestamp", dateTime()},
                {"baselineCost", number},
                {"actualCost", number},
                {"optimizationSavings", number},
                {"toonSavings", number},
                {"savings", number}},
               {"timestamp", "baselineCost", "actualCost", "optimizationSavings", "toonSavings", "savings"});
    router.add(
        {.method = "GET",
         .path = "/api/statistics/cost-savings",
         .operationId = "getCostSavingsStatistics",
         .tag = tag,
         .summary =
             "What optimization rules and TOON compression saved: baseline (the client's model) vs actual",
         .access = Access::permission("interaction", "read"),
         .response = object({{"totalBaselineCost", number},
                             {"totalActualCost", number},
                             {"totalSavings", number},
                             {"totalOptimizationSavings", number},
                             {"totalToonSavings", number},
                             {"timeSeries", array(savingsPoint)}},
                            {"totalBaselineCost", "totalActualCost", "totalSavings",
                             "totalOptimizationSavings", "totalToonSavings", "timeSeries"}),
         .query = query},
        [&db](Context& c) {
            Timeframe frame = parseTimeframe(c.query("timeframe"));
            // Baseline: what the client's own model would have cost without TOON compression (a row without a
            // baseline cost what it cost), so totalSavings = totalBaselineCost - totalActualCost.
            const std::string sums =
                "COALESCE(sum(COALESCE(i.baseline_cost, i.cost) + COALESCE(i.toon_cost_savings, 0)), "
                "0)::text, "
                "COALESCE(sum(i.cost), 0)::text, "
                "COALESCE(sum(COALESCE(i.baseline_cost, i.cost) - i.cost), 0)::text, "
                "COALESCE(sum(i.toon_cost_savings), 0)::text";
            json series = json::array();
            json totals;
            db.withConnection([&](db::Connection& conn) {
                auto row = conn.query("SELECT " + sums + " FROM interactions i WHERE " + frame.condition,
                                      frame.params)
                               .at(0);
                double optimization = toNumber(row.str(2)), toon = toNumber(row.str(3));
                totals = {{"totalBaselineCost", toNumber(row.str(0))},
                          {"totalActualCost", toNumber(row.str(1))},
                          {"totalSavings", optimization + toon},
                          {"totalOptimizationSavings", optimization},
                          {"totalToonSavings", toon}};
                for (const auto& r :
                     conn.query("SELECT " + isoSql("date_trunc(" + bucketSql(frame) + ", i.created_at)") +
                                    ", " + sums + " FROM interactions i WHERE " + frame.condition +
                                    " GROUP BY 1 ORDER BY 1",
                                frame.params)) {
                    double o = toNumber(r.str(3)), t = toNumber(r.str(4));
                    series.push_back({{"timestamp", r.str(0)},
                                      {"baselineCost", toNumber(r.str(1))},
                                      {"actualCost", toNumber(r.str(2))},
                                      {"optimizationSavings", o},
                                      {"toonSavings", t},
                                      {"savings", o + t}});
                }
            });
            totals["timeSeries"] = series;
            c.sendJson(200, totals);
        });
}

}  // namespace archestra::api
