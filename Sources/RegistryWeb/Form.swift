import Foundation
import Hummingbird
import RegistryDomain

/// A submitted form (`application/x-www-form-urlencoded`): each name's values in order.
struct Form: Sendable {
    private(set) var values: [String: [String]] = [:]

    /// The largest form the application takes (a visit with every measure is far below it).
    static let limit = 64 * 1024

    init(_ text: String) {
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = Self.decode(parts[0])
            let value = parts.count > 1 ? Self.decode(parts[1]) : ""
            values[name, default: []].append(value)
        }
    }

    /// Reads the request's body as a form; anything else is refused.
    static func read(_ request: Request) async throws -> Form {
        let type = request.headers[.contentType]?.lowercased() ?? ""
        guard type.hasPrefix("application/x-www-form-urlencoded") else {
            throw HTTPError(.unsupportedMediaType, message: "forms are sent as application/x-www-form-urlencoded")
        }
        let buffer = try await request.body.collect(upTo: limit)
        return Form(String(buffer: buffer))
    }

    private static func decode(_ text: Substring) -> String {
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }

    /// The first value of `name`, trimmed; nil when absent or empty.
    subscript(_ name: String) -> String? {
        guard let value = values[name]?.first?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else { return nil }
        return value
    }

    /// Every non-empty value of `name` (checkboxes, repeated fields).
    func all(_ name: String) -> [String] {
        (values[name] ?? []).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    }

    /// Whether a checkbox `name` was ticked.
    func ticked(_ name: String) -> Bool { self[name] != nil }

    /// What the user typed, to show again in a refused form (every field, first values).
    var typed: [String: String] {
        values.compactMapValues { $0.first }
    }
}
