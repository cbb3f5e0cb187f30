-- The nightly job's work as bare SQL, one statement per step, for scripts/bench nightly's
-- baseline. Keep in step with Sources/RegistryJobs/NightlySteps.swift and WorklistDigest.swift
-- (the same statements with the default settings: escalate 30,90; missed after 365; lost after 2;
-- retention 400). The audit triggers fire as in the registry: they are part of the database.
-- Usage: psql -v as_of=2026-11-25 -v out=/tmp/dir -f scripts/bench-nightly-bare.sql
\set ON_ERROR_STOP on
SELECT set_config('registry.actor', 'bench bare sql', false);

-- The job's settings for its step transactions (NightlySQL.settings).
SET work_mem = '64MB';
SET jit = off;

-- 1. flag overdue
UPDATE follow_up f SET overdue_since = f.window_end + 1
WHERE f.overdue_since IS NULL AND f.status = 'scheduled' AND f.window_end < :'as_of'::date
  AND follow_up_overdue(f.window_end, f.status, (SELECT p.status FROM patient p WHERE p.id = f.patient_id), :'as_of'::date);

-- 2. escalate
UPDATE follow_up f
SET escalation_level = (SELECT count(*) FROM unnest('{30,90}'::int[]) d WHERE :'as_of'::date - f.window_end > d)
FROM (SELECT DISTINCT g.id FROM unnest('{30,90}'::int[]) WITH ORDINALITY AS t(days, level)
      CROSS JOIN LATERAL (
          SELECT g.id FROM follow_up g
          WHERE g.status = 'scheduled' AND g.overdue_since IS NOT NULL
            AND g.escalation_level = t.level - 1 AND g.window_end < :'as_of'::date - t.days
          OFFSET 0) g
      ORDER BY g.id) c
WHERE f.id = c.id
  AND follow_up_overdue(f.window_end, f.status, (SELECT p.status FROM patient p WHERE p.id = f.patient_id), :'as_of'::date)
  AND f.escalation_level < (SELECT count(*) FROM unnest('{30,90}'::int[]) d WHERE :'as_of'::date - f.window_end > d);

-- 3. mark missed
UPDATE follow_up f SET status = 'missed', missed_on = f.window_end + 365 + 1
WHERE f.status = 'scheduled' AND f.window_end < :'as_of'::date - 365
  AND follow_up_overdue(f.window_end, f.status, (SELECT p.status FROM patient p WHERE p.id = f.patient_id), :'as_of'::date);

-- 4. propose lost to follow-up
WITH candidate AS (
    SELECT DISTINCT f.patient_id FROM follow_up f
    WHERE f.status = 'missed' AND f.missed_on <= :'as_of'::date
      AND f.missed_on > coalesce((SELECT max(j.as_of) FROM job_run j
                                  WHERE j.job = 'nightly' AND j.status = 'succeeded' AND j.as_of < :'as_of'::date), '-infinity')
), streak AS (
    SELECT p.id AS patient_id, p.institution_id, s.length, s.qualified_on, s.last_missed
    FROM candidate c JOIN patient p ON p.id = c.patient_id AND p.status = 'active'
    CROSS JOIN LATERAL (SELECT max(v.visit_on) AS last_visit FROM visit v WHERE v.patient_id = p.id AND v.visit_on <= :'as_of'::date AND v.voided_on IS NULL) lv
    CROSS JOIN LATERAL (
        SELECT count(*) AS length, max(r.missed_on) AS last_missed,
               (array_agg(r.missed_on ORDER BY r.window_end, r.id))[2] AS qualified_on
        FROM (SELECT g.id, g.window_end, g.missed_on,
                     bool_and(g.status = 'missed' AND (lv.last_visit IS NULL OR g.window_start > lv.last_visit))
                         OVER (ORDER BY g.window_end DESC, g.id DESC) AS in_streak
              FROM follow_up g
              WHERE g.patient_id = p.id AND g.window_end < :'as_of'::date
                AND (g.status IN ('completed', 'not-done') OR (g.status = 'missed' AND g.missed_on <= :'as_of'::date))) r
        WHERE r.in_streak
    ) s
    WHERE s.length >= 2
)
INSERT INTO lost_proposal (patient_id, institution_id, proposed_on, run_id, missed_count)
SELECT s.patient_id, s.institution_id, CASE WHEN d.last_decided IS NULL THEN s.qualified_on ELSE s.last_missed END, NULL, 2
FROM streak s
CROSS JOIN LATERAL (SELECT max(lp.decided_on) AS last_decided FROM lost_proposal lp
                    WHERE lp.patient_id = s.patient_id AND lp.decision <> 'pending') d
