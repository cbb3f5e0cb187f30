import Crypto
import Foundation
import Logging
import PostgresNIO
import RegistryDomain
import RegistryStorage

/// What the synthetic registry should hold.
public struct DemoOptions: Sendable {
    /// Patients to enrol.
    public var patients: Int
    /// The seed: the same seed and as-of date give the same registry.
    public var seed: UInt64
    /// The registry's "today": administrations run from 2020-09 up to it.
    public var asOf: LocalDate
    /// Patients written per transaction.
    public var chunkSize: Int

    public init(patients: Int, seed: UInt64, asOf: LocalDate, chunkSize: Int = 5_000) {
        self.patients = patients; self.seed = seed; self.asOf = asOf; self.chunkSize = chunkSize
    }
}

/// What was written, counted back from the database, and how fast.
public struct DemoSummary: Codable, Sendable {
    public var seed: UInt64
    public var asOf: LocalDate
    public var institutions: Int
    public var products: Int
    public var plansByDecision: [String: Int]
    public var patientsByStatus: [String: Int]
    public var administrations: Int
    public var followUpsByStatus: [String: Int]
    public var followUps: Int
    public var visits: Int
    public var measures: Int
    public var adverseEvents: Int
    public var seriousAdverseEvents: Int
    public var seconds: Double
    /// Wall-clock seconds of phase A (patients, status changes, administrations and follow-ups,
    /// audit trail included), which the follow-up write rate is measured on.
    public var followUpWriteSeconds: Double
    /// Follow-up rows per wall-clock second of phase A.
    public var followUpRowsPerSecond: Double
    /// All rows (patients, administrations, follow-ups) per second of the whole run.
    public var rowsPerSecond: Double
}

/// Builds a realistic synthetic national registry: 141 institutions, products of every class,
/// patients with administrations from 2020-09 to the as-of date, and follow-ups of which most past
/// ones are completed, with per-institution gaps, deaths, withdrawals and losses to follow-up.
public enum DemoRegistry {
    static let earliest = LocalDate(year: 2020, month: 9, day: 1)!
    static let launch = LocalDate(year: 2025, month: 2, day: 21)!

    /// Writes the registry into an empty, migrated database.
    public static func load(into database: Database, options: DemoOptions,
                            progress: @escaping @Sendable (String) -> Void) async throws -> DemoSummary {
        guard options.asOf >= LocalDate(year: 2025, month: 6, day: 1)! else {
            throw RegistryError.invalid("as-of", "the demo needs an as-of date on or after 2025-06-01 (all 141 institutions designated)")
        }
        let started = ContinuousClock.now
        let reference = try await writeReference(database: database, options: options)
        progress("reference data: \(DemoCatalogue.institutionCount) institutions, \(DemoCatalogue.products.count) products, \(reference.plans.count) plans")

        let (protocols, clock, measures) = try await database.read { tx in
            (try await tx.protocols.all(), try await tx.settings.reportClock(), try await tx.measures.catalogue())
        }
        let generator = DemoPatientGenerator(options: options, reference: reference, protocols: protocols, clock: clock, measures: measures)
        let logger = database.logger
        let chunks = stride(from: 1, through: options.patients, by: options.chunkSize).map { $0...min($0 + options.chunkSize - 1, options.patients) }
        let actor = "registry demo", reason = "synthetic demo data (seed \(options.seed))"

        // Phase A: patients, status changes, administrations and follow-ups; its wall-clock time
        // is what the follow-up write rate is measured on, building the indexes again included.
        // The database is the demo's alone (empty when it started), so the secondary indexes of
        // the tables phase A fills are set aside and built once at the end, as pg_restore does.
        let phaseA = ContinuousClock.now
        let deferred = try await DeferredIndexes.setAside(tables: ["patient", "administration", "follow_up", "audit_log"], database: database)
        var followUps = 0, patients = 0, administrations = 0
        do {
            try await writeChunks(chunks, generator: generator, phase: .a) { chunk in
                try await database.transaction(actor: actor, reason: reason) { tx in
                    let c = tx.connection
                    try await chunk.patients.copy(into: "patient", columns: DemoPatientGenerator.patientColumns, on: c, logger: logger)
                    try await chunk.statusChanges.copy(into: "patient_status_change", columns: DemoPatientGenerator.statusChangeColumns, on: c, logger: logger)
                    try await chunk.administrations.copy(into: "administration", columns: DemoPatientGenerator.administrationColumns, on: c, logger: logger)
                    try await chunk.followUps.copy(into: "follow_up", columns: DemoPatientGenerator.followUpColumns, on: c, logger: logger)
                }
            } progress: { chunk in
                patients += chunk.patients.rows; administrations += chunk.administrations.rows; followUps += chunk.followUps.rows
                let seconds = (ContinuousClock.now - phaseA).seconds
                progress("patients \(patients.formatted())/\(options.patients.formatted()), follow-ups \(followUps.formatted()) (\(Int(Double(followUps) / max(seconds, 0.001)).formatted()) follow-up rows/s, \(String(format: "%.1f", seconds)) s)")
            }
        } catch {
            // Leave no table without its indexes, whatever stopped the load.
            do { try await deferred.restore(database: database) } catch let restoreError {
                logger.error("building the indexes set aside failed too", metadata: ["error": "\(DatabaseErrors.summary(restoreError))"])
            }
            throw error
        }
        progress("building \(deferred.definitions.count) indexes set aside for the load")
        try await deferred.restore(database: database)
        let followUpSeconds = (ContinuousClock.now - phaseA).seconds

        // Phase B: visits with their measures, and adverse events, from the same per-patient streams.
        var visits = 0, events = 0
        try await writeChunks(chunks, generator: generator, phase: .b) { chunk in
            try await database.transaction(actor: actor, reason: reason) { tx in
                let c = tx.connection
                try await chunk.visits.copy(into: "visit", columns: DemoPatientGenerator.visitColumns, on: c, logger: logger)
                try await chunk.measures.copy(into: "visit_measure", columns: DemoPatientGenerator.measureColumns, on: c, logger: logger)
                try await chunk.adverseEvents.copy(into: "adverse_event", columns: DemoPatientGenerator.adverseEventColumns, on: c, logger: logger)
            }
        } progress: { chunk in
            visits += chunk.visits.rows; events += chunk.adverseEvents.rows
            progress("visits \(visits.formatted()), adverse events \(events.formatted()) (\(String(format: "%.1f", (ContinuousClock.now - started).seconds)) s)")
        }
        let written = (patients: patients, administrations: administrations, followUps: followUps)
        try await finish(database: database, options: options)
        let seconds = (ContinuousClock.now - started).seconds
        var summary = try await count(database: database, options: options)
        summary.seconds = seconds
        summary.followUpWriteSeconds = followUpSeconds
        summary.followUpRowsPerSecond = Double(written.followUps) / max(followUpSeconds, 0.001)
        summary.rowsPerSecond = Double(written.patients + written.administrations + written.followUps + summary.visits + summary.measures
                                       + summary.adverseEvents) / max(seconds, 0.001)
        return summary
    }

