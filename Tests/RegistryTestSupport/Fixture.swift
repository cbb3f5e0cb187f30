import Foundation
import RegistryDomain
import RegistryStorage

/// A small registry most tests start from: one active institution, a gene therapy product, an
/// approved plan and one enrolled patient.
public struct Fixture: Sendable {
    public var institution: Institution
    public var product: Product
    public var plan: TreatmentPlan
    public var patient: Patient
    public var pseudonymizer: Pseudonymizer

    public static let key = try! Pseudonymizer(secret: Data(repeating: 7, count: 32))

    /// `since` moves designation, approval and consent back to 2021 for tests that need old anchors.
    public static func make(_ database: Database, code: String = "ARM-001", productCode: String = "GT-01",
                            modality: String = "gene-therapy", since2021: Bool = false) async throws -> Fixture {
        let today = database.today()
        let inst = try await database.transaction(actor: "test") { tx in try await tx.institutions.add(try NewInstitution(code: code, name: "Example University Hospital",
                                                                     designationNumber: "D-2025-\(code.suffix(3))", designatedOn: since2021 ? "2021-01-04" : "2025-02-21", today: today)) }
        let product: Product
        if let existing = try await database.read { tx in try await tx.products.all() }.first(where: { $0.code == productCode }) {
            product = existing
        } else {
            product = try await database.transaction(actor: "test") { tx in try await tx.products.add(try NewProduct(code: productCode, name: "Example AAV vector", manufacturer: "Example Bio", modality: modality)) }
        }
        let pending = try await database.transaction(actor: "test") { tx in try await tx.plans.add(institutionCode: code, productCode: productCode, indication: "G20", risk: .high) }
        let plan = try await database.transaction(actor: "test") { tx in try await tx.plans.decide(id: pending.id, try PlanDecisionRecord(decision: "approved", on: since2021 ? "2021-06-01" : "2025-03-15", reference: "RC-2025-014", today: today)) }
        let patient = try await database.transaction(actor: "test") { tx in try await tx.patients.enroll(try NewPatient(institutionCode: code, localID: "MRN-12345", birthYear: 1961, sex: "female",
                                                            consentOn: since2021 ? "2021-06-10" : "2025-03-20", consentVersion: "2", pseudonymizer: key, today: today)) }.patient
        return Fixture(institution: inst, product: product, plan: plan, patient: patient, pseudonymizer: key)
    }

    public func dose(on date: String, lot: String = "LOT-7", today: LocalDate) throws -> NewAdministration {
        try NewAdministration(on: date, lot: lot, dose: "2e6 cells/kg", feeNotified: 30_000_000, feeCollected: 30_000_000, today: today)
    }
}

public func visit(_ on: String, contact: String = "examination", vital: String = "alive", measures: [String] = [], note: String? = nil,
                  screening: Bool = false) throws -> NewVisit {
    try NewVisit(on: on, contact: contact, vital: vital, measures: measures, catalogue: TestDatabase.measureCatalogue, note: note,
                 screening: screening, today: LocalDate("2026-11-25")!)
}

public func event(onset: String = "2025-06-01", aware: String = "2025-06-03", term: String = "Neutropenia", grade: Int = 2, serious: Bool = false,
                  criteria: [String] = [], category: String = "hematologic", outcome: String? = nil, outcomeOn: String? = nil) throws -> NewAdverseEvent {
    try NewAdverseEvent(onset: onset, aware: aware, term: term, meddra: nil, category: category, grade: grade, grading: "CTCAE-5.0",
                        serious: serious, criteria: criteria, related: "possible", outcome: outcome, outcomeOn: outcomeOn, today: LocalDate("2026-11-25")!)
}
