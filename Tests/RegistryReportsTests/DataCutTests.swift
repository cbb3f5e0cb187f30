import Foundation
import PostgresNIO
import RegistryDomain
@testable import RegistryReports
import RegistryStorage
import RegistryTestSupport
import Testing

@Suite("Exact, repeatable data cuts")
struct DataCutTests {
    static func build(_ database: Database, _ p: ReportParameters, role: ReportRole = .admin) async throws -> ReportResult {
        try await OutcomeReport.build(database: database, parameters: p, actor: "cli:analyst", role: role, today: SmallRegistry.today)
    }

    static func overdue(_ r: ReportResult) -> Figure { r.content.total.overdueNow }

    @Test("a cut pulled again gives the same bytes after late, corrected and voided records; a new pull sees them, the as-of date still holds")
    func repull() async throws {
        try await TestDatabase.withDatabase { database in
            let registry = try await SmallRegistry.make(database)
            let (p2, p4, p6) = (registry.patients[1], registry.patients[3], registry.patients[5])
            // As of 30 June 2026, exact figures (an administrator's unsuppressed pull) to see every change.
            let p = SmallRegistry.parameters(by: [.product], asOf: "2026-06-30", suppression: false)
            let first = try await Self.build(database, p)
            let before = first.content.total
            // p6's second dose: a follow-up whose window closed before 30 June, still open, so overdue then.
            let open = try await database.read { tx in try await tx.followUps.of(patientID: p6) }
                .filter { $0.status == .scheduled && $0.windowEnd < LocalDate("2026-06-30")! }
            let overdueThen = try #require(open.first, "the hand-checked registry has an overdue follow-up of p6 on 2026-06-30")

            // Months later: a site closes it as not done, logs a late visit dated before the cut,
            // corrects an event's grade and voids another as entered in error.
            _ = try await database.transaction(actor: "site") { tx in try await tx.followUps.closeNotDone(id: overdueThen.id, reason: .unreachable, note: "late closure") }
            _ = try await database.transaction(actor: "site") { tx in
                try await tx.visits.log(followUpID: nil, patientID: p4, try visit("2025-10-01", measures: ["pain-nrs=5"]))
            }
            let events = try await database.read { tx in try await tx.adverseEvents.of(patientID: p2) + tx.adverseEvents.of(patientID: p6) }
            let neurologic = try #require(events.first { $0.category == .neurologic })
            let autoimmune = try #require(events.first { $0.category == .autoimmuneRheumatologic })
            _ = try await database.transaction(actor: "site") { tx in try await tx.adverseEvents.void(id: neurologic.id, reason: "entered for the wrong patient", confirm: true) }
            _ = try await database.transaction(actor: "site") { tx in
                try await tx.adverseEvents.correct(id: autoimmune.id, reason: "grade re-read from the chart", confirm: true) { $0.grade = 1 }
            }

            // The cut of the first pull, pulled again: the same bytes in every format.
            var again = try await OutcomeReport.cut(database: database, pull: first.pullID, purpose: "re-check")
            #expect(again.asOf == p.asOf && again.by == p.by && again.suppression == false)
            let repeated = try await Self.build(database, again)
            #expect(repeated.json() == first.json())
            #expect(repeated.csv() == first.csv() && repeated.html(language: .ko) == first.html(language: .ko))
            // A cut of a cut is the same cut.
            again = try await OutcomeReport.cut(database: database, pull: repeated.pullID, purpose: "re-check of the re-check")
            #expect(try await Self.build(database, again).json() == first.json())

            // A new pull as of the same date sees what was recorded since...
            let fresh = try await Self.build(database, p)
            #expect(fresh.checksum != first.checksum)
            let now = fresh.content.total
            #expect(now.adverseEvents.number == (before.adverseEvents.number ?? 0) - 1, "the voided event counts nowhere")
            #expect(now.byGrade[1].number == (before.byGrade[1].number ?? 0) - 2 && now.byGrade[0].number == (before.byGrade[0].number ?? 0) + 1,
                    "grade 2: one voided, one corrected to grade 1")
            #expect((now.personYears.number ?? 0) > (before.personYears.number ?? 0), "the late visit extends p4's time known alive")
            // ... but a follow-up closed after the as-of date was still open on it: overdue then, as before.
            #expect(Self.overdue(fresh) == Self.overdue(first) && (Self.overdue(first).number ?? 0) >= 1)
            #expect(fresh.content.recordedBy > first.content.recordedBy)

            // The pulls record their cuts; the re-pulls name the pull they repeat.
            let recorded = try await database.plainTransaction { tx in
                try await tx.connection.query("SELECT id, cut_of, recorded_by IS NOT NULL, snapshot IS NOT NULL FROM report_pull ORDER BY id",
                                              logger: TestDatabase.logger).decode((Int, Int?, Bool, Bool).self).collect()
            }
            #expect(recorded.map(\.1) == [nil, first.pullID, repeated.pullID, nil] && recorded.allSatisfy { $0.2 && $0.3 })

            // A horizon given in the past reads what was recorded by then: the first pull's figures.
            var horizon = p
            horizon.cut = DataCut(horizon: first.content.recordedBy)
            let known = try await Self.build(database, horizon)
            #expect(known.content.total == before && known.content.groups == first.content.groups)
            #expect(known.content.recordedBy == first.content.recordedBy && known.content.horizon == first.content.recordedBy && !known.content.provisional)
        }
    }

    @Test("a quarter's cut: as of its last day, its data lock lag days after; provisional until the lock passes; refusals name the field")
    func quarter() async throws {
        let q3 = try DataCut.quarter("2026Q3", lagDays: 60)
        #expect(q3.asOf == LocalDate("2026-09-30")! && q3.horizon == "2026-11-29T15:00:00.000000Z")
        #expect(try DataCut.quarter("2025-q1", lagDays: 0).horizon == "2025-03-31T15:00:00.000000Z")
        for bad in ["2026Q5", "2026", "Q3-2026", "20263Q"] {
            #expect(throws: RegistryError.self) { try DataCut.quarter(bad, lagDays: 60) }
        }
        #expect((try? DataCut.quarter("2026Q1", lagDays: 400)) == nil)
        #expect(try DataCut.parseHorizon("2026-11-30T00:00:00+09:00") == "2026-11-29T15:00:00.000000Z")
        #expect(try DataCut.parseHorizon("2026-11-29") == "2026-11-29T15:00:00.000000Z")
        #expect(try DataCut.parseHorizon("2026-11-29T01:02:03.5Z") == "2026-11-29T01:02:03.500000Z")
        var p = SmallRegistry.parameters()
        #expect(throws: RegistryError.self) { try p.setCut(quarter: "2026Q3", lagDays: nil, recordedBy: nil, asOfGiven: true) }
        #expect(throws: RegistryError.self) { try p.setCut(quarter: nil, lagDays: 30, recordedBy: nil, asOfGiven: false) }
        do { try p.setCut(quarter: nil, lagDays: nil, recordedBy: "yesterday", asOfGiven: false); Issue.record("accepted 'yesterday'") } catch {
            #expect(error.field == "recorded-by" && error.message.contains("ISO 8601"))
        }

        try await TestDatabase.withDatabase { database in
            _ = try await SmallRegistry.make(database)
            // The data lock of 2025 Q4 has long passed: the cut reads what was recorded by then,
            // which for this registry (entered today) is nothing at all.
            var p = SmallRegistry.parameters(minimumCell: 5)
            try p.setCut(quarter: "2025Q4", lagDays: 60, recordedBy: nil, asOfGiven: false)
            let old: ReportResult
            do { old = try await Self.build(database, p, role: .regulator) } catch { Issue.record("\(String(reflecting: error))"); return }
            #expect(old.content.parameters.asOf == LocalDate("2025-12-31")! && old.content.recordedBy == "2026-03-01T15:00:00.000000Z")
            #expect(old.content.total.patients == .count(0) && !old.content.provisional)
            // A lock still to come (a year after 2026 Q3): what is recorded so far, marked provisional.
            try p.setCut(quarter: "2026Q3", lagDays: 365, recordedBy: nil, asOfGiven: false)
            let provisional = try await Self.build(database, p, role: .regulator)
            #expect(provisional.content.provisional && provisional.content.horizon == "2027-09-30T15:00:00.000000Z")
            #expect(provisional.content.total.patients.isSuppressed || (5...8).contains(Int(provisional.content.total.patients.number ?? 0)), "6 patients, perturbed by at most 2")
            let json = try #require(try JSONSerialization.jsonObject(with: provisional.json()) as? [String: Any])
            #expect(json["provisional"] as? Bool == true && json["recorded_by"] as? String == provisional.content.recordedBy)
            #expect(String(decoding: provisional.html(language: .en), as: UTF8.self).contains("Provisional: the data lock of 2027-09-30T15:00:00.000000Z has not passed"))
            #expect(String(decoding: provisional.html(language: .ko), as: UTF8.self).contains("잠정"))
            // Its cut pulled again is still the provisional report it was.
            let again = try await OutcomeReport.cut(database: database, pull: provisional.pullID, purpose: "again")
            #expect(try await Self.build(database, again, role: .regulator).json() == provisional.json())
            // An unknown pull, and a regulator repeating an administrator's unsuppressed cut.
            await #expect(throws: RegistryError.self) { _ = try await OutcomeReport.cut(database: database, pull: 99_999, purpose: "x") }
            let exact = try await Self.build(database, SmallRegistry.parameters(suppression: false))
            let exactCut = try await OutcomeReport.cut(database: database, pull: exact.pullID, purpose: "x")
            await #expect(throws: RegistryError.self) { _ = try await Self.build(database, exactCut, role: .regulator) }
        }
    }
}
