import Foundation
import RegistryDomain
import Testing

/// Worked examples with published or hand-computed answers.
@Suite("Report statistics")
struct ReportStatisticsTests {
    /// Freireich et al. (1963), 6-MP arm: remission times in weeks, + = censored. The estimates,
    /// Greenwood standard errors and log-log 95 % intervals are those of the textbooks (Kleinbaum &
    /// Klein, Survival Analysis, table 2.2; R: survfit(..., conf.type = "log-log")).
    static let sixMP: [(time: Int, event: Bool)] = [
        (6, true), (6, true), (6, true), (6, false), (7, true), (9, false), (10, true), (10, false), (11, false), (13, true),
        (16, true), (17, false), (19, false), (20, false), (22, true), (23, true), (25, false), (32, false), (32, false), (34, false), (35, false),
    ]

    @Test("Kaplan–Meier on the Freireich 6-MP data: survival, Greenwood standard error, log-log interval")
    func freireich() throws {
        let km = KaplanMeier(observations: Self.sixMP)
        #expect(km.total == 21)
        // time, at risk, deaths, S(t), SE, lower, upper
        let expected: [(Int, Int, Int, Double, Double, Double, Double)] = [
            (6, 21, 3, 0.857143, 0.076360, 0.619718, 0.951552),
            (7, 17, 1, 0.806723, 0.086935, 0.563147, 0.922809),
            (10, 15, 1, 0.752941, 0.096350, 0.503200, 0.889362),
            (13, 12, 1, 0.690196, 0.106815, 0.431610, 0.849066),
            (16, 11, 1, 0.627451, 0.114054, 0.367511, 0.804912),
            (22, 7, 1, 0.537815, 0.128234, 0.267779, 0.746791),
            (23, 6, 1, 0.448179, 0.134591, 0.188052, 0.680143),
        ]
        for (t, n, d, s, se, lo, hi) in expected {
            let step = try #require(km.steps.first { $0.time == t })
            #expect(step.atRisk == n && step.events == d, "t = \(t)")
            let e = try #require(km.estimate(at: t))
            #expect(abs(e.survival - s) < 5e-7, "S(\(t)) = \(e.survival)")
            #expect(abs(e.standardError - se) < 5e-7, "SE(\(t)) = \(e.standardError)")
            #expect(abs(try #require(e.lower) - lo) < 5e-7, "lower(\(t))")
            #expect(abs(try #require(e.upper) - hi) < 5e-7, "upper(\(t))")
        }
        // Between event times the curve holds; censorings at 9 leave S as it was at 7.
        #expect(km.estimate(at: 9)?.survival == km.estimate(at: 7)?.survival)
        #expect(km.estimate(at: 9)?.atRisk == 16)
        // Before the first death: S = 1, no interval; after the last observation: not defined.
        let start = try #require(km.estimate(at: 1))
        #expect(start.survival == 1 && start.lower == nil && start.atRisk == 21)
        #expect(km.estimate(at: 35)?.atRisk == 1)
        #expect(km.estimate(at: 36) == nil)
    }

    @Test("Kaplan–Meier by hand: ties of deaths and censorings, counts merged, everyone dead")
    func byHand() throws {
        // Times 2, 3, 3+, 5, 5+, 8: at 3 one dies and one is censored (still at risk at 3).
        let km = KaplanMeier([SurvivalCount(time: 5, events: 1, censored: 1), SurvivalCount(time: 2, events: 1, censored: 0),
                              SurvivalCount(time: 3, events: 1, censored: 0), SurvivalCount(time: 3, events: 0, censored: 1),
                              SurvivalCount(time: 8, events: 1, censored: 0)])
        #expect(km.steps.map(\.time) == [2, 3, 5, 8])
        #expect(km.steps.map(\.atRisk) == [6, 5, 3, 1])
        // S(2) = 5/6, S(3) = 5/6 · 4/5 = 2/3, S(5) = 2/3 · 2/3 = 4/9, S(8) = 0.
        #expect(abs(km.estimate(at: 2)!.survival - 5.0 / 6) < 1e-12)
        #expect(abs(km.estimate(at: 4)!.survival - 2.0 / 3) < 1e-12)
        #expect(abs(km.estimate(at: 5)!.survival - 4.0 / 9) < 1e-12)
        // Greenwood at 5: (4/9)² (1/30 + 1/20 + 1/6) = (16/81)(1/4) = 4/81, SE = 2/9.
        #expect(abs(km.estimate(at: 5)!.standardError - 2.0 / 9) < 1e-12)
        let end = try #require(km.estimate(at: 8))
        #expect(end.survival == 0 && end.lower == nil && end.upper == nil)
    }

    @Test("quantiles interpolate like PostgreSQL's percentile_cont (type 7)")
    func quantiles() {
        #expect(Quantiles.summary([4, 1, 3, 2]) == QuantileSummary(count: 4, lowerQuartile: 1.75, median: 2.5, upperQuartile: 3.25))
        #expect(Quantiles.summary([400, 420, 450]) == QuantileSummary(count: 3, lowerQuartile: 410, median: 420, upperQuartile: 435))
        #expect(Quantiles.summary([7]) == QuantileSummary(count: 1, lowerQuartile: 7, median: 7, upperQuartile: 7))
        #expect(Quantiles.summary([]) == nil)
        #expect(Quantiles.quantile(sorted: [6, 8, 9, 12], 0.75) == 9.75)
        // Counted values give what the expanded list gives: [-2, -2, -1, 0, 0, 0, 3].
        #expect(Quantiles.summary(counted: [(0, 3), (-2, 2), (3, 1), (-1, 1)]) == Quantiles.summary([-2, -2, -1, 0, 0, 0, 3]))
        #expect(Quantiles.summary(counted: [(0, 3), (-2, 2), (3, 1), (-1, 1)]) == QuantileSummary(count: 7, lowerQuartile: -1.5, median: 0, upperQuartile: 0))
        #expect(Quantiles.summary(counted: [(5, 0)]) == nil)
    }

