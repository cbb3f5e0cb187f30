-- Incremental nights that read only what can change tonight, whatever the planner's estimates.
--
-- Escalation looks up each level's candidates separately: level L needs window_end before the
-- as-of date minus threshold L. Keyed by (level, window end), each lookup is one short index
-- range; the window-end-only index it replaces made every night re-read all follow-ups between
-- the first and the last threshold (two months of overdue ones with 30,90).
CREATE INDEX follow_up_escalation ON follow_up (escalation_level, window_end)
    WHERE status = 'scheduled' AND overdue_since IS NOT NULL;
DROP INDEX follow_up_escalating;

-- The nightly job updates a few thousand follow-ups a night, and hundreds of thousands on the
-- first night or after a long outage. Each update leaves an index entry behind in the partial
-- indexes the next night reads, until VACUUM removes it. The default thresholds (20 % of the
-- table) would leave a 5-million-row table uncleaned for months; 1 % cleans it the day after a
-- large night and about monthly in steady state, and its statistics stay current.
ALTER TABLE follow_up SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 10000,
                           autovacuum_analyze_scale_factor = 0.01, autovacuum_analyze_threshold = 10000);
