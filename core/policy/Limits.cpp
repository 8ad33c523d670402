// Token-cost limits: usage cost, check order and the 429 message.
#include "core/policy/Limits.h"

#include <algorithm>

namespace archestra::policy {

std::string_view toString(LimitEntityType type) {
    switch (type) {
        case LimitEntityType::Organization:
            return "organization";
        case LimitEntityType::Team:
            return "team";
        case LimitEntityType::Agent:
            return "agent";
        case LimitEntityType::Invalid:
            break;
    }
    return "invalid";
}

std::optional<LimitEntityType> tryParseLimitEntityType(std::string_view text) {
    if (text == "organization") return LimitEntityType::Organization;
    if (text == "team") return LimitEntityType::Team;
    if (text == "agent") return LimitEntityType::Agent;
    return std::nullopt;
}

Money usageCost(const TokenCostLimit& limit, const PriceTable& prices) {
    Money total;
    for (const auto& u : limit.usage)
        total = total + tokenCost(prices.priceOrDefault(u.model), u.tokensIn, u.tokensOut);
    return total;
}

std::string limitExceededMessage(LimitEntityType type, Money usage, Money limit) {
    Money remaining = limit - usage;
    if (remaining < Money()) remaining = Money();
    return "\nI cannot process this request because the " + std::string(toString(type)) +
           "-level token cost limit has been exceeded.\n\nCurrent usage: $" + usage.toFixed(2) +
           "\nLimit: $" + limit.toFixed(2) + "\nRemaining: $" + remaining.toFixed(2) +
           "\n\nPlease contact your administrator to increase the limit or wait for the usage to reset.";
}

LimitDecision evaluateTokenCostLimits(const std::vector<TokenCostLimit>& limits, const PriceTable& prices) {
    auto rank = [](LimitEntityType t) {
        return t == LimitEntityType::Agent          ? 0
               : t == LimitEntityType::Team         ? 1
               : t == LimitEntityType::Organization ? 2
                                                    : 3;
    };
    std::vector<const TokenCostLimit*> ordered;
    for (const auto& l : limits) ordered.push_back(&l);
    std::stable_sort(ordered.begin(), ordered.end(),
                     [&](const auto* a, const auto* b) { return rank(a->entityType) < rank(b->entityType); });
    for (const TokenCostLimit* l : ordered) {
        if (l->entityType == LimitEntityType::Invalid) continue;
        Money usage = usageCost(*l, prices);
        Money value = Money::fromDollars(l->limitValueUsd);
        if (usage >= value) {
            LimitDecision d;
            d.blocked = true;
            d.limitId = l->id;
            d.entityType = l->entityType;
            d.entityId = l->entityId;
            d.currentUsage = usage;
            d.limit = value;
            d.remaining = value - usage < Money() ? Money() : value - usage;
            d.message = limitExceededMessage(l->entityType, usage, value);
            return d;
        }
    }
    return {};
}

nlohmann::json limitExceededBody(const LimitDecision& decision) {
    return {{"error",
             {{"message", decision.message},
              {"type", "rate_limit_exceeded"},
              {"code", "token_cost_limit_exceeded"}}}};
}

std::string_view toString(CallLimitType type) {
    switch (type) {
        case CallLimitType::McpServerCalls:
            return "mcp_server_calls";
        case CallLimitType::ToolCalls:
            return "tool_calls";
        case CallLimitType::Invalid:
            break;
    }
    return "invalid";
}

bool callLimitApplies(const CallLimit& limit, std::string_view mcpServerName, std::string_view toolName) {
    if (limit.mcpServerName != mcpServerName) return false;
    if (limit.type == CallLimitType::McpServerCalls) return true;
    return limit.type == CallLimitType::ToolCalls && limit.toolName == toolName;
}

CallLimitDecision evaluateCallLimits(const std::vector<CallLimit>& limits, std::string_view mcpServerName,
                                     std::string_view toolName) {
    for (LimitEntityType level :
         {LimitEntityType::Agent, LimitEntityType::Team, LimitEntityType::Organization}) {
        for (const auto& l : limits) {
            if (l.entityType != level || !callLimitApplies(l, mcpServerName, toolName)) continue;
            if (l.currentCalls < l.limitValue) continue;
            CallLimitDecision d;
            d.blocked = true;
            d.limitId = l.id;
            d.entityType = l.entityType;
            d.type = l.type;
            d.currentCalls = l.currentCalls;
            d.limitValue = l.limitValue;
            std::string what =
                l.type == CallLimitType::ToolCalls
                    ? "tool call limit for '" + l.toolName + "' on MCP server '" + l.mcpServerName + "'"
                    : "MCP server call limit for '" + l.mcpServerName + "'";
            d.message =
                "\nI cannot process this request because the " + std::string(toString(l.entityType)) +
                "-level " + what + " has been exceeded.\n\nCurrent usage: " + std::to_string(l.currentCalls) +
                " calls\nLimit: " + std::to_string(l.limitValue) +
                " calls\n\nPlease contact your administrator to increase the limit or wait for the usage "
                "to reset.";
            return d;
        }
    }
    return {};
}

}  // namespace archestra::policy
