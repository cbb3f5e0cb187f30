/// The rules a visit must meet before it is recorded or corrected, in one place.
public enum VisitRules {
    /// A visit cannot come before the dose it follows: `anchor` is the follow-up's administration date, or for an unscheduled visit the patient's first administration (nil: none yet).
    public static func checkAfterDose(_ date: LocalDate, anchor: LocalDate?, patientID: PatientID) throws(RegistryError) {
        guard let anchor else {
            throw .conflict("patient", "patient \(patientID) has no administration yet; visits follow a dose")
        }
        if date < anchor {
            throw .invalid("on", "\(date) is before the administration on \(anchor); follow-up visits come after the dose")
        }
    }

    /// A visit that records the patient as dead needs the death on record: already recorded, or
    /// recorded with the visit (`recordsDeath`, the user's confirmation). Otherwise the follow-up
    /// would be completed and the patient left active, followed up and counted alive.
    public static func checkVital(_ vital: VitalStatus, recordsDeath: Bool, patient: Patient) throws(RegistryError) {
        guard vital == .dead, patient.status != .deceased, !recordsDeath else { return }
        throw .conflict("vital", "this visit records patient \(patient.id) as dead, but no death is recorded; the patient is \(patient.status.rawValue)",
                        remedy: .recordDeathWithVisit(patientID: patient.id))
    }

    /// Whether a visit may complete a follow-up in `status`, and its timing against the window when it may.
    public static func timing(completing followUpID: FollowUpID, status: FollowUpStatus, completedBy visitID: VisitID?, on date: LocalDate,
                              windowStart: LocalDate, windowEnd: LocalDate) throws(RegistryError) -> VisitTiming {
        switch status {
        case .completed:
            throw .conflict("followup", "follow-up \(followUpID) is already completed by visit \(visitID.map(String.init) ?? "?")",
                            hint: "correct that visit instead", remedy: .correctVisit(id: visitID))
        case .notRequired:
            throw .conflict("followup", "follow-up \(followUpID) is no longer required (after death, withdrawal or loss to follow-up); log an unscheduled visit instead")
        case .scheduled, .notDone, .missed:
            return VisitTiming.of(date, windowStart: windowStart, windowEnd: windowEnd)
        }
    }
}
