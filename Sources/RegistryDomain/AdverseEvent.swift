/// The delayed-event categories the FDA's long-term follow-up guidance asks registries to watch.
public enum AdverseEventCategory: String, Codable, CaseIterable, Sendable {
    case newMalignancy = "new-malignancy"
    case neurologic
    case autoimmuneRheumatologic = "autoimmune-rheumatologic"
    case hematologic, infection, other

    /// Parses a category or lists the allowed ones.
    public static func parse(_ text: String, field: String = "category") throws(RegistryError) -> AdverseEventCategory {
        guard let c = AdverseEventCategory(rawValue: text) else {
            throw .invalid(field, "'\(text)' is not a category; allowed: \(allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return c
    }

    /// The delayed events the FDA's long-term follow-up guidance watches: every category but
    /// `other`. The safety listing's SQL (`category <> 'other'`) and the outcome report read this.
    public var isOfSpecialInterest: Bool { self != .other }
}

/// The grading system and version a grade was given in; stored with every grade, since systems
/// disagree on the same event.
public struct GradingSystem: Hashable, Codable, Sendable, CustomStringConvertible {
    public var system: String
    public var version: String

    /// The registry's default: CTCAE v5.0.
    public static let ctcae5 = GradingSystem(system: "CTCAE", version: "5.0")

    public init(system: String, version: String) { self.system = system; self.version = version }

    /// Parses `SYSTEM-VERSION`, e.g. `CTCAE-5.0`, `CTCAE-4.03`, `ASTCT-2019`.
    public static func parse(_ text: String, field: String = "grading") throws(RegistryError) -> GradingSystem {
        let parts = text.split(separator: "-", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty, parts[0].allSatisfy({ $0.isASCII && ($0.isUppercase || $0.isNumber) }),
              !parts[1].isEmpty, parts[1].allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }) else {
            throw .invalid(field, "'\(text)' does not name a grading system and version; expected SYSTEM-VERSION, e.g. CTCAE-5.0 or ASTCT-2019")
        }
        return GradingSystem(system: parts[0], version: parts[1])
    }

    public var description: String { "\(system)-\(version)" }
}

/// How likely the product caused the event.
public enum Relatedness: String, Codable, CaseIterable, Sendable {
    case notRelated = "not-related", unlikely, possible, probable, definite
    case notAssessed = "not-assessed"
}

/// How the event ended, so far.
public enum AdverseEventOutcome: String, Codable, CaseIterable, Sendable {
    case recovered, recovering
    case notRecovered = "not-recovered"
    case recoveredWithSequelae = "recovered-with-sequelae"
    case fatal, unknown
}

/// ICH E2A seriousness criteria.
public enum SeriousnessCriterion: String, Codable, CaseIterable, Sendable {
    case death
    case lifeThreatening = "life-threatening"
    case hospitalization, disability
    case congenitalAnomaly = "congenital-anomaly"
    case importantMedicalEvent = "important-medical-event"
}

/// The expedited-report clocks, in days from the day the site became aware. Configuration, not
/// code: the registry stores them as settings.
public struct ExpeditedReportClock: Hashable, Codable, Sendable {
    /// Days for a death or a life-threatening event (Korean trials: 7).
    public var fatalOrLifeThreateningDays: Int
    /// Days for any other serious event (Korean trials: 15).
    public var otherSeriousDays: Int

    public init(fatalOrLifeThreateningDays: Int = 7, otherSeriousDays: Int = 15) {
        self.fatalOrLifeThreateningDays = fatalOrLifeThreateningDays
        self.otherSeriousDays = otherSeriousDays
    }

    /// The report's due date, or nil for an event that is not serious.
    public func dueDate(serious: Bool, criteria: Set<SeriousnessCriterion>, grade: Int, aware: LocalDate) -> LocalDate? {
        guard serious else { return nil }
        let urgent = criteria.contains(.death) || criteria.contains(.lifeThreatening) || grade >= 4
        return aware.adding(days: urgent ? fatalOrLifeThreateningDays : otherSeriousDays)
    }
}

/// A recorded adverse event.
public struct AdverseEvent: Codable, Equatable, Sendable {
    public var id: AdverseEventID
    public var patientID: PatientID
    public var institutionCode: String
    public var onsetOn: LocalDate
    public var awareOn: LocalDate
    public var term: String
    public var meddraCode: String?
    public var category: AdverseEventCategory
    public var grade: Int
    public var gradingSystem: String
    public var gradingVersion: String
    public var serious: Bool
    public var seriousnessCriteria: [SeriousnessCriterion]
    public var relatedness: Relatedness
    public var outcome: AdverseEventOutcome
    public var outcomeOn: LocalDate?
    public var reportDueOn: LocalDate?
    public var reportSubmittedOn: LocalDate?
    /// Set when the event was voided as entered in error: its report clock no longer runs.
    public var void: VoidMark?

