/// The rules a visit must meet before it is recorded or corrected, in one place.
public enum VisitRules {
    /// How many days before the first dose a screening visit may be (its baseline window).
    public static let screeningWindowDays = 90

    /// The days a screening visit may fall on for a first dose on `firstDose`: from
    /// `screeningWindowDays` before it to the day of the dose.
    public static func screeningWindow(before firstDose: LocalDate) -> ClosedRange<LocalDate> {
        firstDose.adding(days: -screeningWindowDays)...firstDose
    }

    /// When a visit may be. A screening visit is unscheduled and comes on or after consent and
    /// within the screening window before the first dose (or before any dose is recorded); any
    /// other visit comes after its dose: `followUpAnchor` is the administration of the follow-up it
    /// completes, nil for an unscheduled visit (whose anchor is the patient's first dose).
    public static func checkDate(_ date: LocalDate, screening: Bool, followUpAnchor: LocalDate?, patient: PatientForData) throws(RegistryError) {
        let pid = patient.patient.id
        if screening {
            guard followUpAnchor == nil else {
                throw .invalid("screening", "a screening visit comes before the dose and completes no follow-up; log it for the patient as an unscheduled visit")
            }
            try checkScreening(date, consentOn: patient.patient.consentOn, firstDose: patient.firstAdministration, patientID: pid)
        } else {
            try checkAfterDose(date, anchor: followUpAnchor ?? patient.firstAdministration, patientID: pid, unscheduled: followUpAnchor == nil)
        }
    }

    /// A screening visit: on or after consent, and not after the first dose nor more than
    /// `screeningWindowDays` before it. Before any dose only consent bounds it (and today, as every visit).
    public static func checkScreening(_ date: LocalDate, consentOn: LocalDate, firstDose: LocalDate?, patientID: PatientID) throws(RegistryError) {
        if date < consentOn {
            throw .invalid("on", "\(date) is before patient \(patientID)'s consent on \(consentOn); a screening visit comes on or after consent")
        }
        guard let firstDose else { return }
        let window = screeningWindow(before: firstDose)
        if date > window.upperBound {
            throw .invalid("screening", "\(date) is after the first dose on \(firstDose); a screening visit comes before the dose",
                           hint: "log it as a follow-up visit, without screening")
        }
        if date < window.lowerBound {
            throw .invalid("on", "\(date) is \(date.days(until: firstDose)) days before the first dose on \(firstDose); a screening visit is within the \(screeningWindowDays)-day screening window before it, from \(window.lowerBound) to \(firstDose)")
        }
    }

    /// A visit cannot come before the dose it follows: `anchor` is the follow-up's administration
    /// date, or for an unscheduled visit the patient's first administration (nil: none yet). An
    /// unscheduled visit that could be a screening visit is told so.
    public static func checkAfterDose(_ date: LocalDate, anchor: LocalDate?, patientID: PatientID, unscheduled: Bool = false) throws(RegistryError) {
        guard let anchor else {
            throw .conflict("patient", "patient \(patientID) has no administration yet; follow-up visits come after a dose, and a visit before it is a screening visit",
                            remedy: unscheduled ? .logAsScreening : nil)
        }
        if date < anchor {
            let screening = unscheduled && screeningWindow(before: anchor).contains(date)
            throw .invalid("on", "\(date) is before the administration on \(anchor); follow-up visits come after the dose"
                                 + (screening ? "; a visit within \(screeningWindowDays) days before the first dose may be a screening visit" : ""),
                           remedy: screening ? .logAsScreening : nil)
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
        case .voided:
            throw .conflict("followup", "follow-up \(followUpID) was withdrawn from the schedule: its administration was voided as entered in error",
                            hint: "log the visit against a follow-up of the patient's standing dose, or as an unscheduled visit")
        case .scheduled, .notDone, .missed:
            return VisitTiming.of(date, windowStart: windowStart, windowEnd: windowEnd)
        }
    }
}
