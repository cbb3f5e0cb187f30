/// A patient's survival observation for the outcome report, from every dated fact the registry
/// holds about them being alive or dead (issue #16: censoring at the last date known alive).
///
/// - Death: the earliest of a death recorded as a status change, a visit that records the patient
///   as dead, and an adverse event with a fatal outcome on its outcome date. The time is from the
///   first dose to that date, and the patient counts as deceased.
/// - Otherwise the patient is censored at the last date known alive: a dose, a visit that records
///   the patient alive, an adverse event's onset (the patient had it) and its outcome date when the
///   outcome is not fatal and known, a withdrawal or being found again (both are contact with the
///   patient). A visit whose vital status is unknown, a loss to follow-up and a transfer say
///   nothing about being alive, and an awareness date is when the site learnt of an event.
///
/// Only facts dated on or before the as-of date count, voided records never. The report's SQL
/// (RegistryReports' cohort) is property-tested against this.
public enum SurvivalTime {
    /// One dated fact.
    public enum Evidence: Equatable, Sendable {
        case dose(LocalDate)
        case visit(LocalDate, VitalStatus)
        case adverseEvent(onset: LocalDate, outcome: AdverseEventOutcome, outcomeOn: LocalDate?)
        case statusChange(StatusChangeKind, LocalDate)

        /// The day this fact says the patient died, if it does.
        public var death: LocalDate? {
            switch self {
            case .visit(let on, .dead): on
            case .adverseEvent(_, .fatal, let on): on
            case .statusChange(.death, let on): on
            default: nil
            }
        }

        /// The days this fact says the patient was alive.
        public var alive: [LocalDate] {
            switch self {
            case .dose(let on): [on]
            case .visit(let on, .alive): [on]
            case .visit: []
            case .adverseEvent(let onset, let outcome, let on):
                [onset] + (outcome != .fatal && outcome != .unknown ? on.map { [$0] } ?? [] : [])
            case .statusChange(.withdrawal, let on), .statusChange(.found, let on): [on]
            case .statusChange: []
            }
        }
    }

    /// Days from the first dose to death (`died`) or to the last date known alive.
    public struct Observation: Equatable, Sendable {
        public var days: Int
        public var died: Bool
        public init(days: Int, died: Bool) { self.days = days; self.died = died }
    }

    /// The observation of a patient first dosed on `firstDose`, from `evidence` (the first dose
    /// among it), as of `asOf`.
    public static func observe(firstDose: LocalDate, _ evidence: [Evidence], asOf: LocalDate) -> Observation {
        if let death = evidence.compactMap(\.death).filter({ $0 <= asOf }).min() {
            return Observation(days: max(0, firstDose.days(until: death)), died: true)
        }
        let last = evidence.flatMap(\.alive).filter { $0 <= asOf }.max() ?? firstDose
        return Observation(days: max(0, firstDose.days(until: last)), died: false)
    }
}