    public init(id: AdverseEventID, patientID: PatientID, institutionCode: String, onsetOn: LocalDate, awareOn: LocalDate, term: String, meddraCode: String?,
                category: AdverseEventCategory, grade: Int, gradingSystem: String, gradingVersion: String, serious: Bool,
                seriousnessCriteria: [SeriousnessCriterion], relatedness: Relatedness, outcome: AdverseEventOutcome, outcomeOn: LocalDate?,
                reportDueOn: LocalDate?, reportSubmittedOn: LocalDate?, void: VoidMark? = nil) {
        self.void = void
        self.id = id; self.patientID = patientID; self.institutionCode = institutionCode; self.onsetOn = onsetOn; self.awareOn = awareOn
        self.term = term; self.meddraCode = meddraCode; self.category = category; self.grade = grade; self.gradingSystem = gradingSystem
        self.gradingVersion = gradingVersion; self.serious = serious; self.seriousnessCriteria = seriousnessCriteria
        self.relatedness = relatedness; self.outcome = outcome; self.outcomeOn = outcomeOn
        self.reportDueOn = reportDueOn; self.reportSubmittedOn = reportSubmittedOn
    }
}

/// A validated adverse event report.
public struct NewAdverseEvent: Sendable, Equatable {
    public var onsetOn: LocalDate
    public var awareOn: LocalDate
    public var term: String
    public var meddraCode: String?
    public var category: AdverseEventCategory
    public var grade: Int
    public var grading: GradingSystem
    public var serious: Bool
    public var criteria: Set<SeriousnessCriterion>
    public var relatedness: Relatedness
    public var outcome: AdverseEventOutcome
    public var outcomeOn: LocalDate?
    /// The user says this is a second, separate event even though the patient already has one with the same term and onset.
    public var markedDistinct = false

    /// Validates every field, refusing once with every field at fault. Grade 5 (death related to
    /// the event) is serious with the death criterion and a fatal outcome; grade 4 is
    /// life-threatening. A check across fields (awareness after onset, seriousness and its
    /// criteria, the outcome and the grade) runs when the fields it compares are valid.
    public init(onset: String, aware: String, term: String, meddra: String?, category: String, grade: Int, grading: String,
                serious: Bool, criteria: [String], related: String?, outcome: String?, outcomeOn: String?, today: LocalDate) throws(RegistryError) {
        var checks = FieldChecks()
        let onsetOn = checks.check { () throws(RegistryError) in try AdverseEventRules.date(onset, field: "onset", today: today) }
        let awareOn = checks.check { () throws(RegistryError) in try AdverseEventRules.date(aware, field: "aware", today: today) }
        if let onsetOn, let awareOn, awareOn < onsetOn {
            checks.refuse(.invalid("aware", "the site became aware on \(awareOn), before the onset on \(onsetOn); awareness cannot precede onset"))
        }
        let term = checks.check { () throws(RegistryError) in try AdverseEventRules.term(term) }
        let meddraCode = checks.check { () throws(RegistryError) in try AdverseEventRules.meddra(meddra) }
        let category = checks.check { () throws(RegistryError) in try AdverseEventCategory.parse(category) }
        let grade = checks.check { () throws(RegistryError) in try AdverseEventRules.grade(grade) }
        let grading = checks.check { () throws(RegistryError) in try GradingSystem.parse(grading) }
        var parsed = checks.check { () throws(RegistryError) in try AdverseEventRules.criteria(criteria) }
        if let grade, parsed != nil {
            if grade == 5 { parsed!.insert(.death) }
            if grade == 4 { parsed!.insert(.lifeThreatening) }
            if !parsed!.isEmpty && !serious && grade < 4 {
                checks.refuse(.invalid("serious", "seriousness criteria were given for an event not marked serious"))
            }
            if (serious || grade >= 4) && parsed!.isEmpty {
                checks.refuse(.invalid("criteria", "a serious event needs at least one ICH E2A seriousness criterion; allowed: \(SeriousnessCriterion.allCases.map(\.rawValue).joined(separator: ", "))",
                                       hint: "give every criterion that applies (hospitalization when the event led to or prolonged a stay), or record the event as not serious"))
            }
        }
        let relatedness = checks.check { () throws(RegistryError) in try AdverseEventRules.relatedness(related ?? Relatedness.notAssessed.rawValue) }
        // Without a valid grade the default outcome is unknown; the grade's refusal says why.
        let outcomeValue = checks.check { () throws(RegistryError) in try AdverseEventRules.outcome(outcome ?? (grade == 5 ? "fatal" : "unknown")) }
        if let grade, let outcomeValue {
            if grade == 5 && outcomeValue != .fatal { checks.refuse(.invalid("outcome", "a grade 5 event is fatal by definition; its outcome must be fatal")) }
            if outcomeValue == .fatal && grade != 5 { checks.refuse(.invalid("grade", "a fatal outcome is grade 5 in CTCAE; give grade 5")) }
        }
        let outcomeDate = outcomeOn.flatMap { d in checks.check { () throws(RegistryError) in try AdverseEventRules.date(d, field: "outcome-on", today: today) } }
        if let outcomeDate, let onsetOn, outcomeDate < onsetOn {
            checks.refuse(.invalid("outcome-on", "\(outcomeDate) is before the onset on \(onsetOn)"))
        }
        try checks.finish()
        self.onsetOn = onsetOn!
        self.awareOn = awareOn!
        self.term = term!
        self.meddraCode = meddraCode!
        self.category = category!
        self.grade = grade!
        self.grading = grading!
        self.serious = serious || grade! >= 4
        self.criteria = self.serious ? parsed! : []
        self.relatedness = relatedness!
        self.outcome = outcomeValue!
        self.outcomeOn = outcomeDate
    }

