import Foundation
import Logging
import PostgresNIO
import RegistryDomain

/// A report's data cut: the as-of date says what was true (events dated after it are left out),
/// the recorded-by horizon says what the registry knew (changes recorded after it are left out).
///
/// What the registry knew at a time comes from the audit trail, which holds every insert and
/// update with the transaction's time (`at`), its id (`tx`) and the row's image before the
/// change. A row changed after the horizon is read as the before image of its first change after
/// it, and a row inserted after it is not read at all. A pull records its horizon and the
/// snapshot it read (which transactions had committed), so a re-pull of the cut also leaves out
/// what was being written while the first pull ran: the same cut gives the same rows, whatever
/// was entered, corrected or voided since.
///
/// Without a horizon a report reads everything and states as its horizon the time of the latest
/// change it read, so the same data gives the same report, byte for byte. With a horizon in the
/// past it reads what had been recorded by then. A horizon still to come (a quarter's data lock
/// not yet reached) gives a provisional report of what is recorded so far.
public struct DataCut: Sendable, Equatable {
    /// The horizon the report was asked for (ISO 8601, UTC, microseconds), or nil for "now".
    public var horizon: String?
    /// For a re-pull: the pull whose cut it repeats, the horizon that pull stated and the snapshot it read.
    public var repeated: (pull: Int, recordedBy: String, snapshot: String)?

    public init(horizon: String? = nil) { self.horizon = horizon }

    public static func == (a: DataCut, b: DataCut) -> Bool {
        a.horizon == b.horizon && a.repeated?.pull == b.repeated?.pull && a.repeated?.recordedBy == b.repeated?.recordedBy
            && a.repeated?.snapshot == b.repeated?.snapshot
    }

    /// The tables a report reads, by their names in the audit trail. `follow_up_schedule` is
    /// schema/0008's one audit row per generated schedule (the inserted follow-ups' ids in `after.id`).
    static let tables = ["registry_setting", "institution", "product", "measure_definition", "treatment_plan", "administration", "follow_up",
                         "visit", "visit_measure", "adverse_event", "patient_status_change"]
    static let entities = tables + ["follow_up_schedule"]

    /// A quarter's cut: as of its last day, recorded by the end of the day `lagDays` after it (in
    /// Seoul), the usual data-lock lag. `quarter` is `2026Q3` or `2026-Q3`.
    public static func quarter(_ text: String, lagDays: Int, field: String = "quarter") throws(RegistryError) -> (asOf: LocalDate, horizon: String) {
        let t = text.uppercased().replacingOccurrences(of: "-", with: "")
        guard t.count == 6, t.dropFirst(4).first == "Q", let year = Int(t.prefix(4)), (2000...2100).contains(year),
              let q = Int(t.suffix(1)), (1...4).contains(q) else {
            throw .invalid(field, "'\(text)' is not a quarter; write it as YYYYQn, e.g. 2026Q3")
        }
        guard (0...365).contains(lagDays) else {
            throw .invalid("lag-days", "\(lagDays) is not allowed; allowed: 0 to 365 days after the quarter's end")
        }
        guard let end = LocalDate(year: year, month: q * 3, day: [31, 30, 30, 31][q - 1]) else {
            throw .invalid(field, "'\(text)' is not a quarter")
        }
        // The end of the lag's last day in Seoul (UTC+9, no daylight saving) is 15:00 UTC that day.
        return (end, "\(end.adding(days: lagDays))T15:00:00.000000Z")
    }

    /// Parses a horizon: an ISO 8601 time with its offset (`2026-11-29T15:00:00Z`,
    /// `2026-11-30T00:00:00+09:00`) or a date, meaning the end of that day in Seoul.
    public static func parseHorizon(_ text: String, field: String = "recorded-by") throws(RegistryError) -> String {
        let t = text.trimmingCharactersInWhitespace()
        if let day = LocalDate(t) { return "\(day)T15:00:00.000000Z" }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let plain = ISO8601DateFormatter()
        guard let date = formatter.date(from: t) ?? plain.date(from: t) else {
            throw .invalid(field, "'\(text)' is not a time; write a date (the end of that day in Seoul) or an ISO 8601 time with its offset, e.g. 2026-11-30T00:00:00+09:00")
        }
        return canonical(date)
    }

    /// A time as the report prints it: UTC, microseconds.
    static func canonical(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        let micros = Int(((date.timeIntervalSince1970 - seconds) * 1_000_000).rounded())
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        let base = formatter.string(from: Date(timeIntervalSince1970: seconds)).dropLast()  // drop the Z
        return "\(base).\(String(format: "%06d", min(micros, 999_999)))Z"
    }

    /// What a pull read: the horizon it states, whether it is provisional, and the snapshot to record.
    struct Resolved: Sendable {
        var recordedBy: String
        var provisional: Bool
        var snapshot: String
        /// Tables read as they stood at the horizon (those with changes after it); the rest are read as they are.
        var changed: Set<String>
    }

