import ArgumentParser
import Foundation
import RegistryDomain
import RegistryStorage

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "user", abstract: "People's accounts for the web application: add, list, disable, reset.",
                                                    subcommands: [Add.self, List.self, Disable.self, Reset.self])

    /// How an account reads in a line: `kim.j (coordinator at ARM-001)`.
    static func describe(_ user: UserAccount) -> String {
        "\(user.username) (\(user.role.rawValue)\(user.institutionCode.map { " at \($0)" } ?? ""))"
    }

    struct Printed: Encodable { var user: UserAccount; var initialPassword: String }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a person's account; prints a one-time password, to be changed at the first sign-in.", discussion: """
            Roles: coordinator (an institution's research coordinator: its patients, read and write;
            needs --institution), regulator (reports and aggregates, no patient rows), admin (reference
            data and accounts). Usernames are 3-32 characters of a-z, 0-9, '.', '_' and '-'. Hand the
            one-time password to the person yourself; it is shown only this once.

            Examples:
              registry user add --username kim.j --role coordinator --institution ARM-001
              registry user add --username lee.mfds --role regulator --json
            """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "The name the person signs in with.") var username: String
        @Option(help: "coordinator, regulator or admin.") var role: String
        @Option(help: "The institution a coordinator works for.") var institution: String?

        func run() async throws {
            try await CommandContext.run(global, reach: .registry) { ctx in
                let new = try NewUser(username: username, role: role, institutionCode: institution)
                let (user, password) = try await ctx.write { tx in try await tx.users.add(new) }
                try ctx.emit(Printed(user: user, initialPassword: password)) {
                    """
                    \(password)
                    account \(UserCommand.describe(user)) added; the one-time password above is shown only this once and must be changed at the first sign-in
                    """
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List accounts, by username.", discussion: """
            Example:
              registry user list
            """)
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CommandContext.run(global, reach: .registry) { ctx in
                let all = try await ctx.read { tx in try await tx.users.list() }
                try ctx.emit(all) {
                    table(["USERNAME", "ROLE", "INSTITUTION", "SECOND FACTOR", "PASSWORD", "CREATED", "DISABLED"],
                          all.map { u in
                              [u.username, u.role.rawValue, u.institutionCode ?? "", u.totpEnabled ? "on" : "off",
                               u.mustChangePassword ? "one-time" : "set", Self.time(u.createdAt), u.disabledAt.map(Self.time) ?? ""]
                          })
                }
            }
        }

        static func time(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable an account: it cannot sign in, and its open sessions end now.", discussion: """
            Example:
              registry user disable --username kim.j --reason "left the hospital"
            """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "The account's username.") var username: String
        @Option(help: "Why (required, kept in the audit trail).") var reason: String?

        func run() async throws {
            try await CommandContext.run(global, reach: .registry) { ctx in
                let reason = try Rules.reason(reason)
                let user = try await ctx.write { tx in try await tx.users.disable(username: username, reason: reason) }
                try ctx.emit(user) { "account \(UserCommand.describe(user)) disabled; its sessions have ended" }
            }
        }
    }

    struct Reset: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Give an account a new one-time password (lifts a lock-out, removes the second factor, ends its sessions).", discussion: """
            The person changes the new one-time password at the next sign-in and sets up the second
            factor again if they used one.

            Example:
              registry user reset --username kim.j
            """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "The account's username.") var username: String

        func run() async throws {
            try await CommandContext.run(global, reach: .registry) { ctx in
                let (user, password) = try await ctx.write { tx in
                    let password = try await tx.users.reset(username: username)
                    guard let user = try await tx.users.user(username: username) else { throw RegistryError.notFound("username", "no account has the username '\(username)'") }
                    return (user, password)
                }
                try ctx.emit(Printed(user: user, initialPassword: password)) {
                    """
                    \(password)
                    account \(UserCommand.describe(user)) reset; the one-time password above is shown only this once and must be changed at the next sign-in
                    """
                }
            }
        }
    }
}
