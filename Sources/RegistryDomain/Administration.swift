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

    /// Validates the fields that need no database.
    public init(on: String, lot: String, dose: String, feeNotified: Int, feeCollected: Int, today: LocalDate) throws(RegistryError) {
        self.administeredOn = try Rules.date(on, field: "on")
        try Rules.eventDate(administeredOn, field: "on", today: today)
        self.lot = try Rules.lot(lot)
        self.dose = try Rules.name(dose, field: "dose", maxLength: 100)
        self.feeNotifiedKRW = try Rules.krw(feeNotified, field: "fee-notified")
        self.feeCollectedKRW = try Rules.krw(feeCollected, field: "fee-collected")
    }

    /// The checks against the plan, institution and patient that decide whether this dose may be
    /// recorded, in the order a coordinator would want to hear about them.
    public static func checkEligibility(on date: LocalDate, plan: TreatmentPlan, institutionStatus: InstitutionStatus,
                                        patient: Patient) throws(RegistryError) {
        guard plan.decision == .approved, let approvedOn = plan.decidedOn else {
            throw .conflict("plan", "plan \(plan.id) is \(plan.decision.rawValue), not approved; only approved plans may be used",
                            remedy: .decidePlan(id: plan.id))
        }
        guard institutionStatus == .active else {
            throw .conflict("plan", "institution \(plan.institutionCode) is \(institutionStatus.rawValue); only active institutions may treat")
        }
        try VoidRules.checkStanding(patient.void, record: "patient \(patient.id)")
        guard patient.institutionCode == plan.institutionCode else {
            throw .conflict("patient", "patient \(patient.id) is enrolled at \(patient.institutionCode), not at the plan's institution \(plan.institutionCode)")
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
