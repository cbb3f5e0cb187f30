import Foundation
import RegistryDomain
import Testing
@testable import RegistryWeb

/// Every refusal a person can meet reads in Korean: the registry's forms given wrong input in every
/// field, and every message the sources can give (`refusal-messages.txt`, written by
/// `extract-refusals.py`), each find their pattern in `refusals.ko.json`.
@Suite struct RefusalCatalogueTests {
    let views: Views

    init() throws { views = try Views.load() }

    static let today = LocalDate("2026-11-25")!
    static let pseudonymizer = try! Pseudonymizer(secret: Data(repeating: 7, count: 32))
    static func day(_ text: String) -> LocalDate { LocalDate(text)! }

    /// The messages of every refusal `body` gives; a body that does not refuse is a mistake in the test.
    struct Refusals {
        var messages: [String] = []
        var quiet: [Int] = []

        mutating func add(_ line: Int = #line, _ body: () throws -> Void) {
            do {
                try body()
                quiet.append(line)
            } catch let error as RegistryError {
                messages += error.all.map(\.message)
            } catch {
                messages.append("not a RegistryError: \(error)")
            }
        }
    }

    static func patient(_ status: PatientStatus, id: PatientID = 7, institution: String = "ARM-001", consentOn: String = "2025-01-10",
                        void: VoidMark? = nil) -> Patient {
        Patient(id: id, pseudonym: String(repeating: "b", count: 64), institutionCode: institution, birthYear: 1970, sex: .male,
                consentOn: day(consentOn), consentVersion: "2", status: status, void: void)
    }

    static func change(_ kind: StatusChangeKind, id: StatusChangeID = 5, on: String = "2026-03-01", to: String? = nil) -> StatusChange {
        StatusChange(id: id, patientID: 7, kind: kind, effectiveOn: day(on), reason: "as told", fromInstitution: nil, toInstitution: to, followUpsAffected: 0)
    }

    static let catalogue = MeasureCatalogue([
        MeasureDefinition(key: "ecog", codeSystem: "LOINC", code: "89247-1", display: "ECOG performance status", displayKo: "ECOG 전신 수행 상태",
                          unit: nil, minimum: 0, maximum: 5, integer: true),
        MeasureDefinition(key: "vcn", codeSystem: "registry", code: "VCN-PER-CELL", display: "Vector copy number", displayKo: "벡터 복제 수",
                          unit: "copies/cell", minimum: 0, maximum: 20, integer: false),
        MeasureDefinition(key: "disease-response", codeSystem: "LOINC", code: "88040-1", display: "Disease response", displayKo: "질병 반응",
                          unit: nil, minimum: 1, maximum: 4, integer: true, answers: [
                            MeasureAnswer(value: 1, code: "CR", display: "Complete response", displayKo: "완전 반응"),
                            MeasureAnswer(value: 2, code: "PR", display: "Partial response", displayKo: "부분 반응"),
                          ]),
    ])

