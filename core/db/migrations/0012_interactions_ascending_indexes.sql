-- The time indexes of the two log tables become ascending. New rows carry the newest created_at, so in a
-- DESC index each one went to the leftmost leaf, where PostgreSQL splits pages half and half (only the
-- rightmost leaf is split to fillfactor): the indexes were ~1.75x the size an ascending one reaches (PostgreSQL
-- 15, 400,000 rows: interactions_created_idx 15 MB vs 8.6 MB, interactions_profile_created_idx 28 MB vs
-- 16 MB). Ascending, a new row lands at the right edge (or, per profile, right after the profile's previous
-- row, which PostgreSQL's split logic recognises). ORDER BY created_at DESC reads an ascending index backwards
-- at the same cost.
DROP INDEX IF EXISTS interactions_profile_created_idx;
CREATE INDEX interactions_profile_created_idx ON interactions(profile_id, created_at);
DROP INDEX IF EXISTS interactions_created_idx;
CREATE INDEX interactions_created_idx ON interactions(created_at);
DROP INDEX IF EXISTS mcp_tool_calls_agent_created_idx;
CREATE INDEX mcp_tool_calls_agent_created_idx ON mcp_tool_calls(agent_id, created_at);
