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
        if let contentType = request.headers[.contentType]?.lowercased(),
           !(contentType.hasPrefix("application/json") || contentType.contains("+json")) {
            throw Problem(.unsupportedMediaType, detail: "the body is \(contentType); send application/json")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw tooLarge(limit)
        }
        return (try decode(type, from: Data(buffer.readableBytesView)), buffer)
    }

    static func tooLarge(_ limit: Int) -> Problem {
        Problem(.bodyTooLarge, detail: "the body is larger than \(limit) bytes, the most this registry accepts",
                hint: "send one record per request; the limit is set with registry serve --max-body-bytes")
    }

    /// Decodes `data` as `Body` in one parse: unknown fields first (at every level `Body.nested`
    /// describes), then the body itself. (A first pass through JSONSerialization and a walk of its
    /// `[String: Any]` cost more server time than the rest of a visit's decoding.)
    static func decode<Body: JSONBody>(_ type: Body.Type, from data: Data) throws -> Body {
        do {
            return try JSONCoding.decoder.decode(Strict<Body>.self, from: data).body
        } catch let error as DecodingError {
            // Not JSON at all: checked again only on this error path, to tell it from a bad value.
            if case .dataCorrupted(let context) = error, context.codingPath.isEmpty,
               (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) == nil {
                throw Problem(.malformedJSON, detail: data.isEmpty ? "the body is empty; this endpoint takes a JSON object"
                                                                   : "the body could not be read as JSON; check quotes, commas and brackets")
            }
            throw problem(error)
        }
    }

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

    /// A decoding error as a problem naming the field by JSON Pointer, in words a coordinator reads.
    static func problem(_ error: DecodingError) -> Problem {
        func pointer(_ path: [any CodingKey]) -> String {
            path.map { "/" + ($0.intValue.map(String.init) ?? escape($0.stringValue)) }.joined()
        }
        func kind(_ type: Any.Type) -> String {
            switch type {
            case is String.Type: "text"
            case is Int.Type, is Int16.Type, is Int32.Type, is Int64.Type: "a whole number"
            case is Double.Type, is Float.Type: "a number"
            case is Bool.Type: "true or false"
            case is [Any].Type: "an array"
            default: "a \(type)".replacingOccurrences(of: "Swift.", with: "")
            }
        }
        let fieldError: Problem.FieldError
        switch error {
        case .keyNotFound(let key, let context):
            fieldError = .pointer(pointer(context.codingPath + [key]), "is required")
        case .valueNotFound(let type, let context):
            fieldError = .pointer(pointer(context.codingPath), "must not be null; expected \(kind(type))")
        case .typeMismatch(let type, let context):
            fieldError = .pointer(pointer(context.codingPath), "expected \(kind(type))")
        case .dataCorrupted(let context):
            fieldError = .pointer(pointer(context.codingPath), context.debugDescription)
        @unknown default:
            fieldError = .pointer("", "\(error)")
        }
        return Problem(.invalidBody, detail: "\(fieldError.pointer.map { $0.isEmpty ? "the body" : $0 } ?? "the body") \(fieldError.detail)",
                       errors: [fieldError])
    }
}
