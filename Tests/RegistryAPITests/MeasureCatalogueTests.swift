import Foundation
import HTTPTypes
import Hummingbird
@testable import RegistryAPI
import RegistryDomain
import RegistryStorage
import RegistryTestSupport
import Testing

/// Issue #14, observation 9: the measure catalogue held nothing a cell or gene therapy's
/// follow-up is about, and a visit before the dose was refused, so a baseline existed only on the
/// dose day. Over the HTTP API on real PostgreSQL; every refusal is checked to write nothing.
@Suite("API: the measure catalogue and screening visits")
struct MeasureCatalogueTests {
    static let visitBody = #"{"on":"2026-11-20","contact":"examination","vital":"alive","measures":MEASURES}"#

    static func visit(_ measures: String, on date: String = "2026-11-20", screening: Bool? = nil) -> String {
        var body = visitBody.replacingOccurrences(of: "MEASURES", with: measures).replacingOccurrences(of: "2026-11-20", with: date)
        if let screening { body = body.replacingOccurrences(of: #""vital":"alive""#, with: #""vital":"alive","screening":\#(screening)"#) }
        return body
    }

    /// The catalogue entry with a key, from GET /measures.
    static func entry(_ items: [[String: Any]], _ key: String) -> [String: Any] {
        items.first { $0["key"] as? String == key } ?? [:]
    }

    /// A visit's measures as key -> value.
    static func values(_ visit: [String: Any]) -> [String: Double] {
        var out: [String: Double] = [:]
        for m in visit["measures"] as? [[String: Any]] ?? [] {
            if let key = m["key"] as? String, let value = m["value"] as? Double { out[key] = value }
        }
        return out
    }

    static func contains(_ text: String, all parts: [String]) -> Bool { parts.allSatisfy { text.contains($0) } }

    static func enrol(_ api: APIClient, token: String, localID: String, consentOn: String) async throws -> Int {
        let got = try await api.call(.post, "/patients", token: token,
                                     json: #"{"local_id":"\#(localID)","birth_year":1970,"sex":"male","consent_on":"\#(consentOn)","consent_version":"3"}"#)
        #expect(got.status == 201, "\(got.text)")
        return try #require(got.id)
    }

    /// Doses a patient under A's plan and returns the follow-up with `label`.
    static func dose(_ api: APIClient, _ h: APIHarness, patient: Int, on date: String, followUp label: String) async throws -> Int {
        let got = try await api.call(.post, "/patients/\(patient)/administrations", token: h.tokens["A"]!,
                                     json: #"{"plan_id":\#(h.planA),"on":"\#(date)","lot":"LOT-S","dose":"2e6","fee_notified_krw":1,"fee_collected_krw":1}"#)
        #expect(got.status == 201, "\(got.text)")
        let followUps = got.json["follow_ups"] as? [[String: Any]] ?? []
        return try #require(followUps.first { $0["label"] as? String == label }?["id"] as? Int)
    }

    @Test("#9: GET /measures reads the catalogue table: the cell and gene therapy measures are there, coded in LOINC or the registry's system, with Korean names, units, ranges and answers")
    func catalogueIsListed() async throws {
        try await APIHarness.run { h, api in
            let got = try await api.call(.get, "/measures", token: h.tokens["regulator"]!)
            #expect(got.status == 200, "\(got.text)")
            let items = got.items
            let keys = Set(items.compactMap { $0["key"] as? String })
            for key in ["ecog", "eq5d-index", "hemoglobin", "disease-response", "crs-grade", "icans-grade", "ice-score", "b-cell-aplasia", "cd19-b-cells",
                        "igg", "anc", "vcn", "vector-dna", "rcr-test", "rcl-test", "clonal-expansion", "dominant-clone", "malignancy-vector"] {
                #expect(keys.contains(key), "the catalogue lacks \(key)")
            }
            // The shape as before, plus the Korean name and the answers.
            let hemoglobin = Self.entry(items, "hemoglobin")
            #expect(hemoglobin["code_system"] as? String == "LOINC" && hemoglobin["code"] as? String == "718-7" && hemoglobin["unit"] as? String == "g/dL")
            #expect(hemoglobin["minimum"] as? Double == 1 && hemoglobin["maximum"] as? Double == 25 && hemoglobin["integer"] as? Bool == false)
            #expect(hemoglobin["display_ko"] as? String == "혈색소" && (hemoglobin["answers"] as? [Any])?.isEmpty == true)
            let response = Self.entry(items, "disease-response")
            #expect(response["code_system"] as? String == "LOINC" && response["code"] as? String == "88040-1")
            let answers = response["answers"] as? [[String: Any]] ?? []
            #expect(answers.compactMap { $0["code"] as? String } == ["CR", "PR", "SD", "PD"])
            #expect(answers.compactMap { $0["value"] as? Int } == [1, 2, 3, 4])
            #expect(answers.first?["display_ko"] as? String == "완전 반응")
            let crs = Self.entry(items, "crs-grade")
            #expect(crs["code_system"] as? String == "registry" && crs["code"] as? String == "ASTCT-CRS-GRADE" && crs["integer"] as? Bool == true)
            #expect((crs["answers"] as? [[String: Any]])?.compactMap { $0["value"] as? Int } == [0, 1, 2, 3, 4])
            #expect(Self.entry(items, "vcn")["unit"] as? String == "copies/cell")
            #expect((Self.entry(items, "malignancy-vector")["answers"] as? [[String: Any]])?.compactMap { $0["code"] as? String } == ["negative", "positive", "not-tested"])
        }
    }

    @Test("#9: a CAR-T follow-up visit records CRS and ICANS grades, vector copies, the RCL test, B-cell aplasia and disease response, answers by code or value; a bad answer lists the allowed ones; refusals write nothing")
    func carTVisitOverHTTP() async throws {
        try await APIHarness.run { h, api in
            let a = h.tokens["A"]!
            let uri = "/follow-ups/\(h.openFollowUpA)/visits"
            let before = try await h.snapshot()
            let badAnswer = try await api.call(.post, uri, token: a, json: Self.visit(#"[{"key":"crs-grade","value":1},{"key":"disease-response","value":"XR"}]"#))
            #expect(badAnswer.status == 422 && badAnswer.pointers == ["/measures/1"], "\(badAnswer.text)")
            #expect(Self.contains(badAnswer.text, all: ["'XR' is not an answer", "CR (1: Complete response)", "PR (2: Partial response)", "SD (3: Stable disease)", "PD (4: Progressive disease)"]),
                    "\(badAnswer.text)")
            let noGrade5 = try await api.call(.post, uri, token: a, json: Self.visit(#"[{"key":"crs-grade","value":5}]"#))
            #expect(noGrade5.status == 422 && noGrade5.pointers == ["/measures/0"] && noGrade5.text.contains("grade-4 (4:"), "\(noGrade5.text)")
            let unitOnAnswer = try await api.call(.post, uri, token: a, json: Self.visit(#"[{"key":"rcl-test","value":"negative","unit":"copies/cell"}]"#))
            #expect(unitOnAnswer.status == 422 && unitOnAnswer.text.contains("an answer has no unit"), "\(unitOnAnswer.text)")
            let tooMany = try await api.call(.post, uri, token: a, json: Self.visit(#"[{"key":"vcn","value":25,"unit":"copies/cell"}]"#))
            #expect(tooMany.status == 422 && tooMany.text.contains("0 to 20 copies/cell"), "\(tooMany.text)")
            let notAValue = try await api.call(.post, uri, token: a, json: Self.visit(#"[{"key":"vcn","value":true}]"#))
            #expect(notAValue.status == 422 && notAValue.pointers == ["/measures/0/value"], "\(notAValue.text)")
            let unknown = try await api.call(.post, uri, token: a, json: Self.visit(#"[{"key":"car-expansion","value":3}]"#))
            #expect(unknown.status == 422 && Self.contains(unknown.text, all: ["not a known measure", "crs-grade", "GET /measures"]), "\(unknown.text)")
            #expect(try await h.snapshot() == before, "a refused visit wrote something")

            let measures = #"""
                [{"key":"crs-grade","value":2},{"key":"icans-grade","value":"grade-1"},{"key":"ice-score","value":8},
                 {"key":"vcn","value":1.5,"unit":"copies/cell"},{"key":"vector-dna","value":25000},{"key":"rcl-test","value":"negative"},
                 {"key":"b-cell-aplasia","value":"yes"},{"key":"disease-response","value":"cr"},{"key":"clonal-expansion","value":"polyclonal"},
                 {"key":"malignancy-vector","value":"not-tested"},{"key":"igg","value":420,"unit":"mg/dL"},{"key":"cd19-b-cells","value":0}]
                """#
            let logged = try await api.call(.post, uri, token: a, json: Self.visit(measures.replacingOccurrences(of: "\n", with: "")))
            #expect(logged.status == 201, "\(logged.text)")
            let stored = Self.values(logged.json)
            #expect(stored == ["crs-grade": 2, "icans-grade": 1, "ice-score": 8, "vcn": 1.5, "vector-dna": 25000, "rcl-test": 0, "b-cell-aplasia": 1,
                               "disease-response": 1, "clonal-expansion": 0, "malignancy-vector": 2, "igg": 420, "cd19-b-cells": 0], "\(logged.text)")
            let id = try #require(logged.id)
            let read = try await api.call(.get, "/visits/\(id)", token: a)
            let response = (read.json["measures"] as? [[String: Any]] ?? []).first { $0["key"] as? String == "disease-response" } ?? [:]
            #expect(response["code_system"] as? String == "LOINC" && response["code"] as? String == "88040-1", "\(read.text)")
            #expect(read.json["screening"] as? Bool == false)
            #expect(try await h.database.count("visit_measure", where: "visit_id = \(id)") == 12)
        }
    }

    @Test("#9: a screening visit 30 days before the dose is accepted, one 120 days before is refused naming /on and the 90-day window, a plain visit before the dose is refused suggesting screening; nothing refused is written")
    func screeningVisits() async throws {
        try await APIHarness.run { h, api in
            let a = h.tokens["A"]!
            let patient = try await Self.enrol(api, token: a, localID: "MRN-S1", consentOn: "2024-11-01")
            let uri = "/patients/\(patient)/visits"
            var before = try await h.snapshot()
            // No dose yet: a screening visit on or after consent is the only visit there can be.
            let beforeConsent = try await api.call(.post, uri, token: a, json: Self.visit("[]", on: "2024-10-20", screening: true))
            #expect(beforeConsent.status == 422 && beforeConsent.pointers == ["/on"] && beforeConsent.text.contains("consent on 2024-11-01"), "\(beforeConsent.text)")
            let plainNoDose = try await api.call(.post, uri, token: a, json: Self.visit("[]", on: "2025-02-01"))
            #expect(plainNoDose.status == 409 && plainNoDose.text.contains("no administration yet") && plainNoDose.text.contains("screening: true"), "\(plainNoDose.text)")
            #expect(try await h.snapshot() == before, "a refused visit wrote something")
            let early = try await api.call(.post, uri, token: a, json: Self.visit(#"[{"key":"ecog","value":1}]"#, on: "2024-11-15", screening: true))
            #expect(early.status == 201 && early.json["screening"] as? Bool == true, "\(early.text)")

            let day28 = try await Self.dose(api, h, patient: patient, on: "2025-04-01", followUp: "day 28")
            before = try await h.snapshot()
            let plainInWindow = try await api.call(.post, uri, token: a, json: Self.visit("[]", on: "2025-03-02"))
            #expect(plainInWindow.status == 422 && plainInWindow.pointers == ["/on"], "\(plainInWindow.text)")
            #expect(Self.contains(plainInWindow.text, all: ["before the administration on 2025-04-01", "may be a screening visit", "send screening: true"]), "\(plainInWindow.text)")
            let plainLongBefore = try await api.call(.post, uri, token: a, json: Self.visit("[]", on: "2024-12-02"))
            #expect(plainLongBefore.status == 422 && !plainLongBefore.text.contains("screening"), "outside the window there is nothing to suggest: \(plainLongBefore.text)")
            let tooEarly = try await api.call(.post, uri, token: a, json: Self.visit("[]", on: "2024-12-02", screening: true))
            #expect(tooEarly.status == 422 && tooEarly.pointers == ["/on"], "\(tooEarly.text)")
            #expect(Self.contains(tooEarly.text, all: ["120 days before the first dose on 2025-04-01", "90-day screening window", "from 2025-01-01"]), "\(tooEarly.text)")
            let afterDose = try await api.call(.post, uri, token: a, json: Self.visit("[]", on: "2025-04-05", screening: true))
            #expect(afterDose.status == 422 && afterDose.pointers == ["/screening"], "\(afterDose.text)")
            let onFollowUp = try await api.call(.post, "/follow-ups/\(day28)/visits", token: a, json: Self.visit("[]", on: "2025-03-20", screening: true))
            #expect(onFollowUp.status == 422 && onFollowUp.pointers == ["/screening"] && onFollowUp.text.contains("completes no follow-up"), "\(onFollowUp.text)")
            #expect(try await h.snapshot() == before, "a refused visit wrote something")

            let screening = try await api.call(.post, uri, token: a, json: Self.visit(#"[{"key":"ecog","value":2},{"key":"disease-response","value":"PD"}]"#, on: "2025-03-02", screening: true))
            #expect(screening.status == 201 && screening.json["screening"] as? Bool == true && screening.json["timing"] == nil, "\(screening.text)")
            #expect(try await h.database.count("visit", where: "patient_id = \(patient) AND screening") == 2)
            // Its date is corrected within the window, not out of it.
            let id = try #require(screening.id)
            let etag = try #require(try await api.call(.get, "/visits/\(id)", token: a).headers[.eTag])
            let moved = try await api.call(.patch, "/visits/\(id)", token: a, json: #"{"reason":"date from the chart","on":"2024-12-30"}"#, headers: [.ifMatch: etag])
            #expect(moved.status == 422 && moved.text.contains("90-day screening window"), "\(moved.text)")
            let corrected = try await api.call(.patch, "/visits/\(id)", token: a, json: #"{"reason":"date from the chart","on":"2025-03-03"}"#, headers: [.ifMatch: etag])
            #expect(corrected.status == 200 && corrected.json["visited_on"] as? String == "2025-03-03", "\(corrected.text)")
        }
    }

    /// The ecog change from baseline at day 28 in the report's total, as (n, median).
    static func ecogDay28(_ report: [String: Any]) -> (n: Int?, median: Double?) {
        let rows = (report["total"] as? [String: Any])?["outcome_measures"] as? [[String: Any]] ?? []
        let row = rows.first { $0["measure"] as? String == "ecog" && $0["time_point"] as? String == "day 28" } ?? [:]
        return (row["n"] as? Int, row["median_change"] as? Double)
    }

    static func measuresReported(_ report: [String: Any]) -> Set<String> {
        let rows = (report["total"] as? [String: Any])?["outcome_measures"] as? [[String: Any]] ?? []
        return Set(rows.compactMap { $0["measure"] as? String })
    }

    @Test("#9: the outcome report's baseline is the latest screening visit within 90 days before the first dose, or the visit on its day; coded answers are not turned into changes")
    func reportBaseline() async throws {
        try await APIHarness.run { h, api in
            let a = h.tokens["A"]!
            // P1: two screening visits in the window (ecog 4, then 2); the later is the baseline.
            let p1 = try await Self.enrol(api, token: a, localID: "MRN-B1", consentOn: "2024-12-01")
            // P2: a screening visit recorded before any dose that ends up outside the window (ecog 0),
            // one in it (ecog 2), and a visit on the dose day (ecog 3), the latest: its baseline.
            let p2 = try await Self.enrol(api, token: a, localID: "MRN-B2", consentOn: "2024-12-01")
            for (patient, date, ecog) in [(p1, "2025-02-15", 4), (p1, "2025-03-20", 2), (p2, "2024-12-15", 0), (p2, "2025-03-25", 2)] {
                let got = try await api.call(.post, "/patients/\(patient)/visits", token: a,
                                             json: Self.visit(#"[{"key":"ecog","value":\#(ecog)},{"key":"disease-response","value":"PD"}]"#, on: date, screening: true))
                #expect(got.status == 201, "\(got.text)")
            }
            var day28: [Int] = []
            for patient in [p1, p2] { day28.append(try await Self.dose(api, h, patient: patient, on: "2025-04-01", followUp: "day 28")) }
            let doseDay = try await api.call(.post, "/patients/\(p2)/visits", token: a, json: Self.visit(#"[{"key":"ecog","value":3}]"#, on: "2025-04-01"))
            #expect(doseDay.status == 201, "\(doseDay.text)")
            for f in day28 {
                let got = try await api.call(.post, "/follow-ups/\(f)/visits", token: a,
                                             json: Self.visit(#"[{"key":"ecog","value":1},{"key":"disease-response","value":"CR"}]"#, on: "2025-04-29"))
                #expect(got.status == 201, "\(got.text)")
            }
            // Exact figures: over HTTP the count n would be perturbed.
            let exact = try await OutcomeReportAPITests.exact(h, product: "GT-01")
            // P1: 1 - 2 = -1; P2: 1 - 3 = -2: median -1.5. (The dose-day rule alone counts P2 only; the
            // earliest visits in the window give -3 and -1, median -2.)
            let (n, median) = Self.ecogDay28(exact)
            #expect(n == 2 && median == -1.5, "\(String(describing: (exact["total"] as? [String: Any])?["outcome_measures"]))")
            #expect(!Self.measuresReported(exact).contains("disease-response"), "a change of CR minus PD means nothing")
            #expect(((exact["definitions"] as? [String: Any])?["outcome_measures"] as? String ?? "").contains("latest screening visit within 90 days before the first dose"))
        }
    }

    @Test("#9: an administrator adds a measure over HTTP (audited with the reason) and the next visit records it; bad codes, answers and other roles are refused and write nothing")
    func adminAddsMeasure() async throws {
        try await APIHarness.run { h, api in
            let admin = h.tokens["admin"]!
            let body = #"""
                {"key":"hlh","code_system":"registry","code":"HLH-CRITERIA","display":"HLH criteria met","display_ko":"혈구탐식성 림프조직구증 기준 충족",
                 "minimum":0,"maximum":1,"answers":[{"value":0,"code":"no","display":"No","display_ko":"아니오"},{"value":1,"code":"yes","display":"Yes","display_ko":"예"}],
                 "reason":"protocol amendment RC-2026-07"}
                """#.replacingOccurrences(of: "\n", with: "")
            let before = try await h.snapshot()
            let measuresBefore = try await h.database.count("measure_definition")
            #expect(try await api.call(.post, "/measures", token: h.tokens["A"]!, json: body).status == 403)
            let checkDigit = try await api.call(.post, "/measures", token: admin,
                                                json: #"{"key":"ferritin","code_system":"LOINC","code":"2276-5","display":"Ferritin","display_ko":"페리틴","unit":"ng/mL","minimum":0,"maximum":100000,"reason":"HLH work-up"}"#)
            #expect(checkDigit.status == 422 && checkDigit.pointers == ["/code"] && checkDigit.text.contains("check digit of 2276 is 4"), "\(checkDigit.text)")
            let sameValue = try await api.call(.post, "/measures", token: admin, json: body.replacingOccurrences(of: #""value":1,"code":"yes""#, with: #""value":0,"code":"yes""#))
            #expect(sameValue.status == 422 && sameValue.pointers == ["/answers/1"], "\(sameValue.text)")
            let english = try await api.call(.post, "/measures", token: admin, json: body.replacingOccurrences(of: "혈구탐식성 림프조직구증 기준 충족", with: "HLH"))
            #expect(english.status == 422 && english.pointers == ["/display_ko"], "\(english.text)")
            let existing = try await api.call(.post, "/measures", token: admin, json: body.replacingOccurrences(of: #""key":"hlh""#, with: #""key":"crs-grade""#))
            #expect(existing.status == 409 && existing.pointers == ["/key"], "\(existing.text)")
            let noReason = try await api.call(.post, "/measures", token: admin, json: body.replacingOccurrences(of: "protocol amendment RC-2026-07", with: " "))
            #expect(noReason.status == 422 && noReason.pointers == ["/reason"], "\(noReason.text)")
            #expect(try await h.snapshot() == before, "a refused measure wrote something")
            #expect(try await h.database.count("measure_definition") == measuresBefore, "a refused measure was added")

            let added = try await api.call(.post, "/measures", token: admin, json: body)
            #expect(added.status == 201 && added.json["integer"] as? Bool == true && (added.json["answers"] as? [Any])?.count == 2, "\(added.text)")
            #expect(try await h.database.count("audit_log", where: "entity = 'measure_definition' AND action = 'insert' AND reason = 'protocol amendment RC-2026-07'") == 1)
            #expect(Self.entry(try await api.call(.get, "/measures", token: h.tokens["A"]!).items, "hlh")["display_ko"] as? String == "혈구탐식성 림프조직구증 기준 충족")
            let visit = try await api.call(.post, "/follow-ups/\(h.openFollowUpA)/visits", token: h.tokens["A"]!, json: Self.visit(#"[{"key":"hlh","value":"yes"}]"#))
            #expect(visit.status == 201 && Self.values(visit.json) == ["hlh": 1], "\(visit.text)")
        }
    }

    @Test("the catalogue the migration seeds meets the rules an administrator's measure must: LOINC check digits, Korean names, answers within range")
    func seededCatalogueIsValid() async throws {
        try await TestDatabase.withDatabase { database in
            let catalogue = try await database.read { tx in try await tx.measures.catalogue() }
            #expect(catalogue.definitions.count == 27)
            for d in catalogue.definitions {
                let again = try NewMeasureDefinition(key: d.key, codeSystem: d.codeSystem, code: d.code, display: d.display, displayKo: d.displayKo, unit: d.unit,
                                                     minimum: d.minimum, maximum: d.maximum, integer: d.integer,
                                                     answers: d.answers.map { .init(value: $0.value, code: $0.code, display: $0.display, displayKo: $0.displayKo) })
                #expect(again.definition == d, "\(d.key) as stored is not what the rules make of it")
            }
        }
    }
}
