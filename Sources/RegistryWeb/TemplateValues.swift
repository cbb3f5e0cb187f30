import Mustache

/// A page's values as the templates read them. swift-mustache looks every name up by casting each
/// object on the context stack to its protocols; `[String: Any]` is a parent only through a
/// conditional conformance, which the Swift runtime re-checks on every cast (a third of a
/// 100-row worklist's rendering time went to it). A final class is a parent without conditions.
final class TemplateNode: MustacheParent, @unchecked Sendable {
    let values: [String: Any]
    init(_ values: [String: Any]) { self.values = values }
    func child(named name: String) -> Any? { values[name] }

    /// `values` made ready for a template: optionals that are nil are left out (so that a
    /// `{{#name}}` section is skipped; Mustache would print and test "nil" otherwise), the others
    /// unwrapped, and every dictionary within made a node.
    static func make(_ values: [String: Any]) -> TemplateNode {
        TemplateNode(values.compactMapValues(prepared))
    }

    static func prepared(_ value: Any) -> Any? {
        // By exact type first: a cast of an array to a dictionary type (or back) goes through
        // Foundation's bridging on Linux, which cost more than the rendering.
        let type = Swift.type(of: value)
        if type == String.self || type == Int.self || type == Bool.self || type == TemplateNode.self { return value }
        if type == [String: Any].self { return make(value as! [String: Any]) }
        if type == [[String: Any]].self { return (value as! [[String: Any]]).map(make) }
        if type == [Any].self { return (value as! [Any]).compactMap(prepared) }
        if type == [TemplateNode].self || type == [String].self { return value }
        if let optional = value as? OptionalValue {
            guard let wrapped = optional.wrappedValue else { return nil }
            return prepared(wrapped)
        }
        return value
    }
}

/// Any optional, whatever it wraps (cast to without a condition).
private protocol OptionalValue { var wrappedValue: Any? { get } }
extension Optional: OptionalValue {
    fileprivate var wrappedValue: Any? { self.map { $0 as Any } }
}

/// HTML escaping as swift-mustache's own (& < > " '), over UTF-8 bytes rather than Characters:
/// the same output, several times faster on Korean text. Templates name it in their
/// `{{% CONTENT_TYPE: HTML-UTF8}}` pragma, which Views adds to each.
struct FastHTMLContentType: MustacheContentType {
    static let name = "HTML-UTF8"

    func escapeText(_ text: String) -> String {
        var text = text
        return text.withUTF8 { bytes in
            guard bytes.contains(where: { $0 == 0x26 || $0 == 0x3C || $0 == 0x3E || $0 == 0x22 || $0 == 0x27 }) else {
                return String(decoding: bytes, as: UTF8.self)
            }
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count + 16)
            for byte in bytes {
                switch byte {
                case 0x26: out.append(contentsOf: "&amp;".utf8)
                case 0x3C: out.append(contentsOf: "&lt;".utf8)
                case 0x3E: out.append(contentsOf: "&gt;".utf8)
                case 0x22: out.append(contentsOf: "&quot;".utf8)
                case 0x27: out.append(contentsOf: "&#39;".utf8)
                default: out.append(byte)
                }
            }
            return String(decoding: out, as: UTF8.self)
        }
    }
}
