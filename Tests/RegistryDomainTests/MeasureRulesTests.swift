import RegistryDomain
import Testing

private func day(_ text: String) -> LocalDate { LocalDate(text)! }

@Suite("Measures and screening visits")
struct MeasureRulesTests {
    static let catalogue = MeasureCatalogue([
        MeasureDefinition(key: "ecog", codeSystem: "LOINC", code: "89247-1", display: "ECOG performance status", displayKo: "ECOG 전신 수행 상태",
                          unit: nil, minimum: 0, maximum: 5, integer: true),
        MeasureDefinition(key: "vcn", codeSystem: "registry", code: "VCN-PER-CELL", display: "Vector copy number", displayKo: "벡터 복제 수",
                          unit: "copies/cell", minimum: 0, maximum: 20, integer: false),
        MeasureDefinition(key: "disease-response", codeSystem: "LOINC", code: "88040-1", display: "Disease response", displayKo: "질병 반응",
                          unit: nil, minimum: 1, maximum: 4, integer: true, answers: [
                            MeasureAnswer(value: 1, code: "CR", display: "Complete response", displayKo: "완전 반응"),
                            MeasureAnswer(value: 2, code: "PR", display: "Partial response", displayKo: "부분 반응"),
                            MeasureAnswer(value: 3, code: "SD", display: "Stable disease", displayKo: "안정 병변"),
                            MeasureAnswer(value: 4, code: "PD", display: "Progressive disease", displayKo: "진행 병변"),
                          ]),
    ])

