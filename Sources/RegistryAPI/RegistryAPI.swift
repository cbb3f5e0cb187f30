import Foundation
import Hummingbird
import Logging
import NIOCore
import RegistryDomain
import RegistryStorage
import Synchronization

/// Settings of the HTTP API that an operator may change.
public struct APIConfiguration: Sendable {
    /// Largest request body accepted; larger ones get 413.
    public var maxBodyBytes: Int = 64 * 1024
    /// Items per page when the client gives no `limit`.
    public var defaultPageSize: Int = 50
    /// The most items per page, whatever `limit` asks for.
    public var maxPageSize: Int = 200
    /// Counts below this (and above zero) are suppressed in regulators' aggregates; they may ask
    /// for a larger one, never a smaller one.
    public var minCell: Int = MinimumCell.defaultK
    /// Largest CSV file `POST /imports/{kind}` takes.
    public var maxImportBytes: Int = 256 << 20
    /// Unknown tokens a client address may try per minute (and at once) before it gets 429.
    public var authFailuresPerMinute: Int = 30
    /// Import files up to this size are answered when done; larger ones get 202 and a status URL.
    public var importSyncBytes: Int = 1 << 20
    /// Where FHIR Bulk Data export jobs write their files (`$REGISTRY_HOME/exports` under `registry serve`; nil: the system's temporary folder).
    public var fhirExportRoot: URL?

    public init() {}
}

/// Whether the server still takes new work (see `RegistryAPI.serving`).
public final class ServingState: Sendable {
    private let draining = Atomic<Bool>(false)
    public init() {}
    /// From now on `/ready` answers 503.
    public func beginDraining() { draining.store(true, ordering: .relaxed) }
    public var isDraining: Bool { draining.load(ordering: .relaxed) }
}

/// The registry's HTTP API: routes over the storage repositories, whose operations do all
/// validation and scoping; this layer authenticates, decodes strictly, runs each request in one
/// transaction under row-level security (`Database.transaction(actor:scope:)`) whose handle the
/// handler passes to the repositories, makes POSTs idempotent and turns refusals into problem documents.
public struct RegistryAPI: Sendable {
    /// The database every request's transaction runs on.
    public let database: Database
    public let pseudonymizer: Pseudonymizer
    public let configuration: APIConfiguration
    let grants = GrantCache()
    let failedAttempts: FailedAttempts
    /// Whether the server is draining before it stops: `/ready` then answers 503, so that a load
    /// balancer sends nothing new while the requests already on the wire are answered.
    public let serving = ServingState()
    /// Imports running in the background (files larger than `importSyncBytes`).
    let importJobs = ImportJobs()

    /// The API over `database`; enrolment derives pseudonyms with `pseudonymizer`.
    public init(database: Database, pseudonymizer: Pseudonymizer, configuration: APIConfiguration = APIConfiguration()) {
        self.database = database
        self.pseudonymizer = pseudonymizer
        self.configuration = configuration
        self.failedAttempts = FailedAttempts(perMinute: configuration.authFailuresPerMinute)
    }

    public typealias Context = APIRequestContext

