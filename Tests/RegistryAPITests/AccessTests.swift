import Foundation
import HTTPTypes
import Hummingbird
import PostgresNIO
@testable import RegistryAPI
import RegistryDomain
import RegistryStorage
import RegistryTestSupport
import Testing

@Suite("API access: roles, other institutions, row-level security")
struct AccessTests {
    @Test("each role reaches its own endpoints and gets 403 on the others'; no, unknown or revoked tokens get 401")
    func roles() async throws {
        try await APIHarness.run { h, api in
            let a = h.tokens["A"]!, admin = h.tokens["admin"]!, regulator = h.tokens["regulator"]!
            // Institution.
            #expect(try await api.call(.post, "/patients", token: a, json: #"{"local_id":"MRN-2","birth_year":1970,"sex":"male","consent_on":"2025-05-01","consent_version":"1"}"#).status == 201)
            #expect(try await api.call(.get, "/worklist", token: a).status == 200)
            #expect(try await api.call(.get, "/plans", token: a).items.map { $0["institution_code"] as? String } == ["ARM-001"])
            for (method, uri, body) in [(HTTPRequest.Method.get, "/aggregates/summary", nil), (.post, "/institutions", #"{"code":"ARM-003","name":"C","designation":"D-3","designated_on":"2025-02-21"}"#),
                                        (.post, "/plans/\(h.planB)/decision", #"{"decision":"withdrawn","on":"2025-05-01","reference":"X"}"#)] as [(HTTPRequest.Method, String, String?)] {
                let got = try await api.call(method, uri, token: a, json: body)
                #expect(got.status == 403 && got.problemType == "urn:registry:problem:forbidden", "\(method) \(uri): \(got.text)")
            }
            // Admin.
            #expect(try await api.call(.post, "/institutions", token: admin, json: #"{"code":"ARM-003","name":"C Hospital","designation":"D-3","designated_on":"2025-02-21"}"#).status == 201)
            #expect(try await api.call(.post, "/products", token: admin, json: #"{"code":"SC-01","name":"MSC","manufacturer":"Y","modality":"stem-cell"}"#).status == 201)
            let plan = try await api.call(.post, "/plans", token: admin, json: #"{"institution":"ARM-003","product":"SC-01","indication":"M17.0","risk":"medium"}"#)
            #expect(plan.status == 201, "\(plan.text)")
            #expect(try await api.call(.post, "/plans/\(plan.id ?? 0)/decision", token: admin, json: #"{"decision":"approved","on":"2025-06-01","reference":"RC-9"}"#).json["decision"] as? String == "approved")
            #expect(try await api.call(.get, "/plans", token: admin).items.count == 3)
            #expect(try await api.call(.post, "/institutions/ARM-003/status", token: admin, json: #"{"status":"suspended","reason":"notice"}"#).json["status"] as? String == "suspended")
            for uri in ["/patients", "/worklist", "/patients/\(h.patientA)", "/aggregates/summary", "/visits/\(h.visitA)"] {
                #expect(try await api.call(.get, uri, token: admin).status == 403, "admin GET \(uri)")
            }
            // Regulator: aggregates, with small counts suppressed; no patient-level endpoint, no writes.
            let summary = try await api.call(.get, "/aggregates/summary", token: regulator)
            #expect(summary.status == 200)
            let armA = (summary.json["institutions"] as? [[String: Any]])?.first { $0["institution_code"] as? String == "ARM-001" }
            #expect(armA?["patients"] is NSNull, "2 patients is below the minimum cell of 11: \(summary.text)")
            #expect(armA?["adverse_events"] is NSNull)
            #expect((summary.json["institutions"] as? [[String: Any]])?.first { $0["institution_code"] as? String == "ARM-002" }?["patients"] as? Int == 0,
                    "zero is not suppressed")
            #expect(try await api.call(.get, "/aggregates/summary?min_cell=20", token: regulator).status == 200)
            #expect(try await api.call(.get, "/aggregates/summary?min_cell=5", token: regulator).status == 400, "min_cell below the server's minimum")
            for uri in ["/patients", "/patients/\(h.patientA)", "/follow-ups", "/worklist", "/plans", "/visits/\(h.visitA)", "/administrations?lot=LOT-A"] {
                #expect(try await api.call(.get, uri, token: regulator).status == 403, "regulator GET \(uri)")
            }
            #expect(try await api.call(.post, "/products", token: regulator, json: #"{"code":"SC-02","name":"MSC","manufacturer":"Y","modality":"stem-cell"}"#).status == 403)
            #expect(try await api.call(.get, "/institutions", token: regulator).items.count == 3, "reference data is for every role")
            // No token, an unknown one, a malformed header, a revoked one (revoked after it was used, so it is cached).
            let none = try await api.call(.get, "/patients", token: nil)
            #expect(none.status == 401 && none.headers[.wwwAuthenticate] != nil && none.problemType == "urn:registry:problem:unauthenticated")
            #expect(try await api.call(.get, "/patients", token: "rgt_not-a-real-token").status == 401)
            #expect(try await api.call(.get, "/patients", token: nil, headers: [.authorization: "Basic abc"]).status == 401)
            #expect(try await api.call(.get, "/patients", token: h.tokens["B"]).status == 200)
            _ = try await h.database.transaction(actor: "test") { tx in try await tx.tokens.revoke(id: h.grants["B"]!.tokenID, reason: "test") }
            #expect(try await api.call(.get, "/patients", token: h.tokens["B"]).status == 401)
            #expect(try await api.call(.post, "/patients", token: h.tokens["B"], json: #"{"local_id":"MRN-9","birth_year":1970,"sex":"male","consent_on":"2025-05-01","consent_version":"1"}"#).status == 401)
            #expect(try await h.database.count("patient", where: "institution_id = (SELECT id FROM institution WHERE code = 'ARM-002')") == 0)
        }
    }

    @Test("another institution's records: every patient-data route answers 404 and writes nothing")
    func crossInstitution() async throws {
        try await APIHarness.run { h, api in
            let b = h.tokens["B"]!
            let visitETag = try await api.call(.get, "/visits/\(h.visitA)", token: h.tokens["A"]).headers[.eTag]!
            let aeETag = try await api.call(.get, "/adverse-events/\(h.adverseEventA)", token: h.tokens["A"]).headers[.eTag]!
            let adminETag = try await api.call(.get, "/administrations/\(h.administrationA)", token: h.tokens["A"]).headers[.eTag]!
            let before = try await h.snapshot()
            let visit = #"{"on":"2026-11-20","contact":"phone","vital":"alive"}"#
            let attempts: [(HTTPRequest.Method, String, String?, HTTPFields)] = [
                (.get, "/patients/\(h.patientA)", nil, [:]),
                (.get, "/patients/\(h.patientA)/administrations", nil, [:]),
                (.post, "/patients/\(h.patientA)/administrations", #"{"plan_id":\#(h.planB),"on":"2025-05-01","lot":"LOT-B","dose":"1","fee_notified_krw":1,"fee_collected_krw":1}"#, [:]),
                (.get, "/patients/\(h.patientA)/follow-ups", nil, [:]),
                (.get, "/patients/\(h.patientA)/visits", nil, [:]),
                (.post, "/patients/\(h.patientA)/visits", visit, [:]),
                (.get, "/patients/\(h.patientA)/adverse-events", nil, [:]),
                (.post, "/patients/\(h.patientA)/adverse-events", #"{"onset":"2026-11-01","aware":"2026-11-02","term":"Rash","category":"other","grade":1}"#, [:]),
                (.get, "/patients/\(h.patientA)/status-changes", nil, [:]),
                (.post, "/patients/\(h.patientA)/status-changes", #"{"kind":"lost","on":"2026-11-01","reason":"no answer"}"#, [:]),
                (.post, "/patients/\(h.patientA)/status-changes", #"{"kind":"transfer","on":"2026-11-01","reason":"moved","to":"ARM-002"}"#, [:]),
                (.get, "/follow-ups/\(h.openFollowUpA)", nil, [:]),
                (.post, "/follow-ups/\(h.openFollowUpA)/visits", visit, [:]),
                (.post, "/follow-ups/\(h.openFollowUpA)/not-done", #"{"reason":"unreachable"}"#, [:]),
                (.get, "/visits/\(h.visitA)", nil, [:]),
                (.patch, "/visits/\(h.visitA)", #"{"reason":"typo","contact":"phone"}"#, [.ifMatch: visitETag]),
                (.get, "/adverse-events/\(h.adverseEventA)", nil, [:]),
                (.patch, "/adverse-events/\(h.adverseEventA)", #"{"reason":"regraded","grade":2}"#, [.ifMatch: aeETag]),
                (.post, "/adverse-events/\(h.adverseEventA)/report-submission", #"{"on":"2026-11-20"}"#, [:]),
                (.post, "/visits/\(h.visitA)/void", #"{"reason":"not ours","confirm":true}"#, [.ifMatch: visitETag]),
                (.post, "/adverse-events/\(h.adverseEventA)/void", #"{"reason":"not ours","confirm":true}"#, [.ifMatch: aeETag]),
                (.get, "/administrations/\(h.administrationA)", nil, [:]),
                (.patch, "/administrations/\(h.administrationA)", #"{"reason":"typo","lot":"LOT-Z"}"#, [.ifMatch: adminETag]),
                (.post, "/lost-proposals/\(h.proposalA)/confirmation", #"{"reason":"gone"}"#, [:]),
                (.post, "/lost-proposals/\(h.proposalA)/rejection", #"{"reason":"seen"}"#, [:]),
                (.get, "/plans/\(h.planA)", nil, [:]),
            ]
            for (method, uri, body, headers) in attempts {
                let got = try await api.call(method, uri, token: b, json: body, headers: headers)
                #expect(got.status == 404, "\(method) \(uri) gave \(got.status): \(got.text)")
                #expect(got.problemType == "urn:registry:problem:not-found", "\(method) \(uri): \(got.text)")
                #expect(!got.text.contains("ARM-001") && !got.text.contains("MRN-A"), "\(method) \(uri) leaks: \(got.text)")
            }
            #expect(try await h.snapshot() == before, "a refused request wrote something")
            // Lists show B nothing of A's.
            let pseudonym = try await h.database.read { tx in try await tx.patients.patient(id: h.patientA) }.pseudonym
            for uri in ["/patients", "/patients?pseudonym=\(pseudonym)", "/follow-ups", "/worklist?days=365", "/lost-proposals?decision=all", "/administrations?lot=LOT-A"] {
                let got = try await api.call(.get, uri, token: b)
                #expect(got.status == 200 && got.items.isEmpty, "\(uri): \(got.text)")
            }
            // A sees its own.
            #expect(try await api.call(.get, "/patients?pseudonym=\(pseudonym.prefix(10))", token: h.tokens["A"]).items.count == 1)
            #expect(try await api.call(.get, "/administrations?lot=LOT-A", token: h.tokens["A"]).items.count == 1)
        }
    }

    @Test("row-level security is the backstop: an unfiltered query in a request's transaction sees only the token's institution")
    func rowLevelSecurityBackstop() async throws {
        let tables = ["patient", "administration", "follow_up", "visit", "visit_measure", "adverse_event", "patient_status_change", "lost_proposal"]
        try await APIHarness.run(extraRoutes: { router, api in
            // A handler that forgets to filter: it counts every row of every patient-data table.
            router.get("/test/unfiltered") { _, context in
                try await api.read(context) { tx, _ in
                    var counts: [String: Int] = [:]
                    for t in tables {
                        // In the request's own transaction, as a handler's repository calls are.
                        counts[t] = try await tx.query(PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(t)"), logger: TestDatabase.logger)
                            .decode(Int.self).first(where: { _ in true })!
                    }
                    return try .json(counts)
                }
            }
        }) { h, api in
            // B enrols and treats a patient of its own, so both institutions have rows.
            let enrolled = try await api.call(.post, "/patients", token: h.tokens["B"], json: #"{"local_id":"MRN-B","birth_year":1980,"sex":"male","consent_on":"2025-05-01","consent_version":"1"}"#)
            let treated = try await api.call(.post, "/patients/\(enrolled.id!)/administrations", token: h.tokens["B"], json: #"{"plan_id":\#(h.planB),"on":"2025-05-02","lot":"LOT-B","dose":"1","fee_notified_krw":1,"fee_collected_krw":1}"#)
            #expect(treated.status == 201, "\(treated.text)")
            var own: [String: [String: Int]] = [:]
            for (name, code) in [("A", "ARM-001"), ("B", "ARM-002")] {
                own[name] = [:]
                for t in tables {
                    let condition = t == "patient" ? "institution_id = (SELECT id FROM institution WHERE code = '\(code)')"
                        : "patient_id IN (SELECT id FROM patient WHERE institution_id = (SELECT id FROM institution WHERE code = '\(code)'))"
                    own[name]![t] = try await h.database.count(t, where: condition)
                }
            }
            #expect(own["A"]!["visit"]! > 0 && own["B"]!["follow_up"]! > 0)
            for name in ["A", "B"] {
                let seen = try await api.call(.get, "/test/unfiltered", token: h.tokens[name]).json as? [String: Int]
                #expect(seen == own[name], "\(name) sees \(String(describing: seen)), holds \(own[name]!)")
            }
            // Regulator and admin transactions see no patient rows at all.
            for name in ["regulator", "admin"] {
                let scope = h.grants[name]!.scope
                for t in tables {
                    let n = try await h.database.transaction(actor: "test", scope: scope) { c in
                        try await c.query(PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(t)"), logger: TestDatabase.logger).decode(Int.self).first(where: { _ in true })!
                    }
                    #expect(n == 0, "\(name) sees \(n) rows of \(t)")
                }
            }
            // Writes are held back too: B can neither change nor add rows of A's patient, nor read the trail.
            let scopeB = h.grants["B"]!.scope
            let updated = try await h.database.transaction(actor: "test", scope: scopeB) { c in
                try await c.query("UPDATE visit SET note = 'x' WHERE id = \(h.visitA) RETURNING id", logger: TestDatabase.logger).collect().count
            }
            #expect(updated == 0)
            await expectRefusal(field: nil) {
                _ = try await h.database.transaction(actor: "test", scope: scopeB) { c in
                    try await c.query("INSERT INTO visit (patient_id, institution_id, visit_on, contact_type, vital_status) SELECT \(h.patientA), id, DATE '2026-11-01', 'phone', 'alive' FROM institution WHERE code = 'ARM-002'", logger: TestDatabase.logger)
                }
            }
            await expectRefusal(field: nil) {
                _ = try await h.database.transaction(actor: "test", scope: scopeB) { c in
                    try await c.query("SELECT count(*) FROM audit_log", logger: TestDatabase.logger).collect()
                }
            }
            // The owner (the command line) is not subject to it.
            #expect(try await h.database.count("patient") == 2)
        }
    }

    @Test("a transfer hands the patient and its whole history to the new institution; the old one sees nothing more")
    func transfer() async throws {
        try await APIHarness.run { h, api in
            let a = h.tokens["A"]!, b = h.tokens["B"]!
            let moved = try await api.call(.post, "/patients/\(h.patientA)/status-changes", token: a,
                                           json: #"{"kind":"transfer","on":"2026-11-20","reason":"moved to Busan","to":"ARM-002"}"#)
            #expect(moved.status == 201, "\(moved.text)")
            #expect((moved.json["follow_ups_affected"] as? Int ?? 0) > 0)
            #expect(try await api.call(.get, "/patients/\(h.patientA)", token: a).status == 404)
            let record = try await api.call(.get, "/patients/\(h.patientA)", token: b)
            #expect(record.status == 200)
            #expect((record.json["visits"] as? [Any])?.count == 1 && (record.json["administrations"] as? [Any])?.count == 1)
            let logged = try await api.call(.post, "/follow-ups/\(h.openFollowUpA)/visits", token: b, json: #"{"on":"2026-11-21","contact":"phone","vital":"alive"}"#)
            #expect(logged.status == 201, "\(logged.text)")
        }
    }
}
