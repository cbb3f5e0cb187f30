import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import RegistryDomain

/// What a handler answers: a status, a JSON body and the headers that say where the record is
/// and which version it is at. Kept whole so an idempotent retry can get it back byte for byte.
struct Reply: Sendable {
    var status: HTTPResponse.Status
    var body: Data
    var location: String?
    var etag: String?
    /// True when this is the stored first response to a retried request.
    var replayed = false

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok, location: String? = nil, etag: String? = nil) throws -> Reply {
        Reply(status: status, body: try JSONCoding.encoder.encode(value), location: location, etag: etag)
    }

    func response() -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let location { headers[.location] = location }
        if let etag { headers[.eTag] = etag }
        if replayed { headers[Self.replayedHeader] = "true" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    static let replayedHeader = HTTPField.Name("Idempotent-Replayed")!
}

/// A page of a list, and where the next one starts (nil on the last page).
struct Page<Item: Encodable & Sendable>: Encodable, Sendable {
    var items: [Item]
    var nextCursor: String?
}

/// An opaque position in a list, handed back in `next_cursor` and taken in `?cursor=`.
enum Cursor {
    static func encode(_ parts: [String]) -> String {
        Data(parts.joined(separator: "|").utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ text: String, parts: Int) throws -> [String] {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard text.count <= 200, let data = Data(base64Encoded: base64),
              case let fields = String(decoding: data, as: UTF8.self).split(separator: "|", omittingEmptySubsequences: false).map(String.init),
              fields.count == parts else { throw invalid }
        return fields
    }

    /// The cursor of a list ordered by id.
    static func id(_ text: String) throws -> Int {
        guard let id = Int(try decode(text, parts: 1)[0]) else { throw invalid }
        return id
    }

    /// The cursor of a list ordered by a typed id.
    static func id<Record>(_ text: String) throws -> Tagged<Record, Int> {
        Tagged(rawValue: try id(text) as Int)
    }

    /// The cursor of a list ordered by a date and id.
    static func dateAndID(_ text: String) throws -> (LocalDate, Int) {
        let parts = try decode(text, parts: 2)
        guard let date = LocalDate(parts[0]), let id = Int(parts[1]) else { throw invalid }
        return (date, id)
    }

    static var invalid: Problem {
        Problem(.invalidParameter, detail: "this cursor is not one the registry handed out",
                hint: "pass next_cursor from the previous page unchanged, or leave cursor out for the first page",
                errors: [.parameter("cursor", "not a cursor of this list")])
    }
}
