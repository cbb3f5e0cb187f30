import Crypto
import Foundation
import RegistryDomain
import RegistryStorage

/// The outcome report's headline figures quarter by quarter: each quarter's own cut (as of its
/// last day, recorded by its data lock `lagDays` after it), pulled and recorded like any outcome
/// report, so every point can be pulled again exactly (`--cut`) and a quarter's figures do not
/// change once its lock has passed. Counts are perturbed and withheld as in the report itself.
public enum OutcomeTrend {
    /// The quarters from `from` to `to`, both included (`2025Q1` ... `2026Q3`); at most 40.
    public static func quarters(from: String, to: String) throws(RegistryError) -> [(label: String, year: Int, quarter: Int)] {
        let a = try DataCut.quarter(from, lagDays: 0, field: "from"), b = try DataCut.quarter(to, lagDays: 0, field: "to")
        guard a.asOf <= b.asOf else { throw .invalid("from", "\(from) comes after \(to); give the earlier quarter first") }
        var out: [(String, Int, Int)] = []
        var (y, q) = (a.asOf.year, (a.asOf.components.month + 2) / 3)
        while (y, q) <= (b.asOf.year, (b.asOf.components.month + 2) / 3) {
            out.append(("\(y)Q\(q)", y, q))
            (y, q) = q == 4 ? (y + 1, 1) : (y, q + 1)
            if out.count > 40 { throw .invalid("from", "\(from) to \(to) is more than 40 quarters; ask for ten years at most") }
        }
        return out
    }

    /// One quarter's headline figures.
    public struct Point: Sendable {
        public var quarter: String
        public var pull: Int
        public var checksum: String
        public var content: OutcomeReportContent
    }

    /// Pulls the report of each quarter (`parameters` gives the purpose, filters, K; its as-of
    /// date and cut are each quarter's), recording every pull. Quarters whose last day is still
    /// to come are refused, as an as-of date in the future is.
    public static func build(database: Database, parameters: ReportParameters, from: String, to: String, lagDays: Int?, actor: String,
                             role: ReportRole, today: LocalDate = LocalDate.todayInSeoul()) async throws -> TrendResult {
        // Every quarter's parameters are checked before anything is pulled: a refusal records nothing.
        var planned: [(String, ReportParameters)] = []
        for q in try quarters(from: from, to: to) {
            var p = parameters
            p.by = []
            if lagDays != nil {
                try p.setCut(quarter: q.label, lagDays: lagDays, recordedBy: nil, asOfGiven: false)
            } else {
                // History as the registry now knows it: as of the quarter's last day, everything recorded so far.
                p.asOf = try DataCut.quarter(q.label, lagDays: 0).asOf
                p.cut = DataCut()
            }
            if p.asOf > today {
                throw RegistryError.invalid("to", "\(q.label) ends on \(p.asOf), after today (\(today)); the last quarter allowed is the one before it")
            }
            planned.append((q.label, try p.validated(role: role, today: today)))
        }
        var points: [Point] = []
        for (label, p) in planned {
            let r = try await OutcomeReport.build(database: database, parameters: p, actor: actor, role: role, today: today)
            points.append(Point(quarter: label, pull: r.pullID, checksum: r.checksum, content: r.content))
        }
        return TrendResult(points: points, parameters: parameters, lagDays: lagDays)
    }
}

/// A built trend and its renderings: canonical JSON (with its SHA-256 as the checksum, over the
/// document without it) and CSV, one row per quarter.
public struct TrendResult: Sendable {
    public let points: [OutcomeTrend.Point]
    public let parameters: ReportParameters
    /// Days from each quarter's end to its data lock, or nil: everything recorded so far.
    public let lagDays: Int?

    /// The figures' names, in the CSV's order.
    static let names = ["patients", "person_years", "deaths", "follow_up_completeness", "follow_up_overdue", "overall_survival_1y",
                        "adverse_events", "serious_adverse_events", "expedited_reports_late", "special_interest_per_100_person_years"]

    /// The figures of a quarter, in the order of `names`.
    static func figures(_ c: OutcomeReportContent) -> [(String, Figure)] {
        let t = c.total
        return [("patients", t.patients), ("person_years", t.personYears), ("deaths", t.deaths),
                ("follow_up_completeness", t.completeness), ("follow_up_overdue", t.overdueNow),
                ("overall_survival_1y", t.survival.first { $0.years == 1 }?.estimate ?? .notEstimable),
                ("adverse_events", t.adverseEvents), ("serious_adverse_events", t.serious), ("expedited_reports_late", t.expeditedReportsLate),
                ("special_interest_per_100_person_years", t.specialInterestPer100PersonYears)]
    }

    func document() -> [String: CanonicalJSON] {
        let p = parameters
        return [
            "report": .string("outcome-trend"),
            "lag_days": lagDays.map { .int($0) } ?? .null,
            "filters": .object(["product": ReportJSON.optional(p.product), "indication": ReportJSON.optional(p.indication),
                                "institution": ReportJSON.optional(p.institution)]),
            "min_cell": .int(p.minimumCell),
            "perturbation": .bool(p.suppression && p.perturbation),
            "quarters": .array(points.map { point in
                var o: [String: CanonicalJSON] = [
                    "quarter": .string(point.quarter), "as_of": .string(point.content.parameters.asOf.description),
                    "recorded_by": .string(point.content.recordedBy), "provisional": .bool(point.content.provisional),
                    "report_checksum": .string("sha256:\(point.checksum)"),
                ]
                for (k, f) in Self.figures(point.content) { o[k] = ReportJSON.figure(f) }
                return .object(o)
            }),
        ]
    }

    /// The JSON, its checksum member first among the keys after `filters`.
    public func json() -> Data {
        var d = document()
        d["checksum"] = .string("sha256:\(checksum)")
        return CanonicalJSON.object(d).serialized()
    }

    /// Hex SHA-256 of the document without its checksum.
    public var checksum: String {
        Hex.string(SHA256.hash(data: CanonicalJSON.object(document()).serialized()))
    }

    /// One row per quarter: `quarter,as_of,recorded_by,provisional,<figures>,report_checksum`.
    public func csv() -> Data {
        var out = (["quarter", "as_of", "recorded_by", "provisional"] + Self.names + ["report_checksum"]).joined(separator: ",") + "\r\n"
        for point in points {
            let values = [point.quarter, point.content.parameters.asOf.description, point.content.recordedBy, point.content.provisional ? "yes" : "no"]
                + Self.figures(point.content).map { $0.1.text } + ["sha256:\(point.checksum)"]
            out += values.joined(separator: ",") + "\r\n"
        }
        return Data(out.utf8)
    }
}
