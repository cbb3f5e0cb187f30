/// An error a user can act on: what was wrong, which field, what is allowed.
///
/// Every refusal in the registry is one of these, in the registry's own terms; each front end says
/// it in its words (the command line names the option and the command to run, the HTTP layer maps
/// `code` to a problem document and the field to a JSON pointer or parameter). A form with several
/// mistakes is refused once, naming every field at fault: the first here, the rest in `others`.
public struct RegistryError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The kind of refusal, extensible like PostgresNIO's error codes.
    public struct Code: Hashable, Sendable, RawRepresentable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// A value has the wrong shape or is out of range.
        public static let invalid = Code(rawValue: "invalid")
        /// A referenced record does not exist (or is not visible to the caller).
        public static let notFound = Code(rawValue: "not-found")
        /// The request contradicts the registry's current state.
        public static let conflict = Code(rawValue: "conflict")
        /// The request is outside the Advanced Regenerative Bio Act.
        public static let outOfScope = Code(rawValue: "out-of-scope")
        /// The database or another needed part cannot be reached.
        public static let unavailable = Code(rawValue: "unavailable")
        /// The registry's own set-up is wrong (schema changed, key missing).
        public static let configuration = Code(rawValue: "configuration")
        /// The caller's credentials are missing, unknown or revoked.
        public static let unauthenticated = Code(rawValue: "unauthenticated")
        /// The caller is known but its role may not do this.
        public static let forbidden = Code(rawValue: "forbidden")
    }

    /// The kind of refusal.
    public var code: Code
    /// The input field at fault, by its name in the registry (e.g. `birth-year`); front ends map it to their own.
    public var field: String?
    /// One sentence: what was wrong and what is allowed.
    public var message: String
    /// What to do about it, in the registry's words, when there is something to suggest.
    public var hint: String?
    /// The next step as an action each front end names in its own words (a command on the command
    /// line, an endpoint or a page elsewhere), when there is one.
    public var remedy: Remedy?
    /// The other fields at fault in the same refusal, each with its own message (empty when only
    /// this field is; `FieldChecks` collects them).
    public var others: [RegistryError] = []

    /// Every field error of this refusal, this one first; none of them carries `others`.
    public var all: [RegistryError] {
        var first = self
        first.others = []
        return [first] + others.flatMap(\.all)
    }

    /// Makes an error.
    public init(_ code: Code, field: String? = nil, _ message: String, hint: String? = nil, remedy: Remedy? = nil) {
        self.code = code
        self.field = field
        self.message = message
        self.hint = hint
        self.remedy = remedy
    }

    /// A next step the user can take, named by what it does rather than by how a front end spells it.
    public enum Remedy: Equatable, Sendable {
        /// See the records of this kind (and their ids).
        case list(Listing)
        /// Record the committee's approval of this plan first.
        case decidePlan(id: PlanID)
        /// Patient ids are given at enrolment.
        case enrolment
        /// Confirm that the death a visit records is recorded with it, or record the death first.
        case recordDeathWithVisit(patientID: PatientID)
        /// Correct this adverse event if the new report is the same event, or mark the new one distinct.
        case markDistinct(adverseEventID: AdverseEventID)
        /// Check the local key, or enrol the patient at this institution.
        case enrolPatient(institution: String)
        /// Apply the schema migrations.
        case migrate
        /// Seal the audit trail again once the other sealer has finished.
        case sealAgain
        /// Start the embedded database.
        case startEmbeddedDatabase
        /// Check the database server and its address (or use the embedded database).
        case checkDatabase
        /// Install PostgreSQL's server, or use an existing server.
        case installPostgreSQL
        /// Resume the nightly run for this date, which starts again at the failed step.
        case resumeNightly(asOf: LocalDate)
        /// Look at this job run.
        case showJobRun(id: Int)
        /// Correct this visit instead (nil: the visit's id is not known).
        case correctVisit(id: VisitID?)
        /// Correct this adverse event's submission date instead.
        case correctReportSubmission(adverseEventID: AdverseEventID)
        /// Repeat the request, confirming these consequences.
        case confirm([Consequence])
        /// Void this (later) status change first.
        case voidStatusChange(id: StatusChangeID)
        /// Correct or void this adverse event instead.
        case correctAdverseEvent(id: AdverseEventID)
        /// Log the visit as a screening visit, before the dose (unscheduled visits only).
        case logAsScreening
    }

    /// Kinds of records a user can list.
    public enum Listing: String, Equatable, Sendable {
        case institutions, products, plans, tokens, lostProposals, jobRuns, followUps, measures
    }

    /// A shape or range error for one field.
    public static func invalid(_ field: String, _ message: String, hint: String? = nil, remedy: Remedy? = nil) -> RegistryError {
        RegistryError(.invalid, field: field, message, hint: hint, remedy: remedy)
    }

    /// A missing referenced record.
    public static func notFound(_ field: String, _ message: String, hint: String? = nil, remedy: Remedy? = nil) -> RegistryError {
        RegistryError(.notFound, field: field, message, hint: hint, remedy: remedy)
    }

    /// A contradiction with the current state.
    public static func conflict(_ field: String?, _ message: String, hint: String? = nil, remedy: Remedy? = nil) -> RegistryError {
        RegistryError(.conflict, field: field, message, hint: hint, remedy: remedy)
    }

    /// This refusal with `transform` applied to each of its field errors (a front end renaming
    /// them), the first still carrying the others.
    public func mapped(_ transform: (RegistryError) -> RegistryError) -> RegistryError {
        let each = all.map(transform)
        var first = each[0]
        first.others = Array(each.dropFirst())
        return first
    }

    public var description: String {
        all.map { e in
            var text = e.field.map { "\($0): \(e.message)" } ?? e.message
            if let hint = e.hint { text += " (\(hint))" }
            return text
        }.joined(separator: "; ")
    }
}

/// A form's field checks, run one after another with every refusal kept, so that a form with
/// several mistakes is refused once, naming each field at fault. A rule stays in its own function
/// (`Rules`, `PatientRules`, ...); this only runs them all:
///
///     var checks = FieldChecks()
///     let year = checks.check { try PatientRules.birthYear(birthYear, today: today) }
///     let sex = checks.check { try Sex.parse(sex) }
///     try checks.finish()     // every value `check` returned is non-nil from here on
///
/// A check that needs an earlier field's value runs only when that value passed (`if let year`).
public struct FieldChecks: Sendable {
    /// The refusals so far, in the order the checks ran.
    public private(set) var errors: [RegistryError] = []

    public init() {}

    /// Runs one check: its value, or nil when it refused (the refusal, and any it carries, kept).
    @discardableResult
    public mutating func check<T>(_ body: () throws(RegistryError) -> T) -> T? {
        do {
            return try body()
        } catch {
            errors += error.all
            return nil
        }
    }

    /// Keeps a refusal found without a check function.
    public mutating func refuse(_ error: RegistryError) {
        errors += error.all
    }

    /// Whether every check so far passed.
    public var passed: Bool { errors.isEmpty }

    /// Throws one refusal naming every field at fault (the first, carrying the others), or returns
    /// when every check passed.
    public func finish() throws(RegistryError) {
        guard var first = errors.first else { return }
        first.others = Array(errors.dropFirst())
        throw first
    }
}
