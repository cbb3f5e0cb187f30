import ArgumentParser
import Foundation
import RegistryDomain
import RegistryStorage

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "The tamper-evident audit trail: seal, verify, export.", discussion: """
            Every insert and update is written to the audit trail with who, when, why, and the row
            before and after. Sealing links the rows into a hash chain (every command seals what it
            wrote), so that verify finds any row changed, inserted or removed afterwards, even by
            someone with direct access to the database.
            """,
        subcommands: [Seal.self, Verify.self, Export.self])

    struct Seal: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Link audit rows not yet sealed into the hash chain.", discussion: """
            Commands seal what they wrote on their own; run this after writes made outside the
            registry tool, or to seal a bulk load. It waits for audit-writing transactions still
            running, and is safe to run alongside other writers and other seals.

            Example:
              registry audit seal
            """)
        @OptionGroup var global: GlobalOptions
        @Flag(help: "No progress lines on stderr.") var quiet = false

        struct Sealed: Encodable { var sealed: Int; var sealedThrough: Int; var head: String }

        func run() async throws {
            let quiet = quiet || global.json
            try await CommandContext.run(global) { ctx in
                let sealed = try await AuditTrail.seal(ctx.database) { p in
                    if !quiet && p.sealed % 1_000_000 == 0 {
                        Output.printError("sealing the audit trail: \(p.sealed.formatted()) of about \(p.idsToSeal.formatted()) rows")
                    }
                }
                // Read back the seal the run left, for the head to publish.
                let state = try await AuditTrail.sealState(ctx.database)
                try ctx.emit(Sealed(sealed: sealed, sealedThrough: state.sealedThrough, head: state.head)) {
                    "sealed \(sealed.formatted()) audit rows; the chain now reaches row \(state.sealedThrough), head \(state.head)"
                }
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check every audit row against its hash and the chain.", discussion: """
            Recomputes each row's content hash in the database and the hash chain here, in id
            order, and names the first row that was altered. Exit status 0 when the trail is intact,
            1 when a row was altered. Rows not yet sealed have their content checked only.

            Example:
              registry audit verify
              registry audit verify --json
            """)
        @OptionGroup var global: GlobalOptions

        struct Verified: Encodable {
            var intact: Bool
            var checked: Int
            var unsealed: Int
            var sealedThrough: Int
            var head: String
            var firstAltered: AuditTrail.Break?
            var message: String
        }

        func run() async throws {
            try await CommandContext.run(global) { ctx in
                let result = try await AuditTrail.verify(ctx.database)
                let message = result.firstBreak?.description
                    ?? "\(result.checked.formatted()) rows verified, chain intact (\(result.unsealed.formatted()) not yet sealed)"
                try ctx.emit(Verified(intact: result.intact, checked: result.checked, unsealed: result.unsealed,
                                      sealedThrough: result.sealedThrough, head: result.head, firstAltered: result.firstBreak,
                                      message: message)) { message }
                if !result.intact { throw ExitCode(1) }
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Export the audit trail as CSV or JSON Lines.", discussion: """
            Streams the audit rows in id order with their content and chain hashes (chain_hash is
            empty until the row is sealed). Times are ISO 8601 in Seoul time (+09:00); --since is a
            Seoul calendar date. Filters combine. Writes to stdout unless --out is given; the
            summary line goes to stderr when the rows go to stdout.

            Columns: id, at, actor, action, entity, entity_id, institution_id, patient_id, before,
            after, reason, content_hash, chain_hash.

            Example:
              registry audit export --institution ARM-001 --since 2025-01-01 --format csv --out arm-001-audit.csv
              registry audit export --patient 42 --format jsonl
            """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "Only rows about this institution's records (its code).") var institution: String?
        @Option(help: "Only rows about this patient's records (patient id).") var patient: String?
        @Option(help: "Only rows written on or after this date, YYYY-MM-DD (Seoul).") var since: String?
        @Option(help: "csv or jsonl.") var format: String
        @Option(help: "Write to this file (created or replaced, mode 0600) instead of stdout.") var out: String?

        struct Exported: Encodable { var rows: Int; var out: String; var format: String }

        func run() async throws {
            try await CommandContext.run(global) { ctx in
                let format = try AuditExportFormat(format)
                let filter = AuditExportFilter(
                    institutionCode: try institution.map { code throws(RegistryError) in try Rules.institutionCode(code) },
                    patientID: try patient.map { text throws(RegistryError) in try Parse.id(text, field: "patient") },
                    since: try since.map { text throws(RegistryError) in try Rules.date(text, field: "since") })
                let export = try await AuditExport.prepare(ctx.database, filter: filter)
                let fd: Int32
                if let out {
                    fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
                    guard fd >= 0 else {
                        throw RegistryError.invalid("out", "cannot write to \(out): \(String(cString: strerror(errno)))")
                    }
                } else {
                    fd = STDOUT_FILENO
                }
                let rows: Int
                do {
                    rows = try await export.write(format, to: fd)
                    if out != nil { close(fd) }
                } catch {
                    if out != nil { close(fd) }
                    throw error
                }
                let summary = Exported(rows: rows, out: out ?? "-", format: format.rawValue)
                let line = "exported \(rows.formatted()) audit rows as \(format.rawValue) to \(out ?? "stdout")"
                if out == nil {
                    // stdout holds the rows: the summary must not mix with them.
                    if global.json {
                        Output.printError(String(decoding: try Output.encoder().encode(summary), as: UTF8.self))
                    } else {
                        Output.printError(line)
                    }
                } else {
                    try ctx.emit(summary) { line }
                }
            }
        }
    }
}
