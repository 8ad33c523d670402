-- Counters for the call-count limits (mcp_server_calls, tool_calls), which the original accepted but never
-- enforced: one counter per limit row, reset with the token usage on the organisation's cleanup interval.
ALTER TABLE limits ADD COLUMN current_usage_calls bigint NOT NULL DEFAULT 0;

-- numeric(13,10) tops out at $999.9999999999: a costlier interaction (large context on an expensive model) could
-- not be stored, so the row and its limit usage were dropped and the call escaped its token-cost limit. Same
-- scale, more whole digits (PostgreSQL widens the precision without rewriting the table).
ALTER TABLE interactions ALTER COLUMN baseline_cost TYPE numeric(20, 10), ALTER COLUMN cost TYPE numeric(20, 10),
    ALTER COLUMN toon_cost_savings TYPE numeric(20, 10);
