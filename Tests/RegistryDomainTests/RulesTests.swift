import Foundation
import RegistryDomain
import Testing

@Suite("Field rules")
struct RulesTests {
    let today = LocalDate("2026-11-25")!

    func field(_ body: () throws -> Void) -> String? {
        do { try body(); return nil } catch let e as RegistryError { return e.field } catch { return "?" }
    }

    @Test("event dates run from the Act's effective date to today")
    func eventDates() {
        #expect(field { try Rules.eventDate(LocalDate("2020-08-28")!, field: "on", today: today) } == nil)
        #expect(field { try Rules.eventDate(today, field: "on", today: today) } == nil)
        #expect(field { try Rules.eventDate(LocalDate("2020-08-27")!, field: "on", today: today) } == "on")
        #expect(field { try Rules.eventDate(today.adding(days: 1), field: "on", today: today) } == "on")
    }

    @Test("codes have their shapes")
    func codes() throws {
        for ok in ["ARM-001", "AB-12345", "SNUH-042"] { #expect(field { _ = try Rules.institutionCode(ok) } == nil, "\(ok)") }
        for bad in ["ARM001", "arm-001", "A-001", "ARM-01", "ARM-001-2", "ARM-00a"] { #expect(field { _ = try Rules.institutionCode(bad) } == "institution", "\(bad)") }
        for ok in ["GT-01", "MSC-KNEE-2", "XENO-ISLET"] { #expect(field { _ = try Rules.productCode(ok) } == nil, "\(ok)") }
        for bad in ["gt-01", "GT--1", "-GT", "1GT", "G", "GT 01"] { #expect(field { _ = try Rules.productCode(bad) } == "product", "\(bad)") }
        for ok in ["G20", "M17.0", "C91.00", "E10.9", "g35"] { #expect(field { _ = try Rules.icd10(ok) } == nil, "\(ok)") }
        for bad in ["G2", "20G", "G20.", "G20.12345", "Parkinson", "G 20"] { #expect(field { _ = try Rules.icd10(bad) } == "indication", "\(bad)") }
        #expect(try Rules.icd10("g35") == "G35")
    }

    @Test("minimally manipulated products are out of scope; every other modality has a follow-up class")
    func modalities() throws {
        #expect(throws: RegistryError.self) { try Modality.minimallyManipulated.requireInScope() }
        do {
            _ = try NewProduct(code: "CB-01", name: "Cord blood", manufacturer: "X", modality: "minimally-manipulated")
            Issue.record("cord blood accepted")
        } catch {
            #expect(error.code == .outOfScope)
            #expect(error.message.contains("Art. 2(1)"))
        }
        #expect(try Modality.geneTherapy.requireInScope() == .gene)
        #expect(try Modality.genomeEditing.requireInScope().years == 15)
        #expect(try Modality.xenogeneic.requireInScope().years == 30)
        #expect(try Modality.stemCell.requireInScope().years == 5)
        #expect(try Modality.tissueEngineered.requireInScope().years == 5)
    }

    @Test("administrations need an approved plan, an active institution and the plan's own patient")
    func eligibility() throws {
        let plan = TreatmentPlan(id: 1, institutionCode: "ARM-001", productCode: "GT-01", indication: "G20", riskClass: .high, decision: .approved,
                                 decidedOn: LocalDate("2025-03-15"), committeeReference: "RC-1", protocolCode: "LTFU-GENE-15Y", protocolVersion: 1)
        let patient = Patient(id: 9, pseudonym: String(repeating: "a", count: 64), institutionCode: "ARM-001", birthYear: 1961, sex: .female,
                              consentOn: LocalDate("2025-03-20")!, consentVersion: "2", status: .active)
        let on = LocalDate("2025-04-01")!
        #expect(field { try NewAdministration.checkEligibility(on: on, plan: plan, institutionStatus: .active, patient: patient) } == nil)
        var pending = plan; pending.decision = .pending; pending.decidedOn = nil
        #expect(field { try NewAdministration.checkEligibility(on: on, plan: pending, institutionStatus: .active, patient: patient) } == "plan")
        #expect(field { try NewAdministration.checkEligibility(on: on, plan: plan, institutionStatus: .revoked, patient: patient) } == "plan")
        var elsewhere = patient; elsewhere.institutionCode = "ARM-002"
        #expect(field { try NewAdministration.checkEligibility(on: on, plan: plan, institutionStatus: .active, patient: elsewhere) } == "patient")
        #expect(field { try NewAdministration.checkEligibility(on: LocalDate("2025-03-18")!, plan: plan, institutionStatus: .active, patient: patient) } == "on")
    }

    @Test("pseudonyms are stable, depend on the institution and the key, and reveal nothing of the local key")
    func pseudonyms() throws {
        let key = try Pseudonymizer(secret: Data(repeating: 1, count: 32))
        let other = try Pseudonymizer(secret: Data(repeating: 2, count: 32))
        let p = key.pseudonym(institutionCode: "ARM-001", localID: "MRN-12345")
        #expect(p == key.pseudonym(institutionCode: "ARM-001", localID: "MRN-12345"))
        #expect(p.count == 64 && p.allSatisfy(\.isHexDigit))
        #expect(p != key.pseudonym(institutionCode: "ARM-002", localID: "MRN-12345"))
        #expect(p != other.pseudonym(institutionCode: "ARM-001", localID: "MRN-12345"))
        // The separator keeps code/key boundaries apart.
        #expect(key.pseudonym(institutionCode: "AB-1", localID: "23") != key.pseudonym(institutionCode: "AB-12", localID: "3"))
        #expect(!p.contains("12345"))
        #expect(throws: RegistryError.self) { try Pseudonymizer(secret: Data(repeating: 1, count: 16)) }
    }
}
