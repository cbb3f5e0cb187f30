import Foundation
import RegistryDomain

/// The report as canonical JSON: what the checksum is computed over and what regulators read by
/// machine. Suppressed figures are the string "suppressed"; figures not defined are null.
enum ReportJSON {
    static func figure(_ f: Figure) -> CanonicalJSON {
        switch f {
        case .count(let n): return .int(n)
        case .value(let x, let d): return .fixed(x, d)
        case .suppressed: return .string("suppressed")
        case .notEstimable: return .null
        }
    }

    static func optional(_ s: String?) -> CanonicalJSON { s.map { .string($0) } ?? .null }

    static func parameters(_ p: ReportParameters) -> CanonicalJSON {
        .object([
            "as_of": .string(p.asOf.description),
            "by": .array(p.by.map { .string($0.rawValue) }),
            "product": optional(p.product),
            "indication": optional(p.indication),
            "institution": optional(p.institution),
            "min_cell": .int(p.minimumCell),
            "suppression": .bool(p.suppression),
            "perturbation": .bool(p.suppression && p.perturbation),
        ])
    }

    static func group(_ g: GroupFigures, by: [ReportDimension]) -> CanonicalJSON {
        var key: [String: CanonicalJSON] = [:]
        for d in by { key[d.rawValue] = optional(g.key.value(d)) }
        let fee: (FeeFigures) -> CanonicalJSON = { .object(["median": figure($0.median), "q1": figure($0.lowerQuartile), "q3": figure($0.upperQuartile)]) }
        var categories: [String: CanonicalJSON] = [:]
        var special: [String: CanonicalJSON] = [:]
        for c in g.byCategory {
            categories[c.category.rawValue] = figure(c.events)
            if let rate = c.per100PersonYears {
                special[c.category.rawValue] = .object(["events": figure(c.events), "per_100_person_years": figure(rate),
                                                        "per_100_person_years_ci95": .array([figure(c.lower ?? .notEstimable), figure(c.upper ?? .notEstimable)])])
            }
        }
        var grades: [String: CanonicalJSON] = [:]
        for (i, f) in g.byGrade.enumerated() { grades[String(i + 1)] = figure(f) }
        return .object([
            "group": .object(key),
            "patients": figure(g.patients),
            "administrations": figure(g.administrations),
            "person_years": figure(g.personYears),
            "deaths": figure(g.deaths),
            "lost_to_follow_up": figure(g.lostToFollowUp),
            "withdrawn": figure(g.withdrawn),
            "follow_up": .object([
                "expected": figure(g.followUpExpected),
                "completed": figure(g.followUpCompleted),
                "completeness": figure(g.completeness),
                "overdue_now": figure(g.overdueNow),
                "contact_deviations": figure(g.contactDeviations),
                "by_time_point": .array(g.timePoints.map {
                    .object(["time_point": .string($0.timePoint), "expected": figure($0.expected), "completed": figure($0.completed),
                             "completeness": figure($0.completeness)])
                }),
            ]),
            "overall_survival": .array(g.survival.map {
                .object(["years": .int($0.years), "at_risk": figure($0.atRisk), "estimate": figure($0.estimate),
                         "ci95_lower": figure($0.lower), "ci95_upper": figure($0.upper)])
            }),
            "adverse_events": .object([
                "events": figure(g.adverseEvents),
                "by_grade": .object(grades),
                "by_category": .object(categories),
                "serious": figure(g.serious),
                "expedited_reports_late": figure(g.expeditedReportsLate),
                "special_interest": .object([
                    "events": figure(g.specialInterest),
                    "per_100_person_years": figure(g.specialInterestPer100PersonYears),
                    "by_category": .object(special),
                ]),
            ]),
            "outcome_measures": .array(g.measures.map {
                .object(["measure": .string($0.measure), "time_point": .string($0.timePoint), "n": figure($0.count),
                         "median_change": figure($0.median), "q1_change": figure($0.lowerQuartile), "q3_change": figure($0.upperQuartile)])
            }),
            "fees_krw": .object(["notified": fee(g.feesNotified), "collected": fee(g.feesCollected)]),
        ])
    }