    /// Generates chunks in order (ids run on from chunk to chunk) and writes them with two
    /// transactions in flight, one per core; `progress` sees each chunk once it is committed.
    static func writeChunks(_ chunks: [ClosedRange<Int>], generator: DemoPatientGenerator, phase: DemoPatientGenerator.Phase,
                            write: @escaping @Sendable (DemoPatientGenerator.Chunk) async throws -> Void,
                            progress: (DemoPatientGenerator.Chunk) -> Void) async throws {
        let writers = 2
        try await withThrowingTaskGroup(of: DemoPatientGenerator.Chunk.self) { group in
            var ids = DemoPatientGenerator.NextIDs()
            var inFlight = 0
            for range in chunks {
                let chunk = generator.generate(patients: range, ids: ids, phase: phase)
                ids = chunk.nextIDs
                if inFlight == writers, let done = try await group.next() {
                    progress(done)
                    inFlight -= 1
                }
                group.addTask { try await write(chunk); return chunk }
                inFlight += 1
            }
            for try await done in group { progress(done) }
        }
    }

    // MARK: reference data

    struct Reference: Sendable {
        struct Plan: Sendable {
            var id: Int
            var institution: Int
            var product: Int
            var protocolID: Int
            var approvedOn: LocalDate
            var weight: Double
        }
        var plans: [Plan]
        var approved: [Plan]
        var institutionCodes: [Int: String]
        var diligence: [Int: Double]
    }

