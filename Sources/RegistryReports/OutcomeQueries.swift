import Foundation
import Logging
import PostgresNIO
import RegistryDomain

/// The SQL an outcome report is built from, and the compact rows it returns. Everything runs in
/// one REPEATABLE READ transaction, so every figure comes from the same snapshot.
///
/// Patients are grouped by a "cell", one per combination of product, indication, institution and
/// year of their index treatment (first standing administration on or before the as-of date: a voided
/// dose counts for nothing, and a patient with none is not in the report); additive
/// counts come back per cell and are summed into the requested groups in Swift. Changes from
/// baseline come back as counts of each value per cell (a few per cell: scores are whole numbers,
/// indices have two or three decimals) and their quartiles are computed in Swift: `percentile_cont`
/// over the GROUPING SETS would sort the two million or so change rows once per set. Fees, a few
/// hundred thousand rows, take `percentile_cont` over GROUPING SETS of the requested dimensions.
/// Keep in step with scripts/bench-report-bare.sql, the benchmark's bare-SQL baseline.
struct OutcomeData: Sendable {
    struct Cell: Sendable {
        var product: Int
        var indication: String
        var institution: Int
        var year: Int
        /// 1 to 4, or 0 when the report is not broken down by quarter.
        var quarter: Int
    }
    /// Patients of a cell with the same survival time and status.
    struct SurvivalRow: Sendable {
        var cell: Int
        var days: Int
        /// The sum of the patients' record keys (CellKeyPerturbation), modulo 256.
        var cellKey: Int
        /// 0 active, 1 deceased, 2 withdrawn, 3 lost to follow-up (as of the as-of date).
        var status: Int
        var patients: Int
    }
    struct FollowUpRow: Sendable {
        var cell: Int
        var label: String
        var sequence: Int
        var expected: Int
        var completed: Int
        var overdue: Int
        /// Completed by a visit made another way than the time point plans (a protocol deviation).
        var deviations: Int
        /// Record-key sums of the follow-ups behind each count, in the order above.
        var cellKeys: [Int]
    }
    struct AdverseEventRow: Sendable {
        var cell: Int
        var grade: Int
        var category: String
        var serious: Bool
        var late: Bool
        var events: Int
        var cellKey: Int
    }
    /// Dimension values of a GROUPING SETS row (nil: rolled up).
    struct Dims: Sendable, Hashable {
        var product: Int?
        var indication: String?
        var institution: Int?
        var year: Int?
        var quarter: Int?
    }
    struct FeeRow: Sendable {
        var dims: Dims
        var administrations: Int
        var cellKey: Int
        var notified: [Double]
        var collected: [Double]
    }
    /// How many patients of a cell had a given change of a measure at a time point.
    struct MeasureRow: Sendable {
        var cell: Int
        var key: String
        var label: String
        var sequence: Int
        var change: Double
        var count: Int
        var cellKey: Int
    }

    var cells: [Int: Cell] = [:]
    var survival: [SurvivalRow] = []
    var followUps: [FollowUpRow] = []
    var adverseEvents: [AdverseEventRow] = []
    var fees: [FeeRow] = []
    var measures: [MeasureRow] = []
    var productCodes: [Int: String] = [:]
    var institutionCodes: [Int: String] = [:]
    /// Names by code, printed beside the codes.
    var productNames: [String: String] = [:]
    var institutionNames: [String: String] = [:]
    /// The catalogue's measures in the order they were added, with their names: the report's order.
    var measureNames: [(key: String, display: String)] = []
    var schemaVersion = 0
    /// The registry's perturbation of published counts (`report.cell-key-max`).
    var perturbation = CellKeyPerturbation()
    /// The cut as read: its horizon, whether provisional, the snapshot.
    var cut = DataCut.Resolved.now

    /// Filters as ids, resolved from the codes in the parameters.
    struct Filters: Sendable {
        var product: Int?
        var indication: String?
        var institution: Int?
    }


