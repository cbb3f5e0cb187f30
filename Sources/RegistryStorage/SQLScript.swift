/// Splits a SQL script into statements, as psql would: semicolons end statements except inside
/// quotes, quoted identifiers, comments and dollar-quoted bodies (`$$ ... $$`, `$tag$ ... $tag$`).
///
/// PostgresNIO sends every query through the extended protocol, which takes one statement at a time.
public enum SQLScript {
    /// The statements of a script, trimmed, without empty ones.
    public static func statements(_ script: String) -> [String] {
        let chars = Array(script.unicodeScalars)
        var statements: [String] = []
        var current = String.UnicodeScalarView()
        var i = 0
        func flush() {
            let text = String(current).trimmingCharactersInWhitespace()
            if !text.isEmpty && !isOnlyComments(text) { statements.append(text) }
            current = String.UnicodeScalarView()
        }
        while i < chars.count {
            let c = chars[i]
            let next: Unicode.Scalar? = i + 1 < chars.count ? chars[i + 1] : nil
            if c == "-" && next == "-" {  // line comment
                while i < chars.count && chars[i] != "\n" { current.append(chars[i]); i += 1 }
                continue
            }
            if c == "/" && next == "*" {  // block comment
                current.append(c); current.append(next!); i += 2
                while i < chars.count && !(chars[i] == "*" && i + 1 < chars.count && chars[i + 1] == "/") { current.append(chars[i]); i += 1 }
                if i < chars.count { current.append("*"); current.append("/"); i += 2 }
                continue
            }
            if c == "'" || c == "\"" {  // quoted literal or identifier; doubled quotes stay inside
                current.append(c); i += 1
                while i < chars.count {
                    current.append(chars[i])
                    if chars[i] == c {
                        if i + 1 < chars.count && chars[i + 1] == c { current.append(c); i += 2; continue }
                        i += 1; break
                    }
                    i += 1
                }
                continue
            }
            if c == "$", let tag = dollarTag(chars, at: i) {  // dollar-quoted body
                current.append(contentsOf: tag.unicodeScalars); i += tag.unicodeScalars.count
                let closing = Array(tag.unicodeScalars)
                while i < chars.count {
                    if chars[i] == "$" && i + closing.count <= chars.count && Array(chars[i..<(i + closing.count)]) == closing {
                        current.append(contentsOf: closing); i += closing.count; break
                    }
                    current.append(chars[i]); i += 1
                }
                continue
            }
            if c == ";" { flush(); i += 1; continue }
            current.append(c); i += 1
        }
        flush()
        return statements
    }

    /// `$tag$` starting at `i`, or nil when the `$` is not a dollar quote (e.g. a `$1` parameter).
    private static func dollarTag(_ chars: [Unicode.Scalar], at i: Int) -> String? {
        var j = i + 1
        while j < chars.count, chars[j] == "_" || chars[j].properties.isAlphabetic || (j > i + 1 && ("0"..."9").contains(chars[j])) { j += 1 }
        guard j < chars.count, chars[j] == "$" else { return nil }
        return String(String.UnicodeScalarView(chars[i...j]))
    }

    private static func isOnlyComments(_ text: String) -> Bool {
        text.split(separator: "\n").allSatisfy { line in
            let trimmed = String(line).trimmingCharactersInWhitespace()
            return trimmed.isEmpty || trimmed.hasPrefix("--")
        }
    }
}