    /// Wrong input in every field of every form a coordinator fills in, and the state checks that
    /// follow it (status, dates against consent and doses, voids).
    static func formRefusals() -> Refusals {
        var r = Refusals()
        let today = Self.today
        let p = Self.pseudonymizer
        let long = String(repeating: "x", count: 501)

        // Enrolment and the patient's key.
        r.add { _ = try NewPatient(institutionCode: "ARM-1", localID: " ", birthYear: 3000, sex: "x", consentOn: "2030-01-01", consentVersion: "", pseudonymizer: p, today: today) }
        r.add { _ = try NewPatient(institutionCode: "ARM-001", localID: "MRN-1", birthYear: 1850, sex: "f", consentOn: "2025-13-01", consentVersion: "two words", pseudonymizer: p, today: today) }
        r.add { _ = try NewPatient(institutionCode: "ARM-001", localID: String(repeating: "7", count: 65), birthYear: 1970, sex: "female", consentOn: "2019-01-01", consentVersion: "2", pseudonymizer: p, today: today) }
        r.add { _ = try NewPatient(institutionCode: "arm-001", localID: "MRN\u{7}", birthYear: 1970, sex: "", consentOn: "", consentVersion: "2.1.x/y", pseudonymizer: p, today: today) }
        r.add { _ = try LocalPatientKey(institutionCode: "ARM", localID: "", pseudonymizer: p) }
        // Corrections of the patient.
        r.add { _ = try PatientCorrection(birthYear: 1800, sex: "?", consentOn: "2025-02-30", consentVersion: "two words", reason: nil, today: today) }
        r.add { _ = try PatientCorrection(birthYear: nil, sex: nil, consentOn: nil, consentVersion: nil, reason: " ", today: today) }
        r.add { _ = try PatientCorrection(birthYear: nil, sex: nil, consentOn: nil, consentVersion: nil, reason: "typo", today: today) }
        r.add { _ = try PatientCorrection(birthYear: 2027, sex: nil, consentOn: "2099-01-01", consentVersion: nil, reason: long, today: today) }
        r.add { try PatientCorrection(birthYear: nil, sex: nil, consentOn: "2025-06-01", consentVersion: nil, reason: "typo", today: today).check(firstAdministration: day("2025-05-01")) }

        // Visits, without measures defined and with some.
        for catalogue in [MeasureCatalogue([]), Self.catalogue] {
            r.add { _ = try NewVisit(on: "2026-02-30", contact: "visit", vital: "gone", measures: ["ecog=1", "junk", "pain=3"], catalogue: catalogue, note: "call 010-1234-5678", today: today) }
            r.add { _ = try NewVisit(on: "2099-01-01", contact: "", vital: "", measures: [], catalogue: catalogue, note: "mail kim@example.org", today: today) }
            r.add { _ = try NewVisit(on: "2019-05-01", contact: "phone", vital: "alive", measures: [], catalogue: catalogue, note: long, recordDeath: true, today: today) }
            r.add { _ = try NewVisit(on: "", contact: "phone", vital: "unknown", measures: ["=", "ecog"], catalogue: catalogue, note: nil, recordDeath: true, today: today) }
            r.add { _ = try VisitCorrection(on: "2026-13-01", contact: "fax", vital: "asleep", measures: ["ecog=6"], catalogue: catalogue, note: "010-9876-5432", reason: nil, today: today) }
        }
        r.add {
            _ = try NewVisit(on: "2026-11-20", contact: "examination", vital: "alive",
                             measures: ["ecog=9", "ecog=1.5", "ecog=x", "vcn=1:mg", "vcn=21", "vcn=-1:copies/cell", "disease-response=XX", "disease-response=CR:%", "ecog=2:points"],
                             catalogue: Self.catalogue, note: nil, today: today)
        }
        r.add { _ = try NewVisit(on: "2026-11-20", contact: "phone", vital: "alive", measures: ["ecog=1", "vcn=2", "ecog=2"], catalogue: Self.catalogue, note: nil, today: today) }
        // A visit's dates against consent, doses and the follow-up it completes; its vital status.
        let forData = PatientForData(patient: Self.patient(.active), statusOn: nil, firstAdministration: day("2025-03-01"))
        r.add { try VisitRules.checkDate(day("2025-02-20"), screening: true, followUpAnchor: day("2025-03-01"), patient: forData) }
        r.add { try VisitRules.checkScreening(day("2025-01-05"), consentOn: day("2025-01-10"), firstDose: day("2025-03-01"), patientID: 7) }
        r.add { try VisitRules.checkScreening(day("2025-03-05"), consentOn: day("2025-01-10"), firstDose: day("2025-03-01"), patientID: 7) }
        r.add { try VisitRules.checkScreening(day("2025-01-12"), consentOn: day("2025-01-10"), firstDose: day("2025-06-01"), patientID: 7) }
        r.add { try VisitRules.checkAfterDose(day("2025-02-25"), anchor: nil, patientID: 7, unscheduled: true) }
        r.add { try VisitRules.checkAfterDose(day("2025-02-25"), anchor: day("2025-03-01"), patientID: 7, unscheduled: true) }
        r.add { try VisitRules.checkAfterDose(day("2024-02-25"), anchor: day("2025-03-01"), patientID: 7, unscheduled: false) }
        r.add { try VisitRules.checkVital(.dead, recordsDeath: false, patient: Self.patient(.active)) }
        r.add { try VisitRules.checkVital(.dead, recordsDeath: false, patient: Self.patient(.lostToFollowUp)) }
        for status in [FollowUpStatus.completed, .notRequired, .voided] {
            r.add { _ = try VisitRules.timing(completing: 12, status: status, completedBy: status == .completed ? 31 : nil, on: today, windowStart: today, windowEnd: today) }
        }
        r.add { _ = try VisitRules.timing(completing: 12, status: .completed, completedBy: nil, on: today, windowStart: today, windowEnd: today) }

        // Closing a follow-up as not done.
        r.add { _ = try NotDoneClosure(reason: "forgot", note: "called 010-1234-5678") }
        r.add { _ = try NotDoneClosure(reason: "", note: "kim@example.org") }
        r.add { _ = try NotDoneClosure(reason: "refused", note: long) }

        // Adverse events, their corrections and duplicates.
        r.add {
            _ = try NewAdverseEvent(onset: "2026-13-01", aware: "2026-11-02", term: "", meddra: "123", category: "infections", grade: 7, grading: "ctcae",
                                    serious: true, criteria: ["hospitalisation", "death-ish"], related: "maybe", outcome: "better", outcomeOn: "soon", today: today)
        }
        r.add {
            _ = try NewAdverseEvent(onset: "2026-11-10", aware: "2026-11-01", term: "Fever", meddra: nil, category: "infection", grade: 3, grading: "CTCAE-5.0",
                                    serious: true, criteria: [], related: nil, outcome: "fatal", outcomeOn: "2026-11-09", today: today)
        }
        r.add {
            _ = try NewAdverseEvent(onset: "2019-01-01", aware: "2099-01-01", term: String(repeating: "t", count: 201), meddra: "1000088X", category: "", grade: 0,
                                    grading: "CTCAE 5", serious: false, criteria: ["fatal"], related: "", outcome: "", outcomeOn: "2019-01-01", today: today)
        }
        r.add {
            _ = try NewAdverseEvent(onset: "2026-11-01", aware: "2026-11-02", term: "Fever", meddra: nil, category: "infection", grade: 2, grading: "CTCAE-5.0",
                                    serious: false, criteria: ["hospitalization"], related: nil, outcome: nil, outcomeOn: nil, today: today)
        }
        r.add {
            _ = try NewAdverseEvent(onset: "2026-11-01", aware: "2026-11-02", term: "Death", meddra: nil, category: "other", grade: 5, grading: "CTCAE-5.0",
                                    serious: true, criteria: [], related: "possible", outcome: "recovered", outcomeOn: nil, today: today)
        }
        r.add {
            let event = try NewAdverseEvent(onset: "2026-11-01", aware: "2026-11-02", term: "Fever", meddra: nil, category: "infection", grade: 2, grading: "CTCAE-5.0",
                                            serious: false, criteria: [], related: nil, outcome: nil, outcomeOn: nil, today: today)
            try event.checkNotDuplicate(of: 4, patientID: 7)
        }
        r.add {
            _ = try AdverseEventCorrection(onset: "2026-02-30", aware: "yesterday", term: "", meddra: "1000088", category: "bad", grade: 0, grading: "x",
                                           criteria: ["fatal", "worse"], related: "sure", outcome: "gone", outcomeOn: "2099-01-01", submittedOn: "2026-1-1",
                                           reason: nil, today: today)
        }
        r.add { try PatientForData(patient: Self.patient(.active), statusOn: nil, firstAdministration: nil).checkEventAfterTreatment(onset: day("2025-05-01")) }
        r.add { try forData.checkEventAfterTreatment(onset: day("2025-02-01")) }

        // Data for a patient who withdrew, died or was voided.
        r.add { try PatientForData(patient: Self.patient(.withdrawn), statusOn: day("2026-01-05"), firstAdministration: nil).checkForData(on: nil) }
        r.add { try PatientForData(patient: Self.patient(.withdrawn), statusOn: nil, firstAdministration: nil).checkForData(on: nil) }
        r.add { try PatientForData(patient: Self.patient(.deceased), statusOn: day("2026-01-05"), firstAdministration: nil).checkForData(on: day("2026-02-01")) }
        r.add { try PatientForData(patient: Self.patient(.active, void: VoidMark(voidedOn: day("2026-02-01"), reason: "duplicate")), statusOn: nil, firstAdministration: nil).checkForData(on: nil) }

        // Doses and their corrections; the plan, institution and patient they need.
        r.add { _ = try NewAdministration(on: "2019-01-01", lot: "LOT 7", dose: "", feeNotified: -1, feeCollected: 10_000_000_000, today: today) }
        r.add { _ = try NewAdministration(on: "2025/03/01", lot: "", dose: String(repeating: "d", count: 101), feeNotified: 0, feeCollected: 0, today: today) }
        r.add { _ = try AdministrationCorrection(on: "2099-01-01", lot: "LOT#1", dose: "", feeNotified: -5, feeCollected: -1, reason: "", today: today) }
        func plan(_ decision: PlanDecision, on: String? = "2025-02-01", institution: String = "ARM-001") -> TreatmentPlan {
            TreatmentPlan(id: 3, institutionCode: institution, productCode: "GT-01", indication: "G20", riskClass: .high, decision: decision,
                          decidedOn: on.map(day), committeeReference: "RC-2025-014", protocolCode: "LTFU-GENE-15Y", protocolVersion: 1)
        }
        for decision in [PlanDecision.pending, .rejected, .withdrawn] {
            r.add { try NewAdministration.checkEligibility(on: day("2025-03-01"), plan: plan(decision, on: nil), institutionStatus: .active, patient: Self.patient(.active)) }
        }
        for status in [InstitutionStatus.suspended, .revoked] {
            r.add { try NewAdministration.checkEligibility(on: day("2025-03-01"), plan: plan(.approved), institutionStatus: status, patient: Self.patient(.active)) }
        }
        r.add { try NewAdministration.checkEligibility(on: day("2025-03-01"), plan: plan(.approved, institution: "ARM-002"), institutionStatus: .active, patient: Self.patient(.active)) }
        for status in [PatientStatus.withdrawn, .deceased, .lostToFollowUp] {
            r.add { try NewAdministration.checkEligibility(on: day("2025-03-01"), plan: plan(.approved), institutionStatus: .active, patient: Self.patient(status)) }
        }
        r.add { try NewAdministration.checkEligibility(on: day("2025-01-20"), plan: plan(.approved), institutionStatus: .active, patient: Self.patient(.active)) }
        r.add { try NewAdministration.checkEligibility(on: day("2025-02-05"), plan: plan(.approved), institutionStatus: .active, patient: Self.patient(.active, consentOn: "2025-02-10")) }

        // Status changes: the form, its correction, and what the patient's state allows.
        r.add { _ = try NewStatusChange(kind: "died", on: "2026-11-31", reason: nil, to: nil, today: today) }
        r.add { _ = try NewStatusChange(kind: "death", on: "2026-11-20", reason: "", to: "ARM-002", today: today) }
        r.add { _ = try NewStatusChange(kind: "transfer", on: "2027-01-01", reason: "moved", to: nil, today: today) }
        r.add { _ = try NewStatusChange(kind: "transfer", on: "2019-01-01", reason: long, to: "arm-2", today: today) }
        r.add { _ = try NewStatusChange(kind: "", on: "", reason: " ", to: "", today: today) }
        r.add { _ = try StatusChangeCorrection(on: "2026-02-30", details: " ", reason: nil, today: today) }
        r.add { _ = try StatusChangeCorrection(on: "2099-01-01", details: long, reason: long, today: today) }
        let date = day("2026-03-01")
        r.add { try StatusRules.check(.lost, patient: Self.patient(.withdrawn), on: date, statusOn: day("2026-01-05")) }
        r.add { try StatusRules.check(.death, patient: Self.patient(.withdrawn), on: date, statusOn: nil) }
        r.add { try StatusRules.check(.death, patient: Self.patient(.deceased), on: date, statusOn: day("2026-01-05")) }
        r.add { try StatusRules.check(.death, patient: Self.patient(.deceased), on: date, statusOn: nil) }
        for status in [PatientStatus.active, .deceased] {
            r.add { try StatusRules.check(.found, patient: Self.patient(status), on: date, statusOn: nil) }
        }
        for status in [PatientStatus.deceased, .lostToFollowUp] {
            r.add { try StatusRules.check(.lost, patient: Self.patient(status), on: date, statusOn: nil) }
            r.add { try StatusRules.check(.transfer, patient: Self.patient(status), on: date, statusOn: nil) }
        }
        r.add { try StatusRules.check(.withdrawal, patient: Self.patient(.deceased), on: date, statusOn: nil) }
        r.add { try StatusRules.check(.found, patient: Self.patient(.lostToFollowUp), on: date, statusOn: day("2026-04-01")) }
        r.add { try StatusRules.check(.death, patient: Self.patient(.active), on: date, statusOn: nil, firstAdministration: nil, lastSeenAlive: day("2026-04-01")) }
        r.add { try StatusRules.check(.death, patient: Self.patient(.active), on: date, statusOn: nil, firstAdministration: nil, lastRecorded: day("2026-04-01")) }
        r.add { try StatusRules.check(.lost, patient: Self.patient(.active), on: date, statusOn: nil, firstAdministration: nil, lastSeenAlive: day("2026-04-01")) }
        r.add { try StatusRules.check(.withdrawal, patient: Self.patient(.active, consentOn: "2026-04-01"), on: date, statusOn: nil, firstAdministration: nil) }
        r.add { try StatusRules.check(.transfer, patient: Self.patient(.active), on: date, statusOn: nil, firstAdministration: day("2026-04-01")) }

        // Dates, reasons and notes on their own.
        r.add { _ = try Rules.date("2025/01/01", field: "on") }
        r.add { _ = try Rules.date("", field: "on") }
        r.add { try Rules.eventDate(day("2099-01-01"), field: "on", today: today) }
        r.add { try Rules.eventDate(day("2019-01-01"), field: "on", today: today) }
        r.add { _ = try Rules.reason(nil) }
        r.add { _ = try Rules.reason(" ") }
        r.add { _ = try Rules.reason(long) }
        r.add { _ = try Rules.reason("tab\u{9}in it") }
        r.add { _ = try Rules.lot("LOT 7") }
        r.add { _ = try Rules.krw(-1, field: "fee-collected") }
        r.add { _ = try Rules.institutionCode("A1") }
        r.add { _ = try Notes.validate(long) }
        r.add { _ = try Notes.validate("RRN 600101-1234567") }
        r.add { _ = try Notes.validate("write to kim@example.org") }

        // Voids: a record already voided, what stands in the way of voiding a status change, a dose, a patient; consequences to confirm.
        let mark = VoidMark(voidedOn: day("2026-02-01"), reason: "entered twice")
        for record in ["patient 7", "administration 2", "visit 3", "adverse event 4", "status change 5"] {
            r.add { try VoidRules.checkStanding(mark, record: record) }
        }
        var voided = Self.change(.lost)
        voided.void = mark
        r.add { try VoidRules.checkVoid(voided, later: [], causingEvent: nil, deadAt: nil, recordedAtReceiver: false) }
        r.add { try VoidRules.checkVoid(Self.change(.lost), later: [Self.change(.found, id: 6, on: "2026-04-01")], causingEvent: nil, deadAt: nil, recordedAtReceiver: false) }
        r.add { try VoidRules.checkVoid(Self.change(.death), later: [], causingEvent: 9, deadAt: nil, recordedAtReceiver: false) }
        r.add { try VoidRules.checkVoid(Self.change(.death), later: [], causingEvent: nil, deadAt: 3, recordedAtReceiver: false) }
        r.add { try VoidRules.checkVoid(Self.change(.found), later: [], causingEvent: nil, deadAt: nil, recordedAtReceiver: false, seenSinceLoss: day("2026-03-10")) }
        r.add { try VoidRules.checkVoid(Self.change(.transfer, to: "ARM-002"), later: [], causingEvent: nil, deadAt: nil, recordedAtReceiver: true) }
        r.add { try VoidRules.checkVoid(Self.change(.transfer), later: [], causingEvent: nil, deadAt: nil, recordedAtReceiver: true) }
        let dose = Administration(id: 2, patientID: 7, planID: 3, institutionCode: "ARM-001", productCode: "GT-01", administeredOn: day("2025-03-01"),
                                  lot: "LOT-7", dose: "1 vial", feeNotifiedKRW: 0, feeCollectedKRW: 0)
        var voidedDose = dose
        voidedDose.void = mark
        r.add { try VoidRules.checkVoid(voidedDose, patient: forData, completedBy: [], firstDoseAfter: nil, dependents: []) }
        r.add { try VoidRules.checkVoid(dose, patient: forData, completedBy: [31], firstDoseAfter: nil, dependents: []) }
        r.add { try VoidRules.checkVoid(dose, patient: forData, completedBy: [31, 32], firstDoseAfter: nil, dependents: []) }
        let onset = FirstDoseDependent.adverseEvent(4, onset: day("2025-03-10"))
        let visit = FirstDoseDependent.visit(3, on: day("2025-03-12"), screening: false)
        r.add { try VoidRules.checkVoid(dose, patient: forData, completedBy: [], firstDoseAfter: nil, dependents: [onset]) }
        r.add { try VoidRules.checkVoid(dose, patient: forData, completedBy: [], firstDoseAfter: nil, dependents: [onset, visit]) }
        r.add { try VoidRules.checkVoid(dose, patient: forData, completedBy: [], firstDoseAfter: day("2025-04-01"), dependents: [onset]) }
        r.add { try VoidRules.checkVoid(dose, patient: forData, completedBy: [], firstDoseAfter: day("2025-04-01"), dependents: [onset, visit]) }
        r.add { try VoidRules.checkVoid(Self.patient(.active, void: mark), standing: StandingRecords(administrations: [], visits: [], adverseEvents: [], statusChanges: [])) }
        r.add { try VoidRules.checkVoid(Self.patient(.active), standing: StandingRecords(administrations: [2], visits: [3, 8], adverseEvents: [4], statusChanges: [])) }
        let consequences = [Consequence(.patientStatus, "patient 7 becomes active again"), Consequence(.followUpsRestored, "2 follow-ups are owed again")]
        for doing in ["voiding visit 3", "voiding administration 2", "voiding adverse event 4", "voiding patient 7", "voiding status change 5",
                      "correcting visit 3", "correcting adverse event 4", "correcting status change 5", "reporting this grade 5 event"] {
            r.add { try [consequences[0]].confirmed(false, doing: doing) }
            r.add { try consequences.confirmed(false, doing: doing) }
        }
        return r
    }

