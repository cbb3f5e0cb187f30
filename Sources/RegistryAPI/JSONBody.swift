import Foundation
import Hummingbird
import NIOCore

/// A JSON request body: decoded strictly, so that a misspelt or unexpected field is refused
/// rather than silently ignored. Keys are the `Field` enum's raw values (snake_case).
protocol JSONBody: Decodable, Sendable {
    associatedtype Field: CodingKey & CaseIterable
    /// Keys holding an object, or an array of objects, of another body type: checked too.
    static var nested: [String: any JSONBody.Type] { get }
    /// Refusal fields whose pointer is not `/` + their snake_case (e.g. `measure` -> `/measures`).
    static var pointers: [String: String] { get }
}

extension JSONBody {
    static var nested: [String: any JSONBody.Type] { [:] }
    static var pointers: [String: String] { [:] }
    static var keys: [String] { Field.allCases.map(\.stringValue) }
    static func takes(_ key: String) -> Bool { Field(stringValue: key) != nil }
}

/// An endpoint without a body.
struct NoBody: JSONBody {
    enum Field: String, CodingKey, CaseIterable { case none }
}

enum BodyDecoder {
    /// Reads the body (refusing more than `limit` bytes with 413) and decodes it strictly.
    static func decode<Body: JSONBody>(_ type: Body.Type, from request: Request, limit: Int) async throws -> (Body, ByteBuffer) {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw tooLarge(limit)
        }
        if let contentType = request.headers[.contentType] { try checkMediaType(contentType) }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw tooLarge(limit)
        }
        return (try decode(type, from: Data(buffer.readableBytesView)), buffer)
    }

    /// `application/json` or a `+json` type, in UTF-8: no other media type, no other charset.
    static func checkMediaType(_ header: String) throws {
        let parts = header.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        let type = parts.first ?? ""
        guard type == "application/json" || (type.hasPrefix("application/") && type.hasSuffix("+json")) else {
            throw Problem(.unsupportedMediaType, detail: "the body is \(header); send application/json (UTF-8)")
        }
        for parameter in parts.dropFirst() where parameter.hasPrefix("charset=") {
            let charset = parameter.dropFirst("charset=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            guard charset == "utf-8" || charset == "utf8" else {
                throw Problem(.unsupportedMediaType, detail: "the body's charset is \(charset); JSON bodies are UTF-8 only")
            }
        }
    }

    static func tooLarge(_ limit: Int) -> Problem {
        Problem(.bodyTooLarge, detail: "the body is larger than \(limit) bytes, the most this registry accepts",
                hint: "send one record per request; the limit is set with registry serve --max-body-bytes")
    }

    /// Decodes `data` as `Body` in one parse: unknown fields first (at every level `Body.nested`
    /// describes), then the body itself. (A first pass through JSONSerialization and a walk of its
    /// `[String: Any]` cost more server time than the rest of a visit's decoding.) A body that does
    /// not decode is refused naming every field at fault (`problem(_:decoding:from:)`).
    static func decode<Body: JSONBody>(_ type: Body.Type, from data: Data) throws -> Body {
        if data.starts(with: [0xFE, 0xFF]) || data.starts(with: [0xFF, 0xFE]) || data.starts(with: [0xEF, 0xBB, 0xBF]) {
            throw Problem(.unsupportedMediaType, detail: "the body starts with a byte-order mark; send UTF-8 JSON without one")
        }
        let findings = StrictJSON.scan(data)
        if !findings.isEmpty {
            throw Problem(.invalidBody, detail: findings.map { "\($0.pointer.isEmpty ? "/" : $0.pointer): \($0.detail)" }.joined(separator: "; "),
                          errors: findings.map { .pointer($0.pointer, $0.detail) })
        }
        do {
            return try JSONCoding.decoder.decode(Strict<Body>.self, from: data).body
        } catch let error as DecodingError {
            // Not JSON at all: checked again only on this error path, to tell it from a bad value.
            if case .dataCorrupted(let context) = error, context.codingPath.isEmpty,
               (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) == nil {
                throw Problem(.malformedJSON, detail: data.isEmpty ? "the body is empty; this endpoint takes a JSON object"
                                                                   : "the body could not be read as JSON; check quotes, commas and brackets")
            }
            throw problem(error, decoding: Body.self, from: data)
        }
    }

    /// The most fields one refusal of a body's shape names, and the most decodings spent finding
    /// them (a value given as the wrong kind of object can take several).
    static let maxFieldErrors = 50, maxDecodings = 200

    /// A body decoded strictly: a field the body does not take is refused, not ignored.
    struct Strict<Body: JSONBody>: Decodable {
        var body: Body

        init(from decoder: any Decoder) throws {
            var unknown: [Problem.FieldError] = []
            guard BodyDecoder.check(decoder, against: Body.self, at: "", into: &unknown) else {
                throw Problem(.invalidBody, detail: "the body must be a JSON object", errors: [.pointer("", "expected an object {...}")])
            }
            if !unknown.isEmpty {
                throw Problem(.unknownField, detail: "the body has \(unknown.count == 1 ? "a field" : "fields") this endpoint does not take: "
                                + unknown.compactMap(\.pointer).joined(separator: ", "), errors: unknown)
            }
            body = try Body(from: decoder)
        }
    }

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Collects the fields of the object at `decoder` that `type` does not take, and those of its
    /// nested objects (or arrays of objects); false when the value is not an object. Values of the
    /// wrong shape are left to the decoding.
    @discardableResult
    static func check(_ decoder: any Decoder, against type: any JSONBody.Type, at path: String, into unknown: inout [Problem.FieldError]) -> Bool {
        guard let object = try? decoder.container(keyedBy: AnyKey.self) else { return false }
        for key in object.allKeys.sorted(by: { $0.stringValue < $1.stringValue }) {
            let name = key.stringValue
            guard type.takes(name) else {
                unknown.append(.pointer(path + "/" + escape(name), "'\(name)' is not a field here; allowed: \(type.keys.joined(separator: ", "))"))
                continue
            }
            guard let nested = type.nested[name] else { continue }
            let pointer = path + "/" + escape(name)
            if let inner = try? object.superDecoder(forKey: key), check(inner, against: nested, at: pointer, into: &unknown) { continue }
            if var items = try? object.nestedUnkeyedContainer(forKey: key) {
                var i = 0
                while !items.isAtEnd, let item = try? items.superDecoder() {
                    check(item, against: nested, at: "\(pointer)/\(i)", into: &unknown)
                    i += 1
                }
            }
        }
        return true
    }

    static func escape(_ key: String) -> String {
        guard key.utf8.contains(where: { $0 == UInt8(ascii: "~") || $0 == UInt8(ascii: "/") }) else { return key }
        return key.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
    }

    /// Every field of a body that does not decode, not only the first a decoder meets: from the
    /// first error on, the body is decoded again with the value at fault replaced by a stand-in of
    /// the type expected there, until it decodes. A missing field is first given null, whose
    /// refusal names the type; a value no stand-in satisfies ends the search. Each field is named
    /// once, and nothing inside a value already named (an object given as a string). Runs only on
    /// this error path; the body itself is never used.
    static func problem<Body: JSONBody>(_ first: DecodingError, decoding type: Body.Type, from data: Data) -> Problem {
        var errors: [Problem.FieldError] = []
        guard var tree = try? JSONCoding.decoder.decode(JSONValue.self, from: data) else { return problem([fieldError(first)]) }
        var error: DecodingError? = first
        // Stand-ins tried per pointer, and decodings in all (a bound for bodies of many bad values).
        var tried: [String: Int] = [:]
        var rounds = 0
        while let e = error, errors.count < maxFieldErrors, rounds < maxDecodings {
            rounds += 1
            let (path, expected) = location(e)
            let at = pointer(path)
            let attempt = tried[at, default: 0]
            tried[at] = attempt + 1
            if attempt == 0, !errors.contains(where: { at.hasPrefix(($0.pointer ?? "") + "/") }) {
                errors.append(fieldError(e))
            }
            guard attempt < 3, let standIn = standIn(for: e, expected: expected, attempt: attempt), let patched = tree.setting(standIn, at: path[...]),
                  let again = try? JSONEncoder().encode(patched) else { break }
            tree = patched
            do {
                _ = try JSONCoding.decoder.decode(Strict<Body>.self, from: again)
                error = nil
            } catch let next as DecodingError {
                error = next
            } catch {
                break
            }
        }
        return problem(errors.isEmpty ? [fieldError(first)] : errors)
    }

    /// Where a decoding error is (the path to the value at fault, a missing key included) and the
    /// type expected there, when the error says.
    static func location(_ error: DecodingError) -> (path: [any CodingKey], expected: Any.Type?) {
        switch error {
        case .keyNotFound(let key, let context): (context.codingPath + [key], nil)
        case .valueNotFound(let type, let context): (context.codingPath, type)
        case .typeMismatch(let type, let context): (context.codingPath, type)
        case .dataCorrupted(let context): (context.codingPath, nil)
        @unknown default: ([], nil)
        }
    }

    /// What to put where a value was refused: null for a missing one (its refusal then names the
    /// type), a value of the type expected, else null and then 0 (a value of a type the error does
    /// not name, such as a measure's number or answer).
    static func standIn(for error: DecodingError, expected: Any.Type?, attempt: Int) -> JSONValue? {
        if case .keyNotFound = error { return .null }
        if let expected, let value = JSONValue.standIn(for: expected) { return value }
        switch attempt {
        case 0: return .null
        case 1: return .number(0)
        default: return nil
        }
    }

    /// A JSON Pointer to a decoding path.
    static func pointer(_ path: [any CodingKey]) -> String {
        path.map { "/" + ($0.intValue.map(String.init) ?? escape($0.stringValue)) }.joined()
    }

    /// A type as a coordinator reads it.
    static func kind(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "text"
        case is Int.Type, is Int16.Type, is Int32.Type, is Int64.Type: return "a whole number"
        case is Double.Type, is Float.Type: return "a number"
        case is Bool.Type: return "true or false"
        default:
            let name = String(describing: type)
            if name.hasPrefix("Array") || name.contains("Unkeyed") { return "an array" }
            if name.hasPrefix("Dictionary") || name.contains("Keyed") { return "an object" }
            return "a \(type)".replacingOccurrences(of: "Swift.", with: "")
        }
    }

    /// A decoding error as a field error naming the field by JSON Pointer, in words a coordinator reads.
    static func fieldError(_ error: DecodingError) -> Problem.FieldError {
        switch error {
        case .keyNotFound(let key, let context):
            .pointer(pointer(context.codingPath + [key]), "is required")
        case .valueNotFound(let type, let context):
            .pointer(pointer(context.codingPath), "must not be null; expected \(kind(type))")
        case .typeMismatch(let type, let context):
            .pointer(pointer(context.codingPath), "expected \(kind(type))")
        case .dataCorrupted(let context):
            .pointer(pointer(context.codingPath), context.debugDescription)
        @unknown default:
            .pointer("", "\(error)")
        }
    }

    /// A body's shape refused, naming each field at fault.
    static func problem(_ errors: [Problem.FieldError]) -> Problem {
        let each = errors.map { "\($0.pointer.map { $0.isEmpty ? "the body" : $0 } ?? "the body") \($0.detail)" }
        let detail = each.count == 1 ? each[0] : "\(each.count) fields do not have the expected shape: " + each.joined(separator: "; ")
        return Problem(.invalidBody, detail: detail, errors: errors)
    }
}

