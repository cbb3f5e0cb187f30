/// A record marked *entered in error*: kept, with the day and the reason, and from then on left out
/// of schedules, clocks, worklists and reports. Who voided it is in the audit trail.
public struct VoidMark: Codable, Equatable, Sendable {
    /// The day (Seoul) the record was voided.
    public var voidedOn: LocalDate
    /// Why, as the person who voided it said.
    public var reason: String

    public init(voidedOn: LocalDate, reason: String) {
        self.voidedOn = voidedOn
        self.reason = reason
    }
}

/// Something a void or a correction changes besides the record itself (a death taken back, a
/// patient active again, follow-ups owed again or moved), shown to the user before it is applied.
public struct Consequence: Codable, Equatable, Sendable, CustomStringConvertible {
    /// What kind of change.
    public enum Kind: String, Codable, Sendable {
        /// A status change that follows the record (a death from a grade 5 event or a visit) is voided with it.
        case statusChangeVoided = "status-change-voided"
        /// A status change is recorded from the record (a death from a grade 5 event).
        case statusChangeRecorded = "status-change-recorded"
        /// A status change that follows the record is re-dated with it.
        case statusChangeRedated = "status-change-redated"
        /// The patient's status changes.
        case patientStatus = "patient-status"
        /// Follow-ups a status change had made not required are owed again.
        case followUpsRestored = "follow-ups-restored"
        /// Follow-ups become not required.
        case followUpsSuspended = "follow-ups-suspended"
        /// The follow-up a voided visit had completed is open again.
        case followUpReopened = "follow-up-reopened"
        /// The patient and the follow-ups still owed go back to the institution that transferred them.
        case patientReturned = "patient-returned"
        /// The follow-ups a voided administration generated are withdrawn from the schedule.
        case followUpsWithdrawn = "follow-ups-withdrawn"
        /// A pending lost-to-follow-up proposal whose missed follow-ups were withdrawn (or whose patient was voided) is withdrawn.
        case lostProposalWithdrawn = "lost-proposal-withdrawn"
    }

    /// What kind of change.
    public var kind: Kind
    /// The change in one sentence.
    public var text: String
    /// The follow-ups it changes, if any.
    public var followUpIDs: [FollowUpID]
    /// The status change it voids or re-dates, if any.
    public var statusChangeID: StatusChangeID?
    /// The lost-to-follow-up proposal it withdraws, if any.
    public var lostProposalID: LostProposalID?

    public init(_ kind: Kind, _ text: String, followUpIDs: [FollowUpID] = [], statusChangeID: StatusChangeID? = nil, lostProposalID: LostProposalID? = nil) {
        self.kind = kind; self.text = text; self.followUpIDs = followUpIDs; self.statusChangeID = statusChangeID; self.lostProposalID = lostProposalID
    }

    public var description: String { text }
}

extension Array where Element == Consequence {
    /// Refuses to go on when there are consequences the user has not confirmed: the refusal lists
    /// them, and nothing is written (the caller's transaction rolls back).
    public func confirmed(_ confirm: Bool, doing what: String) throws(RegistryError) {
        guard !confirm, !isEmpty else { return }
        throw .conflict("confirm", "\(what) would also change \(count == 1 ? "this" : "these \(count) things"): \(map(\.text).joined(separator: "; "))",
                        hint: "nothing was changed; confirm to apply them together", remedy: .confirm(self))
    }
}

/// The rules for voiding records, in one place.
public enum VoidRules {
    /// A record already voided cannot be voided or corrected again.
    public static func checkStanding(_ mark: VoidMark?, record: String) throws(RegistryError) {
        if let mark {
            throw .conflict(nil, "\(record) was voided on \(mark.voidedOn) (\(mark.reason)); a voided record is kept as it was",
                            hint: "record it again if it was voided by mistake")
        }
    }

