#include "core/http/Pagination.h"

#include "core/http/ApiError.h"
#include "core/http/Context.h"

namespace archestra::http {

using nlohmann::json;

namespace {
constexpr long long kMaxLimit = 100;
constexpr long long kDefaultLimit = 20;
constexpr long long kMaxOffset = 1LL << 40;
}  // namespace

std::string Sorting::orderBy(const Context& context) const {
    const std::string sortBy = context.query("sortBy").value_or("createdAt");
    const Column* column = nullptr;
    std::string choices;
    for (const auto& candidate : columns) {
        if (candidate.key == sortBy) column = &candidate;
        choices += (choices.empty() ? "" : ", ") + candidate.key;
    }
    if (column == nullptr)
        throw ApiError::badRequest("Query parameter 'sortBy': expected one of " + choices + ", got '" +
                                   sortBy + "'");
    const std::string direction = context.query("sortDirection").value_or("desc");
    if (direction != "asc" && direction != "desc")
        throw ApiError::badRequest("Query parameter 'sortDirection': expected asc or desc, got '" +
                                   direction + "'");
    std::string order = " ORDER BY " + column->sql + " " + direction + " NULLS LAST";
    for (const auto& sql : tieBreak) order += ", " + sql + " " + direction;
    return order;
}

Page Page::fromQuery(const Context& context) {
    return {.limit = context.queryInt("limit", 1, kMaxLimit).value_or(kDefaultLimit),
            .offset = context.queryInt("offset", 0, kMaxOffset).value_or(0)};
}

std::vector<QueryParam> Page::parameters(std::vector<QueryParam> filters, const Sorting& sorting) {
    json keys = json::array();
    for (const auto& column : sorting.columns) keys.push_back(column.key);
    filters.push_back(
        {"limit", {{"type", "integer"}, {"minimum", 1}, {"maximum", kMaxLimit}, {"default", kDefaultLimit}}});
    filters.push_back({"offset", {{"type", "integer"}, {"minimum", 0}, {"default", 0}}});
    filters.push_back({"sortBy", {{"type", "string"}, {"enum", std::move(keys)}, {"default", "createdAt"}}});
    filters.push_back(
        {"sortDirection", {{"type", "string"}, {"enum", {"asc", "desc"}}, {"default", "desc"}}});
    return filters;
}

json Page::schema(json item) {
    const json integer = {{"type", "integer"}};
    const json boolean = {{"type", "boolean"}};
    return {{"type", "object"},
            {"properties",
             {{"data", {{"type", "array"}, {"items", std::move(item)}}},
              {"pagination",
               {{"type", "object"},
                {"properties",
                 {{"currentPage", integer},
                  {"limit", integer},
                  {"total", integer},
                  {"totalPages", integer},
                  {"hasNext", boolean},
                  {"hasPrev", boolean}}},
                {"required", {"currentPage", "limit", "total", "totalPages", "hasNext", "hasPrev"}}}}}},
            {"required", {"data", "pagination"}}};
}

std::string Page::sql() const {
    return " LIMIT " + std::to_string(limit) + " OFFSET " + std::to_string(offset);
}

json Page::body(json data, long long total) const {
    return {{"data", std::move(data)},
            {"pagination",
             {{"currentPage", offset / limit + 1},
              {"limit", limit},
              {"total", total},
              {"totalPages", (total + limit - 1) / limit},
              {"hasNext", offset + limit < total},
              {"hasPrev", offset > 0}}}};
}

}  // namespace archestra::http
