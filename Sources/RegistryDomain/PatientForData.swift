/// What the registry knows about a patient when new data arrives for them.
public struct PatientForData: Sendable, Equatable {
    /// The patient, as stored.
    public var patient: Patient
    /// The date of the patient's last status change (death, withdrawal, ...), if any.
    public var statusOn: LocalDate?
    /// The patient's earliest administration, or nil before the first dose.
    public var firstAdministration: LocalDate?

    /// Gathers the facts the data-entry rules read.
    public init(patient: Patient, statusOn: LocalDate?, firstAdministration: LocalDate?) {
        self.patient = patient
        self.statusOn = statusOn
        self.firstAdministration = firstAdministration
    }

    /// Refuses data for a voided or withdrawn patient, data dated after a death, and data from an institution that does not hold the patient.
    public func checkForData(on date: LocalDate?, actingInstitution: String?) throws(RegistryError) {
        try checkHeld(by: actingInstitution)
        try VoidRules.checkStanding(patient.void, record: "patient \(patient.id)")
        if patient.status == .withdrawn {
            throw .conflict("patient", "patient \(patient.id) withdrew consent\(statusOn.map { " on \($0)" } ?? ""); only corrections with a reason are allowed")
        }
        if let date, patient.status == .deceased, let died = statusOn, date > died {
            throw .invalid("on", "\(date) is after the patient's death on \(died)")
        }
    }

    /// Refuses an institution that does not hold the patient: corrections, allowed whatever the
    /// patient's status, are still only the holding institution's.
    public func checkHeld(by actingInstitution: String?) throws(RegistryError) {
        if let acting = actingInstitution, acting != patient.institutionCode {
            // Said the same way whether the patient exists elsewhere or not at all.
            throw .notFound("patient", "institution \(acting) holds no patient with id \(patient.id)")
        }
    }

    /// Refuses an adverse event before treatment: no administration yet, or onset before the first one.
    public func checkEventAfterTreatment(onset: LocalDate) throws(RegistryError) {
        guard let first = firstAdministration else {
            throw .conflict("patient", "patient \(patient.id) has no administration yet; the registry follows events after treatment")
        }
        if onset < first {
            throw .invalid("onset", "\(onset) is before the patient's first administration on \(first)")
        }
    }
}
