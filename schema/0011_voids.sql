-- 0011: records entered in error. A visit, an adverse event or a status change is never deleted:
-- it is voided, with the day and the reason, and from then on left out of schedules, clocks,
-- worklists and reports. Who voided it, and what else changed with it, is in the audit trail.

ALTER TABLE visit
    ADD COLUMN voided_on   date,
    ADD COLUMN void_reason text CHECK (length(void_reason) BETWEEN 1 AND 500),
    ADD CONSTRAINT visit_void_has_reason CHECK ((voided_on IS NULL) = (void_reason IS NULL));

ALTER TABLE adverse_event
    ADD COLUMN voided_on   date,
    ADD COLUMN void_reason text CHECK (length(void_reason) BETWEEN 1 AND 500),
    ADD CONSTRAINT adverse_event_void_has_reason CHECK ((voided_on IS NULL) = (void_reason IS NULL));

-- A death recorded at a visit ("record_death") names the visit, as one from a grade 5 event names
-- the event: voiding or correcting the cause takes the death with it.
ALTER TABLE patient_status_change
    ADD COLUMN visit_id    bigint REFERENCES visit,
    ADD COLUMN voided_on   date,
    ADD COLUMN void_reason text CHECK (length(void_reason) BETWEEN 1 AND 500),
    ADD CONSTRAINT patient_status_change_void_has_reason CHECK ((voided_on IS NULL) = (void_reason IS NULL));

-- The order records were made in, across tables (a transaction id grows with every transaction):
-- raising an event to grade 5 records a death, which may not come before status changes recorded
-- after the event.
ALTER TABLE adverse_event ADD COLUMN recorded_in xid8 NOT NULL DEFAULT pg_current_xact_id();
ALTER TABLE patient_status_change ADD COLUMN recorded_in xid8 NOT NULL DEFAULT pg_current_xact_id();

-- One standing visit completes a follow-up: a voided one no longer does, and the follow-up can be
-- completed again.
DROP INDEX visit_follow_up;
CREATE UNIQUE INDEX visit_follow_up ON visit (follow_up_id) WHERE follow_up_id IS NOT NULL AND voided_on IS NULL;

-- The late-report sweep reads only standing serious events.
DROP INDEX adverse_event_report_due;
CREATE INDEX adverse_event_report_due ON adverse_event (report_due_on) WHERE serious AND report_submitted_on IS NULL AND voided_on IS NULL;

-- A transfer entered in error is voided by the institution that received the patient, which holds
-- the patient until the patient goes back. As registry_transfer_patient() (schema/0006), it runs as
-- the owner and only together with the transfer's void, recorded in the same transaction.
CREATE FUNCTION registry_return_patient(p_patient bigint, p_back bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM patient_status_change s
                   WHERE s.patient_id = p_patient AND s.kind = 'transfer' AND s.from_institution_id = p_back
                     AND s.voided_on IS NOT NULL AND s.xmin = pg_current_xact_id()::xid) THEN
        RAISE EXCEPTION 'patient % goes back to institution % only with its transfer voided in the same transaction', p_patient, p_back
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    UPDATE patient SET institution_id = p_back WHERE id = p_patient;
END $$;
