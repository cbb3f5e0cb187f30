import ArgumentParser
import Foundation
import Logging
import RegistryDomain
import RegistryStorage

/// What a command reaches: the patients of one site (and the reference data every site reads),
/// or the whole registry (reports, jobs, the audit trail, tokens, reference data changes).
enum CommandReach: Sendable {
    /// Run as the acting institution when one is set (row-level security, as its API token), else as the operator.
    case site
    /// Run as the registry's operator only: refused while an institution is acting.
    case registry
}

/// The institution a command acts for: its code and id.
struct ActingSite: Sendable {
    var code: String
    var id: Int
}

/// What a command gets to work with: the migrated database, the options, the acting site and the printer.
struct CommandContext: Sendable {
    let options: GlobalOptions
    let database: Database
    /// The institution the command acts for (--as-institution, $REGISTRY_INSTITUTION); nil: the operator.
    let acting: ActingSite?
    var actor: String { options.actorName }
    var today: LocalDate { database.today() }

    /// Runs `body` in one transaction attributed to the command's actor: what it writes, all or
    /// nothing. While an institution acts, under the same row-level security as its API requests.
    func write<Result: Sendable>(_ body: (Transaction) async throws -> Result) async throws -> Result {
        if let acting { return try await database.transaction(actor: actor, actingFor: acting.id, body) }
        return try await database.transaction(actor: actor, body)
    }

    /// Runs `body` in one read-only transaction (scoped as `write` is).
    func read<Result: Sendable>(_ body: (Transaction) async throws -> Result) async throws -> Result {
        if let acting { return try await database.transaction(actor: actor, actingFor: acting.id, readOnly: true, body) }
        return try await database.read(body)
    }

    /// The institution a site listing or enrolment is for: `given` (an --institution option), else
    /// the acting site. While an institution acts, naming another one is refused.
    func institution(_ given: String?, field: String = "institution") throws(RegistryError) -> String? {
        let code = try given.map { text throws(RegistryError) in try Rules.institutionCode(text, field: field) }
        guard let acting else { return code }
        if let code, code != acting.code {
            throw RegistryError(.forbidden, field: field, "acting as \(acting.code), this command sees and writes \(acting.code)'s patients only, not \(code)'s",
                                hint: "drop --\(field), or act as \(code) (--as-institution \(code)) if you work for that site")
        }
        return acting.code
    }

    /// `institution(given)`, required: the command needs an institution, given or acting.
    func requiredInstitution(_ given: String?, field: String = "institution") throws(RegistryError) -> String {
        guard let code = try institution(given, field: field) else {
            throw .invalid(field, "give --\(field) CODE, or act as the institution with --as-institution CODE or $REGISTRY_INSTITUTION")
        }
        return code
    }

    /// Opens the database, applies pending migrations, resolves the acting site, runs `body`,
    /// closes, and turns every error into one line on stderr and a non-zero exit. A `.registry`
    /// command is refused while an institution acts, before anything is opened.
    static func run(_ options: GlobalOptions, reach: CommandReach = .registry, database name: String? = nil, migrate: Bool = true,
                    _ body: (CommandContext) async throws -> Void) async throws {
        try await Output.reportingErrors(json: options.json) {
            let actingCode = try options.actingInstitutionCode()
            if reach == .registry, let actingCode {
                throw RegistryError(.forbidden, field: "as-institution",
                                    "this command acts for the whole registry, not for one institution, and you are acting as \(actingCode)",
                                    hint: "run it as the registry's operator: without --as-institution, with REGISTRY_INSTITUTION unset")
            }
            let url = try options.resolveDatabaseURL(database: name)
            let database = try await Database.open(url, logger: Output.quietLogger)
            do {
                if migrate { try await Migrator.migrateWithReferenceData(database) }
                var acting: ActingSite? = nil
                if let actingCode {
                    let id = try await database.read { tx in try await tx.institutions.id(code: actingCode, field: "as-institution") }
                    acting = ActingSite(code: actingCode, id: id)
                }
                try await body(CommandContext(options: options, database: database, acting: acting))
                // Seal what the command wrote (cheap: only new rows). Best effort: a writer still
                // running elsewhere must not fail a command that succeeded; the next seal catches up.
                do { try await AuditTrail.seal(database, lockTimeout: .seconds(2)) } catch {
                    Output.quietLogger.notice("audit seal after the command failed; the next seal catches up", metadata: ["error": "\(error)"])
                }
                await database.close()
            } catch {
                await database.close()
                throw error
            }
        }
    }