    /// What stands in the way of voiding a status change, given the patient's standing changes
    /// after it, the grade 5 event it came from and the visit recording the death.
    /// - `later`: the patient's standing status changes recorded after it.
    /// - `causingEvent`: the standing adverse event the change came from (a death from a grade 5 event).
    /// - `deadAt`: a standing visit that records the patient dead, for a death.
    /// - `recordedAtReceiver`: for a transfer, whether the receiving institution has recorded anything since.
    /// - `seenSinceLoss`: for a found, the latest visit that saw the patient, or dose given, after the
    ///   loss it ended (voiding the found would make the patient lost since a date before it).
    public static func checkVoid(_ change: StatusChange, later: [StatusChange], causingEvent: AdverseEventID?, deadAt visit: VisitID?,
                                 recordedAtReceiver: Bool, seenSinceLoss: LocalDate? = nil) throws(RegistryError) {
        try checkStanding(change.void, record: "status change \(change.id)")
        if let next = later.first {
            throw .conflict("status-change", "\(next.kind.rawValue) on \(next.effectiveOn) (status change \(next.id)) was recorded after this \(change.kind.rawValue); void the later change first",
                            remedy: .voidStatusChange(id: next.id))
        }
        if let causingEvent {
            throw .conflict("status-change", "this death was recorded from grade 5 adverse event \(causingEvent); correct that event's grade or void it, and the death follows",
                            remedy: .correctAdverseEvent(id: causingEvent))
        }
        if let visit {
            throw .conflict("status-change", "visit \(visit) records patient \(change.patientID) as dead; correct that visit's vital status or void it first",
                            remedy: .correctVisit(id: visit))
        }
        if change.kind == .found, let seen = seenSinceLoss {
            throw .conflict("status-change", "patient \(change.patientID) was seen at a visit or given a dose on \(seen), after the loss this found ended; voiding it would make the patient lost since before then",
                            hint: "correct or void that visit or dose first if it was recorded wrongly")
        }
        if change.kind == .transfer && recordedAtReceiver {
            throw .conflict("status-change", "\(change.toInstitution ?? "the receiving institution") has recorded data for patient \(change.patientID) since the transfer; transfer the patient back instead",
                            hint: "a transfer can be voided only before the receiving site records anything")
        }
    }
}

/// A standing record whose entry rule reads the patient's first dose. Voiding the first dose moves it
/// to the next standing one (or leaves none); each such record is then checked again as if it were
/// entered now, so that what remains is what recording the survivors would give.
public enum FirstDoseDependent: Equatable, Sendable, CustomStringConvertible {
    /// An unscheduled visit: a screening visit comes within the screening window before the first
    /// dose (or before any), any other unscheduled visit after it.
    case visit(VisitID, on: LocalDate, screening: Bool)
    /// An adverse event: its onset comes after the first dose.
    case adverseEvent(AdverseEventID, onset: LocalDate)
    /// A loss, a found or a transfer: on or after the first dose.
    case statusChange(StatusChangeID, StatusChangeKind, on: LocalDate)

    /// Whether the record could be entered for `patient` with `firstDose` as the first dose (nil: none).
    public func check(firstDose: LocalDate?, patient: Patient) throws(RegistryError) {
        switch self {
        case .visit(_, let on, true):
            try VisitRules.checkScreening(on, consentOn: patient.consentOn, firstDose: firstDose, patientID: patient.id)
        case .visit(_, let on, false):
            try VisitRules.checkAfterDose(on, anchor: firstDose, patientID: patient.id, unscheduled: true)
        case .adverseEvent(_, let onset):
            try PatientForData(patient: patient, statusOn: nil, firstAdministration: firstDose).checkEventAfterTreatment(onset: onset)
        case .statusChange(_, let kind, let on):
            try StatusRules.checkAfterFirstDose(kind, on: on, firstAdministration: firstDose)
        }
    }

    public var description: String {
        switch self {
        case .visit(let id, let on, let screening): "\(screening ? "screening" : "unscheduled") visit \(id) on \(on)"
        case .adverseEvent(let id, let onset): "adverse event \(id) (onset \(onset))"
        case .statusChange(let id, let kind, let on): "status change \(id) (\(kind.rawValue) on \(on))"
        }
    }
}

extension VoidRules {
    /// What stands in the way of voiding an administration (a dose recorded in error):
    /// - `completedBy`: the standing visits that completed one of its follow-ups. The visit belongs
    ///   to that dose's schedule; void it first (and log it again where it belongs).
    /// - `firstDoseAfter`: the patient's first standing dose once this one is voided (nil: none).
    /// - `dependents`: the patient's standing records whose entry rule reads the first dose; when the
    ///   void moves the first dose, each must still meet its rule (a patient left with no dose is a
    ///   patient never dosed: no adverse events and no follow-up visits).
    public static func checkVoid(_ administration: Administration, patient: PatientForData, completedBy visits: [VisitID],
                                 firstDoseAfter: LocalDate?, dependents: [FirstDoseDependent]) throws(RegistryError) {
        let id = administration.id
        try checkStanding(administration.void, record: "administration \(id)")
        if !visits.isEmpty {
            let list = visits.map { String($0.rawValue) }.joined(separator: ", ")
            throw .conflict("administration", "visit\(visits.count == 1 ? "" : "s") \(list) completed follow-ups of administration \(id); void \(visits.count == 1 ? "that visit" : "those visits") first, then log \(visits.count == 1 ? "it" : "them") again where \(visits.count == 1 ? "it belongs" : "they belong")",
                            hint: "a voided dose's follow-ups are withdrawn from the schedule, so no standing visit may complete one")
        }
        guard firstDoseAfter != patient.firstAdministration else { return }
        var blocking: [FirstDoseDependent] = []
        for d in dependents {
            do { try d.check(firstDose: firstDoseAfter, patient: patient.patient) } catch { blocking.append(d) }
        }
        guard !blocking.isEmpty else { return }
        let moved = firstDoseAfter.map { "move patient \(patient.patient.id)'s first dose from \(administration.administeredOn) to \($0)" }
            ?? "leave patient \(patient.patient.id) with no dose"
        throw .conflict("administration", "voiding administration \(id) would \(moved), and \(blocking.map(\.description).joined(separator: ", ")) could not be recorded then; void or correct \(blocking.count == 1 ? "it" : "them") first",
                        hint: "records of a patient dosed in error are voided before the dose")
    }

