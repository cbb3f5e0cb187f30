import RegistryDomain
import Testing

/// The error a rule throws, or nil when it accepts.
func refusal(_ body: () throws -> Void) -> RegistryError? {
    do { try body(); return nil } catch let e as RegistryError { return e } catch { return RegistryError(.configuration, "not a RegistryError: \(error)") }
}

private func day(_ text: String) -> LocalDate { LocalDate(text)! }

private func patient(_ status: PatientStatus, id: PatientID = 7, institution: String = "ARM-001", consentOn: String = "2025-01-10") -> Patient {
    Patient(id: id, pseudonym: String(repeating: "b", count: 64), institutionCode: institution, birthYear: 1970, sex: .male,
            consentOn: day(consentOn), consentVersion: "2", status: status)
}

@Suite("Data for a patient")
struct PatientForDataTests {
    @Test("an active patient at its own institution takes data on any date")
    func accepts() {
        let p = PatientForData(patient: patient(.active), statusOn: nil, firstAdministration: day("2025-02-01"))
        #expect(refusal { try p.checkForData(on: day("2025-03-01")) } == nil)
        #expect(refusal { try p.checkForData(on: nil) } == nil)
        let lost = PatientForData(patient: patient(.lostToFollowUp), statusOn: day("2025-06-01"), firstAdministration: nil)
        #expect(refusal { try lost.checkForData(on: day("2026-01-01")) } == nil)
    }

    @Test("a withdrawn patient takes no data, with or without the withdrawal date")
    func withdrawn() {
        let dated = PatientForData(patient: patient(.withdrawn), statusOn: day("2025-05-05"), firstAdministration: nil)
        #expect(refusal { try dated.checkForData(on: day("2025-05-01")) }
                == RegistryError(.conflict, field: "patient", "patient 7 withdrew consent on 2025-05-05; only corrections with a reason are allowed"))
        let undated = PatientForData(patient: patient(.withdrawn), statusOn: nil, firstAdministration: nil)
        #expect(refusal { try undated.checkForData(on: nil) }
                == RegistryError(.conflict, field: "patient", "patient 7 withdrew consent; only corrections with a reason are allowed"))
    }

    @Test("a deceased patient takes data up to the day of death, not after")
    func deceased() {
        let p = PatientForData(patient: patient(.deceased), statusOn: day("2025-08-20"), firstAdministration: day("2025-02-01"))
        #expect(refusal { try p.checkForData(on: day("2025-08-20")) } == nil)
        #expect(refusal { try p.checkForData(on: nil) } == nil)
        #expect(refusal { try p.checkForData(on: day("2025-08-21")) }
                == RegistryError(.invalid, field: "on", "2025-08-21 is after the patient's death on 2025-08-20"))
        let undated = PatientForData(patient: patient(.deceased), statusOn: nil, firstAdministration: nil)
        #expect(refusal { try undated.checkForData(on: day("2030-01-01")) } == nil)
    }

    @Test("adverse events come after treatment: none without a dose, none before the first")
    func eventAfterTreatment() {
        let untreated = PatientForData(patient: patient(.active), statusOn: nil, firstAdministration: nil)
        #expect(refusal { try untreated.checkEventAfterTreatment(onset: day("2025-03-01")) }
                == RegistryError(.conflict, field: "patient", "patient 7 has no administration yet; the registry follows events after treatment"))
        let treated = PatientForData(patient: patient(.active), statusOn: nil, firstAdministration: day("2025-02-01"))
        #expect(refusal { try treated.checkEventAfterTreatment(onset: day("2025-02-01")) } == nil)
        #expect(refusal { try treated.checkEventAfterTreatment(onset: day("2025-01-31")) }
                == RegistryError(.invalid, field: "onset", "2025-01-31 is before the patient's first administration on 2025-02-01"))
    }
}

