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

    /// Refuses data for a voided or withdrawn patient and data dated after a death. (Which
    /// institution may write for the patient is row-level security's: another site's patient is not found.)
    public func checkForData(on date: LocalDate?) throws(RegistryError) {
        try VoidRules.checkStanding(patient.void, record: "patient \(patient.id)")
        if patient.status == .withdrawn {
            throw .conflict("patient", "patient \(patient.id) withdrew consent\(statusOn.map { " on \($0)" } ?? ""); only corrections with a reason are allowed")
        }
        if let date, patient.status == .deceased, let died = statusOn, date > died {
            throw .invalid("on", "\(date) is after the patient's death on \(died)")
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
