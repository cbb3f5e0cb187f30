/// The state of a serious adverse event's expedited report on a date: the "clock" a safety
/// reviewer reads in a line listing (LateReport's rules, named).
public enum ReportClock: String, Codable, CaseIterable, Sendable {
    /// Not serious: no expedited report is owed.
    case notApplicable = "not-applicable"
    /// Due on or after the date and not yet submitted.
    case running
    /// Submitted by its due date.
    case onTime = "on-time"
    /// Submitted after its due date.
    case submittedLate = "submitted-late"
    /// Past its due date and still not submitted.
    case outstanding

    /// The clock of an event as of `asOf` (submissions after `asOf` not yet made then).
    public static func of(serious: Bool, dueOn: LocalDate?, submittedOn: LocalDate?, asOf: LocalDate) -> ReportClock {
        guard serious, let dueOn else { return .notApplicable }
        let submitted = submittedOn.flatMap { $0 <= asOf ? $0 : nil }
        if LateReport.isOutstanding(serious: serious, dueOn: dueOn, submittedOn: submitted, asOf: asOf) { return .outstanding }
        guard let submitted else { return .running }
        return LateReport.isLate(serious: serious, dueOn: dueOn, submittedOn: submitted, asOf: max(asOf, dueOn.adding(days: 1))) ? .submittedLate : .onTime
    }
}

/// What a safety line listing is asked for: the pharmacovigilance reviewer's case-level list of
/// serious adverse events and events of special interest (CIOMS II style). No small-cell
/// suppression applies to it; the purpose is required and every pull is recorded.
public struct SafetyListingRequest: Sendable, Equatable {
    /// Why the listing is pulled (recorded in the audit trail).
    public var purpose: String
    /// Only events of patients treated with this product (code).
    public var product: String?
    /// Events the site learnt of (awareness date) from this day ...
    public var from: LocalDate
    /// ... to this day, inclusive; also the date the clocks are read on.
    public var to: LocalDate

    public init(purpose: String, product: String?, from: LocalDate, to: LocalDate) {
        self.purpose = purpose; self.product = product; self.from = from; self.to = to
    }

    /// A request from text as typed (command line, query string), every field at fault named at
    /// once; `to` defaults to today, `from` to a year before `to`.
    public init(purpose: String?, product: String?, from: String?, to: String?, today: LocalDate) throws(RegistryError) {
        var checks = FieldChecks()
        let purpose = checks.check { () throws(RegistryError) in
            guard let purpose else { throw .invalid("purpose", "a purpose is required: why the listing is pulled, recorded with the pull in the audit trail") }
            return try Rules.name(purpose, field: "purpose", maxLength: 500)
        }
        let product = checks.check { () throws(RegistryError) in try product.map { c throws(RegistryError) in try Rules.productCode(c) } }
        let end = checks.check { () throws(RegistryError) -> LocalDate in
            guard let to else { return today }
            let date = try Rules.date(to, field: "to")
            try Rules.eventDate(date, field: "to", today: today)
            return date
        }
        let start = checks.check { () throws(RegistryError) -> LocalDate? in try from.map { t throws(RegistryError) in try Rules.date(t, field: "from") } }
        if let start = start ?? nil, let end, start > end {
            checks.refuse(.invalid("from", "\(start) is after the end of the period (\(end)); give a from date on or before it"))
        }
        try checks.finish()
        self.init(purpose: purpose!, product: product ?? nil, from: (start ?? nil) ?? end!.adding(years: -1), to: end!)
    }
}
