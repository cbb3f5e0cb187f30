import Foundation
import PostgresNIO
import RegistryDomain
@testable import RegistryReports
import RegistryStorage
import RegistryTestSupport
import Testing

/// A registry small enough to work out every figure by hand, built through the repositories as a site
/// would: two institutions, a gene therapy (GT-01, 21 time points) and a stem-cell product
/// (CT-01, 11 time points), six patients, as of 2026-11-25.
///
///   p1 GT-01 dose 2024-06-03, baseline ecog 2, day 100 ecog 1, grade 3 hematologic (serious, on
///      time), died 2025-03-01                                              (271 days, death)
///   p2 GT-01 dose 2024-06-03, baseline ecog 1, day 100 ecog 1, year 1 ecog 0 (2025-06-03), grade 2
///      neurologic and grade 2 autoimmune events                           (365 days, censored)
///   p3 GT-01 dose 2025-01-10, baseline ecog 0, day 28 ecog 0, withdrew 2025-05-01 (111 days, cens.)
///   p4 CT-01 dose 2024-09-02, baseline pain 7, day 28 pain 6, year 1 pain 5 (2025-09-02), grade 1
///      other, lost 2025-12-01                                              (365 days, censored)
///   p5 CT-01 dose 2024-09-02, baseline pain 6, day 7 by phone, day 100 pain 4, month 6 not done,
///      grade 5 infection (report late) with death on 2026-01-15            (500 days, death)
///   p6 CT-01 doses 2025-03-03 and 2025-06-02, baseline pain 8, day 28 pain 6, second dose's
///      month 18 completed early in its window on 2026-10-20, grade 4 new malignancy (report never
///      submitted)                                                          (596 days, censored)
struct SmallRegistry {
    var patients: [PatientID]

    static let today = LocalDate("2026-11-25")!

