import Foundation
import Hummingbird
import NIOCore
import RegistryDomain

/// The kinds of problem the API reports, each with a stable type URI, a status and a title.
/// Clients branch on `type`; `title` and `detail` are for the coordinator reading them.
public enum ProblemKind: String, Sendable, CaseIterable {
    case invalid
    case notFound = "not-found"
    case conflict
    case outOfScope = "out-of-scope"
    case unavailable
    case configuration
    case unauthenticated
    case forbidden
    case malformedJSON = "malformed-json"
    case unknownField = "unknown-field"
    case invalidBody = "invalid-body"
    case invalidParameter = "invalid-parameter"
    case bodyTooLarge = "body-too-large"
    case unsupportedMediaType = "unsupported-media-type"
    case preconditionFailed = "precondition-failed"
    case preconditionRequired = "precondition-required"
    case idempotencyKeyReused = "idempotency-key-reused"
    case routeNotFound = "route-not-found"
    case methodNotAllowed = "method-not-allowed"
    case tooManyRequests = "too-many-requests"
    case internalError = "internal"

    /// The stable `type` URI.
    public var type: String { "urn:registry:problem:\(rawValue)" }

    /// The HTTP status this kind is answered with.
    public var status: HTTPResponse.Status {
        switch self {
        case .invalid, .outOfScope, .unknownField, .invalidBody, .idempotencyKeyReused: .unprocessableContent
        case .notFound, .routeNotFound: .notFound
        case .conflict: .conflict
        case .unavailable: .serviceUnavailable
        case .configuration, .internalError: .internalServerError
        case .unauthenticated: .unauthorized
        case .forbidden: .forbidden
        case .malformedJSON, .invalidParameter: .badRequest
        case .bodyTooLarge: .contentTooLarge
        case .unsupportedMediaType: .unsupportedMediaType
        case .preconditionFailed: .preconditionFailed
        case .preconditionRequired: .init(code: 428, reasonPhrase: "Precondition Required")
        case .methodNotAllowed: .methodNotAllowed
        case .tooManyRequests: .tooManyRequests
        }
    }

    /// A short, fixed summary of the kind, for people.
    public var title: String {
        switch self {
        case .invalid: "A value is not allowed"
        case .notFound: "Not found"
        case .conflict: "This contradicts the registry's records"
        case .outOfScope: "Outside the Advanced Regenerative Bio Act"
        case .unavailable: "The registry is unavailable"
        case .configuration: "The registry is not set up correctly"
        case .unauthenticated: "A valid token is required"
        case .forbidden: "This token's role may not do this"
        case .malformedJSON: "The request body is not valid JSON"
        case .unknownField: "The request body has a field this endpoint does not take"
        case .invalidBody: "The request body does not have the expected shape"
        case .invalidParameter: "A path or query parameter is not valid"
        case .bodyTooLarge: "The request body is too large"
        case .unsupportedMediaType: "The request body must be JSON"
        case .preconditionFailed: "The record changed since it was read"
        case .preconditionRequired: "A correction needs the record's ETag in If-Match"
        case .idempotencyKeyReused: "This Idempotency-Key was used for a different request"
        case .routeNotFound: "No such endpoint"
        case .methodNotAllowed: "This endpoint does not take this method"
        case .tooManyRequests: "Too many failed attempts from this address"
        case .internalError: "Unexpected failure"
        }
    }
}

/// An RFC 9457 problem document (`application/problem+json`).
public struct Problem: Error, Sendable, Encodable {
    /// One field or parameter at fault: `pointer` is a JSON Pointer into the request body,
    /// `parameter` names a path or query parameter.
    public struct FieldError: Encodable, Sendable, Equatable {
        public var pointer: String?
        public var parameter: String?
        public var detail: String

        public static func pointer(_ pointer: String, _ detail: String) -> FieldError { .init(pointer: pointer, parameter: nil, detail: detail) }
        public static func parameter(_ name: String, _ detail: String) -> FieldError { .init(pointer: nil, parameter: name, detail: detail) }
    }

    /// What kind of problem (its type URI, status and title).
    public var kind: ProblemKind
    /// This occurrence, in a sentence a coordinator can act on.
    public var detail: String
    /// What to do about it, when there is something to suggest.
    public var hint: String?
    /// The fields or parameters at fault.
    public var errors: [FieldError]
    /// What the refused request would also have changed, for the user to confirm.
    public var consequences: [Consequence] = []
    /// Extra response headers (WWW-Authenticate, Allow).
    var headers: HTTPFields = [:]

    /// A problem of `kind`.
    public init(_ kind: ProblemKind, detail: String, hint: String? = nil, errors: [FieldError] = []) {
        self.kind = kind; self.detail = detail; self.hint = hint; self.errors = errors
        if kind == .unauthenticated { headers[.wwwAuthenticate] = "Bearer realm=\"registry\"" }
    }