    /// The document without its checksum.
    static func document(_ r: OutcomeReportContent) -> [String: CanonicalJSON] {
        [
            "report": .string("outcomes"),
            "title": .string("Long-term follow-up outcomes of advanced regenerative medicine"),
            "as_of": .string(r.parameters.asOf.description),
            "recorded_by": .string(r.recordedBy),
            "horizon": optional(r.horizon),
            "provisional": .bool(r.provisional),
            "registry_version": .string(r.registryVersion),
            "names": .object(["product": .object(r.productNames.mapValues(CanonicalJSON.string)),
                              "institution": .object(r.institutionNames.mapValues(CanonicalJSON.string))]),
            "parameters": parameters(r.parameters),
            "total": group(r.total, by: r.parameters.by),
            "groups": .array(r.groups.map { group($0, by: r.parameters.by) }),
            "survival_curves": .array(r.curves.map { c in
                .object(["product": .string(c.product),
                         "points": .array(c.points.map { .array([.int($0.days), .fixed($0.survival, 4), .fixed($0.lower, 4), .fixed($0.upper, 4)]) })])
            }),
            "suppression": .object([
                "min_cell": .int(r.parameters.minimumCell),
                "applied": .bool(r.parameters.suppression),
                "perturbation": r.parameters.suppression && r.parameters.perturbation
                    ? .object(["method": .string("cell-key"), "max": .int(r.perturbationMaximum)]) : .null,
                "primary_cells": .int(r.primarySuppressed),
                "complementary_cells": .int(r.complementarySuppressed),
            ]),
            "definitions": .object(definitions.mapValues { .string($0) }),
        ]
    }

    /// What the figures mean, carried in the report so it can be read on its own.
    static let definitions: [String: String] = [
        "cohort": "Each patient is counted once, in the group of their first administration on or before the as-of date (product, indication, institution, calendar year); administrations, fees, follow-ups and events are those of the group's patients up to the as-of date. Records voided as entered in error (patients, doses and the follow-ups they scheduled, visits, events, status changes) count nowhere.",
        "completeness": "Completed follow-ups divided by expected ones (CIBMTR): expected are follow-ups still required whose window closed before the as-of date, or that were completed or closed as not done; not-yet-due follow-ups and those no longer required after death, withdrawal or loss are left out.",
        "contact_deviations": "Completed follow-ups whose visit was made another way than the time point plans (e.g. a phone call for an examination): protocol deviations, counted, not hidden.",
        "overdue_now": "Follow-ups whose window closed before the as-of date without data, of active patients (the registry's one definition, follow_up_overdue).",
        "overall_survival": "Kaplan-Meier from the first dose, deaths as events, others censored at the last date known alive; Greenwood variance; 95% interval on the log-log scale; null where no one is still at risk.",
        "death": "The earliest of a death recorded as a status change, a visit recording the patient as dead and an adverse event with a fatal outcome (on its outcome date), on or before the as-of date; such a patient counts as deceased.",
        "last_known_alive": "Where a patient without a death is censored: the latest of a dose, a visit recording the patient alive, an adverse event's onset, its outcome date when the outcome is known and not fatal, a withdrawal and being found again, on or before the as-of date. A visit whose vital status is unknown, a loss to follow-up and a transfer do not count; nor does the date a site learnt of an event.",
        "recorded_by": "A report is defined by its as-of date (what was true) and its recorded-by time (what the registry knew). Records entered, corrected or voided after the recorded-by time are read as the audit trail says they stood then, so a re-pull of the same cut (--cut) gives the same bytes. Without a horizon asked for, it is the time of the latest change the report read.",
        "person_years": "Days from the first dose to death or the last date known alive, summed, divided by 365.25.",
        "special_interest": "Delayed events the FDA's long-term follow-up guidance watches: new malignancy, neurologic, autoimmune or rheumatologic, hematologic, infection; incidence per 100 person-years with its exact (Garwood) Poisson 95% interval.",
        "expedited_reports_late": "Serious events whose expedited report was not submitted by its due date (7 or 15 days from awareness).",
        "outcome_measures": "Change from the baseline visit (the latest screening visit within \(VisitRules.screeningWindowDays) days before the first dose, or the visit on its day) at each time point of the first administration's schedule, for measures with numeric values (coded answers are left out): n, median and quartiles (linear interpolation, as percentile_cont).",
        "fees_krw": "Fee notified and collected per administration, in won: median and quartiles.",
        "perturbation": "With perturbation on, every count is published as the cell-key method (Australian Bureau of Statistics) gives it: the true count plus at most max, read from the records behind it with the registry's secret key, so the same records give the same value in every table and pull, and differencing pulls never gives an exact count. Totals need not equal the sum of their parts. Rates and completeness are computed from the published counts.",
        "suppressed": "Counts from 1 to min_cell - 1, counts hidden so that those cannot be recomputed from totals (complementary), and figures derived from either.",
    ]
}
