import RegistryDomain

/// A published figure: a value, or the reason it is not shown.
public enum Figure: Equatable, Sendable {
    /// A count.
    case count(Int)
    /// A measured or estimated value, printed with a fixed number of decimals.
    case value(Double, decimals: Int)
    /// Withheld by small-cell suppression (a count from 1 to K − 1, one that would reveal such a
    /// count, or a figure derived from either).
    case suppressed
    /// Not defined for this group (no one left at risk, nothing expected yet, no values).
    case notEstimable

    /// Whether the figure is withheld.
    public var isSuppressed: Bool { self == .suppressed }

    /// The figure as text for tables and CSV: the number, `suppressed`, or empty.
    public var text: String {
        switch self {
        case .count(let n): return String(n)
        case .value(let x, let d): return formatFixed(x, d)
        case .suppressed: return "suppressed"
        case .notEstimable: return ""
        }
    }

    /// The numeric value, when shown.
    public var number: Double? {
        switch self {
        case .count(let n): return Double(n)
        case .value(let x, _): return x
        default: return nil
        }
    }
}

/// The group a row of the report describes: one value per dimension it is broken down by, nil
/// where it spans all values (margins and the total).
public struct GroupKey: Hashable, Sendable {
    public var product: String?
    public var indication: String?
    public var institution: String?
    public var year: Int?
    /// The calendar quarter of the first treatment, `2025Q3`.
    public var quarter: String?

    public init(product: String? = nil, indication: String? = nil, institution: String? = nil, year: Int? = nil, quarter: String? = nil) {
        self.product = product; self.indication = indication; self.institution = institution; self.year = year; self.quarter = quarter
    }

    /// The value of a dimension, as text (nil: all).
    public func value(_ d: ReportDimension) -> String? {
        switch d {
        case .product: return product
        case .indication: return indication
        case .institution: return institution
        case .year: return year.map(String.init)
        case .quarter: return quarter
        }
    }

    /// The dimensions this group is split on.
    public var dimensions: [ReportDimension] { ReportDimension.allCases.filter { value($0) != nil } }

    /// e.g. `CART-19 · 2025`, or `all patients` for the total.
    public var label: String {
        let parts = ReportDimension.allCases.compactMap { value($0) }
        return parts.isEmpty ? "all patients" : parts.joined(separator: " · ")
    }

    static func ordered(_ a: GroupKey, _ b: GroupKey) -> Bool {
        (a.product ?? "", a.indication ?? "", a.institution ?? "", a.year ?? 0, a.quarter ?? "") < (b.product ?? "", b.indication ?? "", b.institution ?? "", b.year ?? 0, b.quarter ?? "")
    }
}

/// Follow-up completeness at one time point.
public struct TimePointFigures: Equatable, Sendable {
    public var timePoint: String
    public var expected: Figure
    public var completed: Figure
    public var completeness: Figure
}

/// Overall survival at a number of years.
public struct SurvivalFigures: Equatable, Sendable {
    public var years: Int
    public var atRisk: Figure
    public var estimate: Figure
    public var lower: Figure
    public var upper: Figure
}

/// Adverse events of one category, with the incidence for the delayed events of special interest.
public struct CategoryFigures: Equatable, Sendable {
    public var category: AdverseEventCategory
    public var events: Figure
    /// Events per 100 person-years; nil for categories not of special interest.
    public var per100PersonYears: Figure?
    /// Its exact (Garwood) Poisson 95 % interval, suppressed with it.
    public var lower: Figure?
    public var upper: Figure?
}

/// Change from baseline of one measure at one time point.
public struct MeasureFigures: Equatable, Sendable {
    public var measure: String
    /// The measure's name in the catalogue.
    public var display: String
    public var timePoint: String
    public var count: Figure
    public var median: Figure
    public var lowerQuartile: Figure
    public var upperQuartile: Figure
}

/// Median and interquartile range of a fee, in won.
public struct FeeFigures: Equatable, Sendable {
    public var median: Figure
    public var lowerQuartile: Figure
    public var upperQuartile: Figure
}

/// Everything the report says about one group.
public struct GroupFigures: Equatable, Sendable {
    public var key: GroupKey
    public var patients: Figure
    public var administrations: Figure
    public var personYears: Figure
    public var deaths: Figure
    public var lostToFollowUp: Figure
    public var withdrawn: Figure
    public var followUpExpected: Figure
    public var followUpCompleted: Figure
    public var completeness: Figure
    public var overdueNow: Figure
    /// Follow-ups completed by a visit made another way than the time point plans (protocol deviations).
    public var contactDeviations: Figure
    public var timePoints: [TimePointFigures]
    public var survival: [SurvivalFigures]
    public var adverseEvents: Figure
    /// Grades 1 to 5, in order.
    public var byGrade: [Figure]
    public var byCategory: [CategoryFigures]
    public var serious: Figure
    public var expeditedReportsLate: Figure
    public var specialInterest: Figure
    public var specialInterestPer100PersonYears: Figure
    public var measures: [MeasureFigures]
    public var feesNotified: FeeFigures
    public var feesCollected: FeeFigures
}

/// A Kaplan–Meier curve sampled monthly, for the charts; it stops where fewer than K remain at risk.
public struct SurvivalCurve: Equatable, Sendable {
    /// The curve and its 95 % band at a number of days from the first dose.
    public struct Point: Equatable, Sendable {
        public var days: Int
        public var survival: Double
        public var lower: Double
        public var upper: Double
    }
    public var product: String
    public var points: [Point]
}

/// A built outcome report: parameters, the total, every group, the curves.
public struct OutcomeReportContent: Equatable, Sendable {
    public var parameters: ReportParameters
    /// Software and schema version of the registry that built it.
    public var registryVersion: String
    public var total: GroupFigures
    /// Groups of the breakdown: the cross of the `by` dimensions first, then each dimension's
    /// margins; each level sorted by its values.
    public var groups: [GroupFigures]
    public var curves: [SurvivalCurve]
    /// Counts withheld, as primary and complementary suppressions.
    public var primarySuppressed: Int
    public var complementarySuppressed: Int
    /// What the registry knew: changes recorded after this time (ISO 8601, UTC) are left out.
    public var recordedBy = ""
    /// The horizon asked for, when one was (a quarter's data lock), else nil.
    public var horizon: String?
    /// D of the cell-key perturbation the counts were published with (when it applied).
    public var perturbationMaximum = CellKeyPerturbation.defaultMaximum
    /// True when the horizon asked for is still to come: the figures may change until it passes.
    public var provisional = false
    /// The names of the products and institutions the report names by code.
    public var productNames: [String: String] = [:]
    public var institutionNames: [String: String] = [:]

    /// Years at which survival is reported.
    public static let survivalYears = [1, 2, 5]
}