    /// A second event with the same term (case aside) and onset for the same patient is most likely the
    /// first one entered twice: refused unless the user marks it distinct. `existing` is that first
    /// event, if the patient has one.
    public func checkNotDuplicate(of existing: AdverseEventID?, patientID: PatientID) throws(RegistryError) {
        guard let existing, !markedDistinct else { return }
        throw .conflict("term", "patient \(patientID) already has adverse event \(existing) with the term '\(term)' and onset \(onsetOn)",
                        remedy: .markDistinct(adverseEventID: existing))
    }

    /// The date a grade 5 event records as the death: the outcome date, else the onset.
    public var deathDate: LocalDate? { grade == 5 ? (outcomeOn ?? onsetOn) : nil }
}

/// The rules for an adverse event's own fields, for a report and a correction alike.
public enum AdverseEventRules {
    /// The expedited report of a serious event is submitted on or after the site became aware of it.
    public static func checkSubmission(on date: LocalDate, serious: Bool, awareOn: LocalDate, event: String) throws(RegistryError) {
        guard serious else {
            throw .conflict("adverse-event", "\(event) is not serious; only serious events have an expedited report")
        }
        guard date >= awareOn else {
            throw .invalid("on", "\(date) is before the site became aware on \(awareOn)")
        }
    }

    /// An onset, awareness or outcome date: a date from the Act's start to today.
    public static func date(_ text: String, field: String, today: LocalDate) throws(RegistryError) -> LocalDate {
        let date = try Rules.date(text, field: field)
        try Rules.eventDate(date, field: field, today: today)
        return date
    }

    /// The event's term: 1–200 characters.
    public static func term(_ text: String) throws(RegistryError) -> String {
        try Rules.name(text, field: "term", maxLength: 200)
    }

    /// A MedDRA code, 8 digits; nil when none is given.
    public static func meddra(_ text: String?) throws(RegistryError) -> String? {
        guard let text, !text.isEmpty else { return nil }
        guard text.count == 8, text.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw .invalid("meddra", "'\(text)' is not a MedDRA code; expected 8 digits, e.g. 10000880")
        }
        return text
    }

    /// A grade from 1 to 5.
    public static func grade(_ grade: Int) throws(RegistryError) -> Int {
        guard (1...5).contains(grade) else {
            throw .invalid("grade", "\(grade) is not a grade; allowed: 1 mild, 2 moderate, 3 severe, 4 life-threatening, 5 death related to the event")
        }
        return grade
    }

