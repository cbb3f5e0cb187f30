import ArgumentParser
import RegistryDomain

/// `registry`: the long-term follow-up registry for advanced regenerative medicine.
public struct RegistryCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "registry",
        abstract: "Long-term follow-up registry for advanced regenerative medicine (Korea's Advanced Regenerative Bio Act).",
        discussion: """
            Every command works on the embedded PostgreSQL under $REGISTRY_HOME (default ./.registry),
            started on demand, unless --database-url or $REGISTRY_DATABASE_URL names another server.
            Add --json to any command for machine-readable output.

            Example:
              registry institution add --code ARM-001 --name "Example University Hospital" --designation D-2025-001 --designated-on 2025-02-21
            """,
        version: RegistryVersion.software,
        subcommands: [
            InstitutionCommand.self, ProductCommand.self, ProtocolCommand.self, MeasureCommand.self, PlanCommand.self, PatientCommand.self,
            AdministerCommand.self, AdministrationCommand.self, TraceCommand.self, FollowUpsCommand.self, FollowUpCommand.self,
            VisitCommand.self, AdverseEventCommand.self, StatusChangeCommand.self, ConfigCommand.self,
            AuditCommand.self, ReportCommand.self, ExportCommand.self, ImportCommand.self, JobsCommand.self, WorkerCommand.self, ServeCommand.self, TokenCommand.self, UserCommand.self, DemoCommand.self,
            MigrateCommand.self, DatabaseCommand.self,
        ]
    )

    public init() {}
}

extension RegistryCommand {
    /// Parses the process arguments and runs the chosen command asynchronously. Spelled out
    /// because overload resolution picks ParsableCommand's synchronous `main` from outside the type.
    public static func runFromCommandLine(_ arguments: [String]? = nil) async {
        do {
            var command = try await asyncParseAsRoot(arguments)
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
