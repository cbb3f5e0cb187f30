import Foundation

/// Survival observations at one time: how many died then and how many were censored then.
public struct SurvivalCount: Hashable, Sendable {
    /// Days from the start of follow-up (the first dose).
    public var time: Int
    /// Deaths at this time.
    public var events: Int
    /// Observations censored at this time (alive at last contact).
    public var censored: Int

    public init(time: Int, events: Int, censored: Int) {
        self.time = time; self.events = events; self.censored = censored
    }
}

/// The Kaplan–Meier estimate of a survival function, with Greenwood's variance and 95 %
/// confidence intervals on the log-log scale (Kalbfleisch–Prentice; R's `conf.type = "log-log"`).
///
/// Ties follow the usual convention: deaths at a time happen before censorings at that time, so
/// an observation censored at t is still at risk at t.
public struct KaplanMeier: Equatable, Sendable {
    /// The curve at one distinct observed time.
    public struct Step: Equatable, Sendable {
        public var time: Int
        /// Observations with time ≥ this time.
        public var atRisk: Int
        public var events: Int
        public var censored: Int
        /// S(t) just after this time.
        public var survival: Double
        /// Greenwood's sum Σ d / (n (n − d)) over event times up to this one.
        public var greenwoodSum: Double
    }

    /// A point estimate with its uncertainty.
    public struct Estimate: Equatable, Sendable {
        public var survival: Double
        /// Greenwood's standard error of S(t).
        public var standardError: Double
        /// The 95 % log-log interval; nil where it is not defined (S = 1 or S = 0).
        public var lower: Double?
        public var upper: Double?
        /// Observations still at risk at t (time ≥ t).
        public var atRisk: Int
    }

    /// The two-sided 95 % normal quantile.
    public static let z95 = 1.959963984540054

    /// One step per distinct time, in time order.
    public let steps: [Step]
    /// All observations.
    public let total: Int

    /// Estimates from counts per time (in any order; equal times are merged).
    public init(_ counts: [SurvivalCount]) {
        var merged: [Int: (events: Int, censored: Int)] = [:]
        for c in counts where c.events + c.censored > 0 {
            merged[c.time, default: (0, 0)].events += c.events
            merged[c.time, default: (0, 0)].censored += c.censored
        }
        var atRisk = merged.values.reduce(0) { $0 + $1.events + $1.censored }
        total = atRisk
        var survival = 1.0, sum = 0.0
        var steps: [Step] = []
        steps.reserveCapacity(merged.count)
        for time in merged.keys.sorted() {
            let (d, c) = merged[time]!
            if d > 0 {
                survival *= Double(atRisk - d) / Double(atRisk)
                sum += atRisk > d ? Double(d) / (Double(atRisk) * Double(atRisk - d)) : .infinity
            }
            steps.append(Step(time: time, atRisk: atRisk, events: d, censored: c, survival: survival, greenwoodSum: sum))
            atRisk -= d + c
        }
        self.steps = steps
    }

    /// Estimates from one (time, died) pair per patient.
    public init(observations: [(time: Int, event: Bool)]) {
        self.init(observations.map { SurvivalCount(time: $0.time, events: $0.event ? 1 : 0, censored: $0.event ? 0 : 1) })
    }

    /// Observations at risk at time t (time ≥ t).
    public func atRisk(at t: Int) -> Int {
        guard let i = steps.firstIndex(where: { $0.time >= t }) else { return 0 }
        return steps[i].atRisk
    }

    /// S(t) with its standard error and interval; nil when no one is still observed at t (the
    /// curve is not defined beyond the last observation).
    public func estimate(at t: Int) -> Estimate? {
        let atRisk = atRisk(at: t)
        guard atRisk > 0 else { return nil }
        let last = steps.last(where: { $0.time <= t })
        let s = last?.survival ?? 1
        let sum = last?.greenwoodSum ?? 0
        guard s > 0, sum.isFinite else { return Estimate(survival: 0, standardError: 0, lower: nil, upper: nil, atRisk: atRisk) }
        let se = s * sum.squareRoot()
        guard s < 1, sum > 0 else { return Estimate(survival: s, standardError: se, lower: nil, upper: nil, atRisk: atRisk) }
        // log(-log S) is approximately normal with standard error sqrt(sum) / |log S|.
        let spread = Self.z95 * sum.squareRoot() / abs(log(s))
        return Estimate(survival: s, standardError: se, lower: pow(s, exp(spread)), upper: pow(s, exp(-spread)), atRisk: atRisk)
    }
}