@Suite("Visit rules")
struct VisitRulesTests {
    @Test("a visit follows a dose: none without one, none before it, the dose day itself is fine")
    func afterDose() {
        #expect(refusal { try VisitRules.checkAfterDose(day("2025-03-01"), anchor: nil, patientID: 12) }
                == RegistryError(.conflict, field: "patient", "patient 12 has no administration yet; follow-up visits come after a dose, and a visit before it is a screening visit"))
        #expect(refusal { try VisitRules.checkAfterDose(day("2025-02-28"), anchor: day("2025-03-01"), patientID: 12) }
                == RegistryError(.invalid, field: "on", "2025-02-28 is before the administration on 2025-03-01; follow-up visits come after the dose"))
        #expect(refusal { try VisitRules.checkAfterDose(day("2025-03-01"), anchor: day("2025-03-01"), patientID: 12) } == nil)
    }

    @Test("open and closed follow-ups take a visit and time it against the window")
    func timingOfOpenFollowUps() throws {
        let start = day("2025-06-01"), end = day("2025-06-30")
        for status in [FollowUpStatus.scheduled, .notDone, .missed] {
            func timing(_ on: String) throws -> VisitTiming {
                try VisitRules.timing(completing: 4, status: status, completedBy: nil, on: day(on), windowStart: start, windowEnd: end)
            }
            #expect(try timing("2025-05-31") == .early, "\(status)")
            #expect(try timing("2025-06-01") == .inWindow, "\(status)")
            #expect(try timing("2025-06-30") == .inWindow, "\(status)")
            #expect(try timing("2025-07-01") == .late, "\(status)")
        }
    }

    @Test("a completed follow-up points at its visit; the hint names no command")
    func timingOfCompleted() {
        let on = day("2025-06-10"), start = day("2025-06-01"), end = day("2025-06-30")
        #expect(refusal { _ = try VisitRules.timing(completing: 4, status: .completed, completedBy: 88, on: on, windowStart: start, windowEnd: end) }
                == RegistryError(.conflict, field: "followup", "follow-up 4 is already completed by visit 88", hint: "correct that visit instead", remedy: .correctVisit(id: 88)))
        #expect(refusal { _ = try VisitRules.timing(completing: 4, status: .completed, completedBy: nil, on: on, windowStart: start, windowEnd: end) }
                == RegistryError(.conflict, field: "followup", "follow-up 4 is already completed by visit ?", hint: "correct that visit instead", remedy: .correctVisit(id: nil)))
    }

    @Test("a follow-up no longer required takes no visit")
    func timingOfNotRequired() {
        #expect(refusal { _ = try VisitRules.timing(completing: 5, status: .notRequired, completedBy: nil, on: day("2025-06-10"),
                                                    windowStart: day("2025-06-01"), windowEnd: day("2025-06-30")) }
                == RegistryError(.conflict, field: "followup",
                                 "follow-up 5 is no longer required (after death, withdrawal or loss to follow-up); log an unscheduled visit instead"))
    }
}

@Suite("Status change dates")
struct StatusChangeDateTests {
    @Test("no status change before consent")
    func beforeConsent() {
        for kind in [StatusChangeKind.death, .withdrawal, .lost, .transfer] {
            #expect(refusal { try StatusRules.check(kind, patient: patient(.active), on: day("2025-01-09"), statusOn: nil, firstAdministration: nil) }
                    == RegistryError(.invalid, field: "on", "2025-01-09 is before the patient's consent on 2025-01-10"), "\(kind)")
            #expect(refusal { try StatusRules.check(kind, patient: patient(.active), on: day("2025-01-10"), statusOn: nil, firstAdministration: nil) } == nil,
                    "\(kind)")
        }
    }

    @Test("only a death or a withdrawal may come before the first dose")
    func beforeFirstAdministration() {
        let first = day("2025-02-01"), before = day("2025-01-31")
        for kind in [StatusChangeKind.death, .withdrawal] {
            #expect(refusal { try StatusRules.check(kind, patient: patient(.active), on: before, statusOn: nil, firstAdministration: first) } == nil, "\(kind)")
        }
        for kind in [StatusChangeKind.lost, .transfer] {
            #expect(refusal { try StatusRules.check(kind, patient: patient(.active), on: before, statusOn: nil, firstAdministration: first) }
                    == RegistryError(.invalid, field: "on", "2025-01-31 is before the patient's first administration on 2025-02-01"), "\(kind)")
            #expect(refusal { try StatusRules.check(kind, patient: patient(.active), on: first, statusOn: nil, firstAdministration: first) } == nil, "\(kind)")
        }
        #expect(refusal { try StatusRules.check(.found, patient: patient(.lostToFollowUp), on: before, statusOn: nil, firstAdministration: first) }
                == RegistryError(.invalid, field: "on", "2025-01-31 is before the patient's first administration on 2025-02-01"))
    }

    @Test("the status checks come first, then consent, then the first dose")
    func order() {
        let early = day("2024-12-01")
        #expect(refusal { try StatusRules.check(.lost, patient: patient(.withdrawn), on: early, statusOn: day("2025-03-03"), firstAdministration: day("2025-02-01")) }
                == RegistryError(.conflict, field: "patient", "patient 7 withdrew consent on 2025-03-03; only corrections with a reason are allowed"))
        #expect(refusal { try StatusRules.check(.lost, patient: patient(.active), on: early, statusOn: day("2025-03-03"), firstAdministration: day("2025-02-01")) }
                == RegistryError(.invalid, field: "on", "2024-12-01 is before the patient's last status change on 2025-03-03"))
        #expect(refusal { try StatusRules.check(.lost, patient: patient(.active), on: early, statusOn: nil, firstAdministration: day("2025-02-01")) }
                == RegistryError(.invalid, field: "on", "2024-12-01 is before the patient's consent on 2025-01-10"))
    }
}

