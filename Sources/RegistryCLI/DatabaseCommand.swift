import ArgumentParser
import Foundation
import RegistryDomain
import RegistryStorage

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "migrate", abstract: "Apply pending schema migrations.", discussion: """
        Applies schema/NNNN_*.sql in order, each in one transaction, recorded with its checksum.
        Other commands do this on their own; run it explicitly when deploying.

        Example:
          registry migrate --database-url postgres://registry@db.internal/registry
        """)
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await Output.reportingErrors(json: global.json) {
            let database = try await Database.open(try global.resolveDatabaseURL(), logger: Output.quietLogger)
            defer { Task { await database.close() } }
            let applied = try await Migrator.migrateWithReferenceData(database)
            await database.close()
            if global.json { try Output.printJSON(applied.map(\.name)) }
            else { print(applied.isEmpty ? "schema is up to date" : "applied: " + applied.map(\.name).joined(separator: ", ")) }
        }
    }
}

struct DatabaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "db", abstract: "The embedded PostgreSQL cluster under $REGISTRY_HOME.",
                                                    subcommands: [Start.self, Stop.self, Status.self, URLCommand.self])

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create (first time) and start the embedded cluster.", discussion: "Example:\n  registry db start")
        @OptionGroup var global: GlobalOptions
        func run() async throws {
            try await Output.reportingErrors(json: global.json) {
                let url = try EmbeddedCluster(home: global.homeURL).start(database: global.databaseName ?? "registry")
                print(global.json ? "{\"status\":\"running\",\"port\":\(url.port)}" : "embedded PostgreSQL running on 127.0.0.1:\(url.port) (\(global.homeURL.path))")
            }
        }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop the embedded cluster.", discussion: "Example:\n  registry db stop")
        @OptionGroup var global: GlobalOptions
        func run() async throws {
            try await Output.reportingErrors(json: global.json) {
                try EmbeddedCluster(home: global.homeURL).stop()
                print(global.json ? "{\"status\":\"stopped\"}" : "embedded PostgreSQL stopped")
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Say whether the embedded cluster exists and runs.", discussion: "Example:\n  registry db status")
        @OptionGroup var global: GlobalOptions
        func run() async throws {
            try await Output.reportingErrors(json: global.json) {
                switch try EmbeddedCluster(home: global.homeURL).state() {
                case .notCreated: print(global.json ? "{\"status\":\"not-created\"}" : "no embedded cluster yet under \(global.homeURL.path)")
                case .stopped: print(global.json ? "{\"status\":\"stopped\"}" : "embedded PostgreSQL stopped")
                case .running(let port): print(global.json ? "{\"status\":\"running\",\"port\":\(port)}" : "embedded PostgreSQL running on 127.0.0.1:\(port)")
                }
            }
        }
    }

    struct URLCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "url", abstract: "Print the embedded database's URL, with its password, for psql.", discussion: "Example:\n  psql \"$(registry db url)\"")
        @OptionGroup var global: GlobalOptions
        func run() async throws {
            try await Output.reportingErrors(json: global.json) {
                print(try EmbeddedCluster(home: global.homeURL).start(database: global.databaseName ?? "registry").urlString)
            }
        }
    }
}
