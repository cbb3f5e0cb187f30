import ArgumentParser
import Foundation
import Logging
import RegistryAPI
import RegistryServer
import RegistryDomain
import RegistryStorage
import RegistryWeb
import ServiceLifecycle

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "Run the HTTP API (and optionally the nightly worker) until SIGTERM.", discussion: """
        Serves the web application for people at / (sign in with an account from `registry user add`;
        Korean or English by the browser's language) and, beside it, the API described at
        /openapi.yaml to institutions, regulators and admins holding tokens from `registry token issue`, with /health, /ready and /metrics (Prometheus) for
        operators. Each request runs in one transaction under PostgreSQL row-level security, so an
        institution's token reaches only the patients it holds. The database pool, the HTTP server,
        an audit sealer and (with --with-worker) the nightly worker run in one service group:
        SIGTERM or SIGINT first drains (/ready answers 503 for --drain-seconds while requests are
        still served), then stops accepting connections, finishes the requests in flight, seals the
        audit trail and exits 0. Logs are JSON lines on stdout.

        Examples:
          registry serve
          registry serve --host 0.0.0.0 --port 8080 --with-worker --max-body-bytes 65536
          registry serve --tls --session-idle-minutes 15     (behind an HTTPS proxy)
        """)
    @OptionGroup var global: GlobalOptions
    @Option(help: "Address to listen on.") var host: String = "127.0.0.1"
    @Option(help: "Port to listen on (0: any free port).") var port: Int = 8080
    @Flag(name: .customLong("with-worker"), help: "Also run the nightly job at jobs.nightly-at, as `registry worker` does, on 3 database connections of its own.") var withWorker = false
    @Option(help: "Folder for the worker's worklist digests (default: $REGISTRY_HOME/worklists).") var out: String?
    @Option(name: .customLong("max-body-bytes"), help: "Largest request body accepted (default: $REGISTRY_API_MAX_BODY_BYTES, else 65536); larger ones get 413.")
    var maxBodyBytes: Int?
    @Option(name: .customLong("pool-size"), help: "Database connections for requests, opened at start, kept, and shared out over the event loops (one per core, at least two each); the default is two per core.")
    var poolSize: Int = Self.defaultPoolSize

    /// Two connections per core: more transactions at once only queue inside PostgreSQL for the
    /// same cores and lengthen the slowest requests. On 2 cores with 32 clients (scripts/bench api,
    /// one pool per event loop), 4 connections gave 1,140 visits/s with a p99 of 38.5 ms and 6 gave
    /// 1,157 and 38.4 ms (medians of three runs, back to back); with one shared pool 16 had been
    /// worse than 4 to 6.
    static let defaultPoolSize = 2 * ProcessInfo.processInfo.activeProcessorCount
    @Option(name: .customLong("min-cell"), help: "Smallest count regulators' aggregates and outcome reports show; smaller non-zero counts are suppressed.") var minCell: Int = MinimumCell.defaultK
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.") var logLevel: String = "info"
    @Flag(name: .customLong("tls"), help: "People reach the server over HTTPS (a proxy terminates TLS): session cookies are Secure and pages send HSTS.") var tls = false
    @Option(name: .customLong("session-idle-minutes"), help: "A web session ends after this many minutes without a request (5 to 480).") var sessionIdleMinutes: Int = 30
    @Option(name: .customLong("auth-failures-per-minute"), help: "Unknown tokens one client address may try per minute (and at once) before it gets 429 with Retry-After (1 to 10000); valid tokens are never held up.")
    var authFailuresPerMinute: Int = 30
    @Option(name: .customLong("drain-seconds"), help: "After SIGTERM, keep serving this long with /ready answering 503 (so a load balancer stops sending) before closing idle connections (0 to 60).")
    var drainSeconds: Double = 1
    @Option(name: .customLong("session-hours"), help: "A web session ends this many hours after sign-in, however busy (1 to 24).") var sessionHours: Int = 12

    func run() async throws {
        try await Output.reportingErrors(json: global.json) {
            guard (0...65_535).contains(port) else { throw RegistryError.invalid("port", "\(port) is not a port; allowed: 0 to 65535") }
            guard let level = Logger.Level(rawValue: logLevel) else {
                throw RegistryError.invalid("log-level", "'\(logLevel)' is not a level; allowed: trace, debug, info, notice, warning, error, critical")
            }
            guard (1...500).contains(poolSize) else { throw RegistryError.invalid("pool-size", "\(poolSize) is out of range; allowed: 1 to 500") }
            guard (MinimumCell.floor...MinimumCell.maximum).contains(minCell) else {
                throw RegistryError.invalid("min-cell", "\(minCell) is out of range; allowed: \(MinimumCell.floor) to \(MinimumCell.maximum)")
            }
            var configuration = APIConfiguration()
            configuration.minCell = minCell
            configuration.fhirExportRoot = global.homeURL.appendingPathComponent("exports", isDirectory: true)
            let bodyLimit = maxBodyBytes ?? ProcessInfo.processInfo.environment["REGISTRY_API_MAX_BODY_BYTES"].flatMap(Int.init) ?? configuration.maxBodyBytes
            guard (1_024...16_777_216).contains(bodyLimit) else {
                throw RegistryError.invalid("max-body-bytes", "\(bodyLimit) is out of range; allowed: 1024 to 16777216")
            }
            configuration.maxBodyBytes = bodyLimit
            guard (5...480).contains(sessionIdleMinutes) else {
                throw RegistryError.invalid("session-idle-minutes", "\(sessionIdleMinutes) is out of range; allowed: 5 to 480")
            }
            guard (1...10_000).contains(authFailuresPerMinute) else {
                throw RegistryError.invalid("auth-failures-per-minute", "\(authFailuresPerMinute) is out of range; allowed: 1 to 10000")
            }
            configuration.authFailuresPerMinute = authFailuresPerMinute
            guard (0...60).contains(drainSeconds) else { throw RegistryError.invalid("drain-seconds", "\(drainSeconds) is out of range; allowed: 0 to 60") }
            guard (1...24).contains(sessionHours) else { throw RegistryError.invalid("session-hours", "\(sessionHours) is out of range; allowed: 1 to 24") }
            var web = WebConfiguration()
            web.tls = tls
            web.minCell = minCell
            web.idleTimeout = .seconds(sessionIdleMinutes * 60)
            web.absoluteLimit = .seconds(sessionHours * 3600)

            LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: level) }
            let logger = { var l = Logger(label: "registry.api"); l.logLevel = level; return l }()
            var databaseLogger = Logger(label: "registry.db")
            databaseLogger.logLevel = .warning

            let url = try global.resolveDatabaseURL()
            var server = ServerConfiguration(databaseURL: url, host: host, port: port, poolSize: poolSize, withWorker: withWorker,
                                             worklistRoot: out.map { URL(fileURLWithPath: $0) } ?? global.homeURL.appendingPathComponent("worklists"),
                                             api: configuration, web: web, pseudonymizer: try PseudonymKey.load(home: global.homeURL))
            server.drainDelay = .milliseconds(Int(drainSeconds * 1000))
            let (host, withWorker) = (host, withWorker)
            let group = try await RegistryServer.serviceGroup(server, logger: logger, databaseLogger: databaseLogger) { bound in
                logger.notice("registry API listening", metadata: ["host": "\(host)", "port": "\(bound)", "database": "\(url)", "worker": "\(withWorker)"])
            }
            try await group.run()
            logger.notice("registry API stopped")
        }
    }
}
