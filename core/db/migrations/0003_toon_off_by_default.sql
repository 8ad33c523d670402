-- Tool-result compression (TOON) is off unless an administrator turns it on. The reference's default is on, but
-- rewriting tool results changes what the model reads and costs CPU on every request with tool results; the
-- benchmark (test/bench/toon_bench) shows the encoder is cheap, not that the result is never worse than sending
-- the JSON, which is the bar the issue sets for "on by default". Before this migration the flag did nothing in
-- this implementation, so the rows that carry the old default are switched off too.
ALTER TABLE organization ALTER COLUMN convert_tool_results_to_toon SET DEFAULT false;
UPDATE organization SET convert_tool_results_to_toon = false;