/// Any JSON value, for re-decoding a refused body with stand-ins (`BodyDecoder.problem`). Numbers
/// keep what a decoder told apart: a whole number stays whole, others stay as they were.
indirect enum JSONValue: Codable, Equatable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int64.self) { self = .integer(i) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .integer(let i): try c.encode(i)
        case .number(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    /// A value of `type`, for the types bodies hold: text, numbers, true or false, arrays, objects.
    static func standIn(for type: Any.Type) -> JSONValue? {
        switch type {
        case is String.Type: return .string("")
        case is Bool.Type: return .bool(false)
        case is Int.Type, is Int16.Type, is Int32.Type, is Int64.Type, is Double.Type, is Float.Type: return .integer(0)
        default:
            let name = String(describing: type)
            if name.hasPrefix("Array") || name.contains("Unkeyed") { return .array([]) }
            if name.hasPrefix("Dictionary") || name.contains("Keyed") { return .object([:]) }
            return nil
        }
    }

    /// This value with `value` at `path` (array indices by `intValue`, object keys by name), a
    /// missing object key added; nil when the path leads through something else.
    func setting(_ value: JSONValue, at path: ArraySlice<any CodingKey>) -> JSONValue? {
        guard let key = path.first else { return value }
        switch self {
        case .array(var items):
            guard let i = key.intValue, items.indices.contains(i), let inner = items[i].setting(value, at: path.dropFirst()) else { return nil }
            items[i] = inner
            return .array(items)
        case .object(var fields):
            guard let inner = (fields[key.stringValue] ?? .null).setting(value, at: path.dropFirst()) else { return nil }
            fields[key.stringValue] = inner
            return .object(fields)
        default:
            return nil
        }
    }
}
