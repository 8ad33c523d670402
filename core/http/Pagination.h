// Offset pagination and sorting of the list routes (reference-api.md §0: `limit` 1..100, default 20; `offset`
// >= 0; `sortBy` one of the route's columns, default createdAt; `sortDirection` asc|desc, default desc; the
// body is {data, pagination{currentPage, limit, total, totalPages, hasNext, hasPrev}}). Declared once so that
// every list route validates, answers and documents them the same way.
#pragma once

#include "core/http/Router.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace archestra::http {

class Context;

/// The `sortBy` choices of a list route and how each orders the rows.
struct Sorting {
    struct Column {
        std::string key;  ///< the `sortBy` value
        std::string sql;  ///< the SQL expression it orders by
    };
    std::vector<Column> columns;
    /// Appended after the chosen column, in the same direction, so that pages never overlap: e.g. the
    /// table's created_at and id.
    std::vector<std::string> tieBreak;

    /// "ORDER BY <column> <dir> NULLS LAST, <tieBreak...> <dir>" for the request's `sortBy` (default
    /// createdAt) and `sortDirection` (default desc); 400 naming the parameter and the choices otherwise.
    std::string orderBy(const Context& context) const;
};

struct Page {
    long long limit = 20;
    long long offset = 0;

    /// The request's `limit` and `offset` (400 naming the parameter when out of range).
    static Page fromQuery(const Context& context);
    /// A list route's query parameters: its own filters, then limit, offset, sortBy and sortDirection.
    static std::vector<QueryParam> parameters(std::vector<QueryParam> filters, const Sorting& sorting);
    /// The response schema around one item's schema.
    static nlohmann::json schema(nlohmann::json item);

    /// " LIMIT <limit> OFFSET <offset>", to append to a query.
    std::string sql() const;
    /// The response body for this page of a list of `total` rows.
    nlohmann::json body(nlohmann::json data, long long total) const;

    /// Counts `FROM ...` (with its WHERE) and reads this page of `SELECT <jsonColumn> FROM ... <order>`, each
    /// row's single column a JSON document; returns the response body. Connection: anything with
    /// query(sql, params) returning rows with str(0) (db::Connection).
    template <typename Connection, typename Params>
    nlohmann::json fetch(Connection& connection, const std::string& jsonColumn, const std::string& from,
                         const std::string& order, const Params& params) const {
        long long total = std::stoll(connection.query("SELECT count(*) " + from, params).at(0).str(0));
        nlohmann::json data = nlohmann::json::array();
        for (const auto& row : connection.query("SELECT " + jsonColumn + " " + from + order + sql(), params))
            data.push_back(nlohmann::json::parse(row.str(0)));
        return body(std::move(data), total);
    }
};

}  // namespace archestra::http