WHERE NOT EXISTS (SELECT 1 FROM lost_proposal lp WHERE lp.patient_id = s.patient_id AND lp.decision = 'pending')
  AND (d.last_decided IS NULL OR s.last_missed > d.last_decided)
ORDER BY s.patient_id
ON CONFLICT (patient_id) WHERE decision = 'pending' DO NOTHING;

-- 5. late expedited reports
UPDATE adverse_event SET report_late_flagged_on = report_due_on + 1
WHERE serious AND report_late_flagged_on IS NULL AND report_due_on < :'as_of'::date AND voided_on IS NULL
  AND (report_submitted_on IS NULL OR report_submitted_on > report_due_on);

-- 6. the institution codes and the worklists' four reads, streamed to files (the registry also formats CSV and JSON per institution)
\set q1 'COPY (SELECT f.institution_id, f.id, f.patient_id, f.label, f.due_on, f.window_end, f.escalation_level FROM follow_up f JOIN patient p ON p.id = f.patient_id WHERE follow_up_overdue(f.window_end, f.status, p.status, ' :'as_of' '::date) ORDER BY f.institution_id, f.window_end, f.id) TO STDOUT'
\set q2 'COPY (WITH reach AS (SELECT coalesce(max(window_after), 0) AS days FROM protocol_time_point) SELECT i.id, f.id, f.patient_id, f.label, f.due_on, f.window_start, f.window_end FROM reach, institution i CROSS JOIN LATERAL (SELECT f.* FROM follow_up f WHERE f.institution_id = i.id AND f.due_on >= ' :'as_of' '::date - reach.days AND f.due_on < ' :'as_of' '::date + 30 AND f.window_end >= ' :'as_of' '::date AND f.status = ''scheduled'' OFFSET 0) f JOIN patient p ON p.id = f.patient_id AND p.status = ''active'' ORDER BY i.id, f.due_on, f.id) TO STDOUT'
\set q3 'COPY (SELECT lp.institution_id, lp.id, lp.patient_id, lp.proposed_on, lp.missed_count FROM lost_proposal lp WHERE lp.decision = ''pending'' ORDER BY lp.institution_id, lp.proposed_on, lp.id) TO STDOUT'
\set q4 'COPY (SELECT a.institution_id, a.id, a.patient_id, a.term, a.grade, a.report_due_on FROM adverse_event a WHERE a.serious AND a.report_submitted_on IS NULL AND a.report_due_on < ' :'as_of' '::date AND a.voided_on IS NULL ORDER BY a.institution_id, a.report_due_on, a.id) TO STDOUT'
\o :out/institutions.tsv
COPY (SELECT id, code FROM institution) TO STDOUT;
\o :out/overdue.tsv
:q1 ;
\o :out/due-soon.tsv
:q2 ;
\o :out/proposals.tsv
:q3 ;
\o :out/late-reports.tsv
:q4 ;
\o

-- 7. prune
DELETE FROM outbox WHERE created_at < ((:'as_of'::date - 400)::timestamp AT TIME ZONE 'Asia/Seoul');
DELETE FROM job_run WHERE as_of < :'as_of'::date - 400 AND status <> 'running';
