/// One dose of a product given to a patient under a plan; its date anchors the follow-up schedule.
public struct Administration: Codable, Equatable, Sendable {
    public var id: AdministrationID
    public var patientID: PatientID
    public var planID: PlanID
    public var institutionCode: String
    public var productCode: String
    public var administeredOn: LocalDate
    public var lot: String
    public var dose: String
    public var feeNotifiedKRW: Int
    public var feeCollectedKRW: Int
    /// Set when the dose was voided as entered in error; its follow-ups are then withdrawn.
    public var void: VoidMark?

    public init(id: AdministrationID, patientID: PatientID, planID: PlanID, institutionCode: String, productCode: String, administeredOn: LocalDate,
                lot: String, dose: String, feeNotifiedKRW: Int, feeCollectedKRW: Int, void: VoidMark? = nil) {
        self.id = id; self.patientID = patientID; self.planID = planID; self.institutionCode = institutionCode
        self.productCode = productCode; self.administeredOn = administeredOn; self.lot = lot; self.dose = dose
        self.feeNotifiedKRW = feeNotifiedKRW; self.feeCollectedKRW = feeCollectedKRW; self.void = void
    }
}

/// A validated administration, before the registry checks it against the plan and patient.
public struct NewAdministration: Sendable, Equatable {
    public var administeredOn: LocalDate
    public var lot: String
    public var dose: String
    public var feeNotifiedKRW: Int
    public var feeCollectedKRW: Int

    /// Validates the fields that need no database, refusing once with every field at fault.
    public init(on: String, lot: String, dose: String, feeNotified: Int, feeCollected: Int, today: LocalDate) throws(RegistryError) {
        var checks = FieldChecks()
        let date = checks.check { () throws(RegistryError) in try AdministrationRules.date(on, today: today) }
        let lot = checks.check { () throws(RegistryError) in try Rules.lot(lot) }
        let dose = checks.check { () throws(RegistryError) in try AdministrationRules.dose(dose) }
        let notified = checks.check { () throws(RegistryError) in try Rules.krw(feeNotified, field: "fee-notified") }
        let collected = checks.check { () throws(RegistryError) in try Rules.krw(feeCollected, field: "fee-collected") }
        try checks.finish()
        self.administeredOn = date!
        self.lot = lot!
        self.dose = dose!
        self.feeNotifiedKRW = notified!
        self.feeCollectedKRW = collected!
    }

    /// The checks against the plan, institution and patient that decide whether this dose may be
    /// recorded, in the order a coordinator would want to hear about them.
    public static func checkEligibility(on date: LocalDate, plan: TreatmentPlan, institutionStatus: InstitutionStatus,
                                        patient: Patient) throws(RegistryError) {
        guard plan.decision == .approved, let approvedOn = plan.decidedOn else {
            throw .conflict("plan", "plan \(plan.id) is \(plan.decision.rawValue), not approved; only approved plans may be used",
                            remedy: .decidePlan(id: plan.id))
        }
        try VoidRules.checkStanding(patient.void, record: "patient \(patient.id)")
        // Another site's plan is refused without naming that site.
        guard patient.institutionCode == plan.institutionCode else {
            throw .conflict("patient", "plan \(plan.id) is not a plan of \(patient.institutionCode), where patient \(patient.id) is enrolled; record the dose under one of its plans")
        }
        guard institutionStatus == .active else {
            throw .conflict("plan", "institution \(plan.institutionCode) is \(institutionStatus.rawValue); only active institutions may treat")
        }
        guard patient.status == .active else {
            throw .conflict("patient", "patient \(patient.id) is \(patient.status.rawValue); only active patients can receive a dose")
        }
        if date < approvedOn {
            throw .invalid("on", "\(date) is before the plan's approval on \(approvedOn); a dose must follow approval")
        }
        if date < patient.consentOn {
            throw .invalid("on", "\(date) is before the patient's consent on \(patient.consentOn); a dose must follow consent")
        }
    }
}

/// The rules for an administration's own fields, for a new dose and a correction alike.
public enum AdministrationRules {
    /// The date of the dose: a date from the Act's start to today.
    public static func date(_ text: String, today: LocalDate) throws(RegistryError) -> LocalDate {
        let date = try Rules.date(text, field: "on")
        try Rules.eventDate(date, field: "on", today: today)
        return date
    }

    /// The dose as given: 1–100 characters.
    public static func dose(_ text: String) throws(RegistryError) -> String {
        try Rules.name(text, field: "dose", maxLength: 100)
    }
}

/// A correction of an administration's own fields as given, each checked (refused once with every
/// field at fault); storage checks the new date against the plan, the consent and the visits.
public struct AdministrationCorrection: Sendable, Equatable {
    public var on: LocalDate?
    public var lot: String?
    public var dose: String?
    public var feeNotifiedKRW: Int?
    public var feeCollectedKRW: Int?
    public var reason: String

    public init(on: String?, lot: String?, dose: String?, feeNotified: Int?, feeCollected: Int?, reason: String?, today: LocalDate) throws(RegistryError) {
        var checks = FieldChecks()
        let reason = checks.check { () throws(RegistryError) in try Rules.reason(reason) }
        self.on = on.flatMap { d in checks.check { () throws(RegistryError) in try AdministrationRules.date(d, today: today) } }
        self.lot = lot.flatMap { l in checks.check { () throws(RegistryError) in try Rules.lot(l) } }
        self.dose = dose.flatMap { d in checks.check { () throws(RegistryError) in try AdministrationRules.dose(d) } }
        self.feeNotifiedKRW = feeNotified.flatMap { f in checks.check { () throws(RegistryError) in try Rules.krw(f, field: "fee-notified") } }
        self.feeCollectedKRW = feeCollected.flatMap { f in checks.check { () throws(RegistryError) in try Rules.krw(f, field: "fee-collected") } }
        try checks.finish()
        self.reason = reason!
    }
}