    static func writeReference(database: Database, options: DemoOptions, allActive: Bool = false) async throws -> Reference {
        var rng = SeededRandom(seed: options.seed, stream: 0)
        let asOf = options.asOf
        // Institutions: 60 designated early, 112 by the pathway's launch, 141 by May 2025.
        var codes: [String] = [], names: [String] = [], designations: [String] = [], designatedOn: [String] = [], statuses: [String] = []
        var weights: [Int: Double] = [:], diligence: [Int: Double] = [:], designated: [Int: LocalDate] = [:]
        for i in 1...DemoCatalogue.institutionCount {
            let code = String(format: "ARM-%03d", i)
            let on: LocalDate
            switch i {
            case 1...60: on = earliest.adding(days: rng.int(0...300))
            case 61...112: on = LocalDate(year: 2021, month: 7, day: 1)!.adding(days: rng.int(0...(launch.dayNumber - LocalDate(year: 2021, month: 7, day: 1)!.dayNumber)))
            default: on = launch.adding(days: rng.int(1...99))
            }
            codes.append(code)
            names.append("\(DemoCatalogue.cities[(i * 7) % DemoCatalogue.cities.count]) \(DemoCatalogue.kinds[(i * 3) % DemoCatalogue.kinds.count]) \(i)")
            designations.append("D-\(on.year)-\(String(format: "%03d", i))")
            designatedOn.append(min(on, asOf).description)
            statuses.append(allActive ? "active" : i == 137 || i == 139 ? "suspended" : i == 141 ? "revoked" : "active")
            weights[i] = 1 / pow(Double(i), 0.8)  // a few large centres treat most patients
            diligence[i] = 0.84 + 0.15 * rng.unit()
            designated[i] = on
        }
        let protocolIDs = try await database.read { tx in try await tx.protocols.all() }.reduce(into: [FollowUpClass: Int]()) { out, entry in
            if entry.value.version == 1 { out[entry.value.followUpClass] = entry.key }
        }
        var plans: [Reference.Plan] = []
        var planRows: (inst: [Int], prod: [Int], proto: [Int], indication: [String], risk: [String], decision: [String], on: [String?], ref: [String?]) = ([], [], [], [], [], [], [], [])
        var refCounter: [Int: Int] = [:]
        for i in 1...DemoCatalogue.institutionCount {
            var chosen = Set<Int>()
            let count = rng.int(2...6)
            while chosen.count < count {
                // Weighted draw of a product.
                let total = DemoCatalogue.products.map(DemoCatalogue.weight).reduce(0, +)
                var x = rng.unit() * total, pick = 0
                for (k, p) in DemoCatalogue.products.enumerated() { x -= DemoCatalogue.weight(p); if x <= 0 { pick = k; break } }
                chosen.insert(pick)
            }
            for (n, k) in chosen.sorted().enumerated() {
                let spec = DemoCatalogue.products[k]
                let cls = spec.modality.followUpClass!
                let decision: PlanDecision
                let r = rng.unit()
                decision = n == 0 || r < 0.80 ? .approved : r < 0.88 ? .rejected : r < 0.92 ? .withdrawn : .pending
                let risk: RiskClass = cls != .cell ? .high : spec.modality == .stemCell ? (rng.chance(0.5) ? .high : .medium) : (rng.chance(0.5) ? .medium : .low)
                var on: LocalDate? = nil
                if decision != .pending {
                    let start = max(designated[i]!, earliest)
                    on = min(start.adding(days: rng.int(14...200)), asOf.adding(days: -30))
                }
                let year = on?.year ?? asOf.year
                refCounter[year, default: 0] += 1
                planRows.inst.append(i); planRows.prod.append(k + 1); planRows.proto.append(protocolIDs[cls]!)
                planRows.indication.append(spec.indications[rng.int(0...(spec.indications.count - 1))])
                planRows.risk.append(risk.rawValue); planRows.decision.append(decision.rawValue)
                planRows.on.append(on?.description); planRows.ref.append(on.map { _ in "RC-\(year)-\(String(format: "%03d", refCounter[year]!))" })
                let plan = Reference.Plan(id: plans.count + 1, institution: i, product: k + 1, protocolID: protocolIDs[cls]!,
                                          approvedOn: on ?? asOf, weight: weights[i]! * DemoCatalogue.weight(spec))
                plans.append(plan)
            }
        }
        let approved = plans.enumerated().filter { planRows.decision[$0.offset] == "approved" && $0.element.approvedOn < asOf.adding(days: -7) }.map(\.element)
        let specs = DemoCatalogue.products
        try await database.transaction(actor: "registry demo", reason: "synthetic demo data (seed \(options.seed))") { tx in
            let c = tx.connection, logger = database.logger
            try await c.query("""
                INSERT INTO institution (id, code, name, designation_number, designated_on, status)
                SELECT row_number() OVER (), * FROM unnest(\(codes), \(names), \(designations), \(designatedOn)::date[], \(statuses))
                """, logger: logger)
            try await c.query("""
                INSERT INTO product (id, code, name, manufacturer, modality, follow_up_class, follow_up_years)
                SELECT row_number() OVER (), * FROM unnest(\(specs.map(\.code)), \(specs.map(\.name)), \(specs.map(\.manufacturer)),
                    \(specs.map(\.modality.rawValue)), \(specs.map { $0.modality.followUpClass!.rawValue }), \(specs.map { $0.modality.followUpClass!.years }))
                """, logger: logger)
            try await c.query("""
                INSERT INTO treatment_plan (id, institution_id, product_id, protocol_id, indication, risk_class, decision, decided_on, committee_reference)
                SELECT row_number() OVER (), i, p, pr, ind, r, d, nullif(o, '')::date, nullif(ref, '')
                FROM unnest(\(planRows.inst), \(planRows.prod), \(planRows.proto), \(planRows.indication),
                    \(planRows.risk), \(planRows.decision), \(planRows.on.map { $0 ?? "" }), \(planRows.ref.map { $0 ?? "" }))
                    AS x(i, p, pr, ind, r, d, o, ref)
                """, logger: logger)
            try await c.query("""
                INSERT INTO plan_risk_change (plan_id, risk_class, changed_on, reason)
                SELECT id, risk_class, coalesce(decided_on, \(asOf)), 'initial risk class at submission' FROM treatment_plan ORDER BY id
                """, logger: logger)
        }
        return Reference(plans: plans, approved: approved,
                         institutionCodes: Dictionary(uniqueKeysWithValues: codes.enumerated().map { ($0.offset + 1, $0.element) }),
                         diligence: diligence)
    }

