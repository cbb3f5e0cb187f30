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

    @Option(name: .customLong("as-institution"), help: ArgumentHelp(
        "Act as this institution: patient commands see and write only its patients, as its API token would. Default: $REGISTRY_INSTITUTION.",
        valueName: "code"))
    public var asInstitution: String?

    @Flag(name: .customLong("json"), help: "Print JSON instead of text (errors go to stderr as {\"error\", \"field\"}).")
    public var json = false

    public init() {}

    var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// The registry home folder.
    public var homeURL: URL {
        URL(fileURLWithPath: home ?? environment["REGISTRY_HOME"] ?? ".registry")
    }

    /// The actor name written to the audit trail: the operating-system user the command runs as,
    /// plus the actor stated with --actor or $REGISTRY_ACTOR (`cli:alice (dr.kim)`), so that a
    /// stated name never hides who ran the command.
    public var actorName: String {
        let os = "cli:" + Self.operatingSystemUser
        guard let stated = (actor ?? environment["REGISTRY_ACTOR"])?.trimmingCharactersInWhitespace(), !stated.isEmpty, stated != os else { return os }
        return "\(os) (\(stated))"
    }

    /// The name of the effective OS user (from the password database, not $USER), else its uid.
    static var operatingSystemUser: String {
        if let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name { return String(cString: name) }
        return String(geteuid())
    }

    /// The institution the command acts for: --as-institution, else $REGISTRY_INSTITUTION; nil for the registry's operator.
    public func actingInstitutionCode() throws(RegistryError) -> String? {
        guard let text = asInstitution ?? environment["REGISTRY_INSTITUTION"], !text.isEmpty else { return nil }
        return try Rules.institutionCode(text, field: "as-institution")
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
