-- 0008: a generated schedule is audited as one row per administration, not one row per follow-up.
--
-- An administration's follow-ups are written together, by one statement, from its protocol; the
-- per-row audit made them the most expensive thing the registry writes (a jsonb document, a hash
-- and four index entries for each of 15 to 20 rows per administration: two thirds of a bulk
-- load's time). Now each inserting statement writes one audit row per administration, entity
-- 'follow_up_schedule' and entity_id the administration's id, whose `after` holds every column
-- of every inserted row, column by column, in seq order:
--   {"administration_id": 7, "patient_id": 3, "institution_id": 1,
--    "id": [40, 41, ...], "seq": [1, 2, ...], "label": ["day-28", "day-100", ...], ...}
-- Nothing is lost: the values of each row are element i of each array (the aggregates of one
-- group all see its rows in one order), and the row is hashed and chained like any other. An
-- administration's follow-ups share its patient and institution, so `min` of each is that value.
-- Updates of single follow-ups (visits, closures, the nightly job, corrections) are still
-- audited row by row by audit_changes(), entity 'follow_up'.
--
-- A migration that adds a column to follow_up must add it here too; a test compares this
-- document's keys with follow_up's columns.
CREATE FUNCTION audit_follow_up_schedules() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(4707744067224031828);
    INSERT INTO audit_log (at, tx, actor, action, entity, entity_id, institution_id, patient_id,
                           before, after, reason, content_hash)
    SELECT r.at, r.tx, r.actor, 'insert', 'follow_up_schedule', r.administration_id, r.institution_id, r.patient_id,
           NULL, r.after, r.reason,
           audit_content_hash(r.at, r.tx, r.actor, 'insert', 'follow_up_schedule', r.administration_id,
                              r.institution_id, r.patient_id, NULL, r.after, r.reason)
    FROM (
        SELECT now() AS at, pg_current_xact_id() AS tx, audit_actor() AS actor, audit_reason() AS reason,
               s.administration_id, s.institution_id, s.patient_id,
               jsonb_build_object(
                   'administration_id', s.administration_id, 'patient_id', s.patient_id, 'institution_id', s.institution_id,
                   'id', s.id, 'seq', s.seq, 'label', s.label, 'due_on', s.due_on,
                   'window_start', s.window_start, 'window_end', s.window_end, 'contact_type', s.contact_type,
                   'status', s.status, 'completed_on', s.completed_on, 'timing', s.timing,
                   'not_done_reason', s.not_done_reason, 'suspended_by', s.suspended_by,
                   'overdue_since', s.overdue_since, 'escalation_level', s.escalation_level, 'missed_on', s.missed_on) AS after
        FROM (
            SELECT n.administration_id, min(n.patient_id) AS patient_id, min(n.institution_id) AS institution_id,
                   array_agg(n.id) AS id, array_agg(n.seq) AS seq,
                   array_agg(n.label) AS label, array_agg(n.due_on) AS due_on,
                   array_agg(n.window_start) AS window_start, array_agg(n.window_end) AS window_end,
                   array_agg(n.contact_type) AS contact_type, array_agg(n.status) AS status,
                   array_agg(n.completed_on) AS completed_on, array_agg(n.timing) AS timing,
                   array_agg(n.not_done_reason) AS not_done_reason, array_agg(n.suspended_by) AS suspended_by,
                   array_agg(n.overdue_since) AS overdue_since, array_agg(n.escalation_level) AS escalation_level,
                   array_agg(n.missed_on) AS missed_on
            FROM (SELECT * FROM new_rows ORDER BY administration_id, seq OFFSET 0) n
            GROUP BY n.administration_id
            OFFSET 0
        ) s
        OFFSET 0
    ) r;
    RETURN NULL;
END $$;

DROP TRIGGER follow_up_audit_insert ON follow_up;
CREATE TRIGGER follow_up_audit_insert AFTER INSERT ON follow_up REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION audit_follow_up_schedules();

-- Audit documents of a few kilobytes (schedules, large rows) are compressed when stored: LZ4
-- costs a fifth of the default pglz's time there (a fifth of the schedule audit's whole cost in a
-- bulk load). Builds of PostgreSQL without LZ4 keep pglz.
DO $$
BEGIN
    ALTER TABLE audit_log ALTER COLUMN before SET COMPRESSION lz4, ALTER COLUMN after SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'this PostgreSQL has no LZ4: audit documents stay compressed with pglz';
END $$;