    /// A timestamptz expression as the report prints times (`canonical`): UTC, microseconds.
    static func utcText(_ expression: String) -> String {
        "to_char(\(expression) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    }

    /// Resolves the cut inside the report's transaction and, when it leaves changes out, writes
    /// the temporary table `cut_change` (one row per row changed after the cut: its table, id,
    /// and the image it had then, null when it did not exist yet).
    func resolve(_ c: PostgresConnection, logger: Logger) async throws -> Resolved {
        let rows = try await c.query("""
            SELECT (SELECT \(unescaped: Self.utcText("max(at)")) FROM audit_log WHERE entity = ANY(\(Self.entities))),
                   \(unescaped: Self.utcText("now()")), pg_current_snapshot()::text
            """, logger: logger)
        let (latestOrNil, now, current) = try await rows.decode((String?, String, String).self).one("the cut's horizon")
        let latest = latestOrNil ?? "1970-01-01T00:00:00.000000Z"
        let cutAt: String, snapshot: String?
        if let repeated {
            (cutAt, snapshot) = (repeated.recordedBy, repeated.snapshot)
        } else if let horizon, horizon <= now {
            (cutAt, snapshot) = (horizon, nil)
        } else {
            // Everything recorded so far; provisional when the horizon asked for is still to come
            // (ISO texts in UTC compare as the times they name).
            return Resolved(recordedBy: latest, provisional: horizon != nil, snapshot: current, changed: [])
        }
        // The changes the cut leaves out: recorded after it, or by a transaction the repeated pull
        // did not see; the schedules' audit rows stand for the follow-ups they inserted.
        try await c.query("""
            CREATE TEMP TABLE cut_change ON COMMIT DROP AS
            WITH later AS (SELECT a.id, a.entity, a.entity_id, a.action, a.before, a.after FROM audit_log a
                           WHERE a.entity = ANY(\(Self.entities)) AND a.at > \(cutAt)::timestamptz - interval '1 day'
                             AND (a.at > \(cutAt)::timestamptz
                                  OR NOT pg_visible_in_snapshot(a.tx, coalesce(\(snapshot)::pg_snapshot, pg_current_snapshot()))))
            SELECT DISTINCT ON (entity, entity_id) entity, entity_id, before
            FROM (SELECT id, entity, entity_id, CASE action WHEN 'update' THEN before END AS before FROM later WHERE entity <> 'follow_up_schedule'
                  UNION ALL
                  SELECT l.id, 'follow_up', x::bigint, NULL FROM later l CROSS JOIN LATERAL jsonb_array_elements_text(l.after -> 'id') x
                  WHERE l.entity = 'follow_up_schedule') x
            ORDER BY entity, entity_id, id
            """, logger: logger)
        var changed: Set<String> = []
        for try await entity in try await c.query("SELECT DISTINCT entity FROM cut_change", logger: logger).decode(String.self) { changed.insert(entity) }
        if !changed.isEmpty { try await c.query("ANALYZE cut_change", logger: logger) }
        // A re-pull of a provisional cut states what that pull stated.
        return Resolved(recordedBy: cutAt, provisional: horizon.map { $0 > cutAt } ?? false, snapshot: snapshot ?? current, changed: changed)
    }
}

extension DataCut.Resolved {
    /// Every table read as it is (tests of the queries, and a pull with nothing left out).
    static let now = DataCut.Resolved(recordedBy: "", provisional: false, snapshot: "", changed: [])

    /// A table as the report reads it: the table itself, or, when it changed after the cut, the
    /// rows it had then. Use with an alias (`FROM \(t("visit")) v`).
    func callAsFunction(_ table: String) -> String {
        guard changed.contains(table) else { return table }
        return """
            (SELECT * FROM \(table) t WHERE NOT EXISTS (SELECT 1 FROM cut_change k WHERE k.entity = '\(table)' AND k.entity_id = t.id)
             UNION ALL SELECT (jsonb_populate_record(NULL::\(table), k.before)).* FROM cut_change k WHERE k.entity = '\(table)' AND k.before IS NOT NULL)
            """
    }
}

extension ReportParameters {
    /// Sets the cut from the options every way of pulling a report shares: `quarter` (with
    /// `lagDays`, default `DataCut.defaultLagDays`) sets the as-of date and the horizon, or
    /// `recordedBy` the horizon alone. Refuses a quarter with an as-of date or a horizon of its own.
    public mutating func setCut(quarter: String?, lagDays: Int?, recordedBy: String?, asOfGiven: Bool) throws(RegistryError) {
        if let quarter {
            if asOfGiven { throw .invalid("as-of", "a quarter sets the as-of date (its last day); give --quarter or --as-of, not both") }
            if recordedBy != nil { throw .invalid("recorded-by", "a quarter sets the horizon (--lag-days after its end); give --quarter or --recorded-by, not both") }
            let q = try DataCut.quarter(quarter, lagDays: lagDays ?? DataCut.defaultLagDays)
            asOf = q.asOf
            cut = DataCut(horizon: q.horizon)
        } else {
            if lagDays != nil { throw .invalid("lag-days", "lag days go with a quarter: they set its data lock; give a quarter, or a recorded-by time instead") }
            cut = DataCut(horizon: try recordedBy.map { t throws(RegistryError) in try DataCut.parseHorizon(t) })
        }
    }
}

extension DataCut {
    /// Days from a quarter's end to its data lock when none is given: the usual lag before a
    /// quarter's data are considered complete.
    public static let defaultLagDays = 60
}
