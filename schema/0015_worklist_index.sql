-- The worklist of one institution (the web application's first page and GET /worklist) reads its
-- overdue follow-ups: open ones whose window ended before today. Without this index it read every
-- open follow-up of the institution (up to 30 years of schedule: 194,000 rows for the largest
-- institution of a 200,000-patient registry) to find the few hundred overdue; with it, a range
-- scan of (institution, window_end) over the open ones reads only those, in the order the
-- worklist shows them.
CREATE INDEX follow_up_institution_open ON follow_up (institution_id, window_end, id) WHERE status = 'scheduled';