    @Test func everyFormRefusalHasKorean() throws {
        let refusals = Self.formRefusals()
        #expect(refusals.quiet == [], "these lines gave no refusal")
        #expect(refusals.messages.count > 200)
        for message in refusals.messages {
            #expect(views.catalogue.korean(message) != nil, "\(message)")
        }
        // How much of the catalogue the forms reach (the rest is covered by the listed patterns below).
        let pairs = try Self.pairs()
        var reached = Set<Int>()
        for message in refusals.messages {
            let range = NSRange(message.startIndex..., in: message)
            if let i = pairs.firstIndex(where: { $0.pattern.firstMatch(in: message, range: range) != nil }) { reached.insert(i) }
        }
        print("RefusalCatalogueTests: the forms reach \(reached.count) of \(pairs.count) Korean patterns with \(refusals.messages.count) messages")
        #expect(reached.count > 120)
    }

    /// The catalogue's pairs, as `Catalogue` reads them.
    static func pairs() throws -> [(english: String, pattern: NSRegularExpression, korean: String)] {
        let file = Self.root.appendingPathComponent("Sources/RegistryWeb/Resources/messages/refusals.ko.json")
        return try JSONDecoder().decode([[String]].self, from: Data(contentsOf: file)).map { ($0[0], try Catalogue.pattern($0[0]), $0[1]) }
    }

