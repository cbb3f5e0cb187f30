import Foundation
import Logging
import PostgresNIO
import RegistryDomain
import RegistryStorage

/// One institution's worklist for a day: what is overdue (oldest first), what is open now or falls
/// due in the next 30 days (`dueSoon`: window not yet closed, due date before day 30), its pending lost-to-follow-up proposals and its late expedited reports.
public struct Worklist: Codable, Equatable, Sendable {
    public struct OverdueItem: Codable, Equatable, Sendable {
        public var followUpID: FollowUpID, patientID: PatientID, label: String, dueOn: LocalDate, windowEnd: LocalDate
        public var daysOverdue: Int, escalationLevel: Int
        /// Came with the patient in a transfer (owed at another institution before).
        public var transferredIn: Bool
        public init(followUpID: FollowUpID, patientID: PatientID, label: String, dueOn: LocalDate, windowEnd: LocalDate, daysOverdue: Int, escalationLevel: Int,
                    transferredIn: Bool = false) {
            self.followUpID = followUpID; self.patientID = patientID; self.label = label; self.dueOn = dueOn; self.windowEnd = windowEnd
            self.daysOverdue = daysOverdue; self.escalationLevel = escalationLevel; self.transferredIn = transferredIn
        }
    }
    public struct DueItem: Codable, Equatable, Sendable {
        public var followUpID: FollowUpID, patientID: PatientID, label: String, dueOn: LocalDate, windowStart: LocalDate, windowEnd: LocalDate
        /// Came with the patient in a transfer (owed at another institution before).
        public var transferredIn: Bool
        public init(followUpID: FollowUpID, patientID: PatientID, label: String, dueOn: LocalDate, windowStart: LocalDate, windowEnd: LocalDate,
                    transferredIn: Bool = false) {
            self.followUpID = followUpID; self.patientID = patientID; self.label = label; self.dueOn = dueOn
            self.windowStart = windowStart; self.windowEnd = windowEnd; self.transferredIn = transferredIn
        }
    }
    public struct ProposalItem: Codable, Equatable, Sendable {
        public var proposalID: LostProposalID, patientID: PatientID, proposedOn: LocalDate, missedCount: Int
        public init(proposalID: LostProposalID, patientID: PatientID, proposedOn: LocalDate, missedCount: Int) {
            self.proposalID = proposalID; self.patientID = patientID; self.proposedOn = proposedOn; self.missedCount = missedCount
        }
    }
    public struct LateReportItem: Codable, Equatable, Sendable {
        public var adverseEventID: AdverseEventID, patientID: PatientID, term: String, grade: Int, reportDueOn: LocalDate, daysLate: Int
        public init(adverseEventID: AdverseEventID, patientID: PatientID, term: String, grade: Int, reportDueOn: LocalDate, daysLate: Int) {
            self.adverseEventID = adverseEventID; self.patientID = patientID; self.term = term; self.grade = grade
            self.reportDueOn = reportDueOn; self.daysLate = daysLate
        }
    }

    public var institution: String
    public var asOf: LocalDate
    public var overdue: [OverdueItem] = []
    public var dueSoon: [DueItem] = []
    public var proposals: [ProposalItem] = []
    public var lateReports: [LateReportItem] = []

    /// An empty worklist.
    public init(institution: String, asOf: LocalDate) { self.institution = institution; self.asOf = asOf }