    /// ICH E2A seriousness criteria by name; one refusal names every one that is not a criterion.
    public static func criteria(_ texts: [String]) throws(RegistryError) -> Set<SeriousnessCriterion> {
        let unknown = texts.filter { SeriousnessCriterion(rawValue: $0) == nil }
        guard unknown.isEmpty else {
            let named = unknown.map { "'\($0)'" }.joined(separator: ", ")
            throw .invalid("criteria", "\(named) \(unknown.count == 1 ? "is not a seriousness criterion" : "are not seriousness criteria"); allowed: \(SeriousnessCriterion.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return Set(texts.compactMap(SeriousnessCriterion.init(rawValue:)))
    }

    /// How likely the product caused the event.
    public static func relatedness(_ text: String) throws(RegistryError) -> Relatedness {
        guard let r = Relatedness(rawValue: text) else {
            throw .invalid("related", "'\(text)' is not a relatedness; allowed: \(Relatedness.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return r
    }

    /// How the event ended, so far.
    public static func outcome(_ text: String) throws(RegistryError) -> AdverseEventOutcome {
        guard let o = AdverseEventOutcome(rawValue: text) else {
            throw .invalid("outcome", "'\(text)' is not an outcome; allowed: \(AdverseEventOutcome.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return o
    }
}

/// A correction of an adverse event as given: each field given checked on its own, refused once
/// with every field at fault. Storage merges it into the stored event and checks the result as a
/// new report (`NewAdverseEvent`: awareness after onset, seriousness and its criteria, outcome and
/// grade), and the submission date against awareness.
public struct AdverseEventCorrection: Sendable, Equatable {
    public var onsetOn: LocalDate?
    public var awareOn: LocalDate?
    public var outcomeOn: LocalDate?
    public var submittedOn: LocalDate?
    /// The other fields given, as given (storage checks the merged event as a new report).
    public var term: String?
    public var meddra: String?
    public var category: String?
    public var grade: Int?
    public var grading: String?
    public var serious: Bool?
    public var criteria: [String]?
    public var related: String?
    public var outcome: String?
    public var reason: String

    /// Checks the reason and every field given; the dates come back parsed, the other fields are
    /// kept as given.
    public init(onset: String?, aware: String?, term: String?, meddra: String?, category: String?, grade: Int?, grading: String?,
                serious: Bool? = nil, criteria: [String]?, related: String?, outcome: String?, outcomeOn: String?, submittedOn: String?,
                reason: String?, today: LocalDate) throws(RegistryError) {
        self.term = term; self.meddra = meddra; self.category = category; self.grade = grade; self.grading = grading
        self.serious = serious; self.criteria = criteria; self.related = related; self.outcome = outcome
        var checks = FieldChecks()
        let reason = checks.check { () throws(RegistryError) in try Rules.reason(reason) }
        onsetOn = onset.flatMap { d in checks.check { () throws(RegistryError) in try AdverseEventRules.date(d, field: "onset", today: today) } }
        awareOn = aware.flatMap { d in checks.check { () throws(RegistryError) in try AdverseEventRules.date(d, field: "aware", today: today) } }
        if let term { checks.check { () throws(RegistryError) in try AdverseEventRules.term(term) } }
        if let meddra { checks.check { () throws(RegistryError) in try AdverseEventRules.meddra(meddra) } }
        if let category { checks.check { () throws(RegistryError) in try AdverseEventCategory.parse(category) } }
        if let grade { checks.check { () throws(RegistryError) in try AdverseEventRules.grade(grade) } }
        if let grading { checks.check { () throws(RegistryError) in try GradingSystem.parse(grading) } }
        if let criteria { checks.check { () throws(RegistryError) in try AdverseEventRules.criteria(criteria) } }
        if let related { checks.check { () throws(RegistryError) in try AdverseEventRules.relatedness(related) } }
        if let outcome { checks.check { () throws(RegistryError) in try AdverseEventRules.outcome(outcome) } }
        self.outcomeOn = outcomeOn.flatMap { d in checks.check { () throws(RegistryError) in try AdverseEventRules.date(d, field: "outcome-on", today: today) } }
        self.submittedOn = submittedOn.flatMap { d in checks.check { () throws(RegistryError) in try Rules.date(d, field: "submitted-on") } }
        try checks.finish()
        self.reason = reason!
    }
}
