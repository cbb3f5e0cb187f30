/// A dated change of a patient's follow-up status.
public enum StatusChangeKind: String, Codable, CaseIterable, Sendable {
    case death, withdrawal, lost, found, transfer
}

/// A recorded status change.
public struct StatusChange: Codable, Equatable, Sendable {
    public var id: StatusChangeID
    public var patientID: PatientID
    public var kind: StatusChangeKind
    public var effectiveOn: LocalDate
    public var reason: String
    public var fromInstitution: String?
    public var toInstitution: String?
    /// Follow-ups this change made not required, moved, or brought back.
    public var followUpsAffected: Int
    /// The grade 5 adverse event this death was recorded from, if it was.
    public var adverseEventID: AdverseEventID?
    /// The visit at which this death was recorded, if it was.
    public var visitID: VisitID?
    /// Set when the change was voided as entered in error.
    public var void: VoidMark?

    public init(id: StatusChangeID, patientID: PatientID, kind: StatusChangeKind, effectiveOn: LocalDate, reason: String,
                fromInstitution: String?, toInstitution: String?, followUpsAffected: Int, adverseEventID: AdverseEventID? = nil,
                visitID: VisitID? = nil, void: VoidMark? = nil) {
        self.id = id; self.patientID = patientID; self.kind = kind; self.effectiveOn = effectiveOn; self.reason = reason
        self.fromInstitution = fromInstitution; self.toInstitution = toInstitution; self.followUpsAffected = followUpsAffected
        self.adverseEventID = adverseEventID; self.visitID = visitID; self.void = void
    }
}

/// A status change as a user gives it, each field checked (refused once with every field at
/// fault) before storage checks it against the patient (`StatusRules`): its kind, its date, the
/// reason (for a death, the cause) and, for a transfer only, the receiving institution.
public struct NewStatusChange: Sendable, Equatable {
    public var kind: StatusChangeKind
    public var on: LocalDate
    public var reason: String
    public var transferTo: String?

