import RegistryDomain

/// The editable values of an adverse event, for corrections.
public struct AdverseEventDraft: Sendable {
    public var onsetOn: LocalDate
    public var awareOn: LocalDate
    public var term: String
    public var meddraCode: String?
    public var category: String
    public var grade: Int
    public var grading: String
    public var serious: Bool
    public var criteria: [String]
    public var relatedness: String
    public var outcome: String
    public var outcomeOn: LocalDate?
    public var submittedOn: LocalDate?

    init(_ ae: AdverseEvent) {
        onsetOn = ae.onsetOn; awareOn = ae.awareOn; term = ae.term; meddraCode = ae.meddraCode; category = ae.category.rawValue
        grade = ae.grade; grading = "\(ae.gradingSystem)-\(ae.gradingVersion)"; serious = ae.serious
        criteria = ae.seriousnessCriteria.map(\.rawValue); relatedness = ae.relatedness.rawValue; outcome = ae.outcome.rawValue
        outcomeOn = ae.outcomeOn; submittedOn = ae.reportSubmittedOn
    }

    /// The draft with every field a correction gives.
    public mutating func apply(_ c: AdverseEventCorrection) {
        if let v = c.onsetOn { onsetOn = v }
        if let v = c.awareOn { awareOn = v }
        if let v = c.term { term = v }
        if let v = c.meddra { meddraCode = v.isEmpty ? nil : v }
        if let v = c.category { category = v }
        if let v = c.grade { grade = v }
        if let v = c.grading { grading = v }
        if let v = c.serious { serious = v }
        if let v = c.criteria { criteria = v }
        if let v = c.related { relatedness = v }
        if let v = c.outcome { outcome = v }
        if let v = c.outcomeOn { outcomeOn = v }
        if let v = c.submittedOn { submittedOn = v }
    }

    func validated(today: LocalDate) throws(RegistryError) -> NewAdverseEvent {
        // Criteria implied by the old grade are re-derived from the new one.
        let explicit = criteria.filter { !(($0 == "death" && grade != 5) || ($0 == "life-threatening" && grade < 4)) }
        return try NewAdverseEvent(onset: onsetOn.description, aware: awareOn.description, term: term, meddra: meddraCode, category: category,
                                   grade: grade, grading: grading, serious: serious, criteria: explicit, related: relatedness,
                                   outcome: outcome, outcomeOn: outcomeOn?.description, today: today)
    }
}
