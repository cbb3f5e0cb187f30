-- pgbench script for `scripts/bench api`: the writes of logging one visit against one follow-up,
-- as bare SQL. bench_fu lists the same follow-ups the HTTP run posts to, in the same order; the
-- sequence hands each transaction the next one. The word TODAY is replaced with the Seoul date.
BEGIN;
INSERT INTO visit (patient_id, institution_id, follow_up_id, visit_on, contact_type, vital_status, timing)
SELECT f.patient_id, f.institution_id, f.id, DATE 'TODAY', 'phone', 'alive',
       CASE WHEN DATE 'TODAY' < f.window_start THEN 'early' WHEN DATE 'TODAY' > f.window_end THEN 'late' ELSE 'in-window' END
FROM follow_up f WHERE f.id = (SELECT id FROM bench_fu WHERE n = (SELECT nextval('bench_seq')))
RETURNING id AS visit_id, follow_up_id AS fid, patient_id AS pid, institution_id AS iid \gset
INSERT INTO visit_measure (visit_id, patient_id, institution_id, key, code_system, code, value, unit)
VALUES (:visit_id, :pid, :iid, 'ecog', 'LOINC', '89247-1', 1, NULL);
UPDATE follow_up SET status = 'completed', completed_on = DATE 'TODAY', not_done_reason = NULL,
       timing = CASE WHEN DATE 'TODAY' < window_start THEN 'early' WHEN DATE 'TODAY' > window_end THEN 'late' ELSE 'in-window' END
WHERE id = :fid;
END;