    static func read(_ c: PostgresConnection, parameters p: ReportParameters, logger: Logger) async throws -> OutcomeData {
        var data = OutcomeData()
        // Sorts and hashes stay in memory. Every query reads whole tables, and the planner, misjudging
        // the baseline join (two correlated columns), would pick nested loops over millions of
        // rows. The same settings are in the bare-SQL baseline.
        try await c.query("SET LOCAL work_mem = '128MB'", logger: logger)
        try await c.query("SET LOCAL enable_nestloop = off", logger: logger)
        let t = try await p.cut.resolve(c, logger: logger)
        data.cut = t
        for try await (id, code, name) in try await c.query("SELECT id, code, name FROM \(unescaped: t("product")) product", logger: logger).decode((Int, String, String).self) {
            data.productCodes[id] = code; data.productNames[code] = name
        }
        for try await (id, code, name) in try await c.query("SELECT id, code, name FROM \(unescaped: t("institution")) institution", logger: logger).decode((Int, String, String).self) {
            data.institutionCodes[id] = code; data.institutionNames[code] = name
        }
        for try await (key, display) in try await c.query("SELECT key, display FROM \(unescaped: t("measure_definition")) measure_definition ORDER BY id", logger: logger).decode((String, String).self) {
            data.measureNames.append((key, display))
        }
        var seed: Int64 = 0
        for try await (key, value) in try await c.query("""
            SELECT key, value FROM \(unescaped: t("registry_setting")) s WHERE key IN ('report.cell-key-seed', 'report.cell-key-max')
            """, logger: logger).decode((String, String).self) {
            if key == "report.cell-key-seed" { seed = Int64(value) ?? 0 } else { data.perturbation = try CellKeyPerturbation.parse(value) }
        }
        data.schemaVersion = try await c.query("SELECT coalesce(max(version), 0) FROM schema_migrations", logger: logger)
            .decode(Int32.self).firstElement().map(Int.init) ?? 0
        let filters = Filters(
            product: try p.product.map { code throws -> Int in
                guard let id = data.productCodes.first(where: { $0.value == code })?.key else {
                    throw RegistryError.notFound("product", "no product has code \(code)", remedy: .list(.products))
                }
                return id
            },
            indication: p.indication,
            institution: try p.institution.map { code throws -> Int in
                guard let id = data.institutionCodes.first(where: { $0.value == code })?.key else {
                    throw RegistryError.notFound("institution", "no institution has code \(code)", remedy: .list(.institutions))
                }
                return id
            })
        let asOf = p.asOf
        try await c.query(cohort(asOf: asOf, filters: filters, tables: t, seed: seed, quarters: p.by.contains(.quarter)), logger: logger)
        try await c.query("ANALYZE report_cohort", logger: logger)
        for try await (cell, product, indication, institution, year, quarter) in try await c.query("""
            SELECT cell, product_id, indication, institution_id, year, quarter FROM report_cohort GROUP BY 1, 2, 3, 4, 5, 6
            """, logger: logger).decode((Int32, Int, String, Int, Int32, Int32).self) {
            data.cells[Int(cell)] = Cell(product: product, indication: indication, institution: institution, year: Int(year), quarter: Int(quarter))
        }
        for try await (cell, status, days, n, k) in try await c.query(survivalQuery, logger: logger).decode((Int32, Int16, [Int32], [Int32], [Int32]).self) {
            for i in days.indices {
                data.survival.append(SurvivalRow(cell: Int(cell), days: Int(days[i]), cellKey: Int(k[i]), status: Int(status), patients: Int(n[i])))
            }
        }
        for try await (cell, label, seq, expected, completed, overdue, deviations, keys) in try await c.query(followUpQuery(asOf: asOf, tables: t, seed: seed), logger: logger)
            .decode((Int32, String, Int32, Int32, Int32, Int32, Int32, [Int32]).self) {
            data.followUps.append(FollowUpRow(cell: Int(cell), label: label, sequence: Int(seq), expected: Int(expected), completed: Int(completed),
                                              overdue: Int(overdue), deviations: Int(deviations), cellKeys: keys.map(Int.init)))
        }
        for try await (cell, grade, category, serious, late, n, k) in try await c.query(adverseEventQuery(asOf: asOf, tables: t, seed: seed), logger: logger)
            .decode((Int32, Int16, String, Bool, Bool, Int32, Int32).self) {
            data.adverseEvents.append(AdverseEventRow(cell: Int(cell), grade: Int(grade), category: category, serious: serious, late: late, events: Int(n), cellKey: Int(k)))
        }
        for try await (product, indication, institution, year, quarter, n, k, notified, collected) in try await c.query(feeQuery(asOf: asOf, by: p.by, tables: t, seed: seed), logger: logger)
            .decode((Int?, String?, Int?, Int32?, Int32?, Int32, Int32?, [Double]?, [Double]?).self) {
            // No administration at all (an empty cut): the total's row has no quartiles.
            data.fees.append(FeeRow(dims: Dims(product: product, indication: indication, institution: institution, year: year.map(Int.init),
                                                quarter: quarter.map(Int.init)),
                                    administrations: Int(n), cellKey: Int(k ?? 0), notified: notified ?? [], collected: collected ?? []))
        }
        for try await (cell, key, label, seq, changes, n, k) in try await c.query(measureQuery(asOf: asOf, tables: t), logger: logger)
            .decode((Int32, String, String, Int32, [Double], [Int32], [Int32]).self) {
            for i in changes.indices {
                data.measures.append(MeasureRow(cell: Int(cell), key: key, label: label, sequence: Int(seq), change: changes[i], count: Int(n[i]), cellKey: Int(k[i])))
            }
        }
        return data
    }

