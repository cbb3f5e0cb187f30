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
