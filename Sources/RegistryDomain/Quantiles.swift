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
/// R's default), which is what PostgreSQL's `percentile_cont` computes. The reports take changes
/// from baseline as counts of each value per cell and compute their quartiles here; fees come from
/// `percentile_cont`, and tests check the two against each other.
public enum Quantiles {
    /// The p-quantile (0 ≤ p ≤ 1) of values sorted ascending; nil when there are none.
    public static func quantile(sorted values: [Double], _ p: Double) -> Double? {
        quantile(counted: values.map { ($0, 1) }, p)
    }

    /// The p-quantile of a multiset given as distinct values ascending with how often each
    /// occurs, as if every value were repeated that many times; nil when there are none.
    public static func quantile(counted values: [(value: Double, count: Int)], _ p: Double) -> Double? {
        let n = values.reduce(0) { $0 + $1.count }
        guard n > 0 else { return nil }
        let h = Double(n - 1) * min(max(p, 0), 1)
        let lo = Int(h.rounded(.down))
        // The k-th smallest (0-based) of the expanded multiset.
        func order(_ k: Int) -> Double {
            var seen = 0
            for (value, count) in values {
                seen += count
                if k < seen { return value }
            }
            return values.last!.value
        }
        let a = order(lo), b = order(min(lo + 1, n - 1))
        return a + (h - Double(lo)) * (b - a)
    }

    /// Count, quartiles and median of values in any order; nil when there are none.
    public static func summary(_ values: [Double]) -> QuantileSummary? {
        summary(counted: Dictionary(values.map { ($0, 1) }, uniquingKeysWith: +).map { (value: $0.key, count: $0.value) })
    }

    /// Count, quartiles and median of a multiset given as values with counts, in any order.
    public static func summary(counted values: [(value: Double, count: Int)]) -> QuantileSummary? {
        let sorted = values.sorted { $0.value < $1.value }
        guard let q1 = quantile(counted: sorted, 0.25), let m = quantile(counted: sorted, 0.5), let q3 = quantile(counted: sorted, 0.75) else { return nil }
        return QuantileSummary(count: sorted.reduce(0) { $0 + $1.count }, lowerQuartile: q1, median: m, upperQuartile: q3)
    }
}