    /// The cohort: each patient's index treatment and baseline visit (the latest unscheduled visit on
    /// the day of the first dose, or screening visit within `VisitRules.screeningWindowDays` before
    /// it), status on the as-of date (from the dated status history, or deceased when any record
    /// says the patient died) and survival time: SurvivalTime.observe's, days from the first dose
    /// to the earliest death (recorded, a visit that says dead, a fatal adverse event) or else to
    /// the last date known alive (a dose, a visit that says alive, an adverse event's onset and
    /// known non-fatal outcome, a withdrawal, being found again), where the patient is censored.
    static func cohort(asOf: LocalDate, filters: Filters, tables t: DataCut.Resolved = .now, seed: Int64 = 0, quarters: Bool = false) -> PostgresQuery {
        """
        CREATE TEMP TABLE report_cohort ON COMMIT DROP AS
        SELECT x.*, dense_rank() OVER (ORDER BY x.product_id, x.indication, x.institution_id, x.year, x.quarter)::int AS cell
        FROM (
            SELECT f.patient_id, f.administration_id, f.first_on, bl.id AS baseline_visit_id, f.product_id, f.indication, f.institution_id,
                   extract(year FROM f.first_on)::int AS year, \(unescaped: quarters ? "extract(quarter FROM f.first_on)::int" : "0") AS quarter,
                   \(unescaped: recordKey("f.patient_id", seed)) AS pkey,
                   CASE WHEN d.death_on IS NOT NULL THEN 'deceased' ELSE coalesce(patient_status_after(s.kind), 'active') END AS status,
                   greatest(0, coalesce(d.death_on, greatest(f.last_dose, l.last_alive)) - f.first_on) AS days
            FROM (SELECT DISTINCT ON (a.patient_id) a.patient_id, a.id AS administration_id, a.administered_on AS first_on,
                         max(a.administered_on) OVER (PARTITION BY a.patient_id) AS last_dose,
                         pl.product_id, pl.indication, a.institution_id
                  FROM \(unescaped: t("administration")) a JOIN \(unescaped: t("treatment_plan")) pl ON pl.id = a.plan_id
                  WHERE a.administered_on <= \(asOf) AND a.voided_on IS NULL
                  ORDER BY a.patient_id, a.administered_on, a.id) f
            LEFT JOIN (SELECT DISTINCT ON (patient_id) patient_id, kind, effective_on FROM \(unescaped: t("patient_status_change")) patient_status_change
                       WHERE kind IN ('death', 'withdrawal', 'lost', 'found') AND effective_on <= \(asOf) AND voided_on IS NULL
                       ORDER BY patient_id, effective_on DESC, id DESC) s ON s.patient_id = f.patient_id
            LEFT JOIN (SELECT patient_id, min(on_date) AS death_on FROM (
                           SELECT patient_id, effective_on AS on_date FROM \(unescaped: t("patient_status_change")) patient_status_change
                           WHERE kind = 'death' AND effective_on <= \(asOf) AND voided_on IS NULL
                           UNION ALL SELECT patient_id, visit_on FROM \(unescaped: t("visit")) visit WHERE vital_status = 'dead' AND visit_on <= \(asOf) AND voided_on IS NULL
                           UNION ALL SELECT patient_id, outcome_on FROM \(unescaped: t("adverse_event")) adverse_event
                           WHERE outcome = 'fatal' AND outcome_on <= \(asOf) AND voided_on IS NULL) x
                       GROUP BY patient_id) d ON d.patient_id = f.patient_id
            LEFT JOIN (SELECT patient_id, max(on_date) AS last_alive FROM (
                           SELECT patient_id, visit_on AS on_date FROM \(unescaped: t("visit")) visit WHERE vital_status = 'alive' AND visit_on <= \(asOf) AND voided_on IS NULL
                           UNION ALL SELECT patient_id, onset_on FROM \(unescaped: t("adverse_event")) adverse_event WHERE onset_on <= \(asOf) AND voided_on IS NULL
                           UNION ALL SELECT patient_id, outcome_on FROM \(unescaped: t("adverse_event")) adverse_event
                           WHERE outcome NOT IN ('fatal', 'unknown') AND outcome_on <= \(asOf) AND voided_on IS NULL
                           UNION ALL SELECT patient_id, effective_on FROM \(unescaped: t("patient_status_change")) patient_status_change
                           WHERE kind IN ('withdrawal', 'found') AND effective_on <= \(asOf) AND voided_on IS NULL) y
                       GROUP BY patient_id) l ON l.patient_id = f.patient_id
            LEFT JOIN LATERAL (SELECT bv.id FROM \(unescaped: t("visit")) bv WHERE bv.patient_id = f.patient_id AND bv.follow_up_id IS NULL AND bv.voided_on IS NULL
                               AND bv.visit_on BETWEEN f.first_on - \(VisitRules.screeningWindowDays)::int AND f.first_on
                               AND (bv.screening OR bv.visit_on = f.first_on)
                               ORDER BY bv.visit_on DESC, bv.id LIMIT 1) bl ON true
            WHERE (\(filters.product)::bigint IS NULL OR f.product_id = \(filters.product))
              AND (\(filters.indication)::text IS NULL OR f.indication = \(filters.indication))
              AND (\(filters.institution)::bigint IS NULL OR f.institution_id = \(filters.institution))
        ) x
        """
    }

