-- 0017: exact, repeatable data cuts (issue #16).
--
-- A report is defined by its as-of date (what was true) and a recorded-by horizon (what the
-- registry knew). What was true needs every state change the report reads to carry the date it
-- took effect: closing a follow-up as not done now records that date (not_done_on). What the
-- registry knew comes from the audit trail, which holds every change with its time and its
-- before image: RegistryReports/DataCut.swift reads a table as it stood at the horizon by taking
-- each row changed after it back to the before image of its first later change.

-- The day a follow-up was closed as not done. Rows closed before this migration get the day of
-- the audited change that closed them (in Seoul), so older cuts keep their meaning.
ALTER TABLE follow_up ADD COLUMN not_done_on date;
UPDATE follow_up f SET not_done_on = c.on_date
FROM (SELECT DISTINCT ON (entity_id) entity_id, (at AT TIME ZONE 'Asia/Seoul')::date AS on_date
      FROM audit_log WHERE entity = 'follow_up' AND after ->> 'status' = 'not-done' AND before ->> 'status' IS DISTINCT FROM 'not-done'
      ORDER BY entity_id, id DESC) c
WHERE f.id = c.entity_id AND f.status = 'not-done';
ALTER TABLE follow_up ADD CONSTRAINT follow_up_not_done_on_check CHECK (not_done_on IS NULL OR status IN ('not-done', 'voided'));

-- The schedule's audit document carries every column of follow_up (schema/0008), now with not_done_on.
CREATE OR REPLACE FUNCTION audit_follow_up_schedules() RETURNS trigger LANGUAGE plpgsql
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
                   'overdue_since', s.overdue_since, 'escalation_level', s.escalation_level, 'missed_on', s.missed_on,
                   'not_done_on', s.not_done_on) AS after
        FROM (
            SELECT n.administration_id, min(n.patient_id) AS patient_id, min(n.institution_id) AS institution_id,
                   array_agg(n.id) AS id, array_agg(n.seq) AS seq,
                   array_agg(n.label) AS label, array_agg(n.due_on) AS due_on,
                   array_agg(n.window_start) AS window_start, array_agg(n.window_end) AS window_end,
                   array_agg(n.contact_type) AS contact_type, array_agg(n.status) AS status,
                   array_agg(n.completed_on) AS completed_on, array_agg(n.timing) AS timing,
                   array_agg(n.not_done_reason) AS not_done_reason, array_agg(n.suspended_by) AS suspended_by,
                   array_agg(n.overdue_since) AS overdue_since, array_agg(n.escalation_level) AS escalation_level,
                   array_agg(n.missed_on) AS missed_on, array_agg(n.not_done_on) AS not_done_on
            FROM (SELECT * FROM new_rows ORDER BY administration_id, seq OFFSET 0) n
            GROUP BY n.administration_id
            OFFSET 0
        ) s
        OFFSET 0
    ) r;
    RETURN NULL;
END $$;

-- The latest change a report reads, found without reading the trail: a report's default horizon.
CREATE INDEX audit_log_at_entity ON audit_log (at, entity);

-- Each pull records its cut: the horizon, and the snapshot it read (which transactions had
-- committed), so that a later pull of the same cut leaves out what was written while it ran.
-- A re-pull names the pull whose cut it repeats.
ALTER TABLE report_pull
    ADD COLUMN recorded_by timestamptz,
    ADD COLUMN snapshot    pg_snapshot,
    ADD COLUMN cut_of      bigint REFERENCES report_pull (id);

-- Disclosure control that holds across pulls (issue #16): consistent perturbation of published
-- counts by cell key (RegistryDomain/CellKeyPerturbation.swift, docs/disclosure.md). Each record's
-- key is hashint8extended(id, seed) mod 256 with this registry's own secret seed, drawn here once.
-- Changing either setting changes every regulator's figures; both are read at the report's cut.
INSERT INTO registry_setting (key, value, description) VALUES
    ('report.cell-key-seed', floor(random() * 4503599627370496)::bigint::text,
     'secret seed of the record keys behind the perturbation of published counts; drawn once, never printed in a report'),
    ('report.cell-key-max', '2',
     'D: published counts differ from the true ones by at most this (1 to 5)');

-- The longitudinal wide CSV export (issue #17, RegistryReports/WideExport.swift): patient-level,
-- pulled by administrators with a purpose and recorded like every report.
ALTER TABLE report_pull DROP CONSTRAINT report_pull_report_check;
ALTER TABLE report_pull ADD CONSTRAINT report_pull_report_check CHECK (report IN ('outcomes', 'safety-listing', 'wide'));
ALTER TABLE report_pull ADD CONSTRAINT report_pull_wide_admin_check CHECK (report <> 'wide' OR role = 'admin');
