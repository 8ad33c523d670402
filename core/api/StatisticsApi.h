// /api/statistics/{teams,agents,models,overview,cost-savings}: usage and cost aggregated in SQL over a
// timeframe (reference-api.md §1).
#pragma once

#include "core/auth/AuthService.h"
#include "core/http/Router.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace archestra::api {

/// A parsed `timeframe` query value: an SQL condition on `i.created_at` with its parameters (numbered from
/// $1) and the date_trunc unit of the time series.
struct Timeframe {
    std::string condition;
    std::vector<db::Value> params;
    std::string bucket;
};

/// 5m|15m|30m|1h|24h|7d|30d|90d|12m|all|custom:<start>_<end> (RFC 3339 or YYYY-MM-DD); absent: 24h. Throws
/// ApiError 400 naming the parameter.
Timeframe parseTimeframe(const std::optional<std::string>& value);

void registerStatisticsRoutes(http::Router& router, std::shared_ptr<auth::AuthService> auth);

}  // namespace archestra::api
