import Foundation
import RegistryDomain

/// JSON written the same way every time: keys sorted by their UTF-8 bytes, two-space indentation,
/// numbers already formatted as fixed-point text, a newline at the end. Foundation's encoder
/// promises none of this across platforms and versions, and a report's checksum depends on it.
indirect enum CanonicalJSON: Equatable {
    case object([String: CanonicalJSON])
    case array([CanonicalJSON])
    case string(String)
    /// A number as it is to appear, e.g. `0.8571` or `12`.
    case number(String)
    case bool(Bool)
    case null

    static func int(_ n: Int) -> CanonicalJSON { .number(String(n)) }

    /// A fixed-point number with `decimals` places; never `-0`.
    static func fixed(_ x: Double, _ decimals: Int) -> CanonicalJSON { .number(formatFixed(x, decimals)) }

    /// The document's bytes.
    func serialized() -> Data {
        var out = ""
        write(into: &out, indent: 0)
        out += "\n"
        return Data(out.utf8)
    }

    private func write(into out: inout String, indent: Int) {
        switch self {
        case .object(let members):
            guard !members.isEmpty else { out += "{}"; return }
            let pad = String(repeating: "  ", count: indent + 1)
            out += "{\n"
            for (i, key) in members.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).enumerated() {
                if i > 0 { out += ",\n" }
                out += pad
                Self.quote(key, into: &out)
                out += ": "
                members[key]!.write(into: &out, indent: indent + 1)
            }
            out += "\n" + String(repeating: "  ", count: indent) + "}"
        case .array(let items):
            guard !items.isEmpty else { out += "[]"; return }
            // Arrays of scalars stay on one line (curve points, lists of dimensions).
            if items.allSatisfy(\.isScalar) {
                out += "["
                for (i, item) in items.enumerated() {
                    if i > 0 { out += ", " }
                    item.write(into: &out, indent: indent)
                }
                out += "]"
                return
            }
            let pad = String(repeating: "  ", count: indent + 1)
            out += "[\n"
            for (i, item) in items.enumerated() {
                if i > 0 { out += ",\n" }
                out += pad
                item.write(into: &out, indent: indent + 1)
            }
            out += "\n" + String(repeating: "  ", count: indent) + "]"
        case .string(let s): Self.quote(s, into: &out)
        case .number(let n): out += n
        case .bool(let b): out += b ? "true" : "false"
        case .null: out += "null"
        }
    }

    private var isScalar: Bool {
        switch self {
        case .object, .array: return false
        default: return true
        }
    }

    private static func quote(_ s: String, into out: inout String) { JSONString.append(s, to: &out) }
}

/// `x` with exactly `decimals` places (0 to 6), halves rounded away from zero, never `-0.00`.
/// Written out by hand: `String(format:)` costs microseconds a call, and a national report has
/// hundreds of thousands of numbers.
func formatFixed(_ x: Double, _ decimals: Int) -> String {
    guard x.isFinite, abs(x) < 1e15 else { return x.isNaN ? "null" : String(x) }
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let scaled = Int64((abs(x) * scale).rounded(.toNearestOrAwayFromZero))
    var digits = String(scaled)
    if decimals > 0 {
        if digits.count <= decimals { digits = String(repeating: "0", count: decimals - digits.count + 1) + digits }
        digits.insert(".", at: digits.index(digits.endIndex, offsetBy: -decimals))
    }
    return x < 0 && scaled != 0 ? "-" + digits : digits
}