    /// An English pattern with X1, X2, ... for its values.
    static func sample(_ english: String) -> (text: String, values: [String]) {
        let parts = english.components(separatedBy: "{}")
        let values = (1..<max(parts.count, 1)).map { "X\($0)" }
        var text = parts[0]
        for (value, part) in zip(values, parts.dropFirst()) { text += value + part }
        return (text, values)
    }

    @Test func everyListedMessageHasKorean() throws {
        let listed = try String(contentsOf: Self.here.appendingPathComponent("refusal-messages.txt"), encoding: .utf8)
            .components(separatedBy: "\n").filter { !$0.isEmpty }
        #expect(listed.count > 200)
        for english in listed {
            #expect(views.catalogue.korean(Self.sample(english).text) != nil, "\(english)")
        }
    }

    /// Each pattern, filled with its own values, gets its own wording: no earlier, more general
    /// pattern takes its messages; and every pattern is a real one (its Korean names no value it lacks).
    @Test func everyPatternIsReachedByItsOwnMessages() throws {
        for pair in try Self.pairs() {
            let (text, values) = Self.sample(pair.english)
            #expect(views.catalogue.korean(text) == Catalogue.fill(pair.korean, values), "\(pair.english)")
            #expect(!pair.korean.contains("{\(values.count + 1)}"), "\(pair.english)")
            #expect(pair.korean.range(of: #"[가-힣]"#, options: .regularExpression) != nil, "\(pair.english)")
        }
    }

