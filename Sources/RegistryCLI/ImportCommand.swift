import ArgumentParser
import Foundation
import RegistryDomain
import RegistryImport
import RegistryStorage
import RegistryWeb

struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import", abstract: "Import patients, doses, visits or adverse events from a CSV file, checked row by row as single entries are.",
        discussion: """
        Each kind has its own column layout (docs/import.md; `registry import template KIND` writes an empty file with the headers, \
        in Korean with --lang ko; Korean and English headers are both accepted). Files are UTF-8 with or without a byte-order mark \
        (a spreadsheet's "CSV UTF-8"), lines ending CRLF or LF. Import patients first, then their doses, then visits and adverse events, status changes last.

        Every row is checked by the rules of a single entry, and every problem in the file is reported in one pass, with its line, \
        column and value (--rejects FILE.csv or FILE.json for the whole list). By default a file with any rejected row writes nothing; \
        --accept-valid writes the valid rows and reports the rest; --dry-run writes nothing and reports what would happen. Importing \
        the same file again writes nothing new: rows already in the registry (the same patient; dose date and lot; follow-up and visit \
        date; event term and onset) are counted as unchanged. Exits 1 when any row was rejected.

        Examples:
          registry import template patients --lang ko --out patients.csv
          registry import patients patients.csv --institution ARM-001 --dry-run
          registry import visits visits.csv --as-institution ARM-001 --accept-valid --rejects rejects.csv
        """,
        subcommands: [Patients.self, Administrations.self, Visits.self, AdverseEvents.self, StatusChanges.self, Template.self])

    struct Patients: ImportKindCommand {
        static let configuration = CommandConfiguration(abstract: "Enrol patients from a CSV file (institution, local_id, birth_year, sex, consent_on, consent_version).")
        static let kind = ImportKind.patients
        @OptionGroup var global: GlobalOptions
        @OptionGroup var options: ImportFileOptions
    }

    struct Administrations: ImportKindCommand {
        static let configuration = CommandConfiguration(abstract: "Record doses from a CSV file; each dose's follow-up schedule is generated from its plan's protocol.")
        static let kind = ImportKind.administrations
        @OptionGroup var global: GlobalOptions
        @OptionGroup var options: ImportFileOptions
    }

    struct Visits: ImportKindCommand {
        static let configuration = CommandConfiguration(abstract: "Log visits with their measures (a column per measure key) from a CSV file.")
        static let kind = ImportKind.visits
        @OptionGroup var global: GlobalOptions
        @OptionGroup var options: ImportFileOptions
    }

    struct AdverseEvents: ImportKindCommand {
        static let configuration = CommandConfiguration(commandName: "adverse-events", abstract: "Report adverse events from a CSV file.")
        static let kind = ImportKind.adverseEvents
        @OptionGroup var global: GlobalOptions
        @OptionGroup var options: ImportFileOptions
    }

    struct StatusChanges: ImportKindCommand {
        static let configuration = CommandConfiguration(commandName: "status-changes", abstract: "Record deaths, withdrawals, losses to follow-up and patients found again from a CSV file.")
        static let kind = ImportKind.statusChanges
        @OptionGroup var global: GlobalOptions
        @OptionGroup var options: ImportFileOptions
    }

    struct Template: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write an empty import file of a kind: its header row (visits: with a column per measure of the catalogue).",
                                                        discussion: """
            Example:
              registry import template visits --lang ko --out visits.csv
            """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "patients, administrations, visits, adverse-events or status-changes.") var kind: String
        @Option(help: "The headers' language: en or ko.") var lang: String = "en"
        @Option(help: "Write to this file instead of stdout.") var out: String?

        func run() async throws {
            try await CommandContext.run(global, reach: .site) { ctx in
                var checks = FieldChecks()
                let kind = checks.check { () throws(RegistryError) in try ImportKindCommandSupport.kind(self.kind) }
                if !["en", "ko"].contains(lang) { checks.refuse(.invalid("lang", "'\(lang)' is not a language; allowed: en, ko")) }
                try checks.finish()
                let keys = kind == .visits ? try await ctx.read { tx in try await tx.measures.catalogue() }.definitions.map(\.key) : []
                let text = ImportLayout.template(kind!, korean: lang == "ko", measureKeys: keys)
                if let out {
                    guard FileManager.default.createFile(atPath: out, contents: Data(text.utf8)) else { throw RegistryError.invalid("out", "cannot write to \(out)") }
                    Output.printError("the \(kind!.rawValue) template written to \(out)")
                } else {
                    FileHandle.standardOutput.write(Data(text.utf8))
                }
            }
        }
    }
}

