-- The worklist of one institution (the web application's first page and GET /worklist) reads its
-- overdue follow-ups: open ones whose window ended before today. Without these indexes it read
-- every open follow-up of the institution (up to 30 years of schedule: 194,000 rows for the
-- largest institution of a 200,000-patient registry) and each one's patient to find the overdue.
-- With them, the page is a range scan of (institution, window_end) over the open ones, in the
-- order the worklist shows them, stopped at the page's size; and the counts are read from the
-- indexes alone: the open follow-ups whose window has ended, or is due soon (patient_id and due_on
-- carried in the index), less those of patients who are not active (a few per cent of patients).
CREATE INDEX follow_up_institution_open ON follow_up (institution_id, window_end, id) INCLUDE (patient_id, due_on) WHERE status = 'scheduled';
CREATE INDEX patient_not_active ON patient (institution_id, id) WHERE status <> 'active';
-- Row-level security (0006) checks every patient-data row against the patients the acting
-- institution holds: with the patient's id in the index, that set is read from the index alone
-- (4,500 patients in 0.5 ms rather than 7 ms from the table). It supersedes (institution_id).
CREATE INDEX patient_institution_id ON patient (institution_id, id);
DROP INDEX patient_institution;