    /// Prints a value as JSON, or as the text `human` returns.
    func emit<T: Encodable>(_ value: T, human: () -> String) throws {
        if options.json { try Output.printJSON(value) } else { print(human()) }
    }

    /// The pseudonym key under the registry home.
    func pseudonymizer() throws -> Pseudonymizer { try PseudonymKey.load(home: options.homeURL) }
}

/// Printing: JSON in snake_case with YYYY-MM-DD dates, errors on stderr.
enum Output {
    static let quietLogger: Logger = {
        var logger = Logger(label: "registry")
        logger.logLevel = .critical
        return logger
    }()

    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    static func printJSON<T: Encodable>(_ value: T) throws {
        let data = try encoder().encode(value)
        FileHandle.standardOutput.write(data)
        FileHandle.standardOutput.write(Data("\n".utf8))
    }

    static func printError(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }

    /// Runs `body`; any error becomes one line on stderr per field at fault (or a JSON object with
    /// `error` and `field`, and `errors`) and exit code 1 for refusals, 3 when the database or
    /// set-up is at fault.
    static func reportingErrors(json: Bool, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error as RegistryError {
            emitError(error, json: json)
            throw ExitCode([.unavailable, .configuration].contains(error.code) ? 3 : 1)
        } catch let exit as ExitCode {
            throw exit
        } catch {
            let mapped = DatabaseErrors.map(error)
            if let registryError = mapped as? RegistryError {
                emitError(registryError, json: json)
                throw ExitCode(registryError.code == .unavailable ? 3 : 1)
            }
            emitError(RegistryError(.unavailable, "unexpected failure: \(DatabaseErrors.summary(error))"), json: json)
            throw ExitCode(3)
        }
    }

    /// A refusal on stderr: `error: FIELD: MESSAGE (HINT)`, one line per field at fault; with
    /// `json`, one object whose `error`, `field` and `hint` are the first field's and whose
    /// `errors` lists every field's.
    static func emitError(_ error: RegistryError, json: Bool) {
        if json {
            struct FieldError: Encodable { var error: String; var field: String?; var hint: String? }
            struct Problem: Encodable {
                var error: String; var field: String?; var code: String; var hint: String?; var consequences: [Consequence]?; var errors: [FieldError]
            }
            var consequences: [Consequence]? = nil
            if case .confirm(let list)? = error.remedy { consequences = list }
            let problem = Problem(error: error.message, field: error.field, code: error.code.rawValue, hint: error.commandLineHint, consequences: consequences,
                                  errors: error.all.map { FieldError(error: $0.message, field: $0.field, hint: $0.commandLineHint) })
            let data = (try? encoder().encode(problem)) ?? Data()
            printError(String(decoding: data, as: UTF8.self))
        } else {
            for line in error.commandLineLines { printError("error: \(line)") }
        }
    }
}

/// Parses values the way every command does, naming the option at fault.
enum Parse {
    static func id(_ text: String, field: String) throws(RegistryError) -> Int {
        guard let id = Int(text), id > 0 else {
            throw .invalid(field, "'\(text)' is not a \(field) id; expected a positive whole number as printed by the command that created it")
        }
        return id
    }

    /// A typed record id (`PatientID`, `FollowUpID`, ...), as `id(_:field:)` reads it.
    static func id<Record>(_ text: String, field: String) throws(RegistryError) -> Tagged<Record, Int> {
        Tagged(rawValue: try id(text, field: field) as Int)
    }
}

/// A plain text table for people.
func table(_ header: [String], _ rows: [[String]]) -> String {
    guard !rows.isEmpty else { return "(none)" }
    let widths = header.indices.map { i in max(header[i].count, rows.map { $0[i].count }.max() ?? 0) }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
            .trimmingCharactersInWhitespace()
    }
    return ([line(header)] + rows.map(line)).joined(separator: "\n")
}