/// The options every import takes.
struct ImportFileOptions: ParsableArguments {
    @Argument(help: "The CSV file.") var file: String
    @Option(help: "The institution the file is for: rows without an institution column take it, rows of another are refused.") var institution: String?
    @Flag(name: .customLong("dry-run"), help: "Check everything and report what would be written; write nothing.") var dryRun = false
    @Flag(name: .customLong("accept-valid"), help: "Write the valid rows even when others are rejected (default: a file with any rejected row writes nothing).")
    var acceptValid = false
    @Option(help: "Write every problem to this file: CSV (line, column, value, code, message, hint), or JSON when it ends in .json.") var rejects: String?
    @Option(help: "The problems' language: en or ko.") var lang: String = "en"
}

protocol ImportKindCommand: AsyncParsableCommand {
    static var kind: ImportKind { get }
    var global: GlobalOptions { get }
    var options: ImportFileOptions { get }
}

enum ImportKindCommandSupport {
    static func kind(_ text: String) throws(RegistryError) -> ImportKind {
        guard let kind = ImportKind(rawValue: text) else {
            throw .invalid("kind", "'\(text)' is not an import kind; allowed: \(ImportKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return kind
    }
}

extension ImportKindCommand {
    func run() async throws {
        let options = self.options, global = self.global
        var failed = false
        try await CommandContext.run(global, reach: .site) { ctx in
            let url = URL(fileURLWithPath: options.file)
            guard FileManager.default.isReadableFile(atPath: url.path) else {
                throw RegistryError.invalid("file", "cannot read \(options.file); check the path and its permissions")
            }
            let institution = try ctx.institution(options.institution)
            guard ["en", "ko"].contains(options.lang) else { throw RegistryError.invalid("lang", "'\(options.lang)' is not a language; allowed: en, ko") }
            let importOptions = ImportOptions(kind: Self.kind, institution: institution, mode: options.acceptValid ? .acceptValid : .allOrNothing,
                                              dryRun: options.dryRun, fileName: url.lastPathComponent)
            let terminal = isatty(STDERR_FILENO) == 1
            var result = try await Importer.run(file: url, options: importOptions, scope: ctx.acting?.code, actor: ctx.actor,
                                                pseudonymizer: try ctx.pseudonymizer(), transaction: { body in try await ctx.write(body) },
                                                progress: { line in if terminal { Output.printError("… \(line.formatted()) lines checked") } })
            if options.lang == "ko" {
                let catalogue = try Catalogue.load()
                result.rejects = result.rejects.map { r in var k = r; k.message = catalogue.refusal(r.message, .ko); return k }
            }
            if let path = options.rejects {
                let data = path.hasSuffix(".json") ? try Output.encoder().encode(result.rejects) : Data(result.rejectsCSV().utf8)
                guard FileManager.default.createFile(atPath: path, contents: data, attributes: [.posixPermissions: 0o600]) else {
                    throw RegistryError.invalid("rejects", "cannot write to \(path)")
                }
            }
            if global.json {
                try Output.printJSON(result)
            } else {
                let shown = 50
                for r in result.rejects.prefix(shown) {
                    let at = [r.column.map { "\($0)" }, r.value.map { "'\($0)'" }].compactMap { $0 }.joined(separator: " ")
                    Output.printError("line \(r.line)\(at.isEmpty ? "" : ", \(at)"): \(r.message)\(r.hint.map { " (\($0))" } ?? "")")
                }
                if result.problems > shown {
                    Output.printError("… and \(result.problems - shown) more problems\(options.rejects == nil ? "; --rejects FILE.csv writes them all" : " in \(options.rejects!)")")
                }
                print(result.summary + String(format: " in %.1f s", result.seconds))
            }
            failed = result.rejectedRows > 0
        }
        if failed { throw ExitCode(1) }
    }
}