@Suite("Voiding a dose or a patient")
struct DoseAndPatientVoidRulesTests {
    static let dose = Administration(id: 3, patientID: 7, planID: 1, institutionCode: "ARM-001", productCode: "GT-01", administeredOn: day("2025-02-01"),
                                     lot: "LOT-1", dose: "1e6", feeNotifiedKRW: 0, feeCollectedKRW: 0)

    static func void(firstAfter: String?, dependents: [FirstDoseDependent], completedBy: [VisitID] = []) -> RegistryError? {
        let p = PatientForData(patient: patient(.active), statusOn: nil, firstAdministration: day("2025-02-01"))
        return refusal { try VoidRules.checkVoid(dose, patient: p, completedBy: completedBy, firstDoseAfter: firstAfter.map(day), dependents: dependents) }
    }

    @Test("a dose whose follow-ups standing visits completed is refused, naming them")
    func completed() {
        let e = Self.void(firstAfter: nil, dependents: [], completedBy: [8, 9])
        #expect(e?.code == .conflict && e?.message.hasPrefix("visits 8, 9 completed follow-ups of administration 3; void those visits first") == true, "\(String(describing: e))")
    }

    @Test("the records that read the first dose are checked again where it moves: events and visits before it, losses before it, nothing when no dose is left")
    func firstDoseMoves() {
        let event = FirstDoseDependent.adverseEvent(4, onset: day("2025-03-01"))
        let visit = FirstDoseDependent.visit(5, on: day("2025-03-01"), screening: false)
        let screening = FirstDoseDependent.visit(6, on: day("2025-01-20"), screening: true)
        let death = FirstDoseDependent.statusChange(1, .death, on: day("2025-03-01"))
        let loss = FirstDoseDependent.statusChange(2, .lost, on: day("2025-03-01"))
        // A later dose stays first: nothing moves.
        #expect(Self.void(firstAfter: "2025-02-01", dependents: [event, visit, loss]) == nil)
        // After them: the event, the visit and the loss would come before the first dose; a death may, a screening visit within 90 days may.
        let moved = Self.void(firstAfter: "2025-04-01", dependents: [event, visit, screening, death, loss])
        #expect(moved?.message == "voiding administration 3 would move patient 7's first dose from 2025-02-01 to 2025-04-01, and adverse event 4 (onset 2025-03-01), unscheduled visit 5 on 2025-03-01, status change 2 (lost on 2025-03-01) could not be recorded then; void or correct them first",
                "\(String(describing: moved))")
        // No dose left: events and follow-up visits need one; a screening visit and status changes do not.
        let none = Self.void(firstAfter: nil, dependents: [screening, death, loss])
        #expect(none == nil)
        #expect(Self.void(firstAfter: nil, dependents: [event])?.message.contains("leave patient 7 with no dose") == true)
    }

    @Test("a patient is voided only when nothing of theirs stands; voided, it takes no data")
    func patientVoided() {
        let p = patient(.active)
        #expect(refusal { try VoidRules.checkVoid(p, standing: StandingRecords(administrations: [], visits: [], adverseEvents: [], statusChanges: [])) } == nil)
        let standing = StandingRecords(administrations: [3], visits: [8, 9], adverseEvents: [], statusChanges: [2])
        #expect(refusal { try VoidRules.checkVoid(p, standing: standing) }?.message.hasPrefix("patient 7 still has standing records: administration 3; visits 8, 9; status change 2; void them first") == true)
        var voided = p
        voided.void = VoidMark(voidedOn: day("2026-11-25"), reason: "enrolled twice")
        let forData = PatientForData(patient: voided, statusOn: nil, firstAdministration: nil)
        #expect(refusal { try forData.checkForData(on: nil) }?.message == "patient 7 was voided on 2026-11-25 (enrolled twice); a voided record is kept as it was")
    }
}

@Test("a dose under another site's plan is refused without naming that site")
func otherSitesPlanNamesNoSite() throws {
    let plan = TreatmentPlan(id: 9, institutionCode: "ARM-002", productCode: "GT-01", indication: "G20", riskClass: .high, decision: .approved,
                             decidedOn: LocalDate("2025-03-15")!, committeeReference: nil, protocolCode: "P", protocolVersion: 1)
    let patient = Patient(id: 1, pseudonym: String(repeating: "a", count: 64), institutionCode: "ARM-001", birthYear: 1960, sex: .female,
                          consentOn: LocalDate("2025-03-20")!, consentVersion: "2", status: .active)
    #expect {
        try NewAdministration.checkEligibility(on: LocalDate("2025-04-01")!, plan: plan, institutionStatus: .suspended, patient: patient)
    } throws: { error in
        let message = (error as? RegistryError)?.message ?? ""
        return message.contains("plan 9 is not a plan of ARM-001") && !message.contains("ARM-002")
    }
}