    public init(kind: String, on: String, reason: String?, to: String?, today: LocalDate) throws(RegistryError) {
        var checks = FieldChecks()
        let parsed = checks.check { () throws(RegistryError) -> StatusChangeKind in
            guard let k = StatusChangeKind(rawValue: kind) else {
                throw .invalid("kind", "'\(kind)' is not a status change; allowed: \(StatusChangeKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return k
        }
        let date = checks.check { () throws(RegistryError) -> LocalDate in
            let date = try Rules.date(on, field: "on")
            try Rules.eventDate(date, field: "on", today: today)
            return date
        }
        let reason = checks.check { () throws(RegistryError) in try Rules.reason(reason, field: parsed == .death ? "cause" : "reason") }
        var code: String? = nil
        if let to {
            if let parsed, parsed != .transfer {
                checks.refuse(.invalid("to", "only a transfer names the receiving institution"))
            } else {
                code = checks.check { () throws(RegistryError) in try Rules.institutionCode(to, field: "to") }
            }
        } else if parsed == .transfer {
            checks.refuse(.invalid("to", "a transfer needs the receiving institution"))
        }
        try checks.finish()
        self.kind = parsed!
        self.on = date!
        self.reason = reason!
        self.transferTo = code
    }
}

/// Which status changes a patient's current status allows, in one place.
public enum StatusRules {
    /// Refuses a change the patient's status does not allow. Withdrawn patients take no change but
    /// corrections; a death is recorded once; only lost patients can be found.
    public static func check(_ kind: StatusChangeKind, patient: Patient, on date: LocalDate, statusOn: LocalDate?) throws(RegistryError) {
        switch (kind, patient.status) {
        case (_, .withdrawn):
            throw .conflict("patient", "patient \(patient.id) withdrew consent\(statusOn.map { " on \($0)" } ?? ""); only corrections with a reason are allowed")
        case (.death, .deceased):
            throw .conflict("patient", "patient \(patient.id)'s death is already recorded\(statusOn.map { " (\($0))" } ?? ""); correct it instead of recording a second death")
        case (.found, let s) where s != .lostToFollowUp:
            throw .conflict("patient", "patient \(patient.id) is \(s.rawValue), not lost to follow-up; only a lost patient can be found")
        case (.lost, let s) where s != .active:
            throw .conflict("patient", "patient \(patient.id) is \(s.rawValue); only an active patient can be lost to follow-up")
        case (.transfer, let s) where s != .active:
            throw .conflict("patient", "patient \(patient.id) is \(s.rawValue); only an active patient can be transferred")
        case (.withdrawal, .deceased):
            throw .conflict("patient", "patient \(patient.id) is deceased; consent cannot be withdrawn after death")
        default:
            break
        }
        if let statusOn, date < statusOn, kind != .death {
            throw .invalid("on", "\(date) is before the patient's last status change on \(statusOn)")
        }
    }

    /// Refuses a change the patient's status does not allow (as the overload without
    /// `firstAdministration`), then one dated before consent or, except a death or a withdrawal,
    /// before the first administration.
    /// A death or a loss to follow-up cannot come before `lastSeenAlive`, the latest visit at which the
    /// patient was seen alive; a death not before `lastRecorded`, the latest data recorded about the
    /// patient (a visit, an adverse event's onset), which could not be recorded after it; and a death
    /// comes after `lastDose`, the patient's last standing dose (a dose is recorded only for a living
    /// patient, so a death on or before a dose's day would make the records depend on the order they
    /// were entered in).
    public static func check(_ kind: StatusChangeKind, patient: Patient, on date: LocalDate, statusOn: LocalDate?,
                             firstAdministration: LocalDate?, lastSeenAlive: LocalDate? = nil, lastRecorded: LocalDate? = nil,
                             lastDose: LocalDate? = nil) throws(RegistryError) {
        try check(kind, patient: patient, on: date, statusOn: statusOn)
        if kind == .death, let alive = lastSeenAlive, date < alive {
            throw .invalid("on", "\(date) is before the visit on \(alive) at which patient \(patient.id) was seen alive; a death cannot come before it",
                           hint: "check the date of death, or correct that visit first if it was recorded wrongly")
        }
        if kind == .death, let recorded = lastRecorded, date < recorded {
            throw .invalid("on", "\(date) is before data recorded for patient \(patient.id) on \(recorded) (a visit or an adverse event's onset); a death cannot come before it",
                           hint: "check the date of death, or correct or void that record first if it is wrong")
        }
        if kind == .death, let dose = lastDose, date <= dose {
            throw .invalid("on", "\(date) is not after patient \(patient.id)'s dose on \(dose); a death is dated after the last dose",
                           hint: "check the date of death, or correct or void that dose first if it is wrong")
        }
        if kind == .lost, let alive = lastSeenAlive, date < alive {
            throw .invalid("on", "\(date) is before the visit on \(alive) at which patient \(patient.id) was seen; a loss to follow-up cannot come before it",
                           hint: "date the loss from the last contact, or correct that visit first if it was recorded wrongly")
        }
        if date < patient.consentOn {
            throw .invalid("on", "\(date) is before the patient's consent on \(patient.consentOn)")
        }
        try checkAfterFirstDose(kind, on: date, firstAdministration: firstAdministration)
    }

    /// A loss, a found or a transfer comes on or after the patient's first dose (nil: none yet); a
    /// death or a withdrawal may come before it.
    public static func checkAfterFirstDose(_ kind: StatusChangeKind, on date: LocalDate, firstAdministration: LocalDate?) throws(RegistryError) {
        if kind != .death, kind != .withdrawal, let first = firstAdministration, date < first {
            throw .invalid("on", "\(date) is before the patient's first administration on \(first)")
        }
    }
}

extension StatusChangeKind {
    /// The patient's status after a change of this kind (death → deceased, withdrawal → withdrawn, lost → lost-to-follow-up, found → active); nil for a transfer, which keeps it.
    public var resultingPatientStatus: PatientStatus? {
        switch self {
        case .death: return .deceased
        case .withdrawal: return .withdrawn
        case .lost: return .lostToFollowUp
        case .found: return .active
        case .transfer: return nil
        }
    }
}

/// What a status change does, as data: the patient's new status and what happens to their follow-ups. Storage applies it with SQL; `apply(to:)` applies it in memory, and tests hold the two together.
public struct StatusChangeEffect: Equatable, Sendable {
    /// What happens to the patient's follow-ups.
    public enum FollowUps: Equatable, Sendable {
        /// Scheduled follow-ups due after `dueAfter` become not required, remembering the change that suspended them.
        case suspend(dueAfter: LocalDate)
        /// Not-required follow-ups suspended by change `suspendedBy` (nil: none) whose window ends on or after `windowEndFrom` are scheduled again, forgetting the suspension.
        case restore(suspendedBy: StatusChangeID?, windowEndFrom: LocalDate)
        /// Every follow-up still owed (scheduled, overdue or not, and missed) moves to the receiving
        /// institution with its overdue flags and escalation: the sending site can no longer reach the
        /// patient, so what it has not done becomes the receiving site's to do. Done and closed ones
        /// stay where they were done.
        case move
    }

    /// The patient's status after the change; nil keeps it (a transfer).
    public var patientStatus: PatientStatus?
    /// What happens to the patient's follow-ups.
    public var followUps: FollowUps

    /// An effect from its parts.
    public init(patientStatus: PatientStatus?, followUps: FollowUps) {
        self.patientStatus = patientStatus
        self.followUps = followUps
    }

    /// The effect of a change of `kind` on `date`; `lastLoss` is the id of the patient's latest loss-to-follow-up change (used by found).
    public static func of(_ kind: StatusChangeKind, on date: LocalDate, lastLoss: StatusChangeID?) -> StatusChangeEffect {
        switch kind {
        case .death, .withdrawal, .lost:
            return StatusChangeEffect(patientStatus: kind.resultingPatientStatus, followUps: .suspend(dueAfter: date))
        case .found:
            return StatusChangeEffect(patientStatus: kind.resultingPatientStatus, followUps: .restore(suspendedBy: lastLoss, windowEndFrom: date))
        case .transfer:
            return StatusChangeEffect(patientStatus: kind.resultingPatientStatus, followUps: .move)
        }
    }

    /// The effect on follow-ups in memory (change `changeID`, receiving institution for a move): the reference the SQL is tested against.
    /// A move with no receiving institution leaves every follow-up where it is.
    public func apply(to followUps: [FollowUpState], changeID: StatusChangeID, receivingInstitution: String?) -> [FollowUpState] {
        followUps.map { f in
            var f = f
            switch self.followUps {
            case .suspend(let dueAfter):
                if f.status == .scheduled, f.dueOn > dueAfter {
                    f.status = .notRequired
                    f.suspendedBy = changeID
                }
            case .restore(let suspendedBy, let windowEndFrom):
                // SQL's `suspended_by = NULL` matches no row: with no loss, nothing comes back.
                if f.status == .notRequired, let suspendedBy, f.suspendedBy == suspendedBy, f.windowEnd >= windowEndFrom {
                    f.status = .scheduled
                    f.suspendedBy = nil
                }
            case .move:
                if let receivingInstitution, f.status.isOwed {
                    f.institutionCode = receivingInstitution
                }
            }
            return f
        }
    }
}

/// The parts of a follow-up a status change reads and writes.
public struct FollowUpState: Equatable, Sendable, Hashable {
    /// The follow-up's id.
    public var id: FollowUpID
    /// Its due date.
    public var dueOn: LocalDate
    /// The last day of its window.
    public var windowEnd: LocalDate
    /// Where it stands.
    public var status: FollowUpStatus
    /// The status change that made it not required, if one did.
    public var suspendedBy: StatusChangeID?
    /// The institution that holds it.
    public var institutionCode: String

    /// A follow-up's state from its parts.
    public init(id: FollowUpID, dueOn: LocalDate, windowEnd: LocalDate, status: FollowUpStatus, suspendedBy: StatusChangeID?, institutionCode: String) {
        self.id = id; self.dueOn = dueOn; self.windowEnd = windowEnd; self.status = status
        self.suspendedBy = suspendedBy; self.institutionCode = institutionCode
    }
}

/// A correction of a status change (its date, its wording), checked as a whole: every field at
/// fault in one refusal. Whether there is anything to correct is the stored change's to say.
public struct StatusChangeCorrection: Sendable, Equatable {
    public var on: LocalDate?
    public var details: String?
    public var reason: String

    public init(on: String?, details: String?, reason: String?, today: LocalDate) throws(RegistryError) {
        var checks = FieldChecks()
        let date = checks.check { () throws(RegistryError) -> LocalDate? in
            guard let on else { return nil }
            let date = try Rules.date(on, field: "on")
            try Rules.eventDate(date, field: "on", today: today)
            return date
        }
        let wording = checks.check { () throws(RegistryError) in try details.map { d throws(RegistryError) in try Rules.reason(d, field: "details") } }
        let why = checks.check { () throws(RegistryError) in try Rules.reason(reason) }
        try checks.finish()
        self.on = date!; self.details = wording!; self.reason = why!
    }
}
