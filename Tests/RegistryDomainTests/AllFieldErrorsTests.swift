import Foundation
import RegistryDomain
import Testing

/// Issue #14, observation 11: a form with several mistakes is refused once, naming every field at
/// fault, so the coordinator corrects them all in one go.
@Suite("Every invalid field in one refusal")
struct AllFieldErrorsTests {
    static let today = LocalDate("2026-11-25")!
    static let pseudonymizer = try! Pseudonymizer(secret: Data(repeating: 7, count: 32))

    /// The fields a refusal names, in order.
    static func fields(_ error: RegistryError?) -> [String] { error?.all.compactMap(\.field) ?? [] }

    @Test("an enrolment with three mistakes names the three fields, each with what is allowed; the first carries the others")
    func enrolment() throws {
        let error = refusal {
            _ = try NewPatient(institutionCode: "ARM-001", localID: "MRN-1", birthYear: 1850, sex: "f", consentOn: "2025-13-01",
                               consentVersion: "2", pseudonymizer: Self.pseudonymizer, today: Self.today)
        }
        #expect(Self.fields(error) == ["birth-year", "sex", "consent-on"])
        let all = try #require(error?.all)
        #expect(all[0] == .invalid("birth-year", "1850 is out of range; allowed: 1900 to 2026"))
        #expect(all[1] == .invalid("sex", "'f' is not allowed; allowed: female, male, other, unknown"))
        #expect(all[2].message.contains("expected YYYY-MM-DD"))
        #expect(error?.others.count == 2 && all.allSatisfy(\.others.isEmpty))
        // One mistake is refused as before: the error alone, nothing else.
        let one = refusal {
            _ = try NewPatient(institutionCode: "ARM-001", localID: "MRN-1", birthYear: 1850, sex: "female", consentOn: "2025-03-01",
                               consentVersion: "2", pseudonymizer: Self.pseudonymizer, today: Self.today)
        }
        #expect(one == .invalid("birth-year", "1850 is out of range; allowed: 1900 to 2026"))
        // Every field at fault, institution and key included.
        let every = refusal {
            _ = try NewPatient(institutionCode: "ARM-1", localID: " ", birthYear: 3000, sex: "x", consentOn: "2030-01-01",
                               consentVersion: "", pseudonymizer: Self.pseudonymizer, today: Self.today)
        }
        #expect(Self.fields(every) == ["institution", "local-id", "birth-year", "sex", "consent-on", "consent-version"])
    }

    @Test("a patient correction names every field given that is at fault, and a missing reason with them")
    func patientCorrection() {
        let error = refusal {
            _ = try PatientCorrection(birthYear: 1800, sex: "?", consentOn: nil, consentVersion: "two words", reason: nil, today: Self.today)
        }
        #expect(Self.fields(error) == ["reason", "birth-year", "sex", "consent-version"])
    }

    @Test("a visit with several bad measures names each one where it was given; the other fields with them")
    func visitMeasures() {
        let catalogue = MeasureRulesTests.catalogue
        let error = refusal {
            _ = try NewVisit(on: "2026-11-20", contact: "examination", vital: "alive", measures: ["ecog=1", "ecog=9", "vcn=1:mg", "disease-response=XX"],
                             catalogue: catalogue, note: nil, today: Self.today, measureField: { "measures/\($0)" })
        }
        #expect(Self.fields(error) == ["measures/1", "measures/2", "measures/3"])
        #expect(error?.all.map(\.message).first?.hasPrefix("ecog: 9 is out of range") == true)
        let mixed = refusal {
            _ = try NewVisit(on: "2026-12-01", contact: "visit", vital: "alive", measures: ["ecog=7", "pain=3"], catalogue: catalogue,
                             note: "call 010-1234-5678", today: Self.today)
        }
        #expect(Self.fields(mixed) == ["on", "contact", "measure", "measure", "note"])
        // A measure given twice is named where it is repeated, once the measures are valid.
        let twice = refusal {
            _ = try NewVisit(on: "2026-11-20", contact: "phone", vital: "alive", measures: ["ecog=1", "vcn=2", "ecog=2"], catalogue: catalogue,
                             note: nil, today: Self.today, measureField: { "measures/\($0)" })
        }
        #expect(twice == .invalid("measures/2", "ecog is given twice; give each measure once per visit"))
        // A check across fields runs when the field it reads is valid: record-death needs a vital status.
        let deathless = refusal {
            _ = try NewVisit(on: "2026-11-20", contact: "phone", vital: "gone", measures: [], catalogue: catalogue, note: nil, recordDeath: true, today: Self.today)
        }
        #expect(Self.fields(deathless) == ["vital"])
        let alive = refusal {
            _ = try NewVisit(on: "x", contact: "phone", vital: "alive", measures: [], catalogue: catalogue, note: nil, recordDeath: true, today: Self.today)
        }
        #expect(Self.fields(alive) == ["on", "record-death"])
    }