    static func make(_ database: Database) async throws -> SmallRegistry {
        for (code, designation) in [("ARM-001", "D-2021-001"), ("ARM-002", "D-2021-002")] {
            _ = try await database.transaction(actor: "test") { tx in try await tx.institutions.add(try NewInstitution(code: code, name: "Hospital \(code)", designationNumber: designation,
                                                                  designatedOn: "2021-01-04", today: today)) }
        }
        _ = try await database.transaction(actor: "test") { tx in try await tx.products.add(try NewProduct(code: "GT-01", name: "Example AAV vector", manufacturer: "Example Bio", modality: "gene-therapy")) }
        _ = try await database.transaction(actor: "test") { tx in try await tx.products.add(try NewProduct(code: "CT-01", name: "Example MSC", manufacturer: "Example Cell", modality: "stem-cell")) }
        var plans: [PlanID] = []
        for (inst, product, indication) in [("ARM-001", "GT-01", "G20"), ("ARM-002", "CT-01", "M17.0")] {
            let pending = try await database.transaction(actor: "test") { tx in try await tx.plans.add(institutionCode: inst, productCode: product, indication: indication, risk: .high) }
            plans.append(try await database.transaction(actor: "test") { tx in try await tx.plans.decide(id: pending.id, try PlanDecisionRecord(decision: "approved", on: "2021-06-01", reference: "RC-2021-001", today: today)) }.id)
        }
        var ids: [PatientID] = []
        for (n, inst, consent) in [(1, "ARM-001", "2024-05-01"), (2, "ARM-001", "2024-05-01"), (3, "ARM-001", "2025-01-02"),
                                   (4, "ARM-002", "2024-08-01"), (5, "ARM-002", "2024-08-01"), (6, "ARM-002", "2025-02-20")] {
            ids.append(try await database.transaction(actor: "test") { tx in try await tx.patients.enroll(try NewPatient(institutionCode: inst, localID: "MRN-\(n)", birthYear: 1950 + n, sex: n % 2 == 0 ? "male" : "female",
                                                             consentOn: consent, consentVersion: "2", pseudonymizer: Fixture.key, today: today)) }.patient.id)
        }
        let (p1, p2, p3, p4, p5, p6) = (ids[0], ids[1], ids[2], ids[3], ids[4], ids[5])
        func dose(_ patient: PatientID, _ plan: PlanID, _ on: String, _ notified: Int, _ collected: Int) async throws -> [FollowUp] {
            try await database.transaction(actor: "site") { tx in try await tx.administrations.administer(patientID: patient, planID: plan, try NewAdministration(on: on, lot: "LOT-1", dose: "1 vial", feeNotified: notified,
                                                                                              feeCollected: collected, today: today)) }.followUps
        }
        func log(_ followUps: [FollowUp]?, _ label: String?, patient: PatientID, _ on: String, contact: String = "examination", _ measures: [String]) async throws {
            let followUp = label.map { l in followUps!.first { $0.label == l }!.id }
            _ = try await database.transaction(actor: "site") { tx in try await tx.visits.log(followUpID: followUp, patientID: followUp == nil ? patient : nil,
                                         try visit(on, contact: contact, measures: measures)) }
        }
        func ae(_ patient: PatientID, _ e: NewAdverseEvent) async throws -> AdverseEvent {
            try await database.transaction(actor: "site") { tx in try await tx.adverseEvents.report(patientID: patient, e, confirm: true).0 }
        }
        let gt = plans[0], ct = plans[1]

        let f1 = try await dose(p1, gt, "2024-06-03", 400_000_000, 400_000_000)
        try await log(nil, nil, patient: p1, "2024-06-03", ["ecog=2"])
        try await log(f1, "day 100", patient: p1, "2024-09-11", ["ecog=1"])
        let e1 = try await ae(p1, try event(onset: "2024-07-01", aware: "2024-07-02", grade: 3, serious: true, criteria: ["hospitalization"], category: "hematologic"))
        _ = try await database.transaction(actor: "site") { tx in try await tx.adverseEvents.submitReport(adverseEventID: e1.id, on: LocalDate("2024-07-10")!) }
        _ = try await database.transaction(actor: "site") { tx in try await tx.statusChanges.change(.death, patientID: p1, on: LocalDate("2025-03-01")!, reason: "progressive disease") }

        let f2 = try await dose(p2, gt, "2024-06-03", 420_000_000, 400_000_000)
        try await log(nil, nil, patient: p2, "2024-06-03", ["ecog=1"])
        try await log(f2, "day 100", patient: p2, "2024-09-11", ["ecog=1"])
        try await log(f2, "year 1", patient: p2, "2025-06-03", ["ecog=0"])
        _ = try await ae(p2, try event(onset: "2024-08-01", aware: "2024-08-01", grade: 2, category: "neurologic"))
        _ = try await ae(p2, try event(onset: "2025-02-01", aware: "2025-02-03", grade: 2, category: "autoimmune-rheumatologic"))

        let f3 = try await dose(p3, gt, "2025-01-10", 450_000_000, 450_000_000)
        try await log(nil, nil, patient: p3, "2025-01-10", ["ecog=0"])
        try await log(f3, "day 28", patient: p3, "2025-02-07", ["ecog=0"])
        _ = try await database.transaction(actor: "site") { tx in try await tx.statusChanges.change(.withdrawal, patientID: p3, on: LocalDate("2025-05-01")!, reason: "patient request") }

        let f4 = try await dose(p4, ct, "2024-09-02", 10_000_000, 9_000_000)
        try await log(nil, nil, patient: p4, "2024-09-02", ["pain-nrs=7"])
        try await log(f4, "day 28", patient: p4, "2024-09-30", ["pain-nrs=6"])
        try await log(f4, "year 1", patient: p4, "2025-09-02", ["pain-nrs=5"])
        _ = try await ae(p4, try event(onset: "2024-10-01", aware: "2024-10-01", grade: 1, category: "other"))
        _ = try await database.transaction(actor: "site") { tx in try await tx.statusChanges.change(.lost, patientID: p4, on: LocalDate("2025-12-01")!, reason: "no contact after letters and calls") }

        let f5 = try await dose(p5, ct, "2024-09-02", 12_000_000, 12_000_000)
        try await log(nil, nil, patient: p5, "2024-09-02", ["pain-nrs=6"])
        try await log(f5, "day 7", patient: p5, "2024-09-09", contact: "phone", [])
        try await log(f5, "day 100", patient: p5, "2024-12-11", ["pain-nrs=4"])
        _ = try await database.transaction(actor: "site") { tx in try await tx.followUps.closeNotDone(id: f5.first { $0.label == "month 6" }!.id, reason: .unreachable, note: nil) }
        let e5 = try await ae(p5, try event(onset: "2026-01-10", aware: "2026-01-12", grade: 5, category: "infection", outcomeOn: "2026-01-15"))
        _ = try await database.transaction(actor: "site") { tx in try await tx.adverseEvents.submitReport(adverseEventID: e5.id, on: LocalDate("2026-01-22")!) }  // due 2026-01-19

        let f6 = try await dose(p6, ct, "2025-03-03", 8_000_000, 8_000_000)
        try await log(nil, nil, patient: p6, "2025-03-03", ["pain-nrs=8"])
        try await log(f6, "day 28", patient: p6, "2025-03-31", ["pain-nrs=6"])
        let f6b = try await dose(p6, ct, "2025-06-02", 8_000_000, 6_000_000)
        try await log(f6b, "month 18", patient: p6, "2026-10-20", contact: "phone", [])
        _ = try await ae(p6, try event(onset: "2026-02-01", aware: "2026-02-03", grade: 4, serious: true, category: "new-malignancy"))
        return SmallRegistry(patients: ids)
    }

    static func parameters(by: [ReportDimension] = [], asOf: String = "2026-11-25", minimumCell: Int = 11, suppression: Bool = true,
                           product: String? = nil, perturbation: Bool = true) -> ReportParameters {
        var p = ReportParameters(purpose: "test: hand-checked registry", asOf: LocalDate(asOf)!, product: product, by: by,
                                 minimumCell: minimumCell, suppression: suppression)
        p.perturbation = perturbation
        return p
    }
}

extension SmallRegistry {
    /// The hand-checked registry in a database of its own, a home folder, and the built binary on
    /// both, for tests of commands as people run them. The caller removes the folder and drops the database.
    static func commandLine() async throws -> (cli: RegistryBinary, home: URL, url: DatabaseURL) {
        let url = try await TestDatabase.create()
        let db = try await Database.open(url, logger: TestDatabase.logger, today: { SmallRegistry.today })
        _ = try await SmallRegistry.make(db)
        await db.close()
        let home = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("registry-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        return (RegistryBinary(databaseURL: url, home: home), home, url)
    }
}

/// A figure equal to a value at its printed precision.
func close(_ f: Figure, _ x: Double, sourceLocation: SourceLocation = #_sourceLocation) {
    guard case .value(let v, let d) = f else { Issue.record("expected \(x), got \(f)", sourceLocation: sourceLocation); return }
    #expect(formatFixed(v, d) == formatFixed(x, d), "expected \(x), got \(v)", sourceLocation: sourceLocation)
}

@Suite("Outcome reports on PostgreSQL")
struct OutcomeReportTests {
    static func build(_ database: Database, _ p: ReportParameters, role: ReportRole = .admin, actor: String = "cli:analyst") async throws -> ReportResult {
        try await OutcomeReport.build(database: database, parameters: p, actor: actor, role: role, today: SmallRegistry.today)
    }