    /// What stands in the way of voiding a patient (enrolled in error: a duplicate, the wrong site):
    /// every record of theirs that still stands, listed by kind. A patient is voided only when
    /// nothing recorded for them stands, each record voided first with its own rules and consequences.
    public static func checkVoid(_ patient: Patient, standing: StandingRecords) throws(RegistryError) {
        try checkStanding(patient.void, record: "patient \(patient.id)")
        guard !standing.isEmpty else { return }
        throw .conflict("patient", "patient \(patient.id) still has standing records: \(standing); void them first (visits and adverse events, then status changes from the latest, then administrations)",
                        hint: "a patient is voided only when nothing recorded for them stands")
    }
}

/// A patient's records that are not voided, by kind (for voiding the patient).
public struct StandingRecords: Equatable, Sendable, CustomStringConvertible {
    public var administrations: [AdministrationID]
    public var visits: [VisitID]
    public var adverseEvents: [AdverseEventID]
    public var statusChanges: [StatusChangeID]

    public init(administrations: [AdministrationID], visits: [VisitID], adverseEvents: [AdverseEventID], statusChanges: [StatusChangeID]) {
        self.administrations = administrations; self.visits = visits; self.adverseEvents = adverseEvents; self.statusChanges = statusChanges
    }

    public var isEmpty: Bool { administrations.isEmpty && visits.isEmpty && adverseEvents.isEmpty && statusChanges.isEmpty }

    /// "administration 3; visits 8, 9; adverse event 4".
    public var description: String {
        func part(_ name: String, _ ids: [Int]) -> String? {
            ids.isEmpty ? nil : "\(name)\(ids.count == 1 ? "" : "s") " + ids.map(String.init).joined(separator: ", ")
        }
        return [part("administration", administrations.map(\.rawValue)), part("visit", visits.map(\.rawValue)),
                part("adverse event", adverseEvents.map(\.rawValue)), part("status change", statusChanges.map(\.rawValue))]
            .compactMap { $0 }.joined(separator: "; ")
    }
}

/// What voiding a patient's latest standing status change does: the change's effect, taken back.
public struct StatusChangeUndo: Equatable, Sendable {
    /// The effect on follow-ups and the patient's status (nil: unchanged).
    public var effect: StatusChangeEffect
    /// The change named as the suspender when follow-ups are suspended again (voiding a found
    /// suspends again, as the loss did).
    public var suspendingChange: StatusChangeID
    /// For a transfer: the institution the patient and what is still owed go back to.
    public var returnTo: String?
    /// The patient's status date after the void (the previous standing change's date, or none).
    public var statusOn: LocalDate?

    /// Taking back `change`, whose previous standing change that set the status (not a transfer) is `previous`.
    /// A death, withdrawal or loss brings back every follow-up it made not required (they were owed
    /// all along); voiding a found makes the patient lost again and suspends what is still owed after
    /// the loss, as the loss did; voiding a transfer sends the patient and what is still owed back.
    public static func of(_ change: StatusChange, previous: StatusChange?) -> StatusChangeUndo {
        let restoredStatus = previous?.kind.resultingPatientStatus ?? .active
        switch change.kind {
        case .death, .withdrawal, .lost:
            return StatusChangeUndo(effect: StatusChangeEffect(patientStatus: restoredStatus,
                                                               followUps: .restore(suspendedBy: change.id, windowEndFrom: LocalDate(dayNumber: 0))),  // 2000-01-01: before any record
                                    suspendingChange: change.id, returnTo: nil, statusOn: previous?.effectiveOn)
        case .found:
            // A found follows the loss it ends (nothing else can be recorded for a lost patient), so
            // the previous change is that loss; with none (not possible), follow-ups stay as they are.
            let loss = previous
            return StatusChangeUndo(effect: StatusChangeEffect(patientStatus: restoredStatus,
                                                               followUps: loss.map { .suspend(dueAfter: $0.effectiveOn) } ?? .move),
                                    suspendingChange: loss?.id ?? change.id, returnTo: nil, statusOn: previous?.effectiveOn)
        case .transfer:
            return StatusChangeUndo(effect: StatusChangeEffect(patientStatus: nil, followUps: .move), suspendingChange: change.id,
                                    returnTo: change.fromInstitution, statusOn: nil)
        }
    }
}

