import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import RegistryAPI
import RegistryDomain
import RegistryJobs
import RegistryStorage
import RegistryWeb
import ServiceLifecycle

/// What `registry serve` runs, as settings: where the database is, where to listen, how many
/// connections, whether the nightly worker runs too.
public struct ServerConfiguration: Sendable {
    /// The registry's database.
    public var databaseURL: DatabaseURL
    /// Address and port to listen on (port 0: any free port).
    public var host: String
    public var port: Int
    /// Connections for requests, opened at start and kept, shared out over the event loops.
    public var poolSize: Int
    /// Whether the nightly worker runs in the same process, on connections of its own.
    public var withWorker: Bool
    /// Where the worker writes each night's worklist digests.
    public var worklistRoot: URL
    /// The API's own settings (body limit, page sizes, minimum cell).
    public var api: APIConfiguration
    /// The web application's own settings (TLS, session limits, bcrypt cost).
    public var web: WebConfiguration
    /// Derives enrolled patients' pseudonyms.
    public var pseudonymizer: Pseudonymizer
    /// How long the server keeps serving after SIGTERM, with `/ready` answering 503, before it
    /// closes idle connections and finishes the requests in flight.
    public var drainDelay: Duration = .seconds(1)

    public init(databaseURL: DatabaseURL, host: String, port: Int, poolSize: Int, withWorker: Bool, worklistRoot: URL,
                api: APIConfiguration, web: WebConfiguration = WebConfiguration(), pseudonymizer: Pseudonymizer) {
        self.databaseURL = databaseURL; self.host = host; self.port = port; self.poolSize = poolSize; self.withWorker = withWorker
        self.worklistRoot = worklistRoot; self.api = api; self.web = web; self.pseudonymizer = pseudonymizer
    }
}

/// The server's composition, in one place: the only module that sees the database pools, the
/// audit sealer, the idempotency pruner, the nightly worker and the HTTP application together.
public enum RegistryServer {
    /// The nightly worker's own connections under `withWorker`, besides `poolSize`: a step, the
    /// digest's second read and the heartbeat at once, so a night's minutes of work take none from requests.
    public static let workerConnections = 3

    /// Migrates the database (on a pool of its own), then builds the service group: the request
    /// pools, the sealer, the pruner, the worker when asked for, and the HTTP server, started in
    /// that order and shut down in reverse on SIGTERM or SIGINT (the HTTP server drains first, the
    /// pools close last).
    public static func serviceGroup(_ configuration: ServerConfiguration, logger: Logger, databaseLogger: Logger,
                                    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws -> ServiceGroup {
        let setup = try await Database.open(configuration.databaseURL, logger: databaseLogger)
        do {
            try await Migrator.migrateWithReferenceData(setup)
            await setup.close()
        } catch {
            await setup.close()
            throw error
        }
        APIMetrics.bootstrap()
        // Every connection opened at start and kept: none is set up (with its password exchange)
        // while requests wait, after start or after a quiet spell.
        let database = try await Database.open(configuration.databaseURL, logger: databaseLogger, maxConnections: configuration.poolSize,
                                               minConnections: configuration.poolSize, runsPool: false, perLoop: MultiThreadedEventLoopGroup.singleton)
        let api = RegistryAPI(database: database, pseudonymizer: configuration.pseudonymizer, configuration: configuration.api)
        var services: [any Service] = [database, AuditSealer(database: database, logger: logger), IdempotencyPruner(database: database, logger: logger)]
        if configuration.withWorker {
            let workerDatabase = try await Database.open(configuration.databaseURL, logger: databaseLogger, maxConnections: workerConnections, runsPool: false)
            services.insert(workerDatabase, at: 0)
            services.append(NightlyWorkerService(worker: NightlyWorker(database: workerDatabase, worklistRoot: configuration.worklistRoot) { line in
                logger.notice("worker: \(line)")
            }))
        }
        let web = try RegistryWeb(database: database, pseudonymizer: configuration.pseudonymizer, configuration: configuration.web)
        services.append(DelayedDrain(application(api: api, web: web, host: configuration.host, port: configuration.port, logger: logger,
                                                 onServerRunning: onServerRunning),
                                     delay: configuration.drainDelay, serving: api.serving, logger: logger))
        return ServiceGroup(configuration: .init(services: services.map { .init(service: $0) },
                                                 gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    }
}

extension RegistryServer {
    /// One HTTP server for both front ends: the web application's paths (`/` and `/app/...`) go to
    /// its router, every other path to the API's, each with its own request context.
    public static func application(api: RegistryAPI, web: RegistryWeb, host: String, port: Int, logger: Logger,
                                   onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol & Service {
        let responder = SplitResponder(api: api.buildRouter().buildResponder(), web: web.buildRouter().buildResponder())
        return Application(responder: responder,
                           configuration: .init(address: .hostname(host, port: port), serverName: "registry"),
                           onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
                           logger: logger)
    }
}

/// The context the server makes for each request: only where it came from, so that the front end
/// that takes the request builds its own context from it.
public struct ServerRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    let channel: any Channel
    let sourceLogger: Logger

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
        self.sourceLogger = source.logger
    }

    var source: ApplicationRequestContextSource { ApplicationRequestContextSource(channel: channel, logger: sourceLogger) }
}

/// Sends each request to the web application or to the API by its path.
struct SplitResponder<API: HTTPResponder, Web: HTTPResponder>: HTTPResponder
where API.Context == APIRequestContext, Web.Context == WebContext {
    typealias Context = ServerRequestContext
    let api: API
    let web: Web

    func respond(to request: Request, context: ServerRequestContext) async throws -> Response {
        if RegistryWeb.owns(request.uri.path) {
            return try await web.respond(to: request, context: WebContext(source: context.source))
        }
        return try await api.respond(to: request, context: APIRequestContext(source: context.source))
    }
}

/// Runs the HTTP server so that a graceful shutdown first drains: `/ready` answers 503 at once
/// and everything else is served as before for `delay`, then the server stops accepting, closes
/// idle connections and finishes the requests in flight. Without the delay, a request whose bytes
/// were on the wire but not yet read when SIGTERM came would find its connection closed (reset).
struct DelayedDrain<Inner: Service>: Service {
    let inner: Inner
    let delay: Duration
    let serving: ServingState
    let logger: Logger

    init(_ inner: Inner, delay: Duration, serving: ServingState, logger: Logger) {
        self.inner = inner; self.delay = delay; self.serving = serving; self.logger = logger
    }

    func run() async throws {
        // The server runs in a group of its own, whose shutdown this service triggers late; in a
        // detached task, since a group run inside another follows the outer group's shutdown at once.
        let group = ServiceGroup(configuration: .init(services: [.init(service: inner)], logger: logger))
        let server = Task.detached { try await group.run() }
        try await withThrowingTaskGroup(of: Bool.self) { tasks in
            tasks.addTask {
                try await withTaskCancellationHandler { try await server.value } onCancel: { server.cancel() }
                return true
            }
            tasks.addTask { [serving, delay, logger] in
                do { try await gracefulShutdown() } catch { return false }
                serving.beginDraining()
                logger.notice("draining: /ready answers 503; the server stops accepting after \(delay)")
                try? await Task.sleep(for: delay)
                await group.triggerGracefulShutdown()
                return false
            }
            // The server's end (however it came) ends the wait for a shutdown signal.
            while let serverEnded = try await tasks.next() {
                if serverEnded { tasks.cancelAll() }
            }
        }
    }
}