    /// A refusal from the registry, with each field at fault turned into a pointer into this
    /// request's body or the name of a path parameter: one entry in `errors` per field error, and
    /// a `detail` that names them all when there are several.
    public init(_ error: RegistryError, fields: FieldMap = FieldMap()) {
        let kind: ProblemKind = switch error.code {
        case .invalid: .invalid
        case .notFound: .notFound
        case .conflict: .conflict
        case .outOfScope: .outOfScope
        case .unavailable: .unavailable
        case .unauthenticated: .unauthenticated
        case .forbidden: .forbidden
        case .configuration: .configuration
        default: .internalError
        }
        var errors: [FieldError] = []
        // A record that is not found is named by the path; its field is no input at fault.
        if kind != .notFound, kind != .unavailable, kind != .configuration {
            errors = error.all.compactMap { e in e.field.map { fields.locate($0, e.message) } }
        }
        self.init(kind, detail: Self.detail(error, errors), hint: Self.hint(error), errors: errors)
        if case .confirm(let consequences)? = error.remedy { self.consequences = consequences }
    }

    /// The refusal's message, or with several fields at fault a summary naming each
    /// ("3 fields are not allowed: birth_year, sex, consent_on"); each entry of `errors` has its own.
    private static func detail(_ error: RegistryError, _ errors: [FieldError]) -> String {
        var names: [String] = []
        for e in errors {
            let name = e.pointer.map { String($0.dropFirst()) } ?? e.parameter ?? ""
            if !names.contains(name) { names.append(name) }
        }
        guard names.count > 1 else { return error.all.map(\.message).joined(separator: "; ") }
        return "\(names.count) fields are not allowed: \(names.joined(separator: ", "))"
    }

    /// A refusal of a query parameter's value (including a code that names no record):
    /// `invalid-parameter`, naming `parameter`.
    init(parameter: String, _ error: RegistryError) {
        self.init(.invalidParameter, detail: error.message, hint: Self.hint(error), errors: [.parameter(parameter, error.message)])
    }

    /// The refusal's hint as an API client reads it: a remedy this API offers as the request that
    /// takes it; others (commands an operator runs) are not the client's to take, so the plain hint.
    private static func hint(_ error: RegistryError) -> String? {
        switch error.remedy {
        case .correctVisit(let id?): "\(error.hint ?? "correct that visit instead"): PATCH /visits/\(id) with If-Match"
        case .correctReportSubmission(let id): "correct it with PATCH /adverse-events/\(id) (submitted_on) with If-Match"
        case .enrolPatient: "check the key; to enrol the patient, POST /patients"
        case .markDistinct(let id): "if it is the same event, correct it with PATCH /adverse-events/\(id) and If-Match; if it is a second, separate event, send distinct: true"
        case .recordDeathWithVisit(let patientID):
            "send record_death: true to record the death on the visit's date, or record it first: POST /patients/\(patientID)/status-changes with kind death"
        case .confirm: "nothing was changed; send the same request with confirm: true to apply it with the consequences listed"
        case .voidStatusChange(let id): "void the later change first: POST /status-changes/\(id)/void with If-Match"
        case .correctAdverseEvent(let id): "correct its grade with PATCH /adverse-events/\(id), or void it with POST /adverse-events/\(id)/void (both with If-Match)"
        case .logAsScreening: "if it is a screening visit before the dose, send screening: true to POST /patients/{id}/visits"
        case .list(.measures): "see the measures with GET /measures"
        default: error.hint
        }
    }

    enum CodingKeys: String, CodingKey { case type, title, status, detail, hint, errors, consequences }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind.type, forKey: .type)
        try c.encode(kind.title, forKey: .title)
        try c.encode(Int(kind.status.code), forKey: .status)
        try c.encode(detail, forKey: .detail)
        try c.encodeIfPresent(hint, forKey: .hint)
        if !errors.isEmpty { try c.encode(errors, forKey: .errors) }
        if !consequences.isEmpty { try c.encode(consequences, forKey: .consequences) }
    }

    /// The problem as a response.
    func response() -> Response {
        var headers = self.headers
        headers[.contentType] = "application/problem+json"
        // The registry is unavailable for a moment (the database restarting, the server draining):
        // a client may retry, and is told when.
        if kind == .unavailable, headers[.retryAfter] == nil { headers[.retryAfter] = "2" }
        let data = (try? JSONCoding.encoder.encode(self)) ?? Data()
        return Response(status: kind.status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// Where the fields a refusal names are in one endpoint's request: a body key (snake_case of the
/// command-line option the domain names, unless mapped otherwise) or a path parameter.
public struct FieldMap: Sendable {
    /// The body's keys.
    var bodyKeys: Set<String> = []
    /// Field name -> JSON Pointer, where the body key is not the field's snake_case.
    var pointers: [String: String] = [:]
    /// Field name -> path or query parameter.
    var parameters: [String: String] = [:]

    public init() {}
    init(bodyKeys: Set<String>, pointers: [String: String], parameters: [String: String]) {
        self.bodyKeys = bodyKeys; self.pointers = pointers; self.parameters = parameters
    }

    func locate(_ field: String, _ detail: String) -> Problem.FieldError {
        if let pointer = pointers[field] { return .pointer(pointer, detail) }
        let key = field.replacingOccurrences(of: "-", with: "_")
        let top = String(key.split(separator: "/").first ?? "")
        if bodyKeys.contains(top) { return .pointer("/" + key, detail) }
        if let parameter = parameters[field] { return .parameter(parameter, detail) }
        return .pointer("/" + key, detail)
    }
}

/// The API's JSON: snake_case keys, dates as ISO 8601 (`YYYY-MM-DD` for calendar dates), sorted
/// keys, as the command line's --json prints them.
enum JSONCoding {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static let decoder: JSONDecoder = JSONDecoder()
}