    @Test("a visit correction names every field at fault, the measures each at its own place")
    func visitCorrection() {
        let error = refusal {
            _ = try VisitCorrection(on: "2026-02-30", contact: nil, vital: "asleep", measures: ["ecog=6", "vcn=3:copies/cell", "vcn=x"],
                                    catalogue: MeasureRulesTests.catalogue, note: nil, reason: " ", today: Self.today, measureField: { "measures/\($0)" })
        }
        #expect(Self.fields(error) == ["reason", "on", "vital", "measures/0", "measures/2"])
    }

    @Test("an adverse event report names term, grade, onset, seriousness criteria and the rest at once")
    func adverseEvent() {
        let error = refusal {
            _ = try NewAdverseEvent(onset: "2026-13-01", aware: "2026-11-02", term: "", meddra: "123", category: "infections", grade: 7,
                                    grading: "ctcae", serious: true, criteria: ["hospitalisation", "death-ish"], related: "maybe", outcome: "better",
                                    outcomeOn: "soon", today: Self.today)
        }
        #expect(Self.fields(error) == ["onset", "term", "meddra", "category", "grade", "grading", "criteria", "related", "outcome", "outcome-on"])
        #expect(error?.all.first { $0.field == "criteria" }?.message.hasPrefix("'hospitalisation', 'death-ish' are not seriousness criteria; allowed: death,") == true)
        // Checks across fields run when their fields are valid, and together.
        let crossed = refusal {
            _ = try NewAdverseEvent(onset: "2026-11-10", aware: "2026-11-01", term: "Fever", meddra: nil, category: "infection", grade: 3,
                                    grading: "CTCAE-5.0", serious: true, criteria: [], related: nil, outcome: "fatal", outcomeOn: "2026-11-09", today: Self.today)
        }
        #expect(Self.fields(crossed) == ["aware", "criteria", "grade", "outcome-on"])
        // A valid report is accepted as before.
        #expect(refusal {
            _ = try NewAdverseEvent(onset: "2026-11-01", aware: "2026-11-02", term: "Fever", meddra: nil, category: "infection", grade: 5,
                                    grading: "CTCAE-5.0", serious: false, criteria: [], related: nil, outcome: nil, outcomeOn: nil, today: Self.today)
        } == nil)
    }

    @Test("an adverse event correction names every field given that is at fault")
    func adverseEventCorrection() {
        let error = refusal {
            _ = try AdverseEventCorrection(onset: nil, aware: "yesterday", term: nil, meddra: "1000088", category: nil, grade: 0, grading: nil,
                                           criteria: ["fatal"], related: nil, outcome: nil, outcomeOn: nil, submittedOn: "2026-1-1", reason: nil, today: Self.today)
        }
        #expect(Self.fields(error) == ["reason", "aware", "meddra", "grade", "criteria", "submitted-on"])
    }

    @Test("an administration names every field at fault, and so does its correction")
    func administration() {
        let error = refusal {
            _ = try NewAdministration(on: "2019-01-01", lot: "LOT 7", dose: "", feeNotified: -1, feeCollected: 10_000_000_000, today: Self.today)
        }
        #expect(Self.fields(error) == ["on", "lot", "dose", "fee-notified", "fee-collected"])
        #expect(error?.all.first?.message.contains("before the Advanced Regenerative Bio Act took effect") == true)
        let correction = refusal {
            _ = try AdministrationCorrection(on: "2099-01-01", lot: nil, dose: nil, feeNotified: -5, feeCollected: nil, reason: "", today: Self.today)
        }
        #expect(Self.fields(correction) == ["reason", "on", "fee-notified"])
    }

    @Test("a status change names every field at fault; 'to' only for a transfer, and a transfer needs it")
    func statusChange() {
        #expect(Self.fields(refusal { _ = try NewStatusChange(kind: "died", on: "2026-11-31", reason: nil, to: nil, today: Self.today) })
                == ["kind", "on", "reason"])
        #expect(Self.fields(refusal { _ = try NewStatusChange(kind: "death", on: "2026-11-20", reason: "", to: "ARM-002", today: Self.today) })
                == ["cause", "to"])
        #expect(Self.fields(refusal { _ = try NewStatusChange(kind: "transfer", on: "2027-01-01", reason: "moved", to: nil, today: Self.today) })
                == ["on", "to"])
        #expect(Self.fields(refusal { _ = try NewStatusChange(kind: "transfer", on: "2026-11-20", reason: "moved", to: "arm-2", today: Self.today) })
                == ["to"])
        #expect(refusal { _ = try NewStatusChange(kind: "transfer", on: "2026-11-20", reason: "moved", to: "ARM-002", today: Self.today) } == nil)
    }

    @Test("the administrator's forms name every field at fault: institution, product, plan, decision, protocol, measure")
    func adminForms() {
        #expect(Self.fields(refusal { _ = try NewInstitution(code: "A-1", name: "", designationNumber: "D 1", designatedOn: "2030-01-01", today: Self.today) })
                == ["code", "name", "designation", "designated-on"])
        #expect(Self.fields(refusal { _ = try NewProduct(code: "gt", name: "", manufacturer: "X", modality: "minimally-manipulated") })
                == ["modality", "code", "name"])
        #expect(refusal { _ = try NewProduct(code: "GT-01", name: "AAV", manufacturer: "X", modality: "minimally-manipulated") }?.code == .outOfScope)
        #expect(Self.fields(refusal { _ = try NewPlan(institution: "ARM", product: "GT-01", indication: "Parkinson", risk: "huge") })
                == ["institution", "indication", "risk"])
        #expect(Self.fields(refusal { _ = try PlanDecisionRecord(decision: "pending", on: "2026-11-20", reference: "", today: Self.today) })
                == ["decision", "reference"])
        let points: [NewFollowUpProtocol.Entry] = [
            .init(label: "day 7", offsetAmount: 7, offsetUnit: "days", windowBefore: 2, windowAfter: 3, contactType: "phone"),
            .init(label: "", offsetAmount: 1, offsetUnit: "month", windowBefore: 400, windowAfter: -1, contactType: "phone"),
            .init(label: "month 2", offsetAmount: 2, offsetUnit: "fortnights", windowBefore: 5, windowAfter: 5, contactType: "letter"),
            .init(label: "Day 7", offsetAmount: 6, offsetUnit: "years", windowBefore: 5, windowAfter: 5, contactType: "phone"),
        ]
        #expect(Self.fields(refusal { _ = try NewFollowUpProtocol(code: "ltfu", followUpClass: "cell", timePoints: points) })
                == ["code", "time-points/1/label", "time-points/1/window-before", "time-points/1/window-after", "time-points/2/offset-unit",
                    "time-points/2/contact-type", "time-points/3/offset-amount"])
        let yesNo: [MeasureAnswer] = [.init(value: 0, code: "no", display: "No", displayKo: "아니오"), .init(value: 3, code: "1x", display: "", displayKo: "예")]
        #expect(Self.fields(refusal {
            _ = try NewMeasureDefinition(key: "X", codeSystem: "LOINC", code: "718-8", display: "", displayKo: "Korean", unit: nil,
                                         minimum: 0, maximum: 1, integer: true, answers: yesNo)
        }) == ["key", "code", "display", "display-ko", "answers/1"])
    }

    @Test("a refusal's description lists every field; one field reads as before")
    func description() {
        var error = RegistryError.invalid("sex", "'f' is not allowed")
        #expect(error.description == "sex: 'f' is not allowed")
        error.others = [.invalid("birth-year", "1850 is out of range", hint: "check the year")]
        #expect(error.description == "sex: 'f' is not allowed; birth-year: 1850 is out of range (check the year)")
        #expect(error.all.map(\.field) == ["sex", "birth-year"])
    }

    @Test("the short forms too: closing a follow-up as not done, a plan's risk change, an institution's status, a status change's correction")
    func shortForms() {
        #expect(Self.fields(refusal { _ = try NotDoneClosure(reason: "forgot", note: "called 010-1234-5678") }) == ["reason", "note"])
        #expect(Self.fields(refusal { _ = try PlanRiskChange(risk: "huge", on: "2099-01-01", reason: " ", today: Self.today) }) == ["risk", "on", "reason"])
        #expect(Self.fields(refusal { _ = try InstitutionStatusChange(status: "closed", reason: nil) }) == ["status", "reason"])
        #expect(refusal { _ = try PlanRiskChange(risk: "low", on: "2026-01-01", reason: "review", today: Self.today) } == nil)
        #expect(Self.fields(refusal { _ = try StatusChangeCorrection(on: "2026-02-30", details: " ", reason: nil, today: Self.today) }) == ["on", "details", "reason"])
    }
}