    /// How many patients of each cell and status have each survival time, as two arrays per cell
    /// and status (a row per time would be two hundred thousand rows to decode one by one).
    static let survivalQuery: PostgresQuery = """
        SELECT cell, status, array_agg(days), array_agg(n), array_agg(k)
        FROM (SELECT cell, (CASE status WHEN 'active' THEN 0 WHEN 'deceased' THEN 1 WHEN 'withdrawn' THEN 2 ELSE 3 END)::int2 AS status,
                     days, count(*)::int AS n, (sum(pkey) % 256)::int AS k
              FROM report_cohort GROUP BY 1, 2, 3) x
        GROUP BY 1, 2
        """

    /// Completeness as CIBMTR counts it, on the state of each follow-up as of the as-of date
    /// (completed, missed or made not required later means still scheduled then): expected are
    /// the follow-ups still required whose window has closed, or that were completed or closed as
    /// not done; overdue is `follow_up_overdue()`, the registry's one definition. Follow-ups withdrawn
    /// with a voided dose count nowhere.
    static func followUpQuery(asOf: LocalDate, tables t: DataCut.Resolved = .now, seed: Int64 = 0) -> PostgresQuery {
        let d = "DATE '\(asOf)'"
        let conditions = [
            "x.st <> 'not-required' AND (x.st = 'completed' OR f.window_end < \(d) OR (x.st = 'not-done' AND f.window_start <= \(d)))",
            "x.st = 'completed'",
            "follow_up_overdue(f.window_end, x.st, c.status, \(d))",
            "x.st = 'completed' AND v.contact_type <> f.contact_type",
        ]
        let counts = conditions.map { "count(*) FILTER (WHERE \($0))::int" }.joined(separator: ",\n       ")
        let keys = conditions.map { "coalesce(sum(h.k) FILTER (WHERE \($0)) % 256, 0)::int" }.joined(separator: ",\n             ")
        return """
            SELECT c.cell, f.label, min(f.seq)::int,
                   \(unescaped: counts),
                   ARRAY[\(unescaped: keys)]
            FROM report_cohort c
            JOIN \(unescaped: t("follow_up")) f ON f.patient_id = c.patient_id
            LEFT JOIN \(unescaped: t("patient_status_change")) s ON s.id = f.suspended_by
            LEFT JOIN \(unescaped: t("visit")) v ON v.follow_up_id = f.id AND v.voided_on IS NULL
            CROSS JOIN LATERAL (SELECT CASE WHEN f.status = 'completed' AND f.completed_on > \(asOf) THEN 'scheduled'
                                            WHEN f.status = 'missed' AND f.missed_on > \(asOf) THEN 'scheduled'
                                            WHEN f.status = 'not-required' AND s.effective_on > \(asOf) THEN 'scheduled'
                                            WHEN f.status = 'not-done' AND f.not_done_on > \(asOf) THEN 'scheduled'
                                            ELSE f.status END AS st) x
            CROSS JOIN LATERAL (SELECT \(unescaped: recordKey("f.id", seed)) AS k) h
            WHERE f.status <> 'voided'
            GROUP BY c.cell, f.label
            """
    }

