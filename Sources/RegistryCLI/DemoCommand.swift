import ArgumentParser
import Foundation
import RegistryDemo
import RegistryDomain
import RegistryStorage

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "demo", abstract: "Build a realistic synthetic national registry and print a summary.", discussion: """
        Writes 141 institutions, products of every class, N patients with administrations from
        2020-09 to the as-of date and their follow-ups (most past ones completed, with gaps), using
        COPY. The same seed and as-of date give the same data.

        On the embedded cluster it writes the database registry_demo, made anew each run; look at it
        with e.g. `registry followups list --patient 1 --database registry_demo`. With
        --database-url, the target must be an empty registry or one an earlier demo made.

        With --csv DIR it also writes the registry as the files a site would import (patients,
        administrations, visits, adverse-events and status-changes .csv, with the demo's local
        numbers DEMO-<id>); --reference-only writes only the institutions, products and plans, the
        registry those files import into (`registry import KIND FILE` in that order).

        Examples:
          registry demo
          registry demo --patients 200000 --seed 7
          registry demo --patients 1000 --csv demo-files
          registry demo --reference-only --database-url postgres://localhost/empty
        """)
    @OptionGroup var global: GlobalOptions
    @Option(help: "Patients to enrol.") var patients: Int = 5_000
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Option(name: .customLong("as-of"), help: "The demo's today, YYYY-MM-DD (default: today in Seoul).") var asOf: String?
    @Flag(help: "No progress lines on stderr.") var quiet = false
    @Option(help: "Also write the registry as import files (CSV) into this folder.") var csv: String?
    @Flag(name: .customLong("reference-only"), help: "Write only the institutions, products and plans (what the --csv files import into).")
    var referenceOnly = false

    func run() async throws {
        try await Output.reportingErrors(json: global.json) {
            guard (1...5_000_000).contains(patients) else {
                throw RegistryError.invalid("patients", "\(patients) is out of range; allowed: 1 to 5,000,000")
            }
            let today = try asOf.map { text throws(RegistryError) in try Rules.date(text, field: "as-of") } ?? LocalDate.todayInSeoul()
            let url = try await resetTarget()
            let database = try await Database.open(url, logger: Output.quietLogger, today: { today })
            do {
                try await Migrator.migrateWithReferenceData(database)
                let quiet = self.quiet
                if referenceOnly {
                    try await DemoRegistry.loadReference(into: database, options: DemoOptions(patients: 0, seed: seed, asOf: today))
                    await database.close()
                    print("reference data (institutions, products, plans; seed \(seed), as of \(today)) written to \(url); every institution is active: "
                          + "after importing, set " + DemoRegistry.suspendedOrRevoked.map { "\($0.0) \($0.1)" }.joined(separator: ", ")
                          + " (registry institution status) as the demo has them")
                    return
                }
                let summary = try await DemoRegistry.load(into: database, options: DemoOptions(patients: patients, seed: seed, asOf: today)) { line in
                    if !quiet { Output.printError(line) }
                }
                let sealStart = ContinuousClock.now
                let sealed = try await AuditTrail.seal(database) { p in
                    if !quiet && p.sealed % 1_000_000 == 0 { Output.printError("sealing the audit trail: \(p.sealed.formatted()) of about \(p.idsToSeal.formatted()) rows") }
                }
                if !quiet { Output.printError("audit trail sealed: \(sealed.formatted()) rows in \(String(format: "%.1f", (ContinuousClock.now - sealStart) / .seconds(1))) s") }
                if let csv {
                    let files = try await DemoCSV.write(database: database, to: URL(fileURLWithPath: csv))
                    if !quiet { Output.printError("import files written to \(csv): " + files.map { "\($0.file) (\($0.rows.formatted()) rows)" }.joined(separator: ", ")) }
                }
                await database.close()
                if global.json { try Output.printJSON(summary) } else { print(Self.describe(summary, url: url)) }
            } catch {
                await database.close()
                throw error
            }
        }
    }

    /// The database to write: registry_demo on the embedded cluster, dropped and made anew; or
    /// the given URL if it is empty or was made by an earlier demo.
    private func resetTarget() async throws -> DatabaseURL {
        let explicit = global.databaseURL ?? ProcessInfo.processInfo.environment["REGISTRY_DATABASE_URL"]
        let url = try global.resolveDatabaseURL(database: explicit == nil ? (global.databaseName ?? "registry_demo") : nil)
        let probe = try await Database.open(url, logger: Output.quietLogger)
        let state: (patients: Int, isDemo: Bool)
        do {
            state = try await DemoRegistry.existingContent(of: probe)
            await probe.close()
        } catch {
            await probe.close()
            throw error
        }
        if explicit != nil && state.patients > 0 && !state.isDemo {
            throw RegistryError.conflict("database-url", "\(url) already holds \(state.patients) patients that no demo made; the demo writes only into an empty registry or an earlier demo's",
                                         hint: "point --database-url at an empty database")
        }
        if state.patients == 0 && !state.isDemo { return url }
        // Synthetic data only: the demo's own database is dropped and made anew.
        let admin = try await Database.open(url.with(database: "postgres"), logger: Output.quietLogger)
        do {
            try await admin.recreateDatabase(named: url.database)
            await admin.close()
        } catch {
            await admin.close()
            throw error
        }
        return url
    }

    static func describe(_ s: DemoSummary, url: DatabaseURL) -> String {
        func list(_ d: [String: Int]) -> String { d.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.formatted())" }.joined(separator: ", ") }
        return """
            synthetic registry written to \(url) (seed \(s.seed), as of \(s.asOf))
              institutions     \(s.institutions)
              products         \(s.products)
              plans            \(list(s.plansByDecision))
              patients         \(s.patientsByStatus.values.reduce(0, +).formatted()) (\(list(s.patientsByStatus)))
              administrations  \(s.administrations.formatted())
              follow-ups       \(s.followUps.formatted()) (\(list(s.followUpsByStatus)))
              visits           \(s.visits.formatted()) with \(s.measures.formatted()) measures
              adverse events   \(s.adverseEvents.formatted()) (\(s.seriousAdverseEvents.formatted()) serious)
              time             \(String(format: "%.1f", s.seconds)) s in all; follow-ups written at \(Int(s.followUpRowsPerSecond).formatted()) rows/s (\(s.followUps.formatted()) rows in \(String(format: "%.1f", s.followUpWriteSeconds)) s with patients, administrations and the audit trail); \(Int(s.rowsPerSecond).formatted()) rows/s overall
            """
    }
}
