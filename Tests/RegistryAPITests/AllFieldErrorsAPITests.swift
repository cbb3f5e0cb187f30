import Foundation
import HTTPTypes
import Hummingbird
@testable import RegistryAPI
import RegistryDomain
import RegistryStorage
import RegistryTestSupport
import Testing

/// Issue #14, observation 11 over HTTP on real PostgreSQL: a refused request names every field at
/// fault, one entry of `errors` per pointer, whether the values break a rule or the body's shape;
/// and writes nothing.
@Suite("Every invalid field in one problem document")
struct AllFieldErrorsAPITests {
    /// The `detail` of a problem document.
    static func detail(_ got: Got) -> String { got.json["detail"] as? String ?? "" }

    /// Every entry of `errors` has its own detail.
    static func detailed(_ got: Got) -> Bool {
        let errors = got.json["errors"] as? [[String: Any]] ?? []
        return !errors.isEmpty && errors.allSatisfy { ($0["detail"] as? String)?.isEmpty == false }
    }

    @Test("an enrolment with three mistakes is refused with 422 and three pointers, the detail naming them; nothing is written")
    func enrolment() async throws {
        try await APIHarness.run { h, api in
            let a = h.tokens["A"]!
            let before = try await h.snapshot()
            let got = try await api.call(.post, "/patients", token: a,
                                         json: #"{"local_id":"MRN-9","birth_year":1850,"sex":"f","consent_on":"2025-13-01","consent_version":"2"}"#)
            #expect(got.status == 422 && got.problemType == "urn:registry:problem:invalid", "\(got.text)")
            #expect(got.pointers == ["/birth_year", "/sex", "/consent_on"], "\(got.text)")
            #expect(Self.detail(got) == "3 fields are not allowed: birth_year, sex, consent_on", "\(got.text)")
            #expect(Self.detailed(got) && got.text.contains("allowed: female, male, other, unknown") && got.text.contains("allowed: 1900 to 2026"), "\(got.text)")
            // One mistake reads as before: its own message.
            let one = try await api.call(.post, "/patients", token: a,
                                         json: #"{"local_id":"MRN-9","birth_year":1850,"sex":"female","consent_on":"2025-03-01","consent_version":"2"}"#)
            #expect(one.pointers == ["/birth_year"] && Self.detail(one) == "1850 is out of range; allowed: 1900 to 2026", "\(one.text)")
            #expect(try await h.snapshot() == before, "a refused enrolment wrote something")
        }
    }

    @Test("a visit with two bad measures points at both, with the other fields at fault; a correction too; nothing is written")
    func visitMeasures() async throws {
        try await APIHarness.run { h, api in
            let a = h.tokens["A"]!
            let before = try await h.snapshot()
            let uri = "/follow-ups/\(h.openFollowUpA)/visits"
            let two = try await api.call(.post, uri, token: a, json: #"""
                {"on":"2026-11-20","contact":"phone","vital":"alive",
                 "measures":[{"key":"ecog","value":9},{"key":"ecog-x","value":1},{"key":"hemoglobin","value":12.5,"unit":"g/dL"}]}
                """#)
            #expect(two.status == 422 && two.pointers == ["/measures/0", "/measures/1"], "\(two.text)")
            #expect(two.text.contains("ecog: 9 is out of range") && two.text.contains("'ecog-x' is not a known measure"), "\(two.text)")
            let more = try await api.call(.post, uri, token: a, json: #"""
                {"on":"2026-12-20","contact":"letter","vital":"alive","measures":[{"key":"ecog","value":1},{"key":"hemoglobin","value":12,"unit":"mg"}]}
                """#)
            #expect(more.status == 422 && more.pointers == ["/on", "/contact", "/measures/1"], "\(more.text)")
            let etag = try await api.etag("/visits/\(h.visitA)", token: a)
            let correction = try await api.call(.patch, "/visits/\(h.visitA)", token: a,
                                                json: #"{"reason":" ","vital":"asleep","measures":[{"key":"ecog","value":6}]}"#, headers: [.ifMatch: etag])
            #expect(correction.status == 422 && correction.pointers == ["/reason", "/vital", "/measures/0"], "\(correction.text)")
            #expect(try await h.snapshot() == before, "a refused visit wrote something")
        }
    }

    @Test("an adverse event, an administration and a status change each name every field at fault; nothing is written")
    func otherForms() async throws {
        try await APIHarness.run { h, api in
            let a = h.tokens["A"]!
            let before = try await h.snapshot()
            let event = try await api.call(.post, "/patients/\(h.patientA)/adverse-events", token: a,
                                           json: #"{"onset":"2026-11-31","aware":"2026-11-02","term":"","category":"infection","grade":7,"criteria":["hospitalisation"],"serious":true}"#)
            #expect(event.status == 422 && event.pointers == ["/onset", "/term", "/grade", "/criteria"], "\(event.text)")
            let dose = try await api.call(.post, "/patients/\(h.patientA)/administrations", token: a,
                                          json: #"{"plan_id":\#(h.planA),"on":"2030-04-05","lot":"L 1","dose":"","fee_notified_krw":-5,"fee_collected_krw":1}"#)
            #expect(dose.status == 422 && dose.pointers == ["/on", "/lot", "/dose", "/fee_notified_krw"], "\(dose.text)")
            let status = try await api.call(.post, "/patients/\(h.patientA)/status-changes", token: a, json: #"{"kind":"died","on":"2026-02-30","reason":" "}"#)
            #expect(status.status == 422 && status.pointers == ["/kind", "/on", "/reason"], "\(status.text)")
            let etag = try await api.etag("/adverse-events/\(h.adverseEventA)", token: a)
            let corrected = try await api.call(.patch, "/adverse-events/\(h.adverseEventA)", token: a,
                                               json: #"{"reason":"regraded","grade":0,"outcome":"better","submitted_on":"soon"}"#, headers: [.ifMatch: etag])
            #expect(corrected.status == 422 && corrected.pointers == ["/grade", "/outcome", "/submitted_on"], "\(corrected.text)")
            let plan = try await api.call(.post, "/plans", token: h.tokens["admin"]!, json: #"{"institution":"ARM-1","product":"GT-01","indication":"parkinson","risk":"huge"}"#)
            #expect(plan.status == 422 && plan.pointers == ["/institution", "/indication", "/risk"], "\(plan.text)")
            #expect(try await h.snapshot() == before, "a refused request wrote something")
        }
    }

    @Test("a body with fields missing or of the wrong JSON type names each of them, nested ones too; nothing is written")
    func bodyShape() async throws {
        try await APIHarness.run { h, api in
            let a = h.tokens["A"]!
            let before = try await h.snapshot()
            let missing = try await api.call(.post, "/patients", token: a, json: #"{"local_id":"MRN-9","sex":"female","consent_version":"2"}"#)
            #expect(missing.status == 422 && missing.problemType == "urn:registry:problem:invalid-body", "\(missing.text)")
            #expect(missing.pointers == ["/birth_year", "/consent_on"], "\(missing.text)")
            #expect(Self.detail(missing) == "2 fields do not have the expected shape: /birth_year is required; /consent_on is required", "\(missing.text)")
            let types = try await api.call(.post, "/patients", token: a, json: #"{"local_id":7,"birth_year":"1961","sex":null,"consent_on":"2025-03-20"}"#)
            #expect(types.pointers == ["/local_id", "/birth_year", "/sex", "/consent_version"], "\(types.text)")
            #expect(types.text.contains("expected a whole number") && types.text.contains("must not be null; expected text"), "\(types.text)")
            // Inside arrays of objects, and a value of the right type left alone (true stays true).
            let nested = try await api.call(.post, "/follow-ups/\(h.openFollowUpA)/visits", token: a, json: #"""
                {"on":"2026-11-20","contact":"phone","vital":7,"record_death":"yes","screening":true,
                 "measures":[{"key":"ecog"},{"key":5,"value":1},{"key":"ecog","value":true},"ecog=1"]}
                """#)
            #expect(nested.status == 422, "\(nested.text)")
            #expect(nested.pointers == ["/vital", "/measures/0/value", "/measures/1/key", "/measures/2/value", "/measures/3", "/record_death"], "\(nested.text)")
            // An object given as text is named once, not with every field it lacks.
            let flat = try await api.call(.post, "/protocols", token: h.tokens["admin"]!, json: #"{"code":"LTFU-X","follow_up_class":1,"time_points":"yearly"}"#)
            #expect(flat.pointers == ["/follow_up_class", "/time_points"], "\(flat.text)")
            // Unknown fields are still refused first, all of them.
            let unknown = try await api.call(.post, "/patients", token: a, json: #"{"name":"Kim","birth_year":"x","phone":"010"}"#)
            #expect(unknown.problemType == "urn:registry:problem:unknown-field" && unknown.pointers == ["/name", "/phone"], "\(unknown.text)")
            #expect(try await h.snapshot() == before, "a refused body wrote something")
        }
    }

    @Test("decoding: one refusal per field at fault, at most the limit; a valid body decodes as before")
    func decoderBounds() throws {
        let bad = #"{"key":1,"value":1}"#
        let many = #"{"on":"2026-11-20","contact":"phone","vital":"alive","measures":["# + Array(repeating: bad, count: 300).joined(separator: ",") + "]}"
        do {
            _ = try BodyDecoder.decode(VisitBody.self, from: Data(many.utf8))
            Issue.record("a body of 300 bad measures decoded")
        } catch let problem as Problem {
            #expect(problem.kind == .invalidBody && problem.errors.count == BodyDecoder.maxFieldErrors)
            #expect(problem.errors.first?.pointer == "/measures/0/key" && problem.errors.last?.pointer == "/measures/\(BodyDecoder.maxFieldErrors - 1)/key")
        }
        let body = try BodyDecoder.decode(VisitBody.self, from: Data(#"{"on":"2026-11-20","contact":"phone","vital":"alive","screening":true,"measures":[{"key":"vcn","value":1.25,"unit":"copies/cell"}]}"#.utf8))
        #expect(body.screening == true && body.measures?.first?.value.text == "1.25")
    }
}
