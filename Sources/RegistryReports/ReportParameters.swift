import RegistryDomain

/// Who is pulling a report, which decides what they may ask for.
public enum ReportRole: String, Sendable, CaseIterable {
    /// A registry administrator (the command line): any K from 2, and suppression may be switched
    /// off, explicitly and audited.
    case admin
    /// The ministry, the safety agency or the review committee (the HTTP API): K never below 5,
    /// suppression always on.
    case regulator

    /// The smallest K this role may ask for.
    public var minimumCellFloor: Int { self == .regulator ? MinimumCell.regulatorFloor : MinimumCell.floor }

    /// Parses a role or lists the allowed ones.
    public static func parse(_ text: String, field: String = "role") throws(RegistryError) -> ReportRole {
        guard let role = ReportRole(rawValue: text) else {
            throw .invalid(field, "'\(text)' is not a report role; allowed: admin, regulator")
        }
        return role
    }
}

/// A dimension a report can be broken down by. Each patient is counted once, in the group of their
/// first administration on or before the as-of date (the index treatment): its product, indication,
/// institution, calendar year or calendar quarter (`2025Q3`).
public enum ReportDimension: String, Sendable, CaseIterable, Comparable {
    case product, indication, institution, year, quarter

    /// In the order product, indication, institution, year, quarter.
    public static func < (a: ReportDimension, b: ReportDimension) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    /// Parses `product,indication,institution,year,quarter` (any subset, in any order; kept in the order given).
    public static func parseList(_ text: String, field: String = "by") throws(RegistryError) -> [ReportDimension] {
        var out: [ReportDimension] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: true).map({ String($0).trimmingCharactersInWhitespace() }) {
            guard let d = ReportDimension(rawValue: part) else {
                throw .invalid(field, "'\(part)' is not a dimension; allowed: product, indication, institution, year, quarter (comma-separated)")
            }
            guard !out.contains(d) else { throw .invalid(field, "'\(part)' is given twice; name each dimension once") }
            out.append(d)
        }
        return out
    }
}

/// What a report is asked for. The same parameters on the same data give the same report, byte
/// for byte; the purpose and who asked are recorded with the pull, not printed in the report.
public struct ReportParameters: Sendable, Equatable {
    /// Why the report is pulled (recorded in the audit trail).
    public var purpose: String
    /// The data cut: events dated after it are left out.
    public var asOf: LocalDate
    /// Only patients whose index treatment is of this product (code).
    public var product: String?
    /// Only patients whose index treatment's plan is for this indication (ICD-10).
    public var indication: String?
    /// Only patients whose index treatment was given at this institution (code).
    public var institution: String?
    /// The breakdown; empty for the national total only.
    public var by: [ReportDimension]
    /// K: counts from 1 to K − 1 are suppressed.
    public var minimumCell: Int
    /// False only when an administrator switched suppression off.
    public var suppression: Bool
    /// Counts published by the cell-key method (CellKeyPerturbation) before small ones are
    /// withheld; false only when an administrator asked for classic complementary suppression.
    public var perturbation = true
    /// What the registry knew: the recorded-by horizon, or the cut of an earlier pull.
    public var cut = DataCut()

    /// The default K (CMS: no cells of 1 to 10).
    public static let defaultMinimumCell = MinimumCell.defaultK

    public init(purpose: String, asOf: LocalDate, product: String? = nil, indication: String? = nil, institution: String? = nil,
                by: [ReportDimension] = [], minimumCell: Int = defaultMinimumCell, suppression: Bool = true) {
        self.purpose = purpose; self.asOf = asOf; self.product = product; self.indication = indication
        self.institution = institution; self.by = by; self.minimumCell = minimumCell; self.suppression = suppression
    }

    /// Checks the parameters against the field rules and what the role may ask for; returns them
    /// normalised (trimmed purpose, upper-case indication).
    public func validated(role: ReportRole, today: LocalDate) throws(RegistryError) -> ReportParameters {
        var p = self
        p.purpose = try Rules.name(purpose, field: "purpose", maxLength: 500)
        try Rules.eventDate(asOf, field: "as-of", today: today)
        p.product = try product.map { c throws(RegistryError) in try Rules.productCode(c) }
        p.indication = try indication.map { c throws(RegistryError) in try Rules.icd10(c) }
        p.institution = try institution.map { c throws(RegistryError) in try Rules.institutionCode(c) }
        if !suppression && role != .admin {
            throw .invalid("no-suppression", "only an administrator may switch small-cell suppression off; a \(role.rawValue) report is always suppressed",
                           hint: "leave small-cell suppression on")
        }
        if !perturbation && role != .admin {
            throw .invalid("no-perturbation", "only an administrator may publish unperturbed counts; a \(role.rawValue) report's counts are always perturbed by cell key",
                           hint: "leave perturbation on")
        }
        let floor = role.minimumCellFloor
        guard (floor...1_000).contains(minimumCell) else {
            throw .invalid("min-cell", "\(minimumCell) is not allowed for the \(role.rawValue) role; allowed: \(floor) to \(MinimumCell.maximum) (default \(Self.defaultMinimumCell))",
                           hint: role == .regulator ? "regulators' reports never show cells below \(MinimumCell.regulatorFloor)" : nil)
        }
        return p
    }
}
