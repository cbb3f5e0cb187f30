/// Median and interquartile range as the registry reports them.
public struct QuantileSummary: Equatable, Sendable {
    public var count: Int
    public var lowerQuartile: Double
    public var median: Double
    public var upperQuartile: Double

    public init(count: Int, lowerQuartile: Double, median: Double, upperQuartile: Double) {
        self.count = count; self.lowerQuartile = lowerQuartile; self.median = median; self.upperQuartile = upperQuartile
    }
}

/// Sample quantiles by linear interpolation between order statistics (Hyndman and Fan's type 7,
/// R's default), which is what PostgreSQL's `percentile_cont` computes: the reports take their
/// medians from SQL in bulk, and tests check the two against each other.
public enum Quantiles {
    /// The p-quantile (0 ≤ p ≤ 1) of values sorted ascending; nil when there are none.
    public static func quantile(sorted values: [Double], _ p: Double) -> Double? {
        guard !values.isEmpty else { return nil }
        let h = Double(values.count - 1) * min(max(p, 0), 1)
        let lo = Int(h.rounded(.down))
        let hi = min(lo + 1, values.count - 1)
        return values[lo] + (h - Double(lo)) * (values[hi] - values[lo])
    }

    /// Count, quartiles and median of values in any order; nil when there are none.
    public static func summary(_ values: [Double]) -> QuantileSummary? {
        let sorted = values.sorted()
        guard let q1 = quantile(sorted: sorted, 0.25), let m = quantile(sorted: sorted, 0.5), let q3 = quantile(sorted: sorted, 0.75) else { return nil }
        return QuantileSummary(count: sorted.count, lowerQuartile: q1, median: m, upperQuartile: q3)
    }
}
