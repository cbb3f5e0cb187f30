import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import RegistryDomain
import RegistryReports
import RegistryStorage

/// FHIR's own error body: every failure under /fhir is answered with an OperationOutcome
/// (`application/fhir+json`) carrying the status, the message and the parameter at fault, as the
/// Bulk Data Access IG asks, instead of the rest of the API's problem documents.
struct FhirOutcomeMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let problem as Problem {
            return Self.outcome(problem)
        } catch let error as RegistryError {
            return Self.outcome(Problem(error))
        } catch let error as HTTPError {
            return Self.outcome(Problem(error.status == .notFound ? .routeNotFound : .invalidParameter, detail: error.body ?? "the request is not valid (\(error.status.code))"))
        } catch {
            if let mapped = DatabaseErrors.map(error) as? RegistryError { return Self.outcome(Problem(mapped)) }
            context.logger.error("unexpected failure", metadata: ["error": "\(String(reflecting: error))"])
            return Self.outcome(Problem(.internalError, detail: "the registry failed unexpectedly; the request id in X-Request-Id identifies it in the server's log"))
        }
    }

    /// `problem` as an OperationOutcome response with the problem's status.
    static func outcome(_ problem: Problem) -> Response {
        let code = switch problem.kind {
        case .invalid, .invalidParameter, .invalidBody, .malformedJSON, .unknownField, .bodyTooLarge, .unsupportedMediaType: "invalid"
        case .notFound, .routeNotFound: "not-found"
        case .forbidden: "forbidden"
        case .unauthenticated: "login"
        case .conflict: "conflict"
        case .unavailable: "transient"
        case .internalError, .configuration: "exception"
        default: "processing"
        }
        let expressions = problem.errors.compactMap { $0.parameter ?? $0.pointer }
        let diagnostics = [problem.detail, problem.hint].compactMap { $0 }.joined(separator: "; ")
        var response = FhirRoutes.outcome(severity: "error", code: code, diagnostics: diagnostics, expression: expressions, status: problem.kind.status)
        for field in problem.headers { response.headers.append(field) }
        return response
    }
}

/// Shapes and helpers of the Bulk Data routes.
enum FhirRoutes {
    static let fhirJSON = "application/fhir+json"
    static let ndjson = "application/fhir+ndjson"
    static let progressHeader = HTTPField.Name("X-Progress")!
    static let prefer = HTTPField.Name("Prefer")!
    /// `_outputFormat` values that mean NDJSON.
    static let outputFormats: Set<String> = ["application/fhir+ndjson", "application/ndjson", "ndjson"]
    /// Kick-off parameters -> the refusals' field names.
    static let parameters = ["type": "_type", "since": "_since", "purpose": "purpose", "recipient": "recipient", "institution": "institution",
                             "output-format": "_outputFormat"]
    /// How long a client should wait between polls, in seconds.
    static let retryAfter = "2"