    /// The same items as CSV, one line each, with a `kind` column; dates as YYYY-MM-DD.
    public var csv: String {
        // Each column means one thing for every kind; a kind leaves the columns it has no value for empty.
        var lines = ["kind,id,patient_id,what,due_on,window_end,days_overdue,escalation_level,transferred_in,proposed_on,report_due_on,days_late"]
        func field(_ text: String) -> String {
            // Bytes, not Characters: grapheme breaking on 150,000 labels a night is measurable.
            text.utf8.contains(where: { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 10 || $0 == 13 })
                ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
        }
        for o in overdue {
            lines.append("overdue,\(o.followUpID),\(o.patientID),\(field(o.label)),\(o.dueOn),\(o.windowEnd),\(o.daysOverdue),\(o.escalationLevel),\(o.transferredIn),,,")
        }
        for d in dueSoon { lines.append("due-soon,\(d.followUpID),\(d.patientID),\(field(d.label)),\(d.dueOn),\(d.windowEnd),,,\(d.transferredIn),,,") }
        for p in proposals { lines.append("lost-proposal,\(p.proposalID),\(p.patientID),\(p.missedCount) missed,,,,,,\(p.proposedOn),,") }
        for r in lateReports { lines.append("late-report,\(r.adverseEventID),\(r.patientID),\(field(r.term)),,,,,,,\(r.reportDueOn),\(r.daysLate)") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The worklist as JSON with snake_case keys, one item per line: the same document Foundation's
    /// JSONEncoder gives (a test checks), written directly because the encoder's per-item key
    /// conversion cost about 0.2 s a night at 20,000 patients.
    public var json: String {
        func str(_ text: String) -> String { JSONString.quoted(text) }
        func list(_ items: [String]) -> String { items.isEmpty ? "[]" : "[\n    " + items.joined(separator: ",\n    ") + "\n  ]" }
        let o = overdue.map {
            "{\"days_overdue\": \($0.daysOverdue), \"due_on\": \"\($0.dueOn)\", \"escalation_level\": \($0.escalationLevel), \"follow_up_id\": \($0.followUpID), \"label\": \(str($0.label)), \"patient_id\": \($0.patientID), \"transferred_in\": \($0.transferredIn), \"window_end\": \"\($0.windowEnd)\"}"
        }
        let d = dueSoon.map {
            "{\"due_on\": \"\($0.dueOn)\", \"follow_up_id\": \($0.followUpID), \"label\": \(str($0.label)), \"patient_id\": \($0.patientID), \"transferred_in\": \($0.transferredIn), \"window_end\": \"\($0.windowEnd)\", \"window_start\": \"\($0.windowStart)\"}"
        }
        let p = proposals.map {
            "{\"missed_count\": \($0.missedCount), \"patient_id\": \($0.patientID), \"proposal_id\": \($0.proposalID), \"proposed_on\": \"\($0.proposedOn)\"}"
        }
        let r = lateReports.map {
            "{\"adverse_event_id\": \($0.adverseEventID), \"days_late\": \($0.daysLate), \"grade\": \($0.grade), \"patient_id\": \($0.patientID), \"report_due_on\": \"\($0.reportDueOn)\", \"term\": \(str($0.term))}"
        }
        return "{\n  \"as_of\": \"\(asOf)\",\n  \"due_soon\": \(list(d)),\n  \"institution\": \(str(institution)),\n  \"late_reports\": \(list(r)),\n  \"overdue\": \(list(o)),\n  \"proposals\": \(list(p))\n}\n"
    }
}

/// Step 6: reads every institution's worklist in four set-based queries, writes `CODE.csv` and
/// `CODE.json` for each institution with anything on it, and one outbox row per institution.
/// Files are written (each whole, all flushed) before the outbox rows commit: a crash in between rewrites the
/// same files on resume, and the outbox rows are inserted once.
enum WorklistDigest {
    static func write(_ x: StepContext, on c: PostgresConnection) async throws -> Int {
        let lists = try await read(asOf: x.asOf, on: c, database: x.database, logger: x.logger)
        guard let directory = x.outputDirectory, let runID = x.runID else { return lists.count }  // dry run: count only
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        let sorted = lists.sorted(by: { $0.value.institution < $1.value.institution })
        // Rendering is most of the step's own CPU: institutions are rendered on every core at once.
        let rendered = await withTaskGroup(of: (Int, String, String).self) { group in
            for (n, entry) in sorted.enumerated() { group.addTask { (n, entry.value.csv, entry.value.json) } }
            var out = [(csv: String, json: String)](repeating: ("", ""), count: sorted.count)
            for await (n, csv, json) in group { out[n] = (csv, json) }
            return out
        }
        var ids: [Int] = [], payloads: [String] = [], files: [(name: String, contents: String)] = []
        for (n, (institutionID, list)) in sorted.enumerated() {
            files.append((name: "\(list.institution).csv", contents: rendered[n].csv))
            files.append((name: "\(list.institution).json", contents: rendered[n].json))
            struct Payload: Encodable {
                var asOf: LocalDate, institution: String, overdue: Int, dueSoon: Int, lostProposals: Int, lateReports: Int, csv: String, json: String
            }
            let payload = Payload(asOf: x.asOf, institution: list.institution, overdue: list.overdue.count, dueSoon: list.dueSoon.count,
                                  lostProposals: list.proposals.count, lateReports: list.lateReports.count,
                                  csv: directory.appendingPathComponent("\(list.institution).csv").path,
                                  json: directory.appendingPathComponent("\(list.institution).json").path)
            ids.append(institutionID)
            payloads.append(String(decoding: try encoder.encode(payload), as: UTF8.self))
        }
        try FileBatch.write(files, into: directory)
        try await c.query("""
            INSERT INTO outbox (institution_id, run_id, kind, payload)
            SELECT i, \(runID), 'worklist-digest', p::jsonb FROM unnest(\(ids), \(payloads)) AS x(i, p)
            ON CONFLICT (run_id, institution_id, kind) DO NOTHING
            """, logger: x.logger)
        return lists.count
    }

    /// Every institution's worklist on a date, by institution id; institutions with nothing to do
    /// are left out.
    ///
    /// The two large lists are read at once: the due-soon list on a second pooled connection while
    /// the overdue list streams on `c`, so one query's server work overlaps the other's decoding.
    /// They need no common snapshot: an item is overdue (window closed before the as-of date) or
    /// due soon (window still open), never both, and neither list depends on the night's earlier
    /// flags, so a change committed between the two reads moves nothing from one list to the other.
    static func read(asOf: LocalDate, on c: PostgresConnection, database: Database, logger: Logger) async throws -> [Int: Worklist] {
        async let dueSoon = database.plainTransaction { tx in try await readDueSoon(asOf: asOf, on: tx.connection, logger: logger) }
        var lists: [Int: Worklist] = [:]
        // Institution codes once, rather than a string to decode on each of 150,000 rows.
        var codes: [Int: String] = [:]
        for try await (id, code) in try await c.query("SELECT id, code FROM institution", logger: logger).decode((Int, String).self) {
            codes[id] = code
        }
        // Appends in place (the default subscript), not by copying a growing list per row.
        func empty(_ id: Int) -> Worklist { Worklist(institution: codes[id] ?? "?", asOf: asOf) }

        // Overdue, oldest first, under the one definition. Neither large list is sorted by the
        // server: unsorted, rows stream while the scan runs and are decoded as they come, instead
        // of after a sort of the whole list; each institution's list is sorted here at the end.
        for try await (inst, id, patient, label, due, end, level, transferredIn) in try await c.query("""
            SELECT f.institution_id, f.id, f.patient_id, f.label, f.due_on, f.window_end, f.escalation_level, \(unescaped: FollowUps.transferredIn)
            FROM follow_up f JOIN patient p ON p.id = f.patient_id
            WHERE follow_up_overdue(f.window_end, f.status, p.status, \(asOf))
            """, logger: logger).decode((Int, FollowUpID, PatientID, String, LocalDate, LocalDate, Int16, Bool).self) {
            lists[inst, default: empty(inst)].overdue.append(.init(followUpID: id, patientID: patient, label: label, dueOn: due, windowEnd: end,
                                   daysOverdue: Overdue.daysOverdue(windowEnd: end, status: .scheduled, patientStatus: .active, on: asOf),
                                   escalationLevel: Int(level), transferredIn: transferredIn))
        }
        for (inst, items) in try await dueSoon { lists[inst, default: empty(inst)].dueSoon = items }
        for inst in lists.keys {
            lists[inst]!.overdue.sort { ($0.windowEnd, $0.followUpID) < ($1.windowEnd, $1.followUpID) }
            lists[inst]!.dueSoon.sort { ($0.dueOn, $0.followUpID) < ($1.dueOn, $1.followUpID) }
        }
        for try await (inst, id, patient, on, missed) in try await c.query("""
            SELECT lp.institution_id, lp.id, lp.patient_id, lp.proposed_on, lp.missed_count
            FROM lost_proposal lp
            WHERE lp.decision = 'pending' ORDER BY lp.institution_id, lp.proposed_on, lp.id
            """, logger: logger).decode((Int, LostProposalID, PatientID, LocalDate, Int32).self) {
            lists[inst, default: empty(inst)].proposals.append(.init(proposalID: id, patientID: patient, proposedOn: on, missedCount: Int(missed)))
        }
        for try await (inst, id, patient, term, grade, due) in try await c.query("""
            SELECT a.institution_id, a.id, a.patient_id, a.term, a.grade, a.report_due_on
            FROM adverse_event a
            WHERE a.serious AND a.report_submitted_on IS NULL AND a.report_due_on < \(asOf) AND a.voided_on IS NULL
              AND adverse_event_report_outstanding(a.serious, a.report_due_on, a.report_submitted_on, \(asOf))
            ORDER BY a.institution_id, a.report_due_on, a.id
            """, logger: logger).decode((Int, AdverseEventID, PatientID, String, Int16, LocalDate).self) {
            lists[inst, default: empty(inst)].lateReports.append(.init(adverseEventID: id, patientID: patient, term: term, grade: Int(grade), reportDueOn: due, daysLate: due.days(until: asOf)))
        }
        return lists
    }

    /// Every institution's due-soon items, unsorted, by institution id. Runs inside a transaction.
    static func readDueSoon(asOf: LocalDate, on c: PostgresConnection, logger: Logger) async throws -> [Int: [Worklist.DueItem]] {
        var out: [Int: [Worklist.DueItem]] = [:]
        // In the caller's transaction on its own connection, with the step's settings (no JIT, room to sort).
        try await c.query(NightlySQL.settings, logger: logger)
        // Due soon (`follow_up_due_soon()`, the domain's `DueSoon`): open now (past the due date,
        // window not yet closed) or due in the next 30 days. A window ends at most `reach` days (the
        // widest window_after) after its due date, so these windows end in [as-of, as-of + 30 +
        // reach): one range of the open-window index, registry-wide,
        // and one hash join on patient. (Per institution, the (institution_id, due_on) index read
        // twice the rows, each on its own heap page, and looked up each patient by key: 2.3x slower.)
        for try await (inst, id, patient, label, due, start, end, transferredIn) in try await c.query("""
            SELECT f.institution_id, f.id, f.patient_id, f.label, f.due_on, f.window_start, f.window_end, \(unescaped: FollowUps.transferredIn)
            FROM follow_up f JOIN patient p ON p.id = f.patient_id AND p.status = 'active'
            WHERE f.status = 'scheduled' AND f.window_end >= \(asOf)
              AND f.window_end < \(asOf) + \(DueSoon.horizonDays)::int + (SELECT coalesce(max(window_after), 0) FROM protocol_time_point)
              AND follow_up_due_soon(f.window_end, f.due_on, f.status, p.status, \(asOf), \(DueSoon.horizonDays)::int)
            """, logger: logger).decode((Int, FollowUpID, PatientID, String, LocalDate, LocalDate, LocalDate, Bool).self) {
            out[inst, default: []].append(Worklist.DueItem(followUpID: id, patientID: patient, label: label, dueOn: due, windowStart: start, windowEnd: end,
                                                           transferredIn: transferredIn))
        }
        return out
    }
}
