import Foundation
import PostgresNIO
import RegistryDomain
@testable import RegistryReports
import RegistryStorage
import RegistryTestSupport
import Testing

@Suite("The outcome trend by quarter")
struct TrendTests {
    static func trend(_ database: Database, from: String, to: String, lagDays: Int? = nil, _ p: ReportParameters = SmallRegistry.parameters(suppression: false),
                      role: ReportRole = .admin) async throws -> TrendResult {
        try await OutcomeTrend.build(database: database, parameters: p, from: from, to: to, lagDays: lagDays, actor: "cli:analyst", role: role,
                                     today: SmallRegistry.today)
    }

    @Test("each quarter's report as of its last day, pulled and recorded: the hand-checked registry's patients and deaths quarter by quarter")
    func quarterByQuarter() async throws {
        try await TestDatabase.withDatabase { database in
            _ = try await SmallRegistry.make(database)
            let t = try await Self.trend(database, from: "2024Q2", to: "2026Q3")
            #expect(t.points.map(\.quarter) == ["2024Q2", "2024Q3", "2024Q4", "2025Q1", "2025Q2", "2025Q3", "2025Q4", "2026Q1", "2026Q2", "2026Q3"])
            #expect(t.points.map { $0.content.parameters.asOf.description }.prefix(4) == ["2024-06-30", "2024-09-30", "2024-12-31", "2025-03-31"])
            // p1, p2 dosed in June 2024; p4, p5 in September; p3 and p6 in Q1 2025. p1 died 2025-03-01, p5 2026-01-15.
            #expect(t.points.map(\.content.total.patients) == [2, 4, 4, 6, 6, 6, 6, 6, 6, 6].map(Figure.count))
            #expect(t.points.map(\.content.total.deaths) == [0, 0, 0, 1, 1, 1, 1, 2, 2, 2].map(Figure.count))
            // Every point is a recorded pull; its cut pulled again gives the same report.
            let again = try await OutcomeReport.cut(database: database, pull: t.points[3].pull, purpose: "re-check of 2025Q1")
            #expect(try await OutcomeReport.build(database: database, parameters: again, actor: "cli:analyst", role: .admin, today: SmallRegistry.today).checksum
                    == t.points[3].checksum)
            #expect(try await database.count("report_pull") == 11)
            // CSV: a header and one row per quarter; JSON: canonical, its checksum over the rest.
            let csv = String(decoding: t.csv(), as: UTF8.self).components(separatedBy: "\r\n").filter { !$0.isEmpty }
            #expect(csv.count == 11 && csv[0].hasPrefix("quarter,as_of,recorded_by,provisional,patients,person_years,deaths,"))
            #expect(csv[4].hasPrefix("2025Q1,2025-03-31,") && csv[4].contains(",no,6,"))
            let json = try #require(try JSONSerialization.jsonObject(with: t.json()) as? [String: Any])
            #expect(json["checksum"] as? String == "sha256:\(t.checksum)" && (json["quarters"] as? [[String: Any]])?.count == 10)
            #expect(json["lag_days"] is NSNull)
        }
    }

    @Test("with a data lock each quarter reads what was recorded by then; the last quarter must have ended; refusals name the field")
    func lockedAndRefused() async throws {
        try await TestDatabase.withDatabase { database in
            _ = try await SmallRegistry.make(database)
            // Everything here was entered today, long after those quarters' locks: nothing was known then.
            let locked = try await Self.trend(database, from: "2025Q1", to: "2025Q2", lagDays: 60)
            #expect(locked.points.map(\.content.total.patients) == [.count(0), .count(0)])
            #expect(locked.points[0].content.recordedBy == "2025-05-30T15:00:00.000000Z")
            let before = try await database.count("report_pull")
            await expectRefusal(field: "to") { _ = try await Self.trend(database, from: "2026Q1", to: "2026Q4") }
            #expect(try await database.count("report_pull") == before, "a refused trend pulls nothing, not even its earlier quarters")
            await expectRefusal(field: "from") { _ = try await Self.trend(database, from: "2026Q3", to: "2026Q1") }
            await expectRefusal(field: "from") { _ = try await Self.trend(database, from: "2026Q5", to: "2026Q1") }
            await expectRefusal(field: "from") { _ = try await Self.trend(database, from: "2010Q1", to: "2026Q1") }
            // A regulator's points are perturbed and K at least 5, as in the report.
            await expectRefusal(field: "min-cell") {
                _ = try await Self.trend(database, from: "2025Q1", to: "2025Q2", SmallRegistry.parameters(minimumCell: 2), role: .regulator)
            }
        }
    }
}