    /// An OperationOutcome response.
    static func outcome(severity: String, code: String, diagnostics: String, expression: [String] = [], status: HTTPResponse.Status) -> Response {
        var issue: [String: Any] = ["severity": severity, "code": code, "diagnostics": diagnostics]
        if !expression.isEmpty { issue["expression"] = expression }
        let body: [String: Any] = ["resourceType": "OperationOutcome", "issue": [issue]]
        let data = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return Response(status: status, headers: [.contentType: fhirJSON, .cacheControl: "no-store"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// The absolute URL of `path` on this server, as the client reached it (`X-Forwarded-Proto`
    /// says https behind a TLS-terminating proxy).
    static func absolute(_ request: Request, _ path: String) -> String {
        let scheme = request.headers[HTTPField.Name("X-Forwarded-Proto")!] == "https" ? "https" : "http"
        let host = request.head.authority ?? "localhost"
        return "\(scheme)://\(host)\(path)"
    }
}

extension RegistryAPI {
    /// Where Bulk Data jobs keep their files: the configured folder (`$REGISTRY_HOME/exports` under
    /// `registry serve`), else one under the system's temporary folder.
    var fhirJobs: FhirExportJobs {
        FhirExportJobs(database: database, root: configuration.fhirExportRoot
                       ?? FileManager.default.temporaryDirectory.appendingPathComponent("registry-fhir-exports", isDirectory: true))
    }

    /// The FHIR R4 Bulk Data Access IG (v2) asynchronous export: kick-off at the system level
    /// (`/fhir/$export`, administrators, with a purpose and recipient) or for one institution's
    /// patients (`/fhir/Group/{institution}/$export`: an institution's own, or any for an
    /// administrator), the status URL to poll and DELETE, and the files, each reachable only with
    /// the token that started the job. Registered before the API's authentication, with its own,
    /// so that every failure, a missing token included, is an OperationOutcome.
    func addFhirRoutes(_ router: Router<Context>) {
        let fhir = router.group("fhir")
            .add(middleware: FhirOutcomeMiddleware())
            .add(middleware: Authentication(database: database, grants: grants, failures: failedAttempts))
            .add(middleware: RequireRole(.institution, .admin))
        fhir.get("$export") { request, context in try await kickOff(request, context, institution: nil) }
        fhir.post("$export") { request, context in try await kickOff(request, context, institution: nil) }
        fhir.get("Group/:institution/$export") { request, context in try await kickOff(request, context, institution: context.parameters.get("institution")) }
        fhir.post("Group/:institution/$export") { request, context in try await kickOff(request, context, institution: context.parameters.get("institution")) }
        fhir.get("bulk-status/:job") { request, context in
            let grant = try context.requireGrant()
            let job = context.parameters.get("job") ?? ""
            switch try await fhirJobs.status(id: job, tokenID: grant.tokenID) {
            case nil:
                throw Problem(.notFound, detail: "no export job \(job) of this token: it was never started with this token, was cancelled, or expired (files are kept \(FhirExportJobs.retentionHours) hours)")
            case .running(let progress)?:
                return Response(status: .accepted, headers: [FhirRoutes.progressHeader: progress ?? "running", .retryAfter: FhirRoutes.retryAfter, .cacheControl: "no-store"])
            case .failed(let message)?:
                return FhirRoutes.outcome(severity: "error", code: "exception", diagnostics: message, status: .internalServerError)
            case .completed(let result, let kickOff)?:
                let manifest = FhirManifest(result, request: kickOff, requiresAccessToken: true) { file in
                    FhirRoutes.absolute(request, "/fhir/bulk-files/\(job)/\(file)")
                }
                return Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                                body: .init(byteBuffer: ByteBuffer(bytes: manifest.json())))
            }
        }
        fhir.delete("bulk-status/:job") { request, context in
            let grant = try context.requireGrant()
            let job = context.parameters.get("job") ?? ""
            guard try await fhirJobs.cancel(id: job, tokenID: grant.tokenID) else {
                throw Problem(.notFound, detail: "no export job \(job) of this token to cancel")
            }
            return FhirRoutes.outcome(severity: "information", code: "informational", diagnostics: "export job \(job) was cancelled and its files deleted", status: .accepted)
        }
        fhir.get("bulk-files/:job/:file") { request, context in
            let grant = try context.requireGrant()
            let job = context.parameters.get("job") ?? "", name = context.parameters.get("file") ?? ""
            guard let url = try await fhirJobs.file(id: job, tokenID: grant.tokenID, name: name) else {
                throw Problem(.notFound, detail: "no file \(name) of a completed export job \(job) of this token")
            }
            let body = try await FileIO().loadFile(path: url.path, context: context)
            return Response(status: .ok, headers: [.contentType: FhirRoutes.ndjson, .cacheControl: "no-store"], body: body)
        }
    }

    /// A kick-off: checks `Prefer: respond-async` and the parameters (query on GET, a FHIR
    /// `Parameters` body on POST), re-checks the token, starts the job and answers 202 with its status URL.
    func kickOff(_ request: Request, _ context: Context, institution: String?) async throws -> Response {
        let grant = try context.requireGrant()
        guard let prefer = request.headers[FhirRoutes.prefer], prefer.lowercased().contains("respond-async") else {
            throw Problem(.invalidParameter, detail: "a Bulk Data export runs asynchronously: send the header Prefer: respond-async",
                          errors: [.parameter("Prefer", "respond-async is required")])
        }
        let given: [String: String]
        if request.method == .post {
            _ = try query(request, allowed: [])
            given = try await fhirParameters(request)
        } else {
            given = try query(request, allowed: ["_type", "_since", "_outputFormat", "purpose", "recipient"])
        }
        // A '+' left unencoded in a query reads as a space.
        if let format = given["_outputFormat"]?.replacingOccurrences(of: " ", with: "+"), !FhirRoutes.outputFormats.contains(format) {
            throw Problem(.invalidParameter, detail: "'\(format)' is not an output format of this server; allowed: \(FhirRoutes.outputFormats.sorted().joined(separator: ", "))",
                          errors: [.parameter("_outputFormat", "only NDJSON")])
        }
        let role: FhirExportRole
        switch grant.role {
        case .admin: role = .admin
        case .institution:
            guard let own = grant.institutionCode, institution != nil else {
                throw Problem(.forbidden, detail: "an institution exports its own patients: use /fhir/Group/\(grant.institutionCode ?? "{institution}")/$export; the system-level export is for administrators")
            }
            role = .institution(own)
        default: throw Problem(.forbidden, detail: "a \(grant.role.rawValue) token may not export patient-level data")
        }
        let exportRequest: FhirExportRequest
        do {
            exportRequest = try FhirExportRequest(types: given["_type"], since: given["_since"], institution: institution, purpose: given["purpose"],
                                                  recipient: given["recipient"], role: role, actor: String(grant.actor.prefix(200)),
                                                  request: FhirRoutes.absolute(request, request.uri.description))
        } catch {
            throw Self.kickOffProblem(error)
        }
        // The token is re-checked as every request's scoped transaction does: one revoked a moment ago starts nothing.
        try await database.transaction(actor: grant.actor, scope: grant.scope) { _ in }
        let job: String
        do {
            job = try await fhirJobs.start(exportRequest, tokenID: grant.tokenID, today: database.today())
        } catch let error as RegistryError where error.code == .notFound {
            throw Problem(.notFound, detail: error.message, errors: [.parameter("institution", error.message)])
        }
        var response = FhirRoutes.outcome(severity: "information", code: "informational",
                                          diagnostics: "export job \(job) started; poll the Content-Location URL", status: .accepted)
        response.headers[.contentLocation] = FhirRoutes.absolute(request, "/fhir/bulk-status/\(job)")
        return response
    }

    /// A refusal of the kick-off's parameters: 400 naming each (403 for another institution's patients).
    static func kickOffProblem(_ error: RegistryError) -> Problem {
        if error.code == .forbidden { return Problem(.forbidden, detail: error.message, errors: [.parameter("institution", error.message)]) }
        let errors = error.all.map { Problem.FieldError.parameter(FhirRoutes.parameters[$0.field ?? ""] ?? ($0.field ?? "query"), $0.message) }
        return Problem(.invalidParameter, detail: error.all.map(\.message).joined(separator: "; "), errors: errors)
    }

    /// A POST kick-off's body: a FHIR `Parameters` resource, each parameter a string-like value
    /// (`_type` may repeat; its values are joined).
    func fhirParameters(_ request: Request) async throws -> [String: String] {
        let buffer = try await request.body.collect(upTo: configuration.maxBodyBytes)
        guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: buffer)) as? [String: Any],
              object["resourceType"] as? String == "Parameters" else {
            throw Problem(.malformedJSON, detail: "a POST kick-off's body is a FHIR Parameters resource: {\"resourceType\": \"Parameters\", \"parameter\": [{\"name\": \"_type\", \"valueString\": \"Patient\"}]}")
        }
        var out: [String: String] = [:]
        for (i, parameter) in ((object["parameter"] as? [[String: Any]]) ?? []).enumerated() {
            guard let name = parameter["name"] as? String, ["_type", "_since", "_outputFormat", "purpose", "recipient"].contains(name) else {
                throw Problem(.invalidParameter, detail: "parameter \(i) (\(parameter["name"] as? String ?? "no name")) is not a parameter of this export; allowed: _type, _since, _outputFormat, purpose, recipient",
                              errors: [.pointer("/parameter/\(i)/name", "not a parameter here")])
            }
            let value = ["valueString", "valueInstant", "valueCode", "valueDateTime"].lazy.compactMap { parameter[$0] as? String }.first
            guard let value else {
                throw Problem(.invalidParameter, detail: "parameter \(name) has no string value (valueString, valueInstant or valueCode)",
                              errors: [.pointer("/parameter/\(i)", "a string value is required")])
            }
            if name == "_type", let earlier = out[name] { out[name] = earlier + "," + value } else if out[name] != nil {
                throw Problem(.invalidParameter, detail: "parameter \(name) is given twice", errors: [.parameter(name, "give it once")])
            } else {
                out[name] = value
            }
        }
        return out
    }
}
