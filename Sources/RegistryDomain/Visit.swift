/// The patient's vital status as of a visit.
public enum VitalStatus: String, Codable, CaseIterable, Sendable {
    case alive, dead, unknown

    /// Parses a vital status or lists the allowed ones.
    public static func parse(_ text: String, field: String = "vital") throws(RegistryError) -> VitalStatus {
        guard let v = VitalStatus(rawValue: text) else { throw .invalid(field, "'\(text)' is not a vital status; allowed: alive, dead, unknown") }
        return v
    }
}

/// A recorded visit.
public struct Visit: Codable, Equatable, Sendable {
    public var id: VisitID
    public var patientID: PatientID
    public var followUpID: FollowUpID?
    public var institutionCode: String
    public var visitedOn: LocalDate
    public var contactType: ContactType
    public var vitalStatus: VitalStatus
    /// In the window, early or late; nil for an unscheduled visit.
    public var timing: VisitTiming?
    public var measures: [MeasureValue]
    public var note: String?
    /// For a scheduled visit made another way than its time point plans (a phone call for an
    /// examination): a protocol deviation, kept as recorded, marked and counted in reports.
    public var contactDeviation: ContactDeviation?
    /// Set when the visit was voided as entered in error.
    public var void: VoidMark?
    /// A screening visit: before the first dose, within `VisitRules.screeningWindowDays`; the
    /// outcome report's baseline.
    public var screening: Bool

    public init(id: VisitID, patientID: PatientID, followUpID: FollowUpID?, institutionCode: String, visitedOn: LocalDate, contactType: ContactType,
                vitalStatus: VitalStatus, timing: VisitTiming?, measures: [MeasureValue], note: String?, screening: Bool = false,
                contactDeviation: ContactDeviation? = nil, void: VoidMark? = nil) {
        self.id = id; self.patientID = patientID; self.followUpID = followUpID; self.institutionCode = institutionCode
        self.visitedOn = visitedOn; self.contactType = contactType; self.vitalStatus = vitalStatus; self.timing = timing
        self.measures = measures; self.note = note; self.screening = screening; self.contactDeviation = contactDeviation; self.void = void
    }
}

/// A visit made another way than its time point plans: a protocol deviation.
public struct ContactDeviation: Codable, Equatable, Sendable {
    /// The contact the time point plans.
    public var planned: ContactType
    /// The contact the visit was.
    public var actual: ContactType

    /// The deviation of a visit made by `actual` at a time point planning `planned`, or nil when they agree.
    public static func of(planned: ContactType?, actual: ContactType) -> ContactDeviation? {
        guard let planned, planned != actual else { return nil }
        return ContactDeviation(planned: planned, actual: actual)
    }

    public init(planned: ContactType, actual: ContactType) { self.planned = planned; self.actual = actual }
}

/// A validated visit, before it is checked against the patient and the follow-up.
public struct NewVisit: Sendable, Equatable {
    public var visitedOn: LocalDate
    public var contactType: ContactType
    public var vitalStatus: VitalStatus
    public var measures: [MeasureValue]
    public var note: String?
    /// The user confirms that the death this visit records is to be recorded with it (on the visit's date).
    public var recordsDeath: Bool
    /// A screening visit before the dose (`VisitRules.checkDate` says when one may be).
    public var screening: Bool

    /// Checks a visit's fields; measures against `catalogue`, the measures as stored. Refuses once
    /// with every field at fault, each measure at fault at `measureField(i)` (`measure` on the
    /// command line, `measures/2` over HTTP).
    public init(on: String, contact: String, vital: String, measures: [String], catalogue: MeasureCatalogue, note: String?,
                recordDeath: Bool = false, screening: Bool = false, today: LocalDate,
                measureField: (Int) -> String = { _ in "measure" }) throws(RegistryError) {
        var checks = FieldChecks()
        let date = checks.check { () throws(RegistryError) in try VisitInput.date(on, today: today) }
        let contact = checks.check { () throws(RegistryError) in try ContactType.parse(contact) }
        let vital = checks.check { () throws(RegistryError) in try VitalStatus.parse(vital) }
        let parsed = VisitInput.measures(measures, catalogue: catalogue, field: measureField, into: &checks)
        if let parsed {
            let keys = parsed.map(\.key)
            if let i = keys.indices.first(where: { i in keys[..<i].contains(keys[i]) }) {
                checks.refuse(.invalid(measureField(i), "\(keys[i]) is given twice; give each measure once per visit"))
            }
        }
        let note = checks.check { () throws(RegistryError) in try Notes.validate(note) }
        if recordDeath, let vital, vital != .dead {
            checks.refuse(.invalid("record-death", "only a visit that records the patient as dead records a death; this one records \(vital.rawValue)"))
        }
        try checks.finish()
        self.visitedOn = date!
        self.contactType = contact!
        self.vitalStatus = vital!
        self.measures = parsed!
        self.note = note!
        self.recordsDeath = recordDeath
        self.screening = screening
    }
}

