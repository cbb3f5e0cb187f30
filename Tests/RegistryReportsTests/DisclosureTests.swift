import Foundation
import PostgresNIO
import RegistryDemo
import RegistryDomain
@testable import RegistryReports
import RegistryStorage
import RegistryTestSupport
import Testing

@Suite("Disclosure control across pulls")
struct DisclosureTests {
    static func build(_ database: Database, _ p: ReportParameters, role: ReportRole = .admin) async throws -> OutcomeReportContent {
        try await OutcomeReport.build(database: database, parameters: p, actor: "cli:analyst", role: role, today: SmallRegistry.today).content
    }

    @Test("the same records show the same perturbed value in every table and filter; every count within D of the truth; the SQL's record keys are the domain's")
    func consistent() async throws {
        try await TestDatabase.withDatabase { database in
            _ = try await SmallRegistry.make(database)
            // An administrator's K of 2 with perturbation on (the default), so that the groups of 2 and 3 show.
            let cross = try await Self.build(database, SmallRegistry.parameters(by: [.product, .institution], minimumCell: 2))
            let exact = try await Self.build(database, SmallRegistry.parameters(by: [.product, .institution], suppression: false))
            func group(_ r: OutcomeReportContent, _ product: String?, _ institution: String?) -> GroupFigures? {
                r.groups.first { $0.key == GroupKey(product: product, institution: institution) }
            }
            var compared = 0
            for (product, institution) in [("GT-01", "ARM-001"), ("CT-01", "ARM-002")] {
                var p = SmallRegistry.parameters(by: [.institution], minimumCell: 2, product: product)
                let byProduct = try await Self.build(database, p)
                p = SmallRegistry.parameters(by: [.product], minimumCell: 2)
                p.institution = institution
                let byInstitution = try await Self.build(database, p)
                let inCross = try #require(group(cross, product, institution))
                // The same three patients: the cross report's cell, the product's report's row, the institution's report's row and total.
                for other: GroupFigures? in [group(byProduct, nil, institution), group(byInstitution, product, nil), byInstitution.total, byProduct.total] {
                    let o = try #require(other)
                    #expect(o.patients == inCross.patients && o.deaths == inCross.deaths && o.adverseEvents == inCross.adverseEvents
                            && o.followUpExpected == inCross.followUpExpected && o.administrations == inCross.administrations, "\(product) at \(institution)")
                    compared += 1
                }
                let truth = try #require(group(exact, product, institution))
                for (shown, real) in [(inCross.patients, truth.patients), (inCross.deaths, truth.deaths), (inCross.adverseEvents, truth.adverseEvents),
                                      (inCross.followUpExpected, truth.followUpExpected), (inCross.followUpCompleted, truth.followUpCompleted),
                                      (inCross.administrations, truth.administrations), (inCross.serious, truth.serious)] {
                    guard let s = shown.number, let t = real.number else { continue }
                    #expect(abs(s - t) <= 2 && (t == 0) == (s == 0), "\(shown) for a true \(real)")
                }
            }
            #expect(compared == 8)
            // A regulator's figures are the administrator's perturbed ones, K apart.
            let regulator = try await Self.build(database, SmallRegistry.parameters(by: [.product, .institution], minimumCell: 5), role: .regulator)
            for g in regulator.groups where !g.patients.isSuppressed {
                #expect(g.patients == group(cross, g.key.product, g.key.institution)?.patients)
            }
            // Record keys: the report's SQL gives CellKeyPerturbation.recordKey of PostgreSQL's hash, for any id and seed.
            var random = SeededRandom(seed: 16)
            for _ in 0..<200 {
                let id = Int64(random.next() % 1_000_000_000), seed = Int64(bitPattern: random.next())
                let (hash, key) = try await database.plainTransaction { tx in
                    try await tx.connection.query("SELECT hashint8extended(\(id), \(seed)), \(unescaped: OutcomeData.recordKey("\(id)::bigint", seed))::int",
                                                  logger: TestDatabase.logger).decode((Int64, Int32).self).collect()[0]
                }
                #expect(Int(key) == CellKeyPerturbation.recordKey(hash: hash))
            }
        }
    }

    @Test("an administrator may publish unperturbed counts (classic complementary suppression), recorded as such; a regulator may not")
    func unperturbed() async throws {
        try await TestDatabase.withDatabase { database in
            _ = try await SmallRegistry.make(database)
            let exact = try await Self.build(database, SmallRegistry.parameters(minimumCell: 2, perturbation: false))
            #expect(exact.total.patients == .count(6))
            let recorded = try await database.plainTransaction { tx in
                try await tx.connection.query("SELECT parameters->>'perturbation' FROM report_pull ORDER BY id", logger: TestDatabase.logger).decode(String?.self).collect()
            }
            #expect(recorded == ["false"])
            await expectRefusal(field: "no-perturbation") {
                _ = try await Self.build(database, SmallRegistry.parameters(minimumCell: 5, perturbation: false), role: .regulator)
            }
        }
    }

    @Test("a survival curve leaves out the months whose deaths so far are 1 to K - 1, and breaks there; the 1-year estimate likewise")
    func curveGaps() {
        // 30 patients of one product: deaths on days 100, 130, 160, 190, 220 and 250, the rest censored on day 2000.
        var data = OutcomeData()
        data.cells = [1: OutcomeData.Cell(product: 1, indication: "G20", institution: 1, year: 2020, quarter: 0)]
        data.productCodes = [1: "GT-01"]
        data.institutionCodes = [1: "ARM-001"]
        for day in [100, 130, 160, 190, 220, 250] { data.survival.append(.init(cell: 1, days: day, cellKey: 0, status: 1, patients: 1)) }
        data.survival.append(.init(cell: 1, days: 2000, cellKey: 0, status: 0, patients: 24))
        var p = SmallRegistry.parameters(minimumCell: 5, perturbation: false)
        p.by = [.product]
        let content = OutcomeTables.content(data, parameters: p)
        let curve = try! #require(content.curves.first)
        #expect(curve.points.contains { $0.days < 100 } && !curve.points.contains { (100..<220).contains($0.days) } && curve.points.contains { $0.days >= 220 },
                "\(curve.points.map(\.days))")
        #expect(curve.points.first { $0.days >= 220 }.map { abs($0.survival - 25.0 / 30.0) < 1e-9 } == true, "5 deaths of 30: 0.8333")
        // Drawn as two runs: the line restarts after the gap instead of running flat through it.
        let html = ReportText.$current.withValue(ReportText.catalogues[.en]!) { ReportHTML.survivalChart(curve, id: 0) }
        let path = html.components(separatedBy: "\" class=\"curve\"")[0].components(separatedBy: "<path d=\"").last ?? ""
        #expect(path.filter { $0 == "M" }.count == 2, "\(path)")
        // One year: 6 deaths by then, shown; with K = 7 it would reveal 6 deaths, so it is withheld.
        #expect(content.total.survival.first { $0.years == 1 }?.estimate != .suppressed)
        p.minimumCell = 7
        #expect(OutcomeTables.content(data, parameters: p).total.survival.first { $0.years == 1 }?.estimate == .suppressed)
        // A death in the first month: every point after day 0 would reveal it, so no curve, and the page says why.
        data.survival = [.init(cell: 1, days: 10, cellKey: 0, status: 1, patients: 1), .init(cell: 1, days: 2000, cellKey: 0, status: 0, patients: 29)]
        p.minimumCell = 5
        let early = OutcomeTables.content(data, parameters: p)
        #expect(early.curves.isEmpty)
        let page = ReportText.$current.withValue(ReportText.catalogues[.en]!) { ReportHTML.curveless(early) }
        #expect(page.contains("No curve for GT-01: fewer than 5 patients at risk, or every point would reveal 1 to 4 deaths."))
    }

    @Test("the method's parameters are settings: D from 1 to 5 and a whole-number seed, checked when set; a larger D widens the published values")
    func settings() async throws {
        try await TestDatabase.withDatabase { database in
            _ = try await SmallRegistry.make(database)
            for (key, value) in [("report.cell-key-max", "0"), ("report.cell-key-max", "6"), ("report.cell-key-seed", "secret")] {
                await expectRefusal(field: "value") {
                    try await database.transaction(actor: "cli:admin") { tx in try await tx.settings.set(key: key, value: value, reason: "test") }
                }
            }
            try await database.transaction(actor: "cli:admin") { tx in try await tx.settings.set(key: "report.cell-key-max", value: "5", reason: "wider noise") }
            let r = try await Self.build(database, SmallRegistry.parameters(by: [.product], minimumCell: 2))
            #expect(r.perturbationMaximum == 5)
            for g in r.groups { if let n = g.patients.number { #expect(abs(n - 3) <= 5) } }
        }
    }
}
