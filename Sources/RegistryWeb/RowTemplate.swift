/// A table row rendered many times per page, without Mustache's reflection. swift-mustache looks
/// up every name by casting the objects on its context stack to its protocols; for the worklist's
/// 100 rows that took three quarters of the page's time (measured with perf: 32 ms a page against
/// 9 ms for the API's JSON of the same rows). A row template is a file of the same templates folder,
/// in the subset of Mustache a row needs: `{{name}}` (HTML-escaped), `{{t.key}}` (the catalogue's
/// text), and `{{#name}}`/`{{^name}}` sections over flags and texts (a text is true when present).
/// Anything else is refused when the templates load; a test renders rows both ways and compares.
struct RowTemplate: Sendable {
    indirect enum Part: Sendable {
        case text(String)
        case value(String)
        case message(String)
        case section(String, inverted: Bool, [Part])
    }

    /// One row's values.
    enum Value: Sendable {
        case text(String)
        case flag(Bool)
    }

    struct SyntaxError: Error, CustomStringConvertible {
        var description: String
    }

    let parts: [Part]

    init(_ source: String, name: String) throws {
        var index = source.startIndex
        func parse(until closing: String?) throws -> [Part] {
            var parts: [Part] = []
            while index < source.endIndex {
                guard let open = source[index...].range(of: "{{") else {
                    parts.append(.text(String(source[index...])))
                    index = source.endIndex
                    break
                }
                if open.lowerBound > index { parts.append(.text(String(source[index..<open.lowerBound]))) }
                guard let close = source[open.upperBound...].range(of: "}}") else {
                    throw SyntaxError(description: "\(name): a tag is not closed")
                }
                let tag = source[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
                index = close.upperBound
                switch tag.first {
                case "#", "^":
                    let key = String(tag.dropFirst()).trimmingCharacters(in: .whitespaces)
                    parts.append(.section(key, inverted: tag.first == "^", try parse(until: key)))
                case "/":
                    let key = String(tag.dropFirst()).trimmingCharacters(in: .whitespaces)
                    guard key == closing else { throw SyntaxError(description: "\(name): {{/\(key)}} closes nothing open") }
                    return parts
                case let c? where c.isLetter:
                    parts.append(tag.hasPrefix("t.") ? .message(String(tag.dropFirst(2))) : .value(tag))
                default:
                    throw SyntaxError(description: "\(name): {{\(tag)}} is not in a row template's subset of Mustache")
                }
            }
            if let closing { throw SyntaxError(description: "\(name): {{#\(closing)}} is not closed") }
            return parts
        }
        parts = try parse(until: nil)
    }

    /// The row's HTML, appended to `out`.
    func render(_ row: [String: Value], messages: [String: String], into out: inout String) {
        Self.render(parts, row, messages, into: &out)
    }

    private static func render(_ parts: [Part], _ row: [String: Value], _ messages: [String: String], into out: inout String) {
        for part in parts {
            switch part {
            case .text(let text): out += text
            case .value(let key):
                switch row[key] {
                case .text(let text)?: out += escape(text)
                case .flag(let flag)?: out += flag ? "true" : "false"
                case nil: break
                }
            case .message(let key): out += escape(messages[key] ?? "")
            case .section(let key, let inverted, let inner):
                let on: Bool
                switch row[key] {
                case .flag(let flag)?: on = flag
                case .text?: on = true
                case nil: on = false
                }
                if on != inverted { render(inner, row, messages, into: &out) }
            }
        }
    }

    static func escape(_ text: String) -> String { FastHTMLContentType().escapeText(text) }
}

import Foundation