    @Test("a coded answer is entered by its code (any case) or its value and stored as the value; anything else lists the answers")
    func codedAnswers() throws {
        #expect(try Self.catalogue.parse("disease-response=CR").value == 1)
        #expect(try Self.catalogue.parse("disease-response=pd").value == 4)
        #expect(try Self.catalogue.parse("disease-response=2").value == 2)
        #expect(try Self.catalogue.parse("disease-response=CR").unit == nil)
        #expect(refusal { _ = try Self.catalogue.parse("disease-response=5") }
                == .invalid("measure", "disease-response: '5' is not an answer to Disease response; allowed: CR (1: Complete response), PR (2: Partial response), SD (3: Stable disease), PD (4: Progressive disease)"))
        #expect(refusal { _ = try Self.catalogue.parse("disease-response=CR:%") }?.message.contains("an answer has no unit") == true)
        #expect(try Self.catalogue.parse("vcn=1.25:copies/cell").value == 1.25)
        #expect(refusal { _ = try Self.catalogue.parse("vcn=21") }?.message == "vcn: 21 is out of range; allowed: 0 to 20 copies/cell")
        #expect(refusal { _ = try Self.catalogue.parse("ecog=1.5") }?.message.contains("whole numbers from 0 to 5") == true)
        #expect(refusal { _ = try Self.catalogue.parse("crs-grade=1") }
                == .invalid("measure", "'crs-grade' is not a known measure; allowed: ecog, vcn, disease-response", remedy: .list(.measures)))
        #expect(MeasureCatalogue.keys(of: ["ecog=1", "vcn=1:copies/cell", "junk"]) == ["ecog", "vcn", "junk"])
    }

    @Test("LOINC check digits: every code in the seeded catalogue checks, a mistyped digit does not")
    func loincCheckDigits() {
        for code in ["89247-1", "89243-0", "72514-3", "718-7", "6690-2", "777-3", "29463-7", "88040-1", "8116-6", "2465-3", "751-8", "2276-4"] {
            #expect(refusal { try NewMeasureDefinition.checkLOINC(code) } == nil, "\(code)")
        }
        #expect(refusal { try NewMeasureDefinition.checkLOINC("718-8") }?.message == "'718-8' is not a LOINC code: the check digit of 718 is 7; check the code")
        #expect(refusal { try NewMeasureDefinition.checkLOINC("7187") }?.field == "code")
    }

    @Test("a new measure: key, code system and code, Korean name, unit, range and answers are checked; answers imply whole numbers")
    func newMeasure() throws {
        func new(key: String = "hlh", system: String = "registry", code: String = "HLH-CRITERIA", ko: String = "혈구탐식성 림프조직구증", unit: String? = nil,
                 min: Double = 0, max: Double = 1, integer: Bool = false, answers: [NewMeasureDefinition.Answer] = []) throws -> NewMeasureDefinition {
            try NewMeasureDefinition(key: key, codeSystem: system, code: code, display: "HLH", displayKo: ko, unit: unit, minimum: min, maximum: max,
                                     integer: integer, answers: answers)
        }
        let yesNo: [NewMeasureDefinition.Answer] = [.init(value: 0, code: "no", display: "No", displayKo: "아니오"), .init(value: 1, code: "yes", display: "Yes", displayKo: "예")]
        let coded = try new(answers: yesNo).definition
        #expect(coded.integer && coded.answers.map(\.code) == ["no", "yes"])
        #expect(refusal { _ = try new(key: "HLH") }?.field == "key")
        #expect(refusal { _ = try new(system: "SNOMED") }?.field == "code-system")
        #expect(refusal { _ = try new(code: "hlh") }?.field == "code")
        #expect(refusal { _ = try new(system: "LOINC", code: "2276-5") }?.field == "code")
        #expect(refusal { _ = try new(ko: "HLH") }?.field == "display-ko")
        #expect(refusal { _ = try new(unit: "ng:mL") }?.field == "unit")
        #expect(refusal { _ = try new(min: 2, max: 1) }?.field == "max")
        #expect(refusal { _ = try new(max: 1.5, integer: true) }?.field == "max")
        #expect(refusal { _ = try new(unit: "mg", answers: yesNo) }?.field == "unit")
        #expect(refusal { _ = try new(answers: [yesNo[0]]) }?.field == "answers")
        #expect(refusal { _ = try new(answers: [yesNo[0], .init(value: 2, code: "yes", display: "Yes", displayKo: "예")]) }?.field == "answers/1")
        #expect(refusal { _ = try new(answers: [yesNo[0], .init(value: 1, code: "NO", display: "No", displayKo: "아니오")]) }?.field == "answers/1")
        #expect(refusal { _ = try new(answers: [yesNo[0], .init(value: 1, code: "1", display: "Yes", displayKo: "예")]) }?.field == "answers/1")
    }

    @Test("a screening visit: on or after consent, within 90 days before the first dose (the dose day included), any date before a first dose")
    func screeningWindow() {
        let consent = day("2024-11-01"), dose = day("2025-04-01")
        #expect(VisitRules.screeningWindow(before: dose) == day("2025-01-01")...dose)
        for ok in ["2025-01-01", "2025-03-02", "2025-04-01"] {
            #expect(refusal { try VisitRules.checkScreening(day(ok), consentOn: consent, firstDose: dose, patientID: 3) } == nil, "\(ok)")
        }
        #expect(refusal { try VisitRules.checkScreening(day("2024-12-31"), consentOn: consent, firstDose: dose, patientID: 3) }?.message
                == "2024-12-31 is 91 days before the first dose on 2025-04-01; a screening visit is within the 90-day screening window before it, from 2025-01-01 to 2025-04-01")
        #expect(refusal { try VisitRules.checkScreening(day("2025-04-02"), consentOn: consent, firstDose: dose, patientID: 3) }?.field == "screening")
        #expect(refusal { try VisitRules.checkScreening(day("2024-10-31"), consentOn: consent, firstDose: nil, patientID: 3) }?.message
                == "2024-10-31 is before patient 3's consent on 2024-11-01; a screening visit comes on or after consent")
        #expect(refusal { try VisitRules.checkScreening(day("2024-11-01"), consentOn: consent, firstDose: nil, patientID: 3) } == nil)
    }

    @Test("a visit before the dose suggests screening only when it is unscheduled and could be one")
    func suggestsScreening() {
        let dose = day("2025-04-01")
        #expect(refusal { try VisitRules.checkAfterDose(day("2025-03-02"), anchor: dose, patientID: 3, unscheduled: true) }?.remedy == .logAsScreening)
        #expect(refusal { try VisitRules.checkAfterDose(day("2024-12-31"), anchor: dose, patientID: 3, unscheduled: true) }?.remedy == nil)
        #expect(refusal { try VisitRules.checkAfterDose(day("2025-03-02"), anchor: dose, patientID: 3) }?.remedy == nil)
        #expect(refusal { try VisitRules.checkAfterDose(day("2025-03-02"), anchor: nil, patientID: 3, unscheduled: true) }?.remedy == .logAsScreening)
    }
}