    @Test("every measure of the total on the hand-checked registry")
    func totalByHand() async throws {
        try await TestDatabase.withDatabase { database in
            _ = try await SmallRegistry.make(database)
            let t = try await Self.build(database, SmallRegistry.parameters(suppression: false)).content.total
            #expect(t.patients == .count(6) && t.administrations == .count(7))
            // 271 + 365 + 111 + 365 + 500 + 596 = 2208 days = 6.045 years.
            close(t.personYears, 2208 / 365.25)
            // One neurologic event in 6.045 person-years: 16.54 per 100, exact Poisson 95 % interval
            // (Garwood: 0.025318 to 5.571643 events) 0.42 to 92.17 per 100 person-years.
            let neurologic = try #require(t.byCategory.first { $0.category == .neurologic })
            close(try #require(neurologic.per100PersonYears), 100 / (2208 / 365.25))
            close(try #require(neurologic.lower), 0.025318 * 100 / (2208 / 365.25))
            close(try #require(neurologic.upper), 5.571643 * 100 / (2208 / 365.25))
            #expect(t.byCategory.first { $0.category == .other }?.lower == nil)
            #expect(t.deaths == .count(2) && t.lostToFollowUp == .count(1) && t.withdrawn == .count(1))
            // Expected: p1 4 (then dead), p2 8, p3 3 (then withdrawn), p4 6 (then lost), p5 6, p6 7 + 6 closed windows + the
            // month 18 completed early = 41; completed 10; overdue: p2's 6 and p6's 12 open ones of closed windows.
            #expect(t.followUpExpected == .count(41) && t.followUpCompleted == .count(10) && t.overdueNow == .count(18))
            close(t.completeness, 10.0 / 41)
            let byTimePoint = t.timePoints.map { ($0.timePoint, $0.expected, $0.completed) }
            let expected: [(String, Int, Int)] = [("day 7", 7, 1), ("day 28", 7, 3), ("day 100", 7, 3), ("month 6", 6, 0), ("month 9", 5, 0),
                                                  ("year 1", 5, 2), ("month 18", 3, 1), ("year 2", 1, 0)]
            #expect(byTimePoint.map(\.0) == expected.map(\.0))
            for ((label, e, c), (_, fe, fc)) in zip(expected, byTimePoint) {
                #expect(fe == .count(e) && fc == .count(c), "\(label)")
            }
            close(t.timePoints[1].completeness, 3.0 / 7)
            // Kaplan–Meier: deaths at 271 (5 at risk) and 500 (2 at risk). S(1 y) = 4/5, Greenwood sum 1/20,
            // log-log interval 0.2038 to 0.9692; nobody is followed 2 years (longest 596 days).
            let oneYear = try #require(t.survival.first { $0.years == 1 })
            #expect(oneYear.atRisk == .count(4))
            close(oneYear.estimate, 0.8); close(oneYear.lower, 0.203809); close(oneYear.upper, 0.969180)
            let twoYears = try #require(t.survival.first { $0.years == 2 })
            #expect(twoYears.atRisk == .count(0) && twoYears.estimate == .notEstimable && twoYears.lower == .notEstimable)
            #expect(t.survival.first { $0.years == 5 }?.estimate == .notEstimable)
            // Adverse events: one of each category, grades 1, 2, 2, 3, 4, 5; serious 3; late 2 (p5 submitted after its
            // 7-day clock, p6 never); five of special interest over 6.045 person-years.
            #expect(t.adverseEvents == .count(6) && t.byGrade == [.count(1), .count(2), .count(1), .count(1), .count(1)])
            #expect(t.byCategory.allSatisfy { $0.events == .count(1) })
            #expect(t.serious == .count(3) && t.expeditedReportsLate == .count(2) && t.specialInterest == .count(5))
            close(t.specialInterestPer100PersonYears, 5 / (2208 / 365.25) * 100)  // 82.71
            close(try #require(t.byCategory.first { $0.category == .infection }?.per100PersonYears), 1 / (2208 / 365.25) * 100)
            #expect(t.byCategory.first { $0.category == .other }?.per100PersonYears == nil)
            // Change from baseline, index treatment's time points only.
            let measures = t.measures.map { ($0.measure, $0.timePoint, $0.count) }
            #expect(measures.map { "\($0.0) \($0.1) \($0.2.text)" } == ["ecog day 28 1", "ecog day 100 2", "ecog year 1 1",
                                                                        "pain-nrs day 28 2", "pain-nrs day 100 1", "pain-nrs year 1 1"])
            let ecog100 = try #require(t.measures.first { $0.measure == "ecog" && $0.timePoint == "day 100" })  // -1 and 0
            close(ecog100.median, -0.5); close(ecog100.lowerQuartile, -0.75); close(ecog100.upperQuartile, -0.25)
            let pain28 = try #require(t.measures.first { $0.measure == "pain-nrs" && $0.timePoint == "day 28" })  // -1 and -2
            close(pain28.median, -1.5); close(pain28.lowerQuartile, -1.75); close(pain28.upperQuartile, -1.25)
            close(try #require(t.measures.first { $0.measure == "ecog" && $0.timePoint == "year 1" }).median, -1)
            // Fees over the seven administrations; SQL's percentile_cont agrees with the domain's quantiles.
            let notified = [8, 8, 10, 12, 400, 420, 450].map { Double($0) * 1_000_000 }
            let collected = [6, 8, 9, 12, 400, 400, 450].map { Double($0) * 1_000_000 }
            close(t.feesNotified.lowerQuartile, 9_000_000); close(t.feesNotified.median, 12_000_000); close(t.feesNotified.upperQuartile, 410_000_000)
            close(t.feesCollected.lowerQuartile, 8_500_000); close(t.feesCollected.median, 12_000_000); close(t.feesCollected.upperQuartile, 400_000_000)
            let domain = try #require(Quantiles.summary(notified))
            close(t.feesNotified.median, domain.median); close(t.feesNotified.upperQuartile, domain.upperQuartile)
            close(t.feesCollected.lowerQuartile, try #require(Quantiles.summary(collected)).lowerQuartile)
        }
    }

    @Test("every measure by product on the hand-checked registry, and an earlier data cut")
    func byProductByHand() async throws {
        try await TestDatabase.withDatabase { database in
            _ = try await SmallRegistry.make(database)
            let r = try await Self.build(database, SmallRegistry.parameters(by: [.product], suppression: false)).content
            #expect(r.groups.map(\.key.label) == ["CT-01", "GT-01"])
            let gt = r.groups[1], ct = r.groups[0]
            #expect(gt.patients == .count(3) && gt.administrations == .count(3) && gt.deaths == .count(1) && gt.withdrawn == .count(1) && gt.lostToFollowUp == .count(0))
            close(gt.personYears, 747 / 365.25)
            #expect(gt.followUpExpected == .count(15) && gt.followUpCompleted == .count(4) && gt.overdueNow == .count(6))
            close(gt.completeness, 4.0 / 15)
            let gt1 = try #require(gt.survival.first { $0.years == 1 })  // death at 271 of 2 at risk; p2 alone at risk at 365
            #expect(gt1.atRisk == .count(1)); close(gt1.estimate, 0.5); close(gt1.lower, 0.005983); close(gt1.upper, 0.910410)
            #expect(gt.adverseEvents == .count(3) && gt.byGrade == [.count(0), .count(2), .count(1), .count(0), .count(0)])
            #expect(gt.serious == .count(1) && gt.expeditedReportsLate == .count(0) && gt.specialInterest == .count(3))
            close(gt.specialInterestPer100PersonYears, 3 / (747 / 365.25) * 100)  // 146.69
            close(gt.feesNotified.lowerQuartile, 410_000_000); close(gt.feesNotified.median, 420_000_000); close(gt.feesNotified.upperQuartile, 435_000_000)
            close(gt.feesCollected.median, 400_000_000); close(gt.feesCollected.upperQuartile, 425_000_000)

            #expect(ct.patients == .count(3) && ct.administrations == .count(4) && ct.deaths == .count(1) && ct.withdrawn == .count(0) && ct.lostToFollowUp == .count(1))
            close(ct.personYears, 4.0)  // 365 + 500 + 596 = 1461 days
            #expect(ct.followUpExpected == .count(26) && ct.followUpCompleted == .count(6) && ct.overdueNow == .count(12))
            close(ct.completeness, 6.0 / 26)
            let ct1 = try #require(ct.survival.first { $0.years == 1 })  // no death in the first year: S = 1, no interval
            #expect(ct1.atRisk == .count(3)); close(ct1.estimate, 1); #expect(ct1.lower == .notEstimable)
            #expect(ct.byGrade == [.count(1), .count(0), .count(0), .count(1), .count(1)] && ct.serious == .count(2) && ct.expeditedReportsLate == .count(2))
            close(ct.specialInterestPer100PersonYears, 50)
            close(ct.feesNotified.lowerQuartile, 8_000_000); close(ct.feesNotified.median, 9_000_000); close(ct.feesNotified.upperQuartile, 10_500_000)
            close(ct.feesCollected.lowerQuartile, 7_500_000); close(ct.feesCollected.median, 8_500_000); close(ct.feesCollected.upperQuartile, 9_750_000)
            #expect(r.curves.map(\.product) == ["CT-01", "GT-01"])
            #expect(r.curves[1].points.first?.survival == 1)

            // As of 2025-06-30: p5 was alive and p4 not yet lost; four events were known.
            let early = try await Self.build(database, SmallRegistry.parameters(asOf: "2025-06-30", suppression: false)).content.total
            #expect(early.patients == .count(6) && early.deaths == .count(1) && early.lostToFollowUp == .count(0) && early.withdrawn == .count(1))
            #expect(early.adverseEvents == .count(4) && early.administrations == .count(7))
            // A filter: only GT-01's patients.
            let filtered = try await Self.build(database, SmallRegistry.parameters(suppression: false, product: "GT-01")).content.total
            #expect(filtered.patients == .count(3) && filtered.followUpExpected == .count(15))
            await expectRefusal(field: "product", code: .notFound) { _ = try await Self.build(database, SmallRegistry.parameters(product: "NO-SUCH")) }
        }
    }

    @Test("classic suppression (an administrator's unperturbed pull): small counts hidden, complementary cells across product and year, derived figures withheld")
    func suppression() async throws {
        try await TestDatabase.withDatabase { database in
            _ = try await SmallRegistry.make(database)
            // Patients by product and year: GT-01 2024 2, 2025 1; CT-01 2024 2, 2025 1. With K = 2 the two 1s are
            // small; each product's row total would give them away, so both 2024 cells go too. Year
            // totals 4 and 2, product totals 3 and 3 and the total 6 stay, and the four hidden cells
            // cannot be solved for from them.
            let r = try await Self.build(database, SmallRegistry.parameters(by: [.product, .year], minimumCell: 2, perturbation: false)).content
            func group(_ product: String?, _ year: Int?) -> GroupFigures { r.groups.first { $0.key == GroupKey(product: product, year: year) }! }
            for (product, year) in [("GT-01", 2024), ("GT-01", 2025), ("CT-01", 2024), ("CT-01", 2025)] {
                #expect(group(product, year).patients == .suppressed, "\(product) \(year)")
                #expect(group(product, year).personYears == .suppressed)
            }
            // A group of one patient is not described at all (GT-01 2025: p3's 3 follow-ups, 1 completed).
            #expect(group("GT-01", 2025).followUpExpected == .suppressed && group("GT-01", 2025).completeness == .suppressed)
            #expect(group("GT-01", 2025).deaths == .count(0))
            #expect(group("GT-01", nil).patients == .count(3) && group("CT-01", nil).patients == .count(3))
            #expect(group(nil, 2024).patients == .count(4) && group(nil, 2025).patients == .count(2) && r.total.patients == .count(6))
            // Deaths: one in each 2024 cell and in each product: hidden; 2024 has two hidden parts, so its 2 shows.
            #expect(group("GT-01", nil).deaths == .suppressed && group(nil, 2024).deaths == .count(2) && r.total.deaths == .count(2))
            #expect(r.primarySuppressed > 0 && r.complementarySuppressed > 0)

            // K = 3 by product: GT-01's 3 events of special interest are not small, but CT-01's 2 are and
            // the total 5 shows, so GT-01's go too (and its incidence with them); within each product
            // the categories (all 1s) are hidden, survival with fewer than 3 at risk is withheld, and
            // since the total's 4 at risk at one year shows, CT-01's 3 go too (and its estimate).
            let k3 = try await Self.build(database, SmallRegistry.parameters(by: [.product], minimumCell: 3, perturbation: false)).content
            let gt = k3.groups.first { $0.key.product == "GT-01" }!, ct = k3.groups.first { $0.key.product == "CT-01" }!
            #expect(ct.specialInterest == .suppressed && gt.specialInterest == .suppressed && k3.total.specialInterest == .count(5))
            #expect(gt.specialInterestPer100PersonYears == .suppressed)
            #expect(gt.patients == .count(3) && gt.deaths == .suppressed && k3.total.deaths == .suppressed)
            #expect(gt.survival.first { $0.years == 1 }?.estimate == .suppressed)  // 1 at risk
            #expect(ct.survival.first { $0.years == 1 }?.atRisk == .suppressed && ct.survival.first { $0.years == 1 }?.estimate == .suppressed)
            #expect(k3.total.survival.first { $0.years == 1 }?.atRisk == .count(4))
            // Its estimate, 0.8 = 1 - 1/5, would give away the one death by then: withheld.
            #expect(k3.total.survival.first { $0.years == 1 }?.estimate == .suppressed)
            #expect(k3.total.survival.first { $0.years == 2 }?.estimate == .suppressed, "still 1 death by 2 years")
            #expect(k3.total.byGrade.allSatisfy { $0 == .suppressed })
            #expect(gt.measures.allSatisfy { $0.median == .suppressed })
            #expect(k3.total.feesNotified.median != .suppressed)
            // The curves stop where fewer than K remain at risk.
            #expect(k3.curves.allSatisfy { c in c.points.allSatisfy { $0.days <= 500 } })
        }
    }

    @Test("the regulator's floor of 5, suppression only switched off by an admin, refusals name the field")
    func regulatorFloor() async throws {
        try await TestDatabase.withDatabase { database in
            _ = try await SmallRegistry.make(database)
            let before = try await database.count("report_pull")
            await expectRefusal(field: "min-cell", code: .invalid) { _ = try await Self.build(database, SmallRegistry.parameters(minimumCell: 4), role: .regulator) }
            await expectRefusal(field: "no-suppression", code: .invalid) { _ = try await Self.build(database, SmallRegistry.parameters(minimumCell: 11, suppression: false), role: .regulator) }
            await expectRefusal(field: "min-cell") { _ = try await Self.build(database, SmallRegistry.parameters(minimumCell: 1)) }
            await expectRefusal(field: "min-cell") { _ = try await Self.build(database, SmallRegistry.parameters(minimumCell: 1_001), role: .regulator) }
            await expectRefusal(field: "purpose") {
                _ = try await Self.build(database, ReportParameters(purpose: "  ", asOf: SmallRegistry.today), role: .regulator)
            }
            await expectRefusal(field: "as-of") { _ = try await Self.build(database, SmallRegistry.parameters(asOf: "2026-11-26")) }
            #expect(try await database.count("report_pull") == before, "a refused pull records nothing")
            // At the floor, perturbed (a regulator may not ask otherwise): the 6 patients show as 6 ± 2 when 5 or more, deaths (2 ± 2) do not.
            let r = try await Self.build(database, SmallRegistry.parameters(minimumCell: 5), role: .regulator).content
            #expect(r.total.patients.isSuppressed || (5...8).contains(Int(r.total.patients.number ?? 0)))
            #expect(r.total.deaths == .suppressed || r.total.deaths == .count(0))
            await expectRefusal(field: "no-perturbation") {
                _ = try await Self.build(database, SmallRegistry.parameters(minimumCell: 5, perturbation: false), role: .regulator)
            }
            // The database holds the same rule.
            await #expect(throws: (any Error).self) {
                try await database.transaction(actor: "x") { c in
                    try await c.query("""
                        INSERT INTO report_pull (report, pulled_by, role, purpose, parameters, as_of, min_cell, suppression, registry_version, content_sha256)
                        VALUES ('outcomes', 'x', 'regulator', 'x', '{}', '2026-01-01', 3, true, 'x', repeat('0', 64))
                        """, logger: TestDatabase.logger)
                }
            }
        }
    }

    @Test("the page in Korean: every word from the catalogue (no key left showing), the same figures and checksum as in English")
    func korean() async throws {
        let en = ReportText.catalogues[.en]!.strings, ko = ReportText.catalogues[.ko]!.strings
        #expect(Set(en.keys).subtracting(ko.keys).isEmpty, "Korean lacks \(Set(en.keys).subtracting(ko.keys).sorted())")
        #expect(Set(ko.keys).subtracting(en.keys).allSatisfy { $0.hasPrefix("definition_") || $0.hasPrefix("term_") })
        #expect(ReportJSON.definitions.keys.allSatisfy { ko["definition_\($0)"] != nil && ko["term_\($0)"] != nil }, "every definition is worded in Korean")
        try await TestDatabase.withDatabase { database in
            _ = try await SmallRegistry.make(database)
            let report = try await Self.build(database, SmallRegistry.parameters(by: [.product, .year], minimumCell: 5), role: .regulator)
            let english = String(decoding: report.html(), as: UTF8.self)
            let korean = String(decoding: report.html(language: .ko), as: UTF8.self)
            #expect(korean.contains("<html lang=\"ko\">") && korean.contains("<h2 id=\"h-headline\">주요 수치</h2>") && korean.contains("제품별 전체 생존"))
            #expect(korean.contains(report.checksum) && english.contains(report.checksum))
            // Names beside codes: in the groups and under the curves, and in the JSON.
            #expect(english.contains("GT-01<br><small class=\"name\">Example AAV vector</small>") && korean.contains("<small class=\"name\">Example MSC</small>"))
            let json = try #require(try JSONSerialization.jsonObject(with: report.json()) as? [String: Any])
            let names = try #require(json["names"] as? [String: [String: String]])
            #expect(names["product"] == ["GT-01": "Example AAV vector", "CT-01": "Example MSC"] && names["institution"] == [:])
            // No catalogue key shows on the page (a missing word would print its key).
            let keys = Set(en.keys).union(ko.keys)
            let shown = keys.filter { korean.contains(">\($0)<") || korean.contains(">\($0) ") || korean.contains("title=\"\($0)\"") }
            #expect(shown.isEmpty, "keys on the page: \(shown.sorted())")
            // The same numbers in both: the page's figures are the English page's, digit for digit.
            let numbers = { (html: String) in html.split(whereSeparator: { !$0.isNumber && $0 != "." && $0 != "," }).filter { $0.contains(where: \.isNumber) }.count }
            #expect(numbers(korean) > 100 && abs(numbers(korean) - numbers(english)) < numbers(english) / 10)
        }
    }

    @Test("the same data and parameters give a byte-identical JSON report; each pull is audited with who, purpose and parameters")
    func reproducibleAndAudited() async throws {
        try await TestDatabase.withDatabase { database in
            _ = try await SmallRegistry.make(database)
            let p = SmallRegistry.parameters(by: [.product, .year], minimumCell: 5)
            let first = try await Self.build(database, p, role: .regulator, actor: "api:mfds-reviewer")
            let second = try await Self.build(database, p, role: .regulator, actor: "api:mfds-reviewer")
            #expect(first.json() == second.json())
            #expect(first.json() == first.serializedWithChecksum(), "the spliced checksum sits where sorted keys put it")
            #expect(first.checksum == second.checksum && first.pullID != second.pullID)
            let json = try #require(try JSONSerialization.jsonObject(with: first.json()) as? [String: Any])
            #expect(json["checksum"] as? String == "sha256:\(first.checksum)")
            #expect(json["as_of"] as? String == "2026-11-25")
            #expect((json["registry_version"] as? String)?.hasPrefix(RegistryVersion.software) == true)
            #expect(String(decoding: first.csv(), as: UTF8.self).contains(",report_checksum,,sha256:\(first.checksum)\r\n"))
            #expect(String(decoding: first.html(), as: UTF8.self).contains(first.checksum))
            // Different parameters, different content.
            let other = try await Self.build(database, SmallRegistry.parameters(by: [.product], minimumCell: 5), role: .regulator)
            #expect(other.checksum != first.checksum)
            // An admin switching suppression off is recorded as such.
            let unsuppressed = try await Self.build(database, SmallRegistry.parameters(suppression: false), actor: "cli:registrar")

            let pulls = try await database.plainTransaction { c in
                try await c.query("""
                    SELECT id, pulled_by, role, purpose, parameters::text, suppression, min_cell, content_sha256 FROM report_pull ORDER BY id
                    """, logger: TestDatabase.logger).decode((Int, String, String, String, String, Bool, Int32, String).self).collect()
            }
            #expect(pulls.count == 4)
            #expect(pulls[0].1 == "api:mfds-reviewer" && pulls[0].2 == "regulator" && pulls[0].3 == "test: hand-checked registry")
            #expect(pulls[0].7 == first.checksum && pulls[1].7 == first.checksum && pulls[0].0 == first.pullID)
            #expect(pulls[0].4.contains("\"by\": [\"product\", \"year\"]") && pulls[0].4.contains("\"min_cell\": 5"))
            #expect(pulls[3].1 == "cli:registrar" && pulls[3].2 == "admin" && pulls[3].5 == false && pulls[3].0 == unsuppressed.pullID)
            // The audit trail has each pull: who, why (the purpose), what (the parameters and checksum).
            let audited = try await database.plainTransaction { c in
                try await c.query("""
                    SELECT actor, reason, after->'parameters'->>'min_cell', after->>'content_sha256', after->>'suppression'
                    FROM audit_log WHERE entity = 'report_pull' ORDER BY id
                    """, logger: TestDatabase.logger).decode((String, String?, String?, String?, String?).self).collect()
            }
            #expect(audited.count == 4)
            #expect(audited[0].0 == "api:mfds-reviewer" && audited[0].1 == "outcome report: test: hand-checked registry")
            #expect(audited[0].2 == "5" && audited[0].3 == first.checksum)
            #expect(audited[3].0 == "cli:registrar" && audited[3].4 == "false")
            // Pull records are registry records: never deleted.
            await #expect(throws: (any Error).self) {
                try await database.transaction(actor: "x") { c in try await c.query("DELETE FROM report_pull", logger: TestDatabase.logger) }
            }
        }
    }

    @Test("by quarter of the first treatment: each patient once, in 2024Q2, 2024Q3 or 2025Q1; under the year; in the CSV's quarter column")
    func byQuarter() async throws {
        try await TestDatabase.withDatabase { database in
            _ = try await SmallRegistry.make(database)
            let r = try await Self.build(database, SmallRegistry.parameters(by: [.year, .quarter], suppression: false))
            let c = r.content
            let crossed = c.groups.filter { $0.key.year != nil && $0.key.quarter != nil }.map { "\($0.key.year!) \($0.key.quarter!) \($0.patients.text)" }
            #expect(crossed == ["2024 2024Q2 2", "2024 2024Q3 2", "2025 2025Q1 2"])
            #expect(c.groups.filter { $0.key.year == nil && $0.key.quarter != nil }.map(\.patients) == [.count(2), .count(2), .count(2)])
            #expect(c.groups.first { $0.key == GroupKey(quarter: "2024Q3") }?.deaths == .count(1), "p5 died")
            let csv = String(decoding: r.csv(), as: UTF8.self)
            #expect(csv.contains("(all),(all),(all),2024,2024Q2,patients,,2\r\n") && csv.contains("(all),(all),(all),(all),2025Q1,patients,,2\r\n"))
            let json = try #require(try JSONSerialization.jsonObject(with: r.json()) as? [String: Any])
            let groups = try #require(json["groups"] as? [[String: Any]])
            #expect(groups.contains { ($0["group"] as? [String: Any])?["quarter"] as? String == "2025Q1" })
            #expect(String(decoding: r.html(language: .ko), as: UTF8.self).contains("분기"))
            // Not broken down by quarter, the cells are the same as before: one per year.
            let byYear = try await Self.build(database, SmallRegistry.parameters(by: [.year], suppression: false)).content
            #expect(byYear.groups.map(\.patients) == [.count(4), .count(2)])
        }
    }

    @Test("the institutions' scorecard: ranked by completeness, best first, the 90 % target marked; group tables split to fit a laptop")
    func scorecard() async throws {
        try await TestDatabase.withDatabase { database in
            _ = try await SmallRegistry.make(database)
            let r = try await Self.build(database, SmallRegistry.parameters(by: [.institution, .product], suppression: false))
            let institutions = r.content.groups.filter { $0.key.dimensions == [.institution] }
            let expected = institutions.sorted { ($0.completeness.number ?? -1) > ($1.completeness.number ?? -1) }.map { $0.key.institution! }
            let html = String(decoding: r.html(language: .en), as: UTF8.self)
            let section = try #require(html.range(of: "<section aria-labelledby=\"h-scorecard\">").map { String(html[$0.lowerBound...]) })
            let order = expected.map { code in section.range(of: "<th scope=\"row\">\(code)")?.lowerBound }
            #expect(order.allSatisfy { $0 != nil } && order == order.sorted { $0! < $1! }, "ranked best first: \(expected)")
            let below = institutions.filter { ($0.completeness.number ?? 1) < 0.9 }.count
            let figured = institutions.filter { $0.completeness.number != nil }.count
            #expect(section.contains("\(below) of the \(figured) institutions with a completeness figure are below the CIBMTR target of 90 %"))
            #expect(section.contains("class=\"target\""), "the 90 % line is drawn")
            // Each level's figures come in three tables of at most 11 columns.
            #expect(html.components(separatedBy: "— patients and follow-up</caption>").count - 1 == 4, "cross, each dimension, the total")
            #expect(html.contains("— survival and safety</caption>") && html.contains("— fees</caption>"))
            let ko = String(decoding: r.html(language: .ko), as: UTF8.self)
            #expect(ko.contains("추적조사 완료율 기관 순위"))
            // Without institutions in the breakdown there is no scorecard.
            let byProduct = try await Self.build(database, SmallRegistry.parameters(by: [.product], suppression: false))
            #expect(!String(decoding: byProduct.html(), as: UTF8.self).contains("h-scorecard"))
        }
    }

    @Test("registry report outcomes on the command line: formats, --out, refusals")
    func commandLine() async throws {
        let (cli, home, url) = try await SmallRegistry.commandLine()
        defer { try? FileManager.default.removeItem(at: home) }
        let base = ["report", "outcomes", "--purpose", "committee question", "--as-of", "2026-11-25", "--by", "product"]
        let html = home.appendingPathComponent("r.html").path
        // Unperturbed, so that CT-01's three patients always show (perturbed they may come out as 1, withheld at K = 2).
        let written = try cli.run(base + ["--format", "html", "--min-cell", "2", "--no-perturbation", "--out", html, "--json"])
        #expect(written.status == 0, "\(written.stderr)")
        #expect((written.json as? [String: Any])?["pull"] as? Int != nil)
        let page = try String(contentsOfFile: html, encoding: .utf8)
        #expect(page.hasPrefix("<!DOCTYPE html>") && page.contains("<svg") && page.contains("<title id=\"km0-t\">Overall survival, CT-01</title>"))
        #expect(!page.contains("http://") && !page.contains("https://"), "self-contained: nothing fetched")
        let csv = try cli.run(base + ["--format", "csv"])
        #expect(csv.status == 0 && csv.stdout.hasPrefix("product,indication,institution,year,quarter,measure,time_point,value\r\n"))
        #expect(csv.stdout.contains("GT-01,(all),(all),(all),(all),patients,,suppressed\r\n"))
        #expect(csv.stderr.contains("pull") && csv.stderr.contains("checksum"))
        let a = try cli.run(base + ["--format", "json"]), b = try cli.run(base + ["--format", "json"])
        #expect(a.status == 0 && a.stdout == b.stdout)
        let regulator = try cli.run(base + ["--format", "json", "--role", "regulator", "--min-cell", "3", "--json"])
        #expect(regulator.status == 1 && regulator.errorJSON?["field"] as? String == "min-cell")
        let off = try cli.run(base + ["--format", "json", "--role", "regulator", "--no-suppression", "--json"])
        #expect(off.status == 1 && off.errorJSON?["field"] as? String == "no-suppression")
        #expect(try cli.run(base + ["--format", "pdf", "--json"]).errorJSON?["field"] as? String == "format")
        // --cut: the same bytes again; no other report parameter beside it; a quarter named the way it is written.
        let first = home.appendingPathComponent("first.json").path, again = home.appendingPathComponent("again.json").path
        let pulled = try cli.run(base + ["--format", "json", "--out", first, "--json"])
        let pull = try #require((pulled.json as? [String: Any])?["pull"] as? Int)
        #expect((pulled.json as? [String: Any])?["recordedBy"] as? String != nil || (pulled.json as? [String: Any])?["recorded_by"] as? String != nil)
        let repeated = try cli.run(["report", "outcomes", "--purpose", "re-check", "--cut", String(pull), "--format", "json", "--out", again, "--json"])
        #expect(repeated.status == 0, "\(repeated.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: first)) == Data(contentsOf: URL(fileURLWithPath: again)))
        let mixed = try cli.run(["report", "outcomes", "--purpose", "x", "--cut", String(pull), "--as-of", "2026-01-01", "--format", "json", "--json"])
        #expect(mixed.status == 1 && mixed.errorJSON?["field"] as? String == "as-of")
        #expect(try cli.run(["report", "outcomes", "--purpose", "x", "--quarter", "2026Q7", "--format", "json", "--json"]).errorJSON?["field"] as? String == "quarter")
        #expect(try cli.run(["report", "outcomes", "--purpose", "x", "--cut", "424242", "--format", "json", "--json"]).errorJSON?["field"] as? String == "cut")
        #expect(try cli.run(["report", "outcomes", "--purpose", "x", "--by", "product,colour", "--format", "json", "--json"]).errorJSON?["field"] as? String == "by")
        try await TestDatabase.drop(url)
    }
}

@Suite("Canonical report JSON")
struct CanonicalJSONTests {
    @Test("fixed decimals, halves away from zero, never -0; keys sorted by bytes; escapes")
    func canonical() {
        #expect(RegistryReports.formatFixed(0.8, 4) == "0.8000" && RegistryReports.formatFixed(2208 / 365.25, 1) == "6.0")
        #expect(RegistryReports.formatFixed(-0.00001, 3) == "0.000" && RegistryReports.formatFixed(-1.25, 1) == "-1.3")
        #expect(RegistryReports.formatFixed(410_000_000, 0) == "410000000" && RegistryReports.formatFixed(0.0625, 2) == "0.06")
        #expect(RegistryReports.formatFixed(12.5, 0) == "13" && RegistryReports.formatFixed(0.05, 4) == "0.0500")
        let doc = CanonicalJSON.object(["b": .int(1), "a": .array([.string("x\"y\n"), .null]), "Z": .object([:]), "c": .bool(true)])
        #expect(String(decoding: doc.serialized(), as: UTF8.self) == "{\n  \"Z\": {},\n  \"a\": [\"x\\\"y\\n\", null],\n  \"b\": 1,\n  \"c\": true\n}\n")
    }
}
