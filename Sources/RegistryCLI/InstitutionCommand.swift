import ArgumentParser
import RegistryDomain

struct InstitutionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "institution", abstract: "Designated institutions.",
        subcommands: [Add.self, List.self, SetStatus.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Designate an institution.", discussion: """
            Example:
              registry institution add --code ARM-001 --name "Example University Hospital" --designation D-2025-001 --designated-on 2025-02-21
            """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "Institution code: 2–6 capital letters, a hyphen, 3–5 digits (e.g. ARM-001).") var code: String
        @Option(help: "Institution name.") var name: String
        @Option(help: "Ministry designation number (e.g. D-2025-001).") var designation: String
        @Option(name: .customLong("designated-on"), help: "Date of designation, YYYY-MM-DD.") var designatedOn: String

        func run() async throws {
            try await CommandContext.run(global) { ctx in
                let new = try NewInstitution(code: code, name: name, designationNumber: designation, designatedOn: designatedOn, today: ctx.today)
                let inst = try await ctx.write { tx in try await tx.institutions.add(new) }
                try ctx.emit(inst) { "institution \(inst.code) added (id \(inst.id))" }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List institutions.", discussion: "Example:\n  registry institution list --json")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CommandContext.run(global, reach: .site) { ctx in
                let all = try await ctx.read { tx in try await tx.institutions.all() }
                try ctx.emit(all) {
                    table(["CODE", "NAME", "DESIGNATION", "SINCE", "STATUS"],
                          all.map { [$0.code, $0.name, $0.designationNumber, $0.designatedOn.description, $0.status.rawValue] })
                }
            }
        }
    }

    struct SetStatus: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "set-status", abstract: "Suspend, revoke or reinstate an institution.", discussion: """
            Example:
              registry institution set-status ARM-001 --status suspended --reason "designation suspended by MOHW notice 2025-12"
            """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Institution code.") var code: String
        @Option(help: "active, suspended or revoked.") var status: String
        @Option(help: "Why (kept in the audit trail).") var reason: String

        func run() async throws {
            try await CommandContext.run(global) { ctx in
                let change = try InstitutionStatusChange(status: status, reason: reason)
                let inst = try await ctx.write { tx in try await tx.institutions.setStatus(code: try Rules.institutionCode(code), status: change.status,
                                                                     reason: change.reason) }
                try ctx.emit(inst) { "institution \(inst.code) is now \(inst.status.rawValue)" }
            }
        }
    }
}