    // MARK: the target database

    /// What a database already holds: its patients, and whether an earlier demo wrote them (the
    /// demo writes only into an empty registry or an earlier demo's). A database never migrated holds none.
    public static func existingContent(of database: Database) async throws -> (patients: Int, isDemo: Bool) {
        try await database.read { tx in
            let c = tx.connection, logger = database.logger
            let (hasPatients, hasMeta) = try await c.query("SELECT to_regclass('patient') IS NOT NULL, to_regclass('registry_meta') IS NOT NULL",
                                                           logger: logger).decode((Bool, Bool).self).one("the table check")
            let n = hasPatients ? try await c.query("SELECT count(*) FROM patient", logger: logger).decode(Int.self).one("the patient count") : 0
            let demo = hasMeta ? try await c.query("SELECT count(*) FROM registry_meta WHERE key = 'demo'", logger: logger).decode(Int.self).one("the demo marker") > 0 : false
            return (n, demo)
        }
    }

    // MARK: finishing and counting

    static func finish(database: Database, options: DemoOptions) async throws {
        try await database.transaction(actor: "registry demo") { tx in
            let c = tx.connection, logger = database.logger
            for table in ["institution", "product", "treatment_plan", "plan_risk_change", "patient", "patient_status_change", "administration",
                          "follow_up", "visit", "adverse_event"] {
                try await c.query("SELECT setval(pg_get_serial_sequence(\(table), 'id'), greatest((SELECT max(id) FROM \(unescaped: table)), 1))", logger: logger)
            }
            try await c.query("""
                INSERT INTO registry_meta (key, value) VALUES ('demo', \("seed=\(options.seed) patients=\(options.patients) as-of=\(options.asOf)"))
                ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value
                """, logger: logger)
        }
        try await database.plainTransaction { tx in
            try await tx.connection.query("ANALYZE", logger: database.logger)
        }
    }

    static func count(database: Database, options: DemoOptions) async throws -> DemoSummary {
        try await database.read { tx in
            let c = tx.connection, logger = database.logger
            func grouped(_ sql: String) async throws -> [String: Int] {
                var out: [String: Int] = [:]
                for try await (k, n) in try await c.query(PostgresQuery(unsafeSQL: sql), logger: logger).decode((String, Int).self) { out[k] = n }
                return out
            }
            func scalar(_ sql: String) async throws -> Int {
                try await c.query(PostgresQuery(unsafeSQL: sql), logger: logger).decode(Int.self).firstElement() ?? 0
            }
            let followUps = try await grouped("SELECT status, count(*) FROM follow_up GROUP BY status")
            return DemoSummary(
                seed: options.seed, asOf: options.asOf,
                institutions: try await scalar("SELECT count(*) FROM institution"),
                products: try await scalar("SELECT count(*) FROM product"),
                plansByDecision: try await grouped("SELECT decision, count(*) FROM treatment_plan GROUP BY decision"),
                patientsByStatus: try await grouped("SELECT status, count(*) FROM patient GROUP BY status"),
                administrations: try await scalar("SELECT count(*) FROM administration"),
                followUpsByStatus: followUps, followUps: followUps.values.reduce(0, +),
                visits: try await scalar("SELECT count(*) FROM visit"), measures: try await scalar("SELECT count(*) FROM visit_measure"),
                adverseEvents: try await scalar("SELECT count(*) FROM adverse_event"),
                seriousAdverseEvents: try await scalar("SELECT count(*) FROM adverse_event WHERE serious"),
                seconds: 0, followUpWriteSeconds: 0, followUpRowsPerSecond: 0, rowsPerSecond: 0)
        }
    }
}

extension Duration {
    /// The duration in seconds, as a Double.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
