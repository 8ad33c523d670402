-- decisions holds text the model wrote (tool names, call ids): as jsonb, a U+0000 escape or a lone surrogate in
-- it ("unsupported Unicode escape sequence") failed the batch's COPY and dropped the row in the row-by-row
-- fallback, so a call went missing from the log and its usage from the limits. json keeps the text as written,
-- like the bodies since 0009. Nothing queries inside decisions. The type change resets the column's
-- compression, so 0007's lz4 is set again.
ALTER TABLE interactions ALTER COLUMN decisions TYPE json USING decisions::json;
DO $$
BEGIN
    ALTER TABLE interactions ALTER COLUMN decisions SET COMPRESSION lz4;
EXCEPTION
    WHEN feature_not_supported OR invalid_parameter_value THEN
        RAISE NOTICE 'lz4 compression is not available in this PostgreSQL build; decisions keep pglz';
END
$$;
