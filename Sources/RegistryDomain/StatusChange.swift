/// A dated change of a patient's follow-up status.
public enum StatusChangeKind: String, Codable, CaseIterable, Sendable {
    case death, withdrawal, lost, found, transfer
}

/// A recorded status change.
public struct StatusChange: Codable, Equatable, Sendable {
    public var id: Int
    public var patientID: Int
    public var kind: StatusChangeKind
    public var effectiveOn: LocalDate
    public var reason: String
    public var fromInstitution: String?
    public var toInstitution: String?
    /// Follow-ups this change made not required, moved, or brought back.
    public var followUpsAffected: Int

    public init(id: Int, patientID: Int, kind: StatusChangeKind, effectiveOn: LocalDate, reason: String,
                fromInstitution: String?, toInstitution: String?, followUpsAffected: Int) {
        self.id = id; self.patientID = patientID; self.kind = kind; self.effectiveOn = effectiveOn; self.reason = reason
        self.fromInstitution = fromInstitution; self.toInstitution = toInstitution; self.followUpsAffected = followUpsAffected
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
}
