-- The worklist of one institution (the web application's first page and GET /worklist) reads its
-- overdue follow-ups: open ones whose window ended before today. Without these indexes it read
-- every open follow-up of the institution (up to 30 years of schedule: 194,000 rows for the
-- largest institution of a 200,000-patient registry) and each one's patient to find the overdue.
-- With them, the page is a range scan of (institution, window_end) over the open ones, in the
-- order the worklist shows them, stopped at the page's size; and the overdue count is read from
-- the indexes alone: the open follow-ups whose window has ended (patient_id carried in the index)
-- less those of patients who are not active (a few per cent of patients).
CREATE INDEX follow_up_institution_open ON follow_up (institution_id, window_end, id) INCLUDE (patient_id) WHERE status = 'scheduled';
CREATE INDEX patient_not_active ON patient (id) WHERE status <> 'active';