    /// The sources give no message that `refusal-messages.txt` lacks (run the extractor to list it).
    @Test func theListIsUpToDate() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.here.appendingPathComponent("extract-refusals.py").path, "--check"]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        do { try process.run() } catch {
            print("RefusalCatalogueTests: cannot run /usr/bin/env python3 (\(error)); the list's freshness is not checked")
            return
        }
        let output = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        if process.terminationStatus == 127 {
            print("RefusalCatalogueTests: python3 not found; the list's freshness is not checked")
            return
        }
        #expect(process.terminationStatus == 0, "run Tests/RegistryWebTests/extract-refusals.py and translate what it adds:\n\(output)")
    }

    @Test func commonRefusalsReadNaturally() {
        let c = views.catalogue
        #expect(c.korean("1850 is out of range; allowed: 1900 to 2026") == "1850은(는) 허용 범위를 벗어났습니다. 1900부터 2026까지 입력할 수 있습니다.")
        #expect(c.korean("'2025-13-01' is not a date; expected YYYY-MM-DD, e.g. 2025-03-15")
                == "'2025-13-01'은(는) 날짜가 아닙니다. YYYY-MM-DD 형식으로 입력하십시오(예: 2025-03-15).")
        #expect(c.korean("patient 7 is deceased; only active patients can receive a dose")
                == "환자 7은(는) 사망 상태입니다. 추적 중인 환자만 투여받을 수 있습니다.")
        #expect(c.korean("ecog: 9 is out of range; allowed: 0 to 5") == "ecog: 9은(는) 허용 범위를 벗어났습니다. 0부터 5까지 입력할 수 있습니다.")
        #expect(c.refusal("the note holds what looks like an e-mail address; leave contact details out of notes", .ko)
                == "메모에 전자우편 주소로 보이는 내용이 있습니다. 메모에는 연락처를 쓰지 마십시오.")
        #expect(c.korean(#"a reason is required for this change; give one with --cause "...""#) == "사망에는 사망 원인을 입력해야 합니다.")
        #expect(c.korean("'' is not a date; expected YYYY-MM-DD, e.g. 2025-03-15") == "값이 비어 있습니다. YYYY-MM-DD 형식으로 입력하십시오(예: 2025-03-15).")
        #expect(c.refusal("the two new passwords are not the same", .ko) == "새 비밀번호 두 개가 같지 않습니다")
    }

    /// This file's folder and the package's root.
    static var here: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent() }
    static var root: URL { here.deletingLastPathComponent().deletingLastPathComponent() }
}
