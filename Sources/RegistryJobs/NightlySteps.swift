import Foundation
import Logging
import PostgresNIO
import RegistryDomain
import RegistryStorage

/// The steps of the nightly job, in the order they run. Each is one set-based statement (the
/// digest: a few reads and one insert) that depends only on the data and the as-of date, and sets
/// each flag once to the date it first became true; so a step run twice changes nothing, and
/// nights run out of order end with the same flags as nights run in order.
public enum NightlyStep: String, CaseIterable, Codable, Sendable {
    case flagOverdue = "flag-overdue"
    case escalate
    case markMissed = "mark-missed"
    case proposeLost = "propose-lost"
    case lateReports = "late-reports"
    case digest
    case prune
}

/// What a step needs besides its connection.
struct StepContext: Sendable {
    var asOf: LocalDate
    var settings: NightlySettings
    /// The run the step belongs to; nil in a dry run, which writes no run row.
    var runID: Int?
    /// Where the digest writes its files; nil in a dry run, which writes none.
    var outputDirectory: URL?
    /// The pool, for reads the digest runs beside the step's own connection.
    var database: Database
    var logger: Logger
}

enum NightlySQL {
    /// Runs one step on `c` (inside the caller's transaction) and returns its count.
    static func run(_ step: NightlyStep, _ x: StepContext, on c: PostgresConnection) async throws -> Int {
        try await c.query(settings, logger: x.logger)
        switch step {
        case .flagOverdue: return try await count(c, flagOverdue(x.asOf), x.logger)
        case .escalate: return try await count(c, escalate(x.asOf, thresholds: x.settings.escalateDays), x.logger)
        case .markMissed: return try await count(c, markMissed(x.asOf, afterDays: x.settings.missedAfterDays), x.logger)
        case .proposeLost: return try await count(c, proposeLost(x.asOf, missed: x.settings.lostAfterMissed, runID: x.runID), x.logger)
        case .lateReports: return try await count(c, lateReports(x.asOf), x.logger)
        case .digest: return try await WorklistDigest.write(x, on: c)
        case .prune:
            let outbox = try await count(c, pruneOutbox(x.asOf, retentionDays: x.settings.retentionDays), x.logger)
            return try await outbox + count(c, pruneRuns(x.asOf, retentionDays: x.settings.retentionDays, keep: x.runID), x.logger)
        }
    }

    /// Settings for a step's transaction. A big night (the first, or after an outage) reads
    /// hundreds of thousands of rows: with the default 4 MB of work memory its bitmaps went lossy
    /// and rechecked 1.9 million rows. The planner overestimates the partial-index ranges by two
    /// orders of magnitude, which would make it JIT-compile (hundreds of ms) statements that then
    /// touch a few thousand rows.
    static let settings: PostgresQuery = "SELECT set_config('work_mem', '64MB', true), set_config('jit', 'off', true)"

    static func count(_ c: PostgresConnection, _ query: PostgresQuery, _ logger: Logger) async throws -> Int {
        try await c.query(query, logger: logger).decode(Int.self).firstElement() ?? 0
    }

    // Every statement below reads overdue through follow_up_overdue(), the registry's one definition.
    // Each finds its few candidates through a partial index and reads each candidate's patient
    // status by primary key (the scalar subquery), instead of joining all of `patient`: the
    // planner cannot tell how few follow-ups a date range of a partial index holds, and a hash
    // join over every patient cost more than the night's whole work.

    /// 1. Follow-ups overdue on the as-of date get `overdue_since`: the day after their window closed.
    static func flagOverdue(_ asOf: LocalDate) -> PostgresQuery {
        """
        WITH changed AS (
            UPDATE follow_up f SET overdue_since = f.window_end + 1
            WHERE f.overdue_since IS NULL AND f.status = 'scheduled' AND f.window_end < \(asOf)
              AND follow_up_overdue(f.window_end, f.status, (SELECT p.status FROM patient p WHERE p.id = f.patient_id), \(asOf))
            RETURNING 1)
        SELECT count(*) FROM changed
        """
    }

    /// 2. Overdue follow-ups move up to the level of the thresholds their days overdue exceed
    /// (days overdue: as-of date minus window end, as `Overdue.daysOverdue`). Never down. The
    /// candidates are looked up level by level (schema/0007's index on level and window end):
    /// those at level L whose days overdue exceed threshold L+1, updated in id order (about the
    /// order of the table on disk: in hash order a first night took 2.6 times as long).
    static func escalate(_ asOf: LocalDate, thresholds: [Int]) -> PostgresQuery {
        """
        WITH changed AS (
            UPDATE follow_up f
            SET escalation_level = (SELECT count(*) FROM unnest(\(thresholds)::int[]) d WHERE \(asOf) - f.window_end > d)
            FROM (SELECT DISTINCT g.id FROM unnest(\(thresholds)::int[]) WITH ORDINALITY AS t(days, level)
                  CROSS JOIN LATERAL (
                      SELECT g.id FROM follow_up g
                      WHERE g.status = 'scheduled' AND g.overdue_since IS NOT NULL
                        AND g.escalation_level = t.level - 1 AND g.window_end < \(asOf) - t.days
                      OFFSET 0) g
                  ORDER BY g.id) c
            WHERE f.id = c.id
              AND follow_up_overdue(f.window_end, f.status, (SELECT p.status FROM patient p WHERE p.id = f.patient_id), \(asOf))
              AND f.escalation_level < (SELECT count(*) FROM unnest(\(thresholds)::int[]) d WHERE \(asOf) - f.window_end > d)
            RETURNING 1)
        SELECT count(*) FROM changed
        """
    }

