import Foundation

/// The exact (Garwood) confidence interval for the mean of a Poisson count: for `k` events the
/// 95 % interval is [χ²(0.025; 2k) / 2, χ²(0.975; 2k + 2) / 2], that is the quantiles of the gamma
/// distributions with shapes k and k + 1. It is what incidence rates of rare events are published
/// with (and what R's `poisson.test` and `scipy.stats.chi2.ppf` give); dividing it by the exposure
/// gives the rate's interval.
public enum PoissonInterval {
    /// The two-sided interval for the mean of `count` events, at `confidence` (default 95 %).
    public static func exact(count: Int, confidence: Double = 0.95) -> (lower: Double, upper: Double) {
        precondition(count >= 0 && confidence > 0 && confidence < 1)
        let alpha = 1 - confidence
        let lower = count == 0 ? 0 : gammaQuantile(alpha / 2, shape: Double(count))
        let upper = gammaQuantile(1 - alpha / 2, shape: Double(count + 1))
        return (lower, upper)
    }

    /// The x with P(shape, x) = p, for the regularised lower incomplete gamma P: bracketed, then
    /// bisected to full double precision (P is increasing in x).
    static func gammaQuantile(_ p: Double, shape a: Double) -> Double {
        var low = 0.0, high = max(1.0, a)
        while regularizedLowerGamma(a, high) < p { low = high; high *= 2 }
        for _ in 0..<200 {
            let mid = (low + high) / 2
            if mid == low || mid == high { break }
            if regularizedLowerGamma(a, mid) < p { low = mid } else { high = mid }
        }
        return (low + high) / 2
    }

    /// P(a, x) = γ(a, x) / Γ(a): the series for x < a + 1, else one minus the continued fraction
    /// for Q (Numerical Recipes, 6.2, with Lentz's method).
    static func regularizedLowerGamma(_ a: Double, _ x: Double) -> Double {
        guard x > 0 else { return 0 }
        let logPrefix = a * log(x) - x - lgamma(a)
        if x < a + 1 {
            var term = 1 / a, sum = term, n = a
            for _ in 0..<10_000 {
                n += 1
                term *= x / n
                sum += term
                if abs(term) < abs(sum) * 1e-17 { break }
            }
            return min(1, sum * exp(logPrefix))
        }
        let tiny = 1e-300
        var b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d
        for i in 1..<10_000 {
            let an = -Double(i) * (Double(i) - a)
            b += 2
            d = an * d + b
            if abs(d) < tiny { d = tiny }
            c = b + an / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < 1e-17 { break }
        }
        return max(0, 1 - exp(logPrefix) * h)
    }
}
