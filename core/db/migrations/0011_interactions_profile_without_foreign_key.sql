-- interactions.profile_id loses its foreign key: the per-row check (an RI trigger running a KEY SHARE lookup on
-- agents) was about a third of the database's CPU per interaction (PostgreSQL 15, COPY of 100,000 rows with
-- the bench's payload into a table of 100,000: ~26 us per row with it, ~17 us without). The interaction log
-- takes the same lock once per batch instead (KEY SHARE on the batch's profiles, InteractionLog.cpp), and this
-- trigger does what ON DELETE CASCADE did.
DO $$
DECLARE
    constraint_name text;
BEGIN
    FOR constraint_name IN
        SELECT c.conname FROM pg_constraint c
        WHERE c.conrelid = 'interactions'::regclass AND c.contype = 'f'
          AND c.confrelid = 'agents'::regclass
    LOOP
        EXECUTE format('ALTER TABLE interactions DROP CONSTRAINT %I', constraint_name);
    END LOOP;
END
$$;

CREATE FUNCTION interactions_delete_with_profile() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM interactions WHERE profile_id = OLD.id;
    RETURN OLD;
END
$$;

CREATE TRIGGER agents_delete_interactions AFTER DELETE ON agents
    FOR EACH ROW EXECUTE FUNCTION interactions_delete_with_profile();