    /// Every route, behind metrics, request logging, problem documents and (but for the
    /// operational endpoints) token authentication and a role check.
    public func buildRouter() -> Router<Context> {
        let router = Router(context: Context.self)
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: RequestLogMiddleware())
        let problems = ProblemMiddleware()
        router.add(middleware: problems)
        addOperationRoutes(router)
        addFhirRoutes(router)
        router.add(middleware: Authentication(database: database, grants: grants, failures: failedAttempts))
        addInstitutionRoutes(router.group().add(middleware: RequireRole(.institution)))
        addReferenceRoutes(router.group().add(middleware: RequireRole(.institution, .admin, .regulator)))
        addPlanReadRoutes(router.group().add(middleware: RequireRole(.institution, .admin)))
        addImportRoutes(router.group().add(middleware: RequireRole(.institution, .admin)))
        addAdminRoutes(router.group().add(middleware: RequireRole(.admin)))
        addRegulatorRoutes(router.group().add(middleware: RequireRole(.regulator)))
        addReportRoutes(router.group().add(middleware: RequireRole(.regulator, .admin)))
        problems.routes.fill(from: router)
        return router
    }

    // MARK: handler plumbing

    /// Runs a read in the token's scoped transaction.
    func read(_ context: Context, parameters: [String: String] = [:],
              _ body: @Sendable (Transaction, TokenGrant) async throws -> Reply) async throws -> Response {
        let grant = try context.requireGrant()
        do {
            return try await database.transaction(actor: grant.actor, scope: grant.scope) { tx in try await body(tx, grant) }.response()
        } catch let error as RegistryError {
            throw Problem(error, fields: FieldMap(bodyKeys: [], pointers: [:], parameters: parameters))
        }
    }

    /// Runs a write: the body decoded strictly, then `body` in the token's scoped transaction,
    /// once per Idempotency-Key.
    func write<Body: JSONBody>(_ request: Request, _ context: Context, _ type: Body.Type, parameters: [String: String] = [:],
                                  _ body: @escaping @Sendable (Body, Transaction, TokenGrant) async throws -> Reply) async throws -> Response {
        let grant = try context.requireGrant()
        do {
            let key = try Idempotency.key(of: request)
            let (decoded, bytes) = try await BodyDecoder.decode(type, from: request, limit: configuration.maxBodyBytes)
            let hash = key == nil ? [] : Idempotency.hash(of: request, body: bytes)
            return try await Idempotency.perform(key: key, requestHash: hash, grant: grant, database: database) { tx in
                try await body(decoded, tx, grant)
            }.response()
        } catch let error as RegistryError {
            throw Problem(error, fields: FieldMap(bodyKeys: Set(Body.keys), pointers: Body.pointers, parameters: parameters))
        }
    }

    /// Runs a read whose question travels in the body, so that it stays out of URLs and request
    /// logs (a local patient key): the body decoded strictly, no Idempotency-Key (nothing is
    /// written or kept), then `body` in the token's scoped transaction.
    func lookup<Body: JSONBody>(_ request: Request, _ context: Context, _ type: Body.Type,
                                _ body: @escaping @Sendable (Body, Transaction, TokenGrant) async throws -> Reply) async throws -> Response {
        let grant = try context.requireGrant()
        do {
            let (decoded, _) = try await BodyDecoder.decode(type, from: request, limit: configuration.maxBodyBytes)
            return try await database.transaction(actor: grant.actor, scope: grant.scope) { tx in try await body(decoded, tx, grant) }.response()
        } catch let error as RegistryError {
            throw Problem(error, fields: FieldMap(bodyKeys: Set(Body.keys), pointers: Body.pointers, parameters: [:]))
        }
    }

    /// A path parameter holding a record id.
    func id(_ context: Context, _ name: String = "id") throws -> Int {
        guard let text = context.parameters.get(name), let id = Int(text), id > 0 else {
            throw Problem(.invalidParameter, detail: "'\(context.parameters.get(name) ?? "")' is not a record id; ids are positive whole numbers",
                          errors: [.parameter(name, "expected a positive whole number")])
        }
        return id
    }

    /// A path parameter holding a typed record id (`PatientID`, `FollowUpID`, ...).
    func id<Record>(_ context: Context, _ name: String = "id") throws -> Tagged<Record, Int> {
        Tagged(rawValue: try id(context, name) as Int)
    }

    /// The query parameters, refusing any this endpoint does not take.
    func query(_ request: Request, allowed: Set<String>) throws -> [String: String] {
        var out: [String: String] = [:]
        for (key, value) in request.uri.queryParameters {
            let name = String(key)
            guard allowed.contains(name) else {
                throw Problem(.invalidParameter, detail: "'\(name)' is not a parameter of this endpoint; allowed: \(allowed.sorted().joined(separator: ", "))",
                              errors: [.parameter(name, "not a parameter here")])
            }
            guard out[name] == nil else {
                throw Problem(.invalidParameter, detail: "'\(name)' is given twice", errors: [.parameter(name, "give it once")])
            }
            guard !StrictJSON.hasControlCharacter(value) else {
                throw Problem(.invalid, detail: "'\(name)' holds a control character (such as NUL); give plain text",
                              errors: [.parameter(name, "control characters are not allowed")])
            }
            out[name] = String(value)
        }
        return out
    }

    /// `limit`: the page size asked for, at most `maxPageSize`.
    func limit(_ query: [String: String]) throws -> Int {
        guard let text = query["limit"] else { return configuration.defaultPageSize }
        guard let n = Int(text), n >= 1 else {
            throw Problem(.invalidParameter, detail: "limit '\(text)' is not a page size; give a whole number from 1 to \(configuration.maxPageSize)",
                          errors: [.parameter("limit", "expected a whole number from 1 to \(configuration.maxPageSize)")])
        }
        return min(n, configuration.maxPageSize)
    }

    /// A date query parameter.
    func date(_ query: [String: String], _ name: String) throws -> LocalDate? {
        guard let text = query[name] else { return nil }
        do { return try Rules.date(text, field: name) } catch {
            throw Problem(.invalidParameter, detail: error.message, errors: [.parameter(name, error.message)])
        }
    }

    /// One page of `items` fetched with `limit + 1`: the extra one only says there is a next page.
    func page<Item: Encodable & Sendable>(_ items: [Item], limit: Int, cursor: (Item) -> [String]) -> Page<Item> {
        guard items.count > limit else { return Page(items: items, nextCursor: nil) }
        let shown = Array(items.prefix(limit))
        return Page(items: shown, nextCursor: Cursor.encode(cursor(shown[shown.count - 1])))
    }

    /// A `If-Match` header checked against a record's current version, inside the transaction
    /// that holds the record locked. Missing: 428; stale: 412.
    func checkIfMatch<Record>(_ request: Request, record: VersionedRecord, id: Tagged<Record, Int>, name: String, in tx: Transaction) async throws {
        guard let header = request.headers[.ifMatch] else {
            throw Problem(.preconditionRequired, detail: "a correction must say which version of \(name) \(id) it corrects",
                          hint: "GET the record, then send its ETag header back as If-Match")
        }
        guard let current = try await tx.versions.version(of: record, id: id, lock: true) else {
            throw RegistryError.notFound(name, "no \(name) has id \(id)")
        }
        let given = header.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard given.contains("*") || given.contains(Self.etag(current)) else {
            throw Problem(.preconditionFailed, detail: "\(name) \(id) was changed since it was read (ETag now \(Self.etag(current))); nothing was written",
                          hint: "GET it again, check the change, and send the correction with the new ETag")
        }
    }

    /// The ETag of a record version.
    static func etag(_ version: String) -> String { "\"\(version)\"" }

    /// The ETag of what a write transaction inserted or updated.
    static func etag(writtenBy tx: Transaction) -> String? { tx.writtenVersion.map(etag) }

    /// The current ETag of a record, inside the request's transaction.
    func etag<Record>(of record: VersionedRecord, id: Tagged<Record, Int>, in tx: Transaction) async throws -> String? {
        try await tx.versions.version(of: record, id: id).map(Self.etag)
    }
}