/// A correction of a visit's values as given, each field checked (refused once with every field at
/// fault); storage checks the new date and vital status against the patient and the follow-up.
public struct VisitCorrection: Sendable, Equatable {
    public var on: LocalDate?
    public var contact: ContactType?
    public var vital: VitalStatus?
    /// Measures corrected or added, checked against the catalogue as stored.
    public var measures: [MeasureValue]
    public var note: String?
    public var reason: String

    public init(on: String?, contact: String?, vital: String?, measures: [String], catalogue: MeasureCatalogue, note: String?, reason: String?,
                today: LocalDate, measureField: (Int) -> String = { _ in "measure" }) throws(RegistryError) {
        var checks = FieldChecks()
        let reason = checks.check { () throws(RegistryError) in try Rules.reason(reason) }
        self.on = on.flatMap { d in checks.check { () throws(RegistryError) in try VisitInput.date(d, today: today) } }
        self.contact = contact.flatMap { c in checks.check { () throws(RegistryError) in try ContactType.parse(c) } }
        self.vital = vital.flatMap { v in checks.check { () throws(RegistryError) in try VitalStatus.parse(v) } }
        let parsed = VisitInput.measures(measures, catalogue: catalogue, field: measureField, into: &checks)
        let note = checks.check { () throws(RegistryError) in try Notes.validate(note) }
        try checks.finish()
        self.measures = parsed!
        self.note = note!
        self.reason = reason!
    }
}

/// The rules for a visit's own fields, for a new visit and a correction alike.
enum VisitInput {
    /// The visit's date: a date from the Act's start to today.
    static func date(_ text: String, today: LocalDate) throws(RegistryError) -> LocalDate {
        let date = try Rules.date(text, field: "on")
        try Rules.eventDate(date, field: "on", today: today)
        return date
    }

    /// Every measure checked against the catalogue, each refusal kept at `field(i)`; nil when any was refused.
    static func measures(_ texts: [String], catalogue: MeasureCatalogue, field: (Int) -> String, into checks: inout FieldChecks) -> [MeasureValue]? {
        var parsed: [MeasureValue] = []
        var refused = false
        for (i, text) in texts.enumerated() {
            if let value = checks.check({ () throws(RegistryError) in try catalogue.parse(text, field: field(i)) }) {
                parsed.append(value)
            } else {
                refused = true
            }
        }
        return refused ? nil : parsed
    }
}

/// Free-text notes: optional, bounded, screened for identifiers, never exported to regulators.
public enum Notes {
    public static let maxLength = 500

    /// Refuses notes that are too long or look like they carry a resident number, phone number
    /// or e-mail address; returns nil for an absent or blank note.
    public static func validate(_ text: String?, field: String = "note") throws(RegistryError) -> String? {
        guard let text, !text.trimmingCharactersInWhitespace().isEmpty else { return nil }
        let note = text.trimmingCharactersInWhitespace()
        guard note.count <= maxLength else { throw .invalid(field, "notes are at most \(maxLength) characters; this one has \(note.count)") }
        let digitRuns = note.split(whereSeparator: { !$0.isNumber && $0 != "-" })
        // Resident registration numbers (YYMMDD-NNNNNNN) and phone numbers (010-1234-5678) as digit runs.
        for run in digitRuns {
            let digits = run.filter(\.isNumber).count
            if digits >= 10 {
                throw .invalid(field, "the note holds a long number that may identify the patient (resident or phone number); leave identifiers out of notes")
            }
        }
        if note.contains("@") && note.split(separator: " ").contains(where: { $0.contains("@") && $0.contains(".") }) {
            throw .invalid(field, "the note holds what looks like an e-mail address; leave contact details out of notes")
        }
        return note
    }
}

/// Why a follow-up was closed without data.
public enum NotDoneReason: String, Codable, CaseIterable, Sendable {
    case refused, unreachable
    case movedAbroad = "moved-abroad"
    case tooIll = "too-ill"
    case other

    /// Parses a reason or lists the allowed ones.
    public static func parse(_ text: String, field: String = "reason") throws(RegistryError) -> NotDoneReason {
        guard let r = NotDoneReason(rawValue: text) else {
            throw .invalid(field, "'\(text)' is not a reason; allowed: \(allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return r
    }
}

/// A follow-up closed as not done, checked as a whole: every field at fault in one refusal.
public struct NotDoneClosure: Sendable, Equatable {
    public var reason: NotDoneReason
    public var note: String?

    public init(reason: String, note: String?) throws(RegistryError) {
        var checks = FieldChecks()
        let why = checks.check { () throws(RegistryError) in try NotDoneReason.parse(reason) }
        let note = checks.check { () throws(RegistryError) in try Notes.validate(note) }
        try checks.finish()
        self.reason = why!; self.note = note!
    }

    /// Only a follow-up still owed (scheduled, or missed) can be closed as not done.
    public static func checkCloses(_ followUpID: FollowUpID, status: FollowUpStatus) throws(RegistryError) {
        guard status == .scheduled || status == .missed else {
            throw .conflict("followup", "follow-up \(followUpID) is \(status.rawValue); only a scheduled or missed follow-up can be closed as not done")
        }
    }
}
