import Foundation
import PostgresNIO
import RegistryDemo
import RegistryDomain
import RegistryStorage
import RegistryTestSupport
import Testing

@Suite("The synthetic demo registry")
struct DemoTests {
    static let asOf = LocalDate("2026-11-25")!

    func load(patients: Int, seed: UInt64) async throws -> (DatabaseURL, DemoSummary, String) {
        let url = try await TestDatabase.create()
        let database = try await Database.open(url, logger: TestDatabase.logger, today: { Self.asOf })
        let summary = try await DemoRegistry.load(into: database, options: DemoOptions(patients: patients, seed: seed, asOf: Self.asOf, chunkSize: 97)) { _ in }
        // A digest of every generated row, to compare runs.
        let digest = try await database.plainTransaction { c in
            try await c.query("""
                SELECT md5(string_agg(x, ',' ORDER BY x)) FROM (
                  SELECT 'p' || id || pseudonym || birth_year || status || coalesce(status_on::text, '') AS x FROM patient
                  UNION ALL SELECT 'a' || id || patient_id || plan_id || administered_on || lot || fee_collected_krw FROM administration
                  UNION ALL SELECT 'f' || id || due_on || status || coalesce(completed_on::text, '') FROM follow_up) s
                """, logger: TestDatabase.logger).decode(String.self).first(where: { _ in true })!
        }
        await database.close()
        return (url, summary, digest)
    }

    @Test("a small demo is realistic and consistent, and the same seed gives the same data")
    func smallDemo() async throws {
        let (url, summary, digest) = try await load(patients: 300, seed: 42)
        let (url2, _, digest2) = try await load(patients: 300, seed: 42)
        let (url3, _, digest3) = try await load(patients: 300, seed: 43)
        #expect(digest == digest2)
        #expect(digest != digest3)
        #expect(summary.institutions == 141)
        #expect(summary.patientsByStatus.values.reduce(0, +) == 300)
        #expect(summary.administrations >= 300)
        #expect(summary.followUps > 300 * 8)
        // Most past follow-ups are complete, but not all: realistic gaps.
        let database = try await Database.open(url, logger: TestDatabase.logger, today: { Self.asOf })
        let closedCompleted = try await database.count("follow_up", where: "window_end < DATE '2026-11-25' AND status = 'completed'")
        let closedAll = try await database.count("follow_up", where: "window_end < DATE '2026-11-25' AND status <> 'not-required'")
        let ratio = Double(closedCompleted) / Double(closedAll)
        #expect(ratio > 0.75 && ratio < 0.97, "completeness \(ratio)")
        #expect(try await database.count("follow_up", where: "status = 'completed' AND completed_on IS NULL") == 0)
        #expect(try await database.count("administration", where: "administered_on < DATE '2020-09-01' OR administered_on > DATE '2026-11-25'") == 0)
        // Every administration is under an approved plan of the patient's institution, after approval.
        #expect(try await database.count("administration a JOIN treatment_plan p ON p.id = a.plan_id JOIN patient pt ON pt.id = a.patient_id",
                                      where: "p.decision <> 'approved' OR a.administered_on <= p.decided_on OR pt.institution_id <> p.institution_id") == 0)
        // Follow-ups due after a death are not required.
        #expect(try await database.count("follow_up f JOIN patient p ON p.id = f.patient_id",
                                      where: "p.status = 'deceased' AND f.due_on > p.status_on AND f.status <> 'not-required'") == 0)
        // Every completed follow-up has the visit that completed it, on its completion date.
        #expect(try await database.count("follow_up f", where: "f.status = 'completed' AND NOT EXISTS (SELECT 1 FROM visit v WHERE v.follow_up_id = f.id AND v.visit_on = f.completed_on)") == 0)
        #expect(try await database.count("visit", where: "follow_up_id IS NULL") == 300)  // one baseline visit each
        #expect(summary.measures > summary.visits)
        // A few percent of events are serious, each with its report clock; some reports are late.
        #expect(summary.adverseEvents > 30 && summary.seriousAdverseEvents > 0 && summary.seriousAdverseEvents < summary.adverseEvents)
        #expect(try await database.count("adverse_event", where: "serious AND report_due_on IS NULL") == 0)
        #expect(try await database.count("adverse_event", where: "grading_system = '' OR aware_on < onset_on") == 0)
        // Not-required follow-ups point at the status change that ended follow-up.
        #expect(try await database.count("follow_up", where: "status = 'not-required' AND suspended_by IS NULL") == 0)
        // Every row is in the audit trail, attributed to the demo.
        // Schedules are audited one row per administration, holding every follow-up it generated.
        #expect(try await database.count("audit_log", where: "entity = 'follow_up_schedule' AND actor = 'registry demo'")
                == database.count("administration", where: "EXISTS (SELECT 1 FROM follow_up f WHERE f.administration_id = administration.id)"))
        #expect(try await database.count("audit_log, jsonb_array_elements(after -> 'id') AS e(id)",
                                      where: "entity = 'follow_up_schedule' AND actor = 'registry demo'") == summary.followUps)
        // The indexes set aside for the load are all back, exactly as the migrations made them.
        let fresh = try await TestDatabase.create()
        func indexes(_ u: DatabaseURL) async throws -> [String] {
            let d = try await Database.open(u, logger: TestDatabase.logger)
            let definitions = try await d.plainTransaction { c in
                try await c.query("SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname", logger: TestDatabase.logger)
                    .decode(String.self).collect()
            }
            await d.close()
            return definitions
        }
        let expected = try await indexes(fresh)
        #expect(expected.contains { $0.contains("follow_up_institution_due") } && expected.contains { $0.contains("audit_log_patient") })
        #expect(try await indexes(url) == expected)
        await database.close()
        for u in [url, url2, url3, fresh] { try await TestDatabase.drop(u) }
    }
}
