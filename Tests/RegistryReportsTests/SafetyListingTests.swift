import Foundation
import PostgresNIO
import RegistryDomain
@testable import RegistryReports
import RegistryStorage
import RegistryTestSupport
import Testing

/// The safety line listing on the hand-checked registry (OutcomeReportTests' SmallRegistry): which
/// events it lists, what it says of each, its filters, its clocks, and the recorded pull.
@Suite("safety line listing")
struct SafetyListingTests {
    static func listing(_ database: Database, product: String? = nil, from: String = "2024-01-01", to: String = "2026-11-25",
                        role: ReportRole = .regulator) async throws -> SafetyListingResult {
        let request = try SafetyListingRequest(purpose: "test: signal review", product: product, from: from, to: to, today: SmallRegistry.today)
        return try await SafetyListing.build(database: database, request: request, actor: "api:safety-agency", role: role)
    }

    @Test("serious events and events of special interest, case by case, with the dose they followed and their report clocks; voided ones left out")
    func listsTheRightEvents() async throws {
        try await TestDatabase.withDatabase { database in
            let registry = try await SmallRegistry.make(database)
            let all = try await Self.listing(database)
            // p4's grade 1 "other" event is neither serious nor of special interest.
            #expect(all.rows.map(\.category) == [.hematologic, .neurologic, .autoimmuneRheumatologic, .infection, .newMalignancy])
            #expect(Set(all.rows.map(\.caseID)).count == 4, "p2's two events are one case")
            #expect(all.rows[1].caseID == all.rows[2].caseID && all.rows[0].caseID != all.rows[1].caseID)
            #expect(all.rows.allSatisfy { $0.caseID.hasPrefix("C-") && $0.caseID.count == 14 })
            let p1 = all.rows[0]
            #expect(p1.product == "GT-01" && p1.doseNumber == 1 && p1.onsetDay == 28 && p1.grade == 3 && p1.serious && p1.criteria == ["hospitalization"])
            #expect(p1.clock == .onTime && p1.reportSubmittedOn == LocalDate("2024-07-10"))
            #expect(all.rows[1].clock == .notApplicable && !all.rows[1].serious)
            let p5 = all.rows[3], p6 = all.rows[4]
            #expect(p5.grade == 5 && p5.outcome == .fatal && p5.clock == .submittedLate)
            #expect(p6.product == "CT-01" && p6.doseNumber == 2 && p6.onsetDay == 244 && p6.clock == .outstanding && p6.reportSubmittedOn == nil)
            // No patient pseudonym leaves: the case id is derived from it, not it.
            let pseudonyms = try await database.plainTransaction { c in
                try await c.query("SELECT pseudonym FROM patient", logger: TestDatabase.logger).decode(String.self).collect()
            }
            let json = String(decoding: all.json(), as: UTF8.self), csv = String(decoding: all.csv(), as: UTF8.self)
            #expect(pseudonyms.allSatisfy { !json.contains($0) && !json.contains($0.prefix(12).uppercased()) && !csv.contains($0) })
            #expect(csv.hasPrefix("case_id,event_id,institution,product,lot,dose_number,onset_day_after_dose,term,") && csv.hasSuffix("checksum,sha256:\(all.checksum)\r\n"))
            #expect(csv.split(separator: "\r\n").count == 1 + 5 + 1)
            #expect(json.contains("\"checksum\": \"sha256:\(all.checksum)\"") && json.contains("\"cases\": 4"))

            // Filters: a product, a period of awareness dates (the clock read on its last day).
            #expect(try await Self.listing(database, product: "CT-01").rows.map(\.category) == [.infection, .newMalignancy])
            #expect(try await Self.listing(database, from: "2025-01-01").rows.count == 3)
            let before = try await Self.listing(database, to: "2026-01-20")
            #expect(before.rows.last?.clock == .outstanding, "on 2026-01-20 p5's report, due the 19th, was not yet submitted")
            #expect(before.rows.count == 4)

            // The same request on the same data: the same bytes. A voided event leaves the listing.
            let again = try await Self.listing(database)
            #expect(again.json() == all.json() && again.checksum == all.checksum)
            _ = try await database.transaction(actor: "site") { tx in
                try await tx.adverseEvents.void(id: all.rows[2].eventID, reason: "entered for the wrong patient", confirm: true)
            }
            let after = try await Self.listing(database)
            #expect(after.rows.count == 4 && !after.rows.contains { $0.eventID == all.rows[2].eventID } && after.checksum != all.checksum)

            // Every pull is recorded, unsuppressed, as the listing it is.
            let pulls = try await database.plainTransaction { c in
                try await c.query("""
                    SELECT count(*)::int FROM report_pull WHERE report = 'safety-listing' AND role = 'regulator' AND NOT suppression AND min_cell = 1
                      AND purpose = 'test: signal review' AND pulled_by = 'api:safety-agency'
                    """, logger: TestDatabase.logger).decode(Int.self).collect()
            }
            #expect(pulls == [6], "all, by product, from 2025, to 2026-01-20, again, after the void")
            #expect(registry.patients.count == 6)
        }
    }

    @Test("a request names every field at fault at once: no purpose, a bad date, a period that ends before it starts")
    func refusals() throws {
        let today = SmallRegistry.today
        do {
            _ = try SafetyListingRequest(purpose: nil, product: "not a code", from: "2026-02-30", to: "2027-01-01", today: today)
            Issue.record("accepted")
        } catch {
            #expect(error.all.compactMap(\.field) == ["purpose", "product", "to", "from"])
        }
        do {
            _ = try SafetyListingRequest(purpose: "x", product: nil, from: "2026-05-01", to: "2026-04-01", today: today)
            Issue.record("accepted")
        } catch {
            #expect(error.all.compactMap(\.field) == ["from"] && error.message.contains("after the end of the period"))
        }
        let defaults = try SafetyListingRequest(purpose: "x", product: nil, from: nil, to: nil, today: today)
        #expect(defaults.to == today && defaults.from == LocalDate("2025-11-25"))
    }

    @Test("the report clock for each state of an expedited report")
    func clocks() {
        let due = LocalDate("2026-01-19")!
        #expect(ReportClock.of(serious: false, dueOn: nil, submittedOn: nil, asOf: due) == .notApplicable)
        #expect(ReportClock.of(serious: true, dueOn: due, submittedOn: nil, asOf: due) == .running, "on its due date it is not late yet")
        #expect(ReportClock.of(serious: true, dueOn: due, submittedOn: nil, asOf: due.adding(days: 1)) == .outstanding)
        #expect(ReportClock.of(serious: true, dueOn: due, submittedOn: due, asOf: due.adding(days: 30)) == .onTime)
        #expect(ReportClock.of(serious: true, dueOn: due, submittedOn: due.adding(days: 3), asOf: due.adding(days: 30)) == .submittedLate)
        #expect(ReportClock.of(serious: true, dueOn: due, submittedOn: due.adding(days: 3), asOf: due.adding(days: 1)) == .outstanding,
                "a submission after the date is not made yet on it")
        #expect(ReportClock.of(serious: true, dueOn: due, submittedOn: due.adding(days: -2), asOf: due.adding(days: -5)) == .running)
    }
}
