import ArgumentParser
import Foundation
import RegistryDomain
import RegistryReports
import RegistryStorage

struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Patient-level exports for analysis; every export is recorded with who and why.",
        subcommands: [Wide.self, Fhir.self, Omop.self])

    struct Wide: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The longitudinal registry as one spreadsheet: a row per patient and time point, measures as columns.",
            discussion: """
            One row per patient (by pseudonym) and time point, for every follow-up of every standing dose: the institution and product with their names, the dose's date and lot, the time point, its due date and status, the visit that completed it (date, contact, vital status) and each measure of the catalogue as a column, coded measures with their answer's name in a `_label` column (--lang ko for Korean names). Voided records are left out. UTF-8 CSV (RFC 4180), written as it is read. The export is recorded (report_pull, in the audit trail) with its purpose and checksum.

            Example:
              registry export wide --purpose "statistics for the 2026 annual report" --out registry-wide.csv
              registry export wide --purpose "site audit" --institution ARM-001 --lang ko --out arm-001.csv
            """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "Why the export is made; recorded in the audit trail (required).") var purpose: String
        @Option(help: "Only follow-ups held by this institution (code).") var institution: String?
        @Option(help: "The language of the answers' names: ko or en.") var lang: String = ReportLanguage.en.rawValue
        @Option(help: "Write to this file (created or replaced, mode 0600) instead of stdout.") var out: String?

        func run() async throws {
            try await CommandContext.run(global) { ctx in
                guard let language = ReportLanguage(rawValue: lang) else {
                    throw RegistryError.invalid("lang", "'\(lang)' is not a language; allowed: ko, en")
                }
                let handle: FileHandle
                if let out {
                    guard FileManager.default.createFile(atPath: out, contents: nil, attributes: [.posixPermissions: 0o600]),
                          let h = FileHandle(forWritingAtPath: out) else {
                        throw RegistryError.invalid("out", "cannot write to \(out)")
                    }
                    handle = h
                } else {
                    handle = FileHandle.standardOutput
                }
                let summary = try await WideExport.write(database: ctx.database, purpose: purpose, institution: institution, language: language,
                                                         actor: ctx.actor, today: ctx.today) { handle.write($0) }
                if out != nil { try handle.close() }
                let line = "\(summary.rows) rows of \(summary.patients) patients written to \(out ?? "stdout"); export \(summary.pull) recorded, checksum \(summary.checksum)"
                if out != nil { try ctx.emit(summary) { line } } else {
                    Output.printError(global.json ? String(decoding: try Output.encoder().encode(summary), as: UTF8.self) : line)
                }
            }
        }
    }
}