    /// 3. Follow-ups overdue longer than the limit become missed, dated the first day they were.
    static func markMissed(_ asOf: LocalDate, afterDays: Int) -> PostgresQuery {
        """
        WITH changed AS (
            UPDATE follow_up f SET status = 'missed', missed_on = f.window_end + \(afterDays)::int + 1
            WHERE f.status = 'scheduled' AND f.window_end < \(asOf) - \(afterDays)::int
              AND follow_up_overdue(f.window_end, f.status, (SELECT p.status FROM patient p WHERE p.id = f.patient_id), \(asOf))
            RETURNING 1)
        SELECT count(*) FROM changed
        """
    }

    /// 4. Proposes lost to follow-up for active patients whose current streak of missed follow-ups
    /// is at least `n` long. The streak is read back from the most recent decided follow-up
    /// (completed, not done, or missed by the as-of date; window closed): consecutive missed ones
    /// whose windows opened after the patient's last visit of any kind, so a visit ends a streak.
    /// The proposal is dated the day the streak first reached `n` (the `n`-th oldest's missed date),
    /// which does not depend on which night saw it first. Not made while one is pending, nor after
    /// a decision until a follow-up is missed after that decision. Patient status is untouched.
    ///
    /// Only a new miss can start or lengthen a streak (visits, completions and decisions end or
    /// suspend one), so only patients with a follow-up missed since the last night that succeeded
    /// before this one are examined: every night's misses are examined by the next night that runs,
    /// and a night with no earlier success (the first, or a replay) examines them all.
    static func proposeLost(_ asOf: LocalDate, missed n: Int, runID: Int?) -> PostgresQuery {
        """
        WITH candidate AS (
            SELECT DISTINCT f.patient_id FROM follow_up f
            WHERE f.status = 'missed' AND f.missed_on <= \(asOf)
              AND f.missed_on > coalesce((SELECT max(j.as_of) FROM job_run j
                                          WHERE j.job = 'nightly' AND j.status = 'succeeded' AND j.as_of < \(asOf)), '-infinity')
        ), streak AS (
            SELECT p.id AS patient_id, p.institution_id, s.length, s.qualified_on, s.last_missed
            FROM candidate c JOIN patient p ON p.id = c.patient_id AND p.status = 'active'
            CROSS JOIN LATERAL (SELECT max(v.visit_on) AS last_visit FROM visit v WHERE v.patient_id = p.id AND v.visit_on <= \(asOf) AND v.voided_on IS NULL) lv
            CROSS JOIN LATERAL (
                SELECT count(*) AS length, max(r.missed_on) AS last_missed,
                       (array_agg(r.missed_on ORDER BY r.window_end, r.id))[\(n)::int] AS qualified_on
                FROM (SELECT g.id, g.window_end, g.missed_on,
                             bool_and(g.status = 'missed' AND (lv.last_visit IS NULL OR g.window_start > lv.last_visit))
                                 OVER (ORDER BY g.window_end DESC, g.id DESC) AS in_streak
                      FROM follow_up g
                      WHERE g.patient_id = p.id AND g.window_end < \(asOf)
                        AND (g.status IN ('completed', 'not-done') OR (g.status = 'missed' AND g.missed_on <= \(asOf)))) r
                WHERE r.in_streak
            ) s
            WHERE s.length >= \(n)
        ), inserted AS (
            INSERT INTO lost_proposal (patient_id, institution_id, proposed_on, run_id, missed_count)
            SELECT s.patient_id, s.institution_id, CASE WHEN d.last_decided IS NULL THEN s.qualified_on ELSE s.last_missed END,
                   \(runID), \(n)
            FROM streak s
            CROSS JOIN LATERAL (SELECT max(lp.decided_on) AS last_decided FROM lost_proposal lp
                                WHERE lp.patient_id = s.patient_id AND lp.decision <> 'pending') d
            WHERE NOT EXISTS (SELECT 1 FROM lost_proposal lp WHERE lp.patient_id = s.patient_id AND lp.decision = 'pending')
              AND (d.last_decided IS NULL OR s.last_missed > d.last_decided)
            ORDER BY s.patient_id
            ON CONFLICT (patient_id) WHERE decision = 'pending' DO NOTHING
            RETURNING 1)
        SELECT count(*) FROM inserted
        """
    }

    /// 5. Serious adverse events whose expedited report is late on the as-of date
    /// (`adverse_event_report_late()`, the domain's `LateReport.isLate`) get
    /// `report_late_flagged_on`, the first day it was late (`LateReport.flaggedOn`).
    static func lateReports(_ asOf: LocalDate) -> PostgresQuery {
        """
        WITH changed AS (
            UPDATE adverse_event SET report_late_flagged_on = report_due_on + 1
            WHERE serious AND report_late_flagged_on IS NULL AND report_due_on < \(asOf) AND voided_on IS NULL
              AND adverse_event_report_late(serious, report_due_on, report_submitted_on, \(asOf))
            RETURNING 1)
        SELECT count(*) FROM changed
        """
    }

    /// 7. Outbox rows and finished runs older than the retention period (from the as-of date).
    static func pruneOutbox(_ asOf: LocalDate, retentionDays: Int) -> PostgresQuery {
        """
        WITH gone AS (
            DELETE FROM outbox WHERE created_at < ((\(asOf) - \(retentionDays)::int)::timestamp AT TIME ZONE 'Asia/Seoul') RETURNING 1)
        SELECT count(*) FROM gone
        """
    }

    static func pruneRuns(_ asOf: LocalDate, retentionDays: Int, keep runID: Int?) -> PostgresQuery {
        """
        WITH gone AS (
            DELETE FROM job_run WHERE as_of < \(asOf) - \(retentionDays)::int AND status <> 'running' AND id <> coalesce(\(runID), 0) RETURNING 1)
        SELECT count(*) FROM gone
        """
    }
}