/// What a void or correction can change besides its record: the patient's status and holder, and
/// their follow-ups. Read before and after; the difference is what the user is shown.
public struct PatientState: Equatable, Sendable {
    public var patientID: PatientID
    public var status: PatientStatus
    public var statusOn: LocalDate?
    public var institutionCode: String
    /// The patient's follow-ups, by id.
    public var followUps: [FollowUpState]

    public init(patientID: PatientID, status: PatientStatus, statusOn: LocalDate?, institutionCode: String, followUps: [FollowUpState]) {
        self.patientID = patientID; self.status = status; self.statusOn = statusOn; self.institutionCode = institutionCode; self.followUps = followUps
    }
}

extension Consequence {
    /// The consequences that take the patient from `before` to `after`, in words: the status, the
    /// holder, follow-ups owed again, no longer required, reopened or moved.
    public static func between(_ before: PatientState, _ after: PatientState) -> [Consequence] {
        var out: [Consequence] = []
        let p = before.patientID
        if before.status != after.status {
            out.append(Consequence(.patientStatus, "patient \(p) becomes \(after.status.rawValue)\(after.statusOn.map { " (since \($0))" } ?? "") instead of \(before.status.rawValue)"))
        }
        if before.institutionCode != after.institutionCode {
            out.append(Consequence(.patientReturned, "patient \(p) goes back from \(before.institutionCode) to \(after.institutionCode)"))
        }
        let old = Dictionary(uniqueKeysWithValues: before.followUps.map { ($0.id, $0) })
        var restored: [FollowUpID] = [], suspended: [FollowUpID] = [], reopened: [FollowUpID] = [], moved: [FollowUpID] = []
        for f in after.followUps {
            guard let was = old[f.id] else { continue }
            if was.status == .notRequired && f.status.isOwed { restored.append(f.id) }
            else if was.status != .notRequired && f.status == .notRequired { suspended.append(f.id) }
            else if was.status == .completed && f.status != .completed { reopened.append(f.id) }
            if was.institutionCode != f.institutionCode { moved.append(f.id) }
        }
        func ids(_ list: [FollowUpID]) -> String { list.map { String($0.rawValue) }.joined(separator: ", ") }
        if !restored.isEmpty {
            out.append(Consequence(.followUpsRestored, "\(restored.count) follow-up\(restored.count == 1 ? " is" : "s are") owed again (\(ids(restored)))", followUpIDs: restored))
        }
        if !suspended.isEmpty {
            out.append(Consequence(.followUpsSuspended, "\(suspended.count) follow-up\(suspended.count == 1 ? " is" : "s are") no longer required (\(ids(suspended)))", followUpIDs: suspended))
        }
        if !reopened.isEmpty {
            out.append(Consequence(.followUpReopened, "follow-up\(reopened.count == 1 ? "" : "s") \(ids(reopened)) \(reopened.count == 1 ? "is" : "are") open again, no longer completed", followUpIDs: reopened))
        }
        if !moved.isEmpty {
            out.append(Consequence(.patientReturned, "\(moved.count) follow-up\(moved.count == 1 ? "" : "s") still owed move\(moved.count == 1 ? "s" : "") to \(after.institutionCode) (\(ids(moved)))", followUpIDs: moved))
        }
        return out
    }
}

extension FollowUpState {
    /// The follow-up as the patient's standing status changes, applied in order, leave it when it
    /// was owed all along: how a follow-up owed again (its visit voided) stands, exactly as if the
    /// visit had never been recorded. `self` is the follow-up as first scheduled (scheduled, at the
    /// institution that gave the dose).
    public func through(_ changes: [StatusChange]) -> FollowUpState {
        var f = self
        var lastLoss: StatusChangeID? = nil
        for c in changes where c.void == nil {
            let effect = StatusChangeEffect.of(c.kind, on: c.effectiveOn, lastLoss: lastLoss)
            f = effect.apply(to: [f], changeID: c.id, receivingInstitution: c.toInstitution)[0]
            if c.kind == .lost { lastLoss = c.id }
        }
        return f
    }
}
