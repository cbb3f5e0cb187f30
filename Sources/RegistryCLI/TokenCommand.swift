import ArgumentParser
import Foundation
import RegistryDomain
import RegistryStorage

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "token", abstract: "API tokens for `registry serve`: issue, list, revoke.",
                                                    subcommands: [Issue.self, List.self, Revoke.self])

    struct Issue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Issue a token; it is printed once and stored only as a hash.", discussion: """
            Roles: institution (its own patients, read and write; needs --institution), regulator
            (reports and aggregates, no patient rows), admin (institutions, products, plans). Keep the
            token like a password: whoever holds it acts with its role.

            Examples:
              registry token issue --role institution --institution ARM-001 --label "ward system"
              registry token issue --role regulator --label "MFDS reporting"
            """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "institution, regulator or admin.") var role: String
        @Option(help: "The institution an institution token acts for.") var institution: String?
        @Option(help: "What the token is for (shown in lists and the audit trail).") var label: String?

        struct Printed: Encodable { var token: String; var record: AccessToken }

        func run() async throws {
            try await CommandContext.run(global) { ctx in
                let issued = try await ctx.write { tx in try await tx.tokens.issue(try NewAccessToken(role: role, institution: institution, label: label)) }
                try ctx.emit(WithKey(base: issued.token, key: "token", extra: issued.secret)) {
                    """
                    \(issued.secret)
                    token \(issued.token.id) (\(issued.token.role.rawValue)\(issued.token.institutionCode.map { " for \($0)" } ?? "")) issued; it is shown only this once
                    """
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tokens (never the tokens themselves), newest first.", discussion: """
            Example:
              registry token list
            """)
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CommandContext.run(global) { ctx in
                let all = try await ctx.read { tx in try await tx.tokens.all() }
                try ctx.emit(all) {
                    table(["TOKEN", "PREFIX", "ROLE", "INSTITUTION", "LABEL", "CREATED", "REVOKED"],
                          all.map { ["\($0.id)", $0.prefix + "…", $0.role.rawValue, $0.institutionCode ?? "", $0.label ?? "", $0.createdAt, $0.revokedAt ?? ""] })
                }
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token: its requests get 401 from now on.", discussion: """
            Example:
              registry token revoke 3 --reason "ward system replaced"
            """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Token id (from registry token list).") var token: String
        @Option(help: "Why (required, kept in the audit trail).") var reason: String?

        func run() async throws {
            try await CommandContext.run(global) { ctx in
                let revoked = try await ctx.write { tx in try await tx.tokens.revoke(id: try Parse.id(token, field: "token"), reason: try Rules.reason(reason)) }
                try ctx.emit(revoked) { "token \(revoked.id) revoked" }
            }
        }
    }
}
