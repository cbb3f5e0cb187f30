-- 0013: doses and patients entered in error. An administration (a dose recorded for the wrong
-- patient) or a patient (enrolled twice, or at the wrong site) is voided as a visit is (0011):
-- kept, with the day and the reason, and from then on left out of schedules, worklists, the
-- nightly job and reports. Who voided it, and what else changed with it, is in the audit trail.

ALTER TABLE administration
    ADD COLUMN voided_on   date,
    ADD COLUMN void_reason text CHECK (length(void_reason) BETWEEN 1 AND 500),
    ADD CONSTRAINT administration_void_has_reason CHECK ((voided_on IS NULL) = (void_reason IS NULL));

ALTER TABLE patient
    ADD COLUMN voided_on   date,
    ADD COLUMN void_reason text CHECK (length(void_reason) BETWEEN 1 AND 500),
    ADD CONSTRAINT patient_void_has_reason CHECK ((voided_on IS NULL) = (void_reason IS NULL));

-- The follow-ups of a voided administration are withdrawn from the schedule: status 'voided'. A
-- status, not a column: everything that reads what is owed, overdue or due soon reads the status
-- (follow_up_overdue(), follow_up_due_soon(), the worklists, every nightly step and the partial
-- indexes they use, all on status = 'scheduled' or 'missed'), so a withdrawn follow-up leaves all
-- of them at once, and its rows leave those indexes. The outcome report, which counts every
-- follow-up of its cohort, leaves them out by name.
ALTER TABLE follow_up DROP CONSTRAINT follow_up_status_check;
ALTER TABLE follow_up ADD CONSTRAINT follow_up_status_check
    CHECK (status IN ('scheduled', 'completed', 'not-done', 'not-required', 'missed', 'voided'));

-- One standing patient per pseudonym. A patient voided as enrolled in error frees the institution's
-- local key, which can then be enrolled again: for the patient it really belongs to, or the same
-- patient when the void itself was the mistake (a voided record is never revived). Voided patients
-- keep their pseudonym, found through the small index below when the key is looked up. The unique
-- index keeps the old constraint's name, which refusals map to the local key.
ALTER TABLE patient DROP CONSTRAINT patient_pseudonym_key;
CREATE UNIQUE INDEX patient_pseudonym_key ON patient (pseudonym) WHERE voided_on IS NULL;
CREATE INDEX patient_pseudonym_voided ON patient (pseudonym) WHERE voided_on IS NOT NULL;

-- Regulators' counts leave out voided patients, doses and adverse events (0006, otherwise unchanged).
-- Overdue follow-ups are follow_up_overdue()'s, which a withdrawn follow-up never is.
CREATE OR REPLACE FUNCTION registry_summary(min_cell int, on_date date)
RETURNS TABLE (institution_code text, institution_name text, patients bigint, active_patients bigint,
               administrations bigint, overdue_follow_ups bigint, adverse_events bigint, serious_adverse_events bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH p AS (SELECT institution_id, count(*) AS n, count(*) FILTER (WHERE status = 'active') AS active
               FROM patient WHERE voided_on IS NULL GROUP BY institution_id),
         a AS (SELECT institution_id, count(*) AS n FROM administration WHERE voided_on IS NULL GROUP BY institution_id),
         o AS (SELECT f.institution_id, count(*) AS n FROM follow_up f JOIN patient pt ON pt.id = f.patient_id
               WHERE f.status = 'scheduled' AND follow_up_overdue(f.window_end, f.status, pt.status, on_date)
               GROUP BY f.institution_id),
         e AS (SELECT institution_id, count(*) AS n, count(*) FILTER (WHERE serious) AS serious
               FROM adverse_event WHERE voided_on IS NULL GROUP BY institution_id)
    SELECT i.code, i.name,
           registry_suppress(coalesce(p.n, 0), min_cell), registry_suppress(coalesce(p.active, 0), min_cell),
           registry_suppress(coalesce(a.n, 0), min_cell), registry_suppress(coalesce(o.n, 0), min_cell),
           registry_suppress(coalesce(e.n, 0), min_cell), registry_suppress(coalesce(e.serious, 0), min_cell)
    FROM institution i
    LEFT JOIN p ON p.institution_id = i.id LEFT JOIN a ON a.institution_id = i.id
    LEFT JOIN o ON o.institution_id = i.id LEFT JOIN e ON e.institution_id = i.id
    ORDER BY i.code
$$;
