import ArgumentParser
import Foundation
import RegistryDomain
import RegistryReports
import RegistryStorage

extension ExportCommand {
    struct Omop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The registry as an OMOP CDM 5.4 extract: CSV files, or rows loaded into a CDM schema of another database.",
            discussion: """
            Writes person, observation_period, visit_occurrence, condition_occurrence, drug_exposure (with lot_number), measurement, observation, death, episode, episode_event and cdm_source: patients by pseudonym only, standing records only (voided ones are left out). Registry codes without a standard concept (products, MedDRA, ICD-10, LOINC and registry measure codes) have concept 0 with the code kept as the source value; docs/omop.md gives the mapping field by field.

            With --out, one CSV file per table in the folder (RFC 4180, UTF-8, a header of the CDM's column names, dates YYYY-MM-DD; mode 0600). With --target-database-url, the rows are loaded with COPY into the schema (default cdm) of that database, in one transaction: the schema and tables are created if absent, tables that already hold rows are refused unless --replace, and the primary and foreign keys are added after the load, so an orphan fails it.

            An administrator's tool: the extract is recorded (report_pull, in the audit trail) with its purpose, recipient and checksum.

            Examples:
              registry export omop --purpose "drug safety study 2027-03" --recipient "KIDS pharmacovigilance team" --out omop/
              registry export omop --purpose "network study" --target-database-url postgres://cdm@localhost/cdm --replace
            """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "Why the extract is made; recorded in the audit trail (required).") var purpose: String
        @Option(help: "Whom the extract is for; recorded with it.") var recipient: String?
        @Option(help: "Only the patients this institution holds (code).") var institution: String?
        @Option(help: "Write the CSV files into this folder (created if absent).") var out: String?
        @Option(name: .customLong("target-database-url"), help: "Load into this PostgreSQL database instead (postgres://USER:PASSWORD@HOST:PORT/DB).")
        var targetDatabaseURL: String?
        @Option(help: "The CDM schema in the target database.") var schema: String = "cdm"
        @Flag(help: "Drop and reload CDM tables in the target that already hold rows.") var replace = false
        @Flag(help: "No progress line on stderr.") var quiet = false

        func run() async throws {
            try await CommandContext.run(global) { ctx in
                guard (out == nil) != (targetDatabaseURL == nil) else {
                    throw RegistryError.invalid(out == nil ? "out" : "target-database-url",
                                                "give either a folder for the CSV files or a database to load, not \(out == nil ? "neither" : "both")",
                                                hint: "--out DIR, or --target-database-url URL")
                }
                let request = OmopExport.Request(purpose: purpose, recipient: recipient, institution: institution, actor: ctx.actor, today: ctx.today)
                let showProgress = !quiet && isatty(STDERR_FILENO) == 1
                let progress: @Sendable (OmopExport.Progress) -> Void = { p in
                    guard showProgress else { return }
                    FileHandle.standardError.write(Data("\r\u{1B}[K  OMOP \(p.table): \(p.rows.formatted()) rows\(p.done ? "" : " ...")".utf8))
                }
                let summary: OmopExport.Summary
                do {
                    if let out {
                        summary = try await OmopExport.writeCSV(database: ctx.database, directory: out, request: request, progress: progress)
                    } else {
                        let target = try DatabaseURL(targetDatabaseURL ?? "", field: "target-database-url")
                        summary = try await OmopExport.load(database: ctx.database, target: target, schema: schema, replace: replace,
                                                            request: request, progress: progress)
                    }
                } catch var error as RegistryError where error.field == "target-database-url" && error.hint == OmopExport.replaceHint {
                    error.hint = "add --replace to drop and reload them, or give another --schema"
                    if showProgress { FileHandle.standardError.write(Data("\n".utf8)) }
                    throw error
                }
                if showProgress { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
                try ctx.emit(summary) {
                    "OMOP CDM 5.4 extract to \(summary.target): \(summary.rowsText) rows in \(String(format: "%.1f", summary.seconds)) s; "
                        + "export \(summary.pull) recorded, checksum \(summary.checksum)"
                }
            }
        }
    }
}