    @Test("primary suppression hides 1 to K−1, shows 0 and K")
    func primary() {
        let s = SmallCellSuppression(minimumCell: 11)
        #expect(s.apply([0, 1, 10, 11, 500], equations: []) == [.shown, .primary, .primary, .shown, .shown])
        #expect(SmallCellSuppression(minimumCell: 5).apply([4, 5], equations: []) == [.primary, .shown])
    }

    @Test("complementary suppression in one dimension hides the smallest other part")
    func complementaryOneDimension() {
        // total 120 = 3 + 40 + 25 + 52: the 3 alone could be recomputed, so the 25 goes too.
        let s = SmallCellSuppression(minimumCell: 11)
        let d = s.apply([120, 3, 40, 25, 52], equations: [.init(total: 0, parts: [1, 2, 3, 4])])
        #expect(d == [.shown, .primary, .shown, .complementary, .shown])
        // A group with one child: once the child is hidden, the group's own total would give it
        // away, so the total goes too. Cells: x = y (one child), w = y + z + v, z small.
        let (x, y, z, w, v) = (0, 1, 2, 3, 4)
        let chained = s.apply([15, 15, 3, 40, 22], equations: [.init(total: w, parts: [y, z, v]), .init(total: x, parts: [y])])
        #expect(chained[z] == .primary && chained[y] == .complementary && chained[x] == .complementary)
        #expect(chained[v] == .shown && chained[w] == .shown)
    }

    @Test("cells withheld whatever their value (a small group's other counts) are protected like small ones")
    func withheld() {
        // 50 follow-ups of a group of 3 patients: withheld, so its sibling 70 goes with it; a withheld 0 stays 0.
        let d = SmallCellSuppression(minimumCell: 11).apply([120, 50, 70, 0], equations: [.init(total: 0, parts: [1, 2, 3])], withheld: [1, 3])
        #expect(d == [.shown, .primary, .complementary, .shown])
    }

    @Test("complementary suppression across two dimensions: rows, columns, margins")
    func complementaryTwoDimensions() {
        //         Y1  Y2  Y3 | total
        //   P1     3  20  30 |  53
        //   P2    15  12  40 |  67
        //   total 18  32  70 | 120
        // The 3 is small. Row P1 then hides 20; column Y1 hides 15; column Y2 (20 hidden) hides
        // 12; row P2 now has two hidden. Margins stay shown, and the four hidden cells leave
        // P1Y1 + P1Y2 = 23, P1Y1 + P2Y1 = 18, P1Y2 + P2Y2 = 32, P2Y1 + P2Y2 = 27: rank 3 for four
        // unknowns, so P1Y1 cannot be solved for.
        let cells = [3, 20, 30, 15, 12, 40, 53, 67, 18, 32, 70, 120]
        let (p1y1, p1y2, p1y3, p2y1, p2y2, p2y3, p1, p2, y1, y2, y3, total) = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
        let equations: [SmallCellSuppression.Equation] = [
            .init(total: p1, parts: [p1y1, p1y2, p1y3]), .init(total: p2, parts: [p2y1, p2y2, p2y3]),
            .init(total: y1, parts: [p1y1, p2y1]), .init(total: y2, parts: [p1y2, p2y2]), .init(total: y3, parts: [p1y3, p2y3]),
            .init(total: total, parts: [p1, p2]), .init(total: total, parts: [y1, y2, y3]),
            .init(total: total, parts: [p1y1, p1y2, p1y3, p2y1, p2y2, p2y3]),
        ]
        let d = SmallCellSuppression(minimumCell: 11).apply(cells, equations: equations)
        #expect(d[p1y1] == .primary)
        #expect([p1y2, p2y1, p2y2].allSatisfy { d[$0] == .complementary })
        #expect([p1y3, p2y3, p1, p2, y1, y2, y3, total].allSatisfy { d[$0] == .shown })
        // No equation is left with exactly one hidden cell.
        for eq in equations {
            #expect(([eq.total] + eq.parts).filter { d[$0].isSuppressed }.count != 1)
        }
    }
}

@Suite("exact Poisson intervals")
struct PoissonIntervalTests {
    @Test("Garwood's tabulated 95 % limits, to four decimals")
    func publishedValues() {
        let table: [(Int, Double, Double)] = [(0, 0, 3.688879), (1, 0.025318, 5.571643), (2, 0.242209, 7.224688),
                                              (5, 1.623486, 11.668332), (10, 4.795389, 18.390356)]
        for (k, lower, upper) in table {
            let ci = PoissonInterval.exact(count: k)
            #expect(abs(ci.lower - lower) < 5e-5 && abs(ci.upper - upper) < 5e-5, "\(k): \(ci)")
        }
    }

    @Test("each limit leaves exactly 2.5 % in its tail of the Poisson distribution, for counts up to 300")
    func tails() {
        func cdf(_ k: Int, _ mu: Double) -> Double {   // P(X <= k), summed in logs
            (0...k).reduce(0.0) { $0 + exp(Double($1) * log(mu) - mu - lgamma(Double($1) + 1)) }
        }
        for k in [1, 3, 7, 20, 55, 140, 300] {
            let ci = PoissonInterval.exact(count: k)
            #expect(abs((1 - cdf(k - 1, ci.lower)) - 0.025) < 1e-9, "lower limit of \(k)")
            #expect(abs(cdf(k, ci.upper) - 0.025) < 1e-9, "upper limit of \(k)")
            #expect(ci.lower < Double(k) && Double(k) < ci.upper)
        }
    }
}
