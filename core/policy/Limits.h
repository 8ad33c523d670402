// Token-cost limit evaluation for agent, team and organization limits (reference-proxy §2.5).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/policy/Cost.h"

namespace archestra::policy {

enum class LimitEntityType { Invalid = 0, Organization, Team, Agent };
std::string_view toString(LimitEntityType type);
std::optional<LimitEntityType> tryParseLimitEntityType(std::string_view text);

struct ModelUsage {
    std::string model;
    std::uint64_t tokensIn = 0;
    std::uint64_t tokensOut = 0;
};

/// One `limits` row of type token_cost with its `limit_model_usage` rows.
struct TokenCostLimit {
    std::string id;
    LimitEntityType entityType = LimitEntityType::Invalid;
    std::string entityId;
    std::int64_t limitValueUsd = 0;  ///< `limit_value`: whole dollars
    std::vector<ModelUsage> usage;
};

struct LimitDecision {
    bool blocked = false;
    std::string limitId;
    LimitEntityType entityType = LimitEntityType::Invalid;
    std::string entityId;
    Money currentUsage;
    Money limit;
    Money remaining;
    std::string message;  ///< the 429 message when blocked
};

/// Cost of a limit's usage: sum over models of tokens x price (stored price, else the default price).
Money usageCost(const TokenCostLimit& limit, const PriceTable& prices);

/// Checks agent limits first, then team limits, then organization limits (input order within a level, as
/// the caller lists teams), and reports the first one whose cost >= its value. Limits of other types are not
/// passed here.
LimitDecision evaluateTokenCostLimits(const std::vector<TokenCostLimit>& limits, const PriceTable& prices);

/// "\nI cannot process this request because the <entity>-level token cost limit has been exceeded.\n\n
/// Current usage: $X.XX\nLimit: $Y.YY\nRemaining: $Z.ZZ\n\nPlease contact your administrator to increase the
/// limit or wait for the usage to reset."
std::string limitExceededMessage(LimitEntityType type, Money usage, Money limit);

/// The 429 body: {"error":{"message":...,"type":"rate_limit_exceeded","code":"token_cost_limit_exceeded"}}.
nlohmann::json limitExceededBody(const LimitDecision& decision);

// ---- call-count limits (mcp_server_calls, tool_calls): enforced here, unlike the original

enum class CallLimitType { Invalid = 0, McpServerCalls, ToolCalls };
std::string_view toString(CallLimitType type);

/// One `limits` row of type mcp_server_calls (any tool of the server) or tool_calls (one tool of the server)
/// with its counter since the last reset.
struct CallLimit {
    std::string id;
    LimitEntityType entityType = LimitEntityType::Invalid;
    std::string entityId;
    CallLimitType type = CallLimitType::Invalid;
    std::string mcpServerName;
    std::string toolName;  ///< tool_calls only
    std::int64_t limitValue = 0;
    std::int64_t currentCalls = 0;
};

/// Whether a call of `toolName` on `mcpServerName` counts against the limit.
bool callLimitApplies(const CallLimit& limit, std::string_view mcpServerName, std::string_view toolName);

struct CallLimitDecision {
    bool blocked = false;
    std::string limitId;
    LimitEntityType entityType = LimitEntityType::Invalid;
    CallLimitType type = CallLimitType::Invalid;
    std::int64_t currentCalls = 0;
    std::int64_t limitValue = 0;
    std::string message;  ///< why, for the caller's error result
};

/// Agent limits first, then team, then organization; the first applicable limit whose count has reached its
/// value blocks (so a limit of N allows N calls per period).
CallLimitDecision evaluateCallLimits(const std::vector<CallLimit>& limits, std::string_view mcpServerName,
                                     std::string_view toolName);

}  // namespace archestra::policy
