import ArgumentParser
import Foundation
import Logging
import RegistryDomain
import RegistryStorage

/// Options every command takes: where the database is, who is acting, and how to print.
public struct GlobalOptions: ParsableArguments, Sendable {
    @Option(name: .customLong("database-url"), help: ArgumentHelp(
        "PostgreSQL URL (postgres://USER:PASSWORD@HOST:PORT/DB). Default: $REGISTRY_DATABASE_URL, else the embedded database.",
        valueName: "url"))
    public var databaseURL: String?

    @Option(name: .customLong("database"), help: ArgumentHelp("Database name inside the embedded cluster (default: registry; the demo writes registry_demo).", valueName: "name"))
    public var databaseName: String?

    @Option(name: .customLong("home"), help: ArgumentHelp("Registry home: embedded cluster and pseudonym key. Default: $REGISTRY_HOME, else ./.registry.", valueName: "dir"))
    public var home: String?

    @Option(name: .customLong("actor"), help: ArgumentHelp("Who is acting, as the audit trail records it. Default: $REGISTRY_ACTOR, else cli:$USER.", valueName: "name"))
    public var actor: String?

    @Flag(name: .customLong("json"), help: "Print JSON instead of text (errors go to stderr as {\"error\", \"field\"}).")
    public var json = false

    public init() {}

    var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// The registry home folder.
    public var homeURL: URL {
        URL(fileURLWithPath: home ?? environment["REGISTRY_HOME"] ?? ".registry")
    }

    /// The actor name written to the audit trail.
    public var actorName: String {
        actor ?? environment["REGISTRY_ACTOR"] ?? "cli:\(environment["USER"] ?? "\(getuid())")"
    }

    /// The database to use: the given URL, or the embedded cluster (started on demand).
    public func resolveDatabaseURL(database: String? = nil) throws -> DatabaseURL {
        if let text = databaseURL ?? environment["REGISTRY_DATABASE_URL"], !text.isEmpty {
            let url = try DatabaseURL(text)
            return database.map { url.with(database: $0) } ?? url
        }
        let name = database ?? databaseName ?? environment["REGISTRY_DATABASE"] ?? "registry"
        return try EmbeddedCluster(home: homeURL).start(database: name)
    }
}
