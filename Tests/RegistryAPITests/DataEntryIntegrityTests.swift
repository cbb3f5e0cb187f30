import Foundation
import HTTPTypes
import Hummingbird
@testable import RegistryAPI
import RegistryDomain
import RegistryStorage
import RegistryTestSupport
import Testing

/// The observations of issue #14 (data-entry integrity), each as a coordinator met it, over the
/// HTTP API on real PostgreSQL. Every refusal is checked to write nothing.
@Suite("Data-entry integrity")
struct DataEntryIntegrityTests {
    @Test("#8: a serious adverse event without any ICH E2A criterion is refused, naming /criteria and the allowed values; nothing is written")
    func seriousNeedsCriterion() async throws {
        try await APIHarness.run { h, api in
            let a = h.tokens["A"]!
            let uri = "/patients/\(h.patientA)/adverse-events"
            let before = try await h.snapshot()
            let refused = try await api.call(.post, uri, token: a,
                                             json: #"{"onset":"2026-11-01","aware":"2026-11-02","term":"Pneumonia","category":"infection","grade":3,"serious":true}"#)
            #expect(refused.status == 422 && refused.pointers == ["/criteria"], "\(refused.text)")
            #expect(refused.text.contains("hospitalization") && refused.text.contains("important-medical-event"))
            #expect(try await h.snapshot() == before, "a refused event wrote something")
            let accepted = try await api.call(.post, uri, token: a,
                                              json: #"{"onset":"2026-11-01","aware":"2026-11-02","term":"Pneumonia","category":"infection","grade":3,"serious":true,"criteria":["hospitalization"]}"#)
            #expect(accepted.status == 201, "\(accepted.text)")
            // Grade 4 and 5 carry their criterion (life-threatening, death) by definition.
            let graded = try await api.call(.post, uri, token: a,
                                            json: #"{"onset":"2026-11-03","aware":"2026-11-03","term":"Sepsis","category":"infection","grade":4,"serious":true}"#)
            #expect(graded.status == 201, "\(graded.text)")
        }
    }

    @Test("#5: a transfer moves every follow-up still owed, overdue included; the old site's worklist loses them, the new site's shows them as transferred in and may close them")
    func transferMovesOverdue() async throws {
        try await APIHarness.run { h, api in
            let a = h.tokens["A"]!, b = h.tokens["B"]!
            func worklist(_ token: String) async throws -> [[String: Any]] {
                let got = try await api.call(.get, "/worklist?days=60&limit=200", token: token)
                #expect(got.status == 200, "\(got.text)")
                return got.json["items"] as? [[String: Any]] ?? []
            }
            func overdue(_ items: [[String: Any]]) -> [Int: Int] {
                Dictionary(uniqueKeysWithValues: items.filter { $0["kind"] as? String == "overdue" && $0["patient_id"] as? Int == h.patientA.rawValue }
                    .map { ($0["follow_up_id"] as! Int, $0["days_overdue"] as! Int) })
            }
            let owedAtA = overdue(try await worklist(a))
            #expect(!owedAtA.isEmpty, "the seeded patient has follow-ups overdue on \(APIHarness.today)")
            #expect(try await worklist(a).allSatisfy { $0["transferred_in"] as? Bool == false })
            let moved = try await api.call(.post, "/patients/\(h.patientA)/status-changes", token: a,
                                           json: #"{"kind":"transfer","on":"2026-11-20","reason":"moved to Busan","to":"ARM-002"}"#)
            #expect(moved.status == 201, "\(moved.text)")
            #expect(overdue(try await worklist(a)).isEmpty, "the sending site still lists follow-ups it can no longer close")
            let atB = try await worklist(b).filter { $0["patient_id"] as? Int == h.patientA.rawValue }
            #expect(overdue(atB) == owedAtA, "the receiving site must owe the same overdue follow-ups, as many days overdue")
            #expect(!atB.isEmpty && atB.allSatisfy { $0["transferred_in"] as? Bool == true })
            // Every follow-up still owed is now the receiving site's; done ones stayed where they were done.
            let atA = try await h.database.count("follow_up", where: "patient_id = \(h.patientA) AND status IN ('scheduled', 'missed') AND institution_id = (SELECT id FROM institution WHERE code = 'ARM-001')")
            #expect(atA == 0)
            let oldest = try #require(owedAtA.keys.min())
            #expect(try await api.call(.post, "/follow-ups/\(oldest)/not-done", token: a, json: #"{"reason":"unreachable"}"#).status == 404)
            let closed = try await api.call(.post, "/follow-ups/\(oldest)/not-done", token: b, json: #"{"reason":"unreachable"}"#)
            #expect(closed.status == 200, "\(closed.text)")
        }
    }

    @Test("#12: a patient is found by the hospital's own number without enrolling (the number in the body, not the URL); an unknown number or another site's is 404; nothing is written")
    func lookupByLocalNumber() async throws {
        try await APIHarness.run { h, api in
            let a = h.tokens["A"]!, b = h.tokens["B"]!
            let before = try await h.snapshot()
            let found = try await api.call(.post, "/patients/lookup", token: a, json: #"{"local_id":"MRN-A"}"#)
            #expect(found.status == 200 && found.json["id"] as? Int == h.patientA.rawValue, "\(found.text)")
            #expect(!found.text.contains("MRN-A"))
            let unknown = try await api.call(.post, "/patients/lookup", token: a, json: #"{"local_id":"MRN-Z"}"#)
            #expect(unknown.status == 404, "\(unknown.text)")
            #expect(unknown.text.contains("holds no patient with this local key") && unknown.text.contains("POST /patients"), "\(unknown.text)")
            #expect(try await api.call(.post, "/patients/lookup", token: b, json: #"{"local_id":"MRN-A"}"#).status == 404)
            let empty = try await api.call(.post, "/patients/lookup", token: a, json: #"{"local_id":""}"#)
            #expect(empty.status == 422 && empty.pointers == ["/local_id"], "\(empty.text)")
            #expect(try await api.call(.post, "/patients/lookup", token: h.tokens["regulator"]!, json: #"{"local_id":"MRN-A"}"#).status == 403)
            #expect(try await h.snapshot() == before, "a lookup wrote something")
        }
    }

    @Test("#6: a visit that records death needs the death recorded (or records it, when the user confirms); a death cannot come before a visit at which the patient was seen alive")
    func deathAtVisit() async throws {
        try await APIHarness.run { h, api in
            let a = h.tokens["A"]!
            let before = try await h.snapshot()
            // The seeded visit on 2025-07-10 saw the patient alive.
            let early = try await api.call(.post, "/patients/\(h.patientA)/status-changes", token: a,
                                           json: #"{"kind":"death","on":"2025-07-01","reason":"reported by family"}"#)
            #expect(early.status == 422 && early.pointers == ["/on"] && early.text.contains("seen alive"), "\(early.text)")
            let uri = "/follow-ups/\(h.openFollowUpA)/visits"
            let unconfirmed = try await api.call(.post, uri, token: a, json: #"{"on":"2026-11-20","contact":"phone","vital":"dead"}"#)
            #expect(unconfirmed.status == 409 && unconfirmed.pointers == ["/vital"] && unconfirmed.text.contains("record_death"), "\(unconfirmed.text)")
            let alive = try await api.call(.post, uri, token: a, json: #"{"on":"2026-11-20","contact":"phone","vital":"alive","record_death":true}"#)
            #expect(alive.status == 422 && alive.pointers == ["/record_death"], "\(alive.text)")
            #expect(try await h.snapshot() == before, "a refused visit or death wrote something")
            #expect(try await h.database.count("patient", where: "id = \(h.patientA) AND status = 'active'") == 1)

            let confirmed = try await api.call(.post, uri, token: a, json: #"{"on":"2026-11-20","contact":"phone","vital":"dead","record_death":true}"#)
            #expect(confirmed.status == 201, "\(confirmed.text)")
            let record = try await api.call(.get, "/patients/\(h.patientA)", token: a)
            #expect((record.json["patient"] as? [String: Any])?["status"] as? String == "deceased", "\(record.text)")
            let changes = record.json["status_changes"] as? [[String: Any]] ?? []
            #expect(changes.count == 1 && changes.first?["kind"] as? String == "death" && changes.first?["effective_on"] as? String == "2026-11-20")
            #expect(try await h.database.count("follow_up", where: "patient_id = \(h.patientA) AND status = 'scheduled' AND due_on > DATE '2026-11-20'") == 0)
            #expect(try await h.database.count("follow_up", where: "patient_id = \(h.patientA) AND status = 'not-required'") > 0)
        }
    }

    @Test("#3: a second adverse event with the same term and onset for the same patient is refused as entered twice, unless marked distinct; nothing is written")
    func duplicateAdverseEvent() async throws {
        try await APIHarness.run { h, api in
            let a = h.tokens["A"]!
            let uri = "/patients/\(h.patientA)/adverse-events"
            let before = try await h.snapshot()
            // The seeded event: "Fever", onset 2025-06-01. The same, typed again in other case.
            let again = #"{"onset":"2025-06-01","aware":"2025-06-04","term":"fever","category":"infection","grade":2}"#
            let refused = try await api.call(.post, uri, token: a, json: again)
            #expect(refused.status == 409 && refused.pointers == ["/term"], "\(refused.text)")
            #expect(refused.text.contains("adverse event \(h.adverseEventA)") && refused.text.contains("PATCH /adverse-events/\(h.adverseEventA)"))
            #expect(try await h.snapshot() == before, "a refused duplicate wrote something")
            // Another onset is another event; a second event on the same day is recorded when the user says so.
            #expect(try await api.call(.post, uri, token: a, json: again.replacingOccurrences(of: "2025-06-01", with: "2025-06-02")).status == 201)
            let distinct = try await api.call(.post, uri, token: a, json: again.replacingOccurrences(of: #""grade":2"#, with: #""grade":2,"distinct":true"#))
            #expect(distinct.status == 201, "\(distinct.text)")
        }
    }

    @Test("#2: a patient's own details are corrected with a reason and the version read (If-Match); a consent after the first dose, an empty correction, a stale version and another site are refused and write nothing")
    func correctPatientDetails() async throws {
        try await APIHarness.run { h, api in
            let a = h.tokens["A"]!, b = h.tokens["B"]!
            let uri = "/patients/\(h.patientA)"
            let read = try await api.call(.get, uri, token: a)
            let etag = try #require(read.headers[.eTag])
            let before = try await h.snapshot()
            let afterDose = try await api.call(.patch, uri, token: a, json: #"{"reason":"chart","consent_on":"2025-05-01"}"#, headers: [.ifMatch: etag])
            #expect(afterDose.status == 422 && afterDose.pointers == ["/consent_on"] && afterDose.text.contains("first administration"), "\(afterDose.text)")
            let nothing = try await api.call(.patch, uri, token: a, json: #"{"reason":"chart"}"#, headers: [.ifMatch: etag])
            #expect(nothing.status == 422, "\(nothing.text)")
            let badYear = try await api.call(.patch, uri, token: a, json: #"{"reason":"chart","birth_year":1850}"#, headers: [.ifMatch: etag])
            #expect(badYear.status == 422 && badYear.pointers == ["/birth_year"], "\(badYear.text)")
            #expect(try await api.call(.patch, uri, token: b, json: #"{"reason":"chart","birth_year":1962}"#, headers: [.ifMatch: etag]).status == 404)
            #expect(try await api.call(.patch, uri, token: a, json: #"{"reason":"chart","birth_year":1962}"#).status == 428)
            #expect(try await h.snapshot() == before, "a refused correction wrote something")

            let corrected = try await api.call(.patch, uri, token: a, json: #"{"reason":"transcription error, checked against the chart","birth_year":1962,"sex":"male"}"#,
                                               headers: [.ifMatch: etag])
            #expect(corrected.status == 200 && corrected.json["birth_year"] as? Int == 1962 && corrected.json["sex"] as? String == "male", "\(corrected.text)")
            #expect(corrected.headers[.eTag] != nil && corrected.headers[.eTag] != etag)
            #expect(try await h.database.count("audit_log", where: "entity = 'patient' AND action = 'update' AND reason = 'transcription error, checked against the chart' AND (before->>'birth_year')::int = 1961 AND (after->>'birth_year')::int = 1962") == 1)
            let stale = try await api.call(.patch, uri, token: a, json: #"{"reason":"again","birth_year":1963}"#, headers: [.ifMatch: etag])
            #expect(stale.status == 412, "\(stale.text)")
        }
    }
}