    /// A record's key (CellKeyPerturbation.recordKey): its id hashed with the registry's seed, 0 to 255.
    static func recordKey(_ id: String, _ seed: Int64) -> String {
        "((hashint8extended(\(id), \(seed)) % 256 + 256) % 256)"
    }

    /// Adverse events the site knew of by the as-of date; late: a serious event's expedited report
    /// not submitted by its due date (the nightly job's definition).
    static func adverseEventQuery(asOf: LocalDate, tables t: DataCut.Resolved = .now, seed: Int64 = 0) -> PostgresQuery {
        """
        SELECT c.cell, e.grade, e.category, e.serious,
               (e.serious AND e.report_due_on < \(asOf) AND (e.report_submitted_on IS NULL OR e.report_submitted_on > e.report_due_on)) AS late,
               count(*)::int, (sum(\(unescaped: recordKey("e.id", seed))) % 256)::int
        FROM report_cohort c JOIN \(unescaped: t("adverse_event")) e ON e.patient_id = c.patient_id
        WHERE e.aware_on <= \(asOf) AND e.voided_on IS NULL
        GROUP BY 1, 2, 3, 4, 5
        """
    }

    /// The columns and GROUPING SETS for the requested breakdown: the cross of `by`, each
    /// dimension alone (when there are two or more), and the total.
    static func groupingSets(_ by: [ReportDimension]) -> (select: String, groupBy: String) {
        func column(_ d: ReportDimension) -> String {
            switch d {
            case .product: return "c.product_id"
            case .indication: return "c.indication"
            case .institution: return "c.institution_id"
            case .year: return "c.year"
            case .quarter: return "c.year * 10 + c.quarter"
            }
        }
        let nulls: [ReportDimension: String] = [.product: "NULL::bigint", .indication: "NULL::text", .institution: "NULL::bigint", .year: "NULL::int",
                                                .quarter: "NULL::int"]
        let select = ReportDimension.allCases.map { by.contains($0) ? column($0) : nulls[$0]! }.joined(separator: ", ")
        var sets = [by]
        if by.count > 1 { sets += by.map { [$0] } }
        if !by.isEmpty { sets.append([]) }
        return (select, sets.map { "(" + $0.map(column).joined(separator: ", ") + ")" }.joined(separator: ", "))
    }

    static func feeQuery(asOf: LocalDate, by: [ReportDimension], tables t: DataCut.Resolved = .now, seed: Int64 = 0) -> PostgresQuery {
        let g = groupingSets(by)
        return """
            SELECT \(unescaped: g.select), count(*)::int, (sum(\(unescaped: recordKey("a.id", seed))) % 256)::int,
                   percentile_cont(ARRAY[0.25, 0.5, 0.75]) WITHIN GROUP (ORDER BY a.fee_notified_krw),
                   percentile_cont(ARRAY[0.25, 0.5, 0.75]) WITHIN GROUP (ORDER BY a.fee_collected_krw)
            FROM report_cohort c JOIN \(unescaped: t("administration")) a ON a.patient_id = c.patient_id
            WHERE a.administered_on <= \(asOf) AND a.voided_on IS NULL
            GROUP BY GROUPING SETS (\(unescaped: g.groupBy))
            """
    }

    /// Change from the baseline visit (screening, or on the day of the first dose) at each time
    /// point of the index treatment's schedule, per measure: how many patients of each cell had
    /// each change, as two arrays per cell, measure and time point. Coded measures (answers such
    /// as CR or PD) have no change to take, and are left out.
    static func measureQuery(asOf: LocalDate, tables t: DataCut.Resolved = .now) -> PostgresQuery {
        """
        SELECT cell, key, label, min(seq)::int, array_agg(change), array_agg(n), array_agg(k)
        FROM (SELECT c.cell, m.key, f.label, min(f.seq) AS seq, (m.value - b.value)::float8 AS change, count(*)::int AS n,
                     (sum(c.pkey) % 256)::int AS k
              FROM report_cohort c
              JOIN \(unescaped: t("visit_measure")) b ON b.visit_id = c.baseline_visit_id
              JOIN \(unescaped: t("measure_definition")) d ON d.key = b.key AND d.answers = '[]'
              JOIN \(unescaped: t("follow_up")) f ON f.administration_id = c.administration_id
              JOIN \(unescaped: t("visit")) v ON v.follow_up_id = f.id AND v.visit_on <= \(asOf) AND v.voided_on IS NULL
              JOIN \(unescaped: t("visit_measure")) m ON m.visit_id = v.id AND m.key = b.key
              GROUP BY c.cell, m.key, f.label, m.value - b.value) x
        GROUP BY 1, 2, 3
        """
    }
}
