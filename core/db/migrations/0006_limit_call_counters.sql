-- Counters for the call-count limits (mcp_server_calls, tool_calls), which the original accepted but never
-- enforced: one counter per limit row, reset with the token usage on the organisation's cleanup interval.
ALTER TABLE limits ADD COLUMN current_usage_calls bigint NOT NULL DEFAULT 0;
