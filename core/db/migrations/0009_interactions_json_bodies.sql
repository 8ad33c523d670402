-- Interaction bodies are stored as json (the text as received, checked to be JSON) instead of jsonb (parsed
-- into PostgreSQL's binary form). Nothing queries inside them on a hot path, and jsonb's conversion was most of
-- the database's CPU per interaction, growing faster than the body: measured on PostgreSQL 15 (COPY of 2,000
-- rows, lz4, primary key and a created_at index, backend time per row, 3 runs each): a 0.4 KB chat request
-- ~31 us as jsonb vs ~23 us as json, 3.8 KB ~44 vs ~40 us, 35 KB (a conversation with tool results)
-- ~1,100-1,500 vs ~210-280 us. It is also more faithful: jsonb drops duplicate keys and reorders and
-- re-spaces objects, json keeps what the client sent. Queries that need jsonb cast (`request::jsonb`).
-- Rewrites the table once (time proportional to its size). A type change resets a column's compression, so
-- 0007's lz4 is set again.
ALTER TABLE interactions
    ALTER COLUMN request TYPE json USING request::json,
    ALTER COLUMN processed_request TYPE json USING processed_request::json,
    ALTER COLUMN response TYPE json USING response::json;
DO $$
BEGIN
    ALTER TABLE interactions
        ALTER COLUMN request SET COMPRESSION lz4,
        ALTER COLUMN processed_request SET COMPRESSION lz4,
        ALTER COLUMN response SET COMPRESSION lz4;
EXCEPTION
    WHEN feature_not_supported OR invalid_parameter_value THEN
        RAISE NOTICE 'lz4 compression is not available in this PostgreSQL build; interactions keep pglz';
END
$$;
