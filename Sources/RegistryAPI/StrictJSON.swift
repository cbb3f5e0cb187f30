import Foundation

/// What Foundation's JSON decoder lets through and the registry does not: a key given twice in one
/// object (parsers and gateways disagree on which value wins: most keep the last, Foundation the
/// first), and control characters in strings (NUL, and every C0 character but tab, line feed and
/// carriage return), which PostgreSQL refuses or which hide text from people. One pass over the
/// bytes before decoding, reporting every such place by its JSON pointer; anything else that is not
/// JSON is left to the decoder, which says so.
enum StrictJSON {
    struct Finding: Equatable {
        var pointer: String
        var detail: String
    }

    /// The findings in `data`, at most `limit` of them. Stops quietly at anything that is not JSON.
    static func scan(_ data: Data, limit: Int = 50) -> [Finding] {
        var scanner = Scanner(bytes: [UInt8](data))
        scanner.limit = limit
        scanner.skipSpace()
        _ = scanner.value(at: "", depth: 0)
        return scanner.findings
    }

    /// Whether `text` holds a control character the registry refuses (tab, line feed and carriage return are allowed).
    static func hasControlCharacter(_ text: some StringProtocol) -> Bool {
        text.unicodeScalars.contains(where: isRefused)
    }

    static func isRefused(_ scalar: Unicode.Scalar) -> Bool {
        (scalar.value < 0x20 && scalar.value != 0x09 && scalar.value != 0x0A && scalar.value != 0x0D) || scalar.value == 0x7F
    }

    private struct Scanner {
        let bytes: [UInt8]
        var i = 0
        var findings: [Finding] = []
        var limit = 50

        init(bytes: [UInt8]) { self.bytes = bytes }

        mutating func note(_ pointer: String, _ detail: String) {
            if findings.count < limit { findings.append(Finding(pointer: pointer, detail: detail)) }
        }

        mutating func skipSpace() {
            while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0A || bytes[i] == 0x0D { i += 1 }
        }

        /// Scans one value; false at anything that is not JSON (the decoder reports it).
        mutating func value(at pointer: String, depth: Int) -> Bool {
            guard i < bytes.count, depth < 64 else { return false }
            switch bytes[i] {
            case UInt8(ascii: "{"): return object(at: pointer, depth: depth)
            case UInt8(ascii: "["): return array(at: pointer, depth: depth)
            case UInt8(ascii: "\""):
                guard let text = string() else { return false }
                if text.refused { note(pointer, "control characters (such as NUL) are not allowed in text") }
                return true
            default:
                // A number, true, false or null: up to the next delimiter.
                let start = i
                while i < bytes.count, !",]} \t\r\n".utf8.contains(bytes[i]) { i += 1 }
                return i > start
            }
        }

        mutating func object(at pointer: String, depth: Int) -> Bool {
            i += 1
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return true }
            var seen = Set<String>()
            while true {
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\""), let key = string() else { return false }
                let child = pointer + "/" + BodyDecoder.escape(key.text)
                if key.refused { note(child, "control characters are not allowed in a key") }
                if !seen.insert(key.text).inserted { note(child, "'\(key.text)' is given twice in one object; give each field once") }
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { return false }
                i += 1
                skipSpace()
                guard value(at: child, depth: depth + 1) else { return false }
                skipSpace()
                guard i < bytes.count else { return false }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "}") { i += 1; return true }
                return false
            }
        }

        mutating func array(at pointer: String, depth: Int) -> Bool {
            i += 1
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return true }
            var index = 0
            while true {
                skipSpace()
                guard value(at: "\(pointer)/\(index)", depth: depth + 1) else { return false }
                index += 1
                skipSpace()
                guard i < bytes.count else { return false }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "]") { i += 1; return true }
                return false
            }
        }

        /// A string at `i` (on its opening quote): its text, and whether it holds a refused control
        /// character (raw or escaped). Nil when it is not a JSON string.
        mutating func string() -> (text: String, refused: Bool)? {
            i += 1
            var out: [UInt8] = []
            var refused = false
            while i < bytes.count {
                let b = bytes[i]
                if b == UInt8(ascii: "\"") {
                    i += 1
                    return (String(decoding: out, as: UTF8.self), refused)
                }
                if b == UInt8(ascii: "\\") {
                    guard i + 1 < bytes.count else { return nil }
                    let e = bytes[i + 1]
                    if e == UInt8(ascii: "u") {
                        guard i + 5 < bytes.count, let code = UInt32(String(decoding: bytes[(i + 2)...(i + 5)], as: UTF8.self), radix: 16) else { return nil }
                        if let scalar = Unicode.Scalar(code), StrictJSON.isRefused(scalar) { refused = true }
                        if let scalar = Unicode.Scalar(code) { out.append(contentsOf: Array(String(Character(scalar)).utf8)) }
                        i += 6
                    } else {
                        switch e {
                        case UInt8(ascii: "n"): out.append(0x0A)
                        case UInt8(ascii: "t"): out.append(0x09)
                        case UInt8(ascii: "r"): out.append(0x0D)
                        case UInt8(ascii: "b"), UInt8(ascii: "f"): refused = true
                        default: out.append(e)
                        }
                        i += 2
                    }
                    continue
                }
                if b < 0x20 || b == 0x7F { refused = true }
                out.append(b)
                i += 1
            }
            return nil
        }
    }
}
