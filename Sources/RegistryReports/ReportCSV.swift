import Foundation
import RegistryDomain

/// The report as long-format CSV (RFC 4180), one figure per row, for statistical software:
/// `product,indication,institution,year,quarter,measure,time_point,value`. A group's dimensions it is not
/// split on read `(all)`. The first rows carry the report's metadata under measures `report_*`.
enum ReportCSV {
    static func render(_ r: OutcomeReportContent, checksum: String) -> String {
        var out = "product,indication,institution,year,quarter,measure,time_point,value\r\n"
        func row(_ key: GroupKey?, _ measure: String, _ value: String, at timePoint: String = "") {
            let dims = ReportDimension.allCases.map { d in key.map { $0.value(d) ?? "(all)" } ?? "" }
            out += (dims + [measure, timePoint, value]).map(field).joined(separator: ",") + "\r\n"
        }
        let p = r.parameters
        row(nil, "report_as_of", p.asOf.description)
        row(nil, "report_recorded_by", r.recordedBy)
        row(nil, "report_horizon", r.horizon ?? "")
        row(nil, "report_provisional", r.provisional ? "yes" : "no")
        row(nil, "report_registry_version", r.registryVersion)
        row(nil, "report_by", p.by.map(\.rawValue).joined(separator: ","))
        row(nil, "report_filters", ["product": p.product, "indication": p.indication, "institution": p.institution]
            .sorted { $0.key < $1.key }.compactMap { k, v in v.map { "\(k)=\($0)" } }.joined(separator: ";"))
        row(nil, "report_min_cell", String(p.minimumCell))
        row(nil, "report_suppression", p.suppression ? "on" : "off")
        row(nil, "report_perturbation", p.suppression && p.perturbation ? "cell-key, at most \(r.perturbationMaximum)" : "off")
        row(nil, "report_checksum", "sha256:\(checksum)")
        for g in [r.total] + r.groups {
            let k = g.key
            let figures: [(String, Figure)] = [
                ("patients", g.patients), ("administrations", g.administrations), ("person_years", g.personYears), ("deaths", g.deaths),
                ("lost_to_follow_up", g.lostToFollowUp), ("withdrawn", g.withdrawn), ("follow_up_expected", g.followUpExpected),
                ("follow_up_completed", g.followUpCompleted), ("follow_up_completeness", g.completeness), ("follow_up_overdue_now", g.overdueNow), ("follow_up_contact_deviations", g.contactDeviations),
            ]
            for (m, f) in figures { row(k, m, f.text) }
            for t in g.timePoints {
                row(k, "follow_up_expected", t.expected.text, at: t.timePoint)
                row(k, "follow_up_completed", t.completed.text, at: t.timePoint)
                row(k, "follow_up_completeness", t.completeness.text, at: t.timePoint)
            }
            for s in g.survival {
                row(k, "at_risk_\(s.years)y", s.atRisk.text)
                row(k, "overall_survival_\(s.years)y", s.estimate.text)
                row(k, "overall_survival_\(s.years)y_ci95_lower", s.lower.text)
                row(k, "overall_survival_\(s.years)y_ci95_upper", s.upper.text)
            }
            row(k, "adverse_events", g.adverseEvents.text)
            for (i, f) in g.byGrade.enumerated() { row(k, "adverse_events_grade_\(i + 1)", f.text) }
            for c in g.byCategory {
                row(k, "adverse_events_\(c.category.rawValue)", c.events.text)
                if let rate = c.per100PersonYears {
                    row(k, "adverse_events_\(c.category.rawValue)_per_100_person_years", rate.text)
                    row(k, "adverse_events_\(c.category.rawValue)_per_100_person_years_ci95_lower", (c.lower ?? .notEstimable).text)
                    row(k, "adverse_events_\(c.category.rawValue)_per_100_person_years_ci95_upper", (c.upper ?? .notEstimable).text)
                }
            }
            row(k, "adverse_events_serious", g.serious.text)
            row(k, "expedited_reports_late", g.expeditedReportsLate.text)
            row(k, "adverse_events_special_interest", g.specialInterest.text)
            row(k, "adverse_events_special_interest_per_100_person_years", g.specialInterestPer100PersonYears.text)
            for m in g.measures {
                row(k, "change_\(m.measure)_n", m.count.text, at: m.timePoint)
                row(k, "change_\(m.measure)_median", m.median.text, at: m.timePoint)
                row(k, "change_\(m.measure)_q1", m.lowerQuartile.text, at: m.timePoint)
                row(k, "change_\(m.measure)_q3", m.upperQuartile.text, at: m.timePoint)
            }
            for (name, fee) in [("notified", g.feesNotified), ("collected", g.feesCollected)] {
                row(k, "fee_\(name)_krw_median", fee.median.text)
                row(k, "fee_\(name)_krw_q1", fee.lowerQuartile.text)
                row(k, "fee_\(name)_krw_q3", fee.upperQuartile.text)
            }
        }
        return out
    }

    /// A CSV field, quoted when it holds a comma, quote or line break.
    static func field(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
