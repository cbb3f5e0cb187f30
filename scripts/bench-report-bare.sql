-- The national outcome report's SQL as bare statements, for scripts/bench report's baseline: the
-- queries of Sources/RegistryReports/OutcomeQueries.swift with no filters and --by
-- product,indication,institution,year, in one REPEATABLE READ transaction, rows printed unaligned
-- to stdout (the benchmark sends them to /dev/null). Keep in step with OutcomeQueries.swift.
-- Usage: psql -X -q -v as_of=2026-11-25 -f scripts/bench-report-bare.sql >/dev/null
\set ON_ERROR_STOP on
\pset format unaligned
\pset tuples_only on

BEGIN ISOLATION LEVEL REPEATABLE READ;
SET LOCAL work_mem = '128MB';
SET LOCAL enable_nestloop = off;
-- The cut's horizon: the latest change the report reads (DataCut.resolve, no horizon asked for).
SELECT to_char(max(at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') FROM audit_log
WHERE entity = ANY('{registry_setting,institution,product,measure_definition,treatment_plan,administration,follow_up,visit,visit_measure,adverse_event,patient_status_change,follow_up_schedule}'::text[]);
SELECT now(), pg_current_snapshot()::text;
SELECT id, code, name FROM product;
SELECT id, code, name FROM institution;
SELECT key, display FROM measure_definition ORDER BY id;
SELECT key, value FROM registry_setting WHERE key IN ('report.cell-key-seed', 'report.cell-key-max');
SELECT value::bigint AS seed FROM registry_setting WHERE key = 'report.cell-key-seed' \gset
SELECT coalesce(max(version), 0) FROM schema_migrations;

CREATE TEMP TABLE report_cohort ON COMMIT DROP AS
SELECT x.*, dense_rank() OVER (ORDER BY x.product_id, x.indication, x.institution_id, x.year, x.quarter)::int AS cell
FROM (
    SELECT f.patient_id, f.administration_id, f.first_on, bl.id AS baseline_visit_id, f.product_id, f.indication, f.institution_id,
           extract(year FROM f.first_on)::int AS year, 0 AS quarter,
           ((hashint8extended(f.patient_id, :seed) % 256 + 256) % 256) AS pkey,
           CASE WHEN d.death_on IS NOT NULL THEN 'deceased'
                ELSE CASE s.kind WHEN 'death' THEN 'deceased' WHEN 'withdrawal' THEN 'withdrawn'
                                 WHEN 'lost' THEN 'lost-to-follow-up' ELSE 'active' END END AS status,
           greatest(0, coalesce(d.death_on, greatest(f.last_dose, l.last_alive)) - f.first_on) AS days
    FROM (SELECT DISTINCT ON (a.patient_id) a.patient_id, a.id AS administration_id, a.administered_on AS first_on,
                 max(a.administered_on) OVER (PARTITION BY a.patient_id) AS last_dose,
                 pl.product_id, pl.indication, a.institution_id
          FROM administration a JOIN treatment_plan pl ON pl.id = a.plan_id
          WHERE a.administered_on <= :'as_of'::date AND a.voided_on IS NULL
          ORDER BY a.patient_id, a.administered_on, a.id) f
    LEFT JOIN (SELECT DISTINCT ON (patient_id) patient_id, kind, effective_on FROM patient_status_change
               WHERE kind IN ('death', 'withdrawal', 'lost', 'found') AND effective_on <= :'as_of'::date AND voided_on IS NULL
               ORDER BY patient_id, effective_on DESC, id DESC) s ON s.patient_id = f.patient_id
    -- Death from any record, else censored at the last date known alive (SurvivalTime).
    LEFT JOIN (SELECT patient_id, min(on_date) AS death_on FROM (
                   SELECT patient_id, effective_on AS on_date FROM patient_status_change
                   WHERE kind = 'death' AND effective_on <= :'as_of'::date AND voided_on IS NULL
                   UNION ALL SELECT patient_id, visit_on FROM visit WHERE vital_status = 'dead' AND visit_on <= :'as_of'::date AND voided_on IS NULL
                   UNION ALL SELECT patient_id, outcome_on FROM adverse_event
                   WHERE outcome = 'fatal' AND outcome_on <= :'as_of'::date AND voided_on IS NULL) x
               GROUP BY patient_id) d ON d.patient_id = f.patient_id
    LEFT JOIN (SELECT patient_id, max(on_date) AS last_alive FROM (
                   SELECT patient_id, visit_on AS on_date FROM visit WHERE vital_status = 'alive' AND visit_on <= :'as_of'::date AND voided_on IS NULL
                   UNION ALL SELECT patient_id, onset_on FROM adverse_event WHERE onset_on <= :'as_of'::date AND voided_on IS NULL
                   UNION ALL SELECT patient_id, outcome_on FROM adverse_event
                   WHERE outcome NOT IN ('fatal', 'unknown') AND outcome_on <= :'as_of'::date AND voided_on IS NULL
                   UNION ALL SELECT patient_id, effective_on FROM patient_status_change
                   WHERE kind IN ('withdrawal', 'found') AND effective_on <= :'as_of'::date AND voided_on IS NULL) y
               GROUP BY patient_id) l ON l.patient_id = f.patient_id
    -- Baseline: the latest screening visit within 90 days (VisitRules.screeningWindowDays) before
    -- the first dose, or unscheduled visit on its day.
    LEFT JOIN LATERAL (SELECT bv.id FROM visit bv WHERE bv.patient_id = f.patient_id AND bv.follow_up_id IS NULL AND bv.voided_on IS NULL
                       AND bv.visit_on BETWEEN f.first_on - 90 AND f.first_on
                       AND (bv.screening OR bv.visit_on = f.first_on)
                       ORDER BY bv.visit_on DESC, bv.id LIMIT 1) bl ON true
) x;
ANALYZE report_cohort;

SELECT cell, product_id, indication, institution_id, year, quarter FROM report_cohort GROUP BY 1, 2, 3, 4, 5, 6;

-- Each count with the sum of its records' keys (cell-key perturbation), as the report reads them.
SELECT cell, status, array_agg(days), array_agg(n), array_agg(k)
FROM (SELECT cell, (CASE status WHEN 'active' THEN 0 WHEN 'deceased' THEN 1 WHEN 'withdrawn' THEN 2 ELSE 3 END)::int2 AS status,
             days, count(*)::int AS n, (sum(pkey) % 256)::int AS k
      FROM report_cohort GROUP BY 1, 2, 3) x
GROUP BY 1, 2;

SELECT c.cell, f.label, min(f.seq)::int,
       count(*) FILTER (WHERE x.st <> 'not-required'
                          AND (x.st = 'completed' OR f.window_end < :'as_of'::date OR (x.st = 'not-done' AND f.window_start <= :'as_of'::date)))::int,
       count(*) FILTER (WHERE x.st = 'completed')::int,
       count(*) FILTER (WHERE follow_up_overdue(f.window_end, x.st, c.status, :'as_of'::date))::int,
       count(*) FILTER (WHERE x.st = 'completed' AND v.contact_type <> f.contact_type)::int,
       ARRAY[coalesce(sum(h.k) FILTER (WHERE x.st <> 'not-required'
                          AND (x.st = 'completed' OR f.window_end < :'as_of'::date OR (x.st = 'not-done' AND f.window_start <= :'as_of'::date))) % 256, 0)::int,
             coalesce(sum(h.k) FILTER (WHERE x.st = 'completed') % 256, 0)::int,
             coalesce(sum(h.k) FILTER (WHERE follow_up_overdue(f.window_end, x.st, c.status, :'as_of'::date)) % 256, 0)::int,
             coalesce(sum(h.k) FILTER (WHERE x.st = 'completed' AND v.contact_type <> f.contact_type) % 256, 0)::int]
FROM report_cohort c
JOIN follow_up f ON f.patient_id = c.patient_id
LEFT JOIN patient_status_change s ON s.id = f.suspended_by
LEFT JOIN visit v ON v.follow_up_id = f.id AND v.voided_on IS NULL
CROSS JOIN LATERAL (SELECT CASE WHEN f.status = 'completed' AND f.completed_on > :'as_of'::date THEN 'scheduled'
                                WHEN f.status = 'missed' AND f.missed_on > :'as_of'::date THEN 'scheduled'
                                WHEN f.status = 'not-required' AND s.effective_on > :'as_of'::date THEN 'scheduled'
                                WHEN f.status = 'not-done' AND f.not_done_on > :'as_of'::date THEN 'scheduled'
                                ELSE f.status END AS st) x
CROSS JOIN LATERAL (SELECT ((hashint8extended(f.id, :seed) % 256 + 256) % 256) AS k) h
WHERE f.status <> 'voided'
GROUP BY c.cell, f.label;

SELECT c.cell, e.grade, e.category, e.serious,
       (e.serious AND e.report_due_on < :'as_of'::date AND (e.report_submitted_on IS NULL OR e.report_submitted_on > e.report_due_on)) AS late,
       count(*)::int, (sum((hashint8extended(e.id, :seed) % 256 + 256) % 256) % 256)::int
FROM report_cohort c JOIN adverse_event e ON e.patient_id = c.patient_id
WHERE e.aware_on <= :'as_of'::date AND e.voided_on IS NULL
GROUP BY 1, 2, 3, 4, 5;

SELECT c.product_id, c.indication, c.institution_id, c.year, NULL::int, count(*)::int, (sum((hashint8extended(a.id, :seed) % 256 + 256) % 256) % 256)::int,
       percentile_cont(ARRAY[0.25, 0.5, 0.75]) WITHIN GROUP (ORDER BY a.fee_notified_krw),
       percentile_cont(ARRAY[0.25, 0.5, 0.75]) WITHIN GROUP (ORDER BY a.fee_collected_krw)
FROM report_cohort c JOIN administration a ON a.patient_id = c.patient_id
WHERE a.administered_on <= :'as_of'::date AND a.voided_on IS NULL
GROUP BY GROUPING SETS ((c.product_id, c.indication, c.institution_id, c.year), (c.product_id), (c.indication), (c.institution_id), (c.year), ());

SELECT cell, key, label, min(seq)::int, array_agg(change), array_agg(n), array_agg(k)
FROM (SELECT c.cell, m.key, f.label, min(f.seq) AS seq, (m.value - b.value)::float8 AS change, count(*)::int AS n, (sum(c.pkey) % 256)::int AS k
      FROM report_cohort c
      JOIN visit_measure b ON b.visit_id = c.baseline_visit_id
      JOIN measure_definition d ON d.key = b.key AND d.answers = '[]'
      JOIN follow_up f ON f.administration_id = c.administration_id
      JOIN visit v ON v.follow_up_id = f.id AND v.visit_on <= :'as_of'::date AND v.voided_on IS NULL
      JOIN visit_measure m ON m.visit_id = v.id AND m.key = b.key
      GROUP BY c.cell, m.key, f.label, m.value - b.value) x
GROUP BY 1, 2, 3;
COMMIT;
