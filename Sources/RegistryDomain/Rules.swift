/// Field rules shared by every entry point (command line, HTTP, imports), each in one place.
public enum Rules {
    /// The Advanced Regenerative Bio Act took effect on this date; no registry event predates it.
    public static let actEffectiveDate = LocalDate(year: 2020, month: 8, day: 28)!

    /// Refuses a date in the future (Seoul calendar) or before the Act took effect.
    public static func eventDate(_ date: LocalDate, field: String, today: LocalDate) throws(RegistryError) {
        if date > today {
            throw .invalid(field, "\(date) is in the future; allowed: \(actEffectiveDate) to today (\(today), Asia/Seoul)")
        }
        if date < actEffectiveDate {
            throw .invalid(field, "\(date) is before the Advanced Regenerative Bio Act took effect; allowed: \(actEffectiveDate) to today (\(today))")
        }
    }

    /// The night a nightly run is for must have begun in Seoul: a later date (a typo for this year)
    /// would flag, escalate and propose losses dated in the future, which no command can take back.
    public static func nightAsOf(_ date: LocalDate, today: LocalDate) throws(RegistryError) {
        if date > today {
            throw .invalid("as-of", "\(date) is after today in Seoul (\(today)); allowed: today or an earlier night",
                           hint: "check the year and the month; leave the date out to run tonight's")
        }
    }

    /// Parses a `YYYY-MM-DD` date or names the field and the expected shape.
    public static func date(_ text: String, field: String) throws(RegistryError) -> LocalDate {
        guard let date = LocalDate(text) else {
            throw .invalid(field, "'\(text)' is not a date; expected YYYY-MM-DD, e.g. 2025-03-15")
        }
        return date
    }

    /// Institution codes look like `ARM-001`: 2–6 capital letters, a hyphen, 3–5 digits.
    public static func institutionCode(_ text: String, field: String = "institution") throws(RegistryError) -> String {
        guard matches(text, letters: 2...6, digits: 3...5) else {
            throw .invalid(field, "'\(text)' is not an institution code; expected 2–6 capital letters, a hyphen and 3–5 digits, e.g. ARM-001")
        }
        return text
    }

    /// Product codes look like `GT-01` or `MSC-KNEE-2`: capital letters and digits in 1–4
    /// hyphen-separated parts, starting with a letter, at most 32 characters.
    public static func productCode(_ text: String, field: String = "product") throws(RegistryError) -> String {
        guard isHyphenatedCode(text) else {
            throw .invalid(field, "'\(text)' is not a product code; expected capital letters and digits in up to 4 hyphen-separated parts (2–32 characters), e.g. GT-01")
        }
        return text
    }

    /// Follow-up protocol codes have the shape of product codes, e.g. `LTFU-GENE-15Y`.
    public static func protocolCode(_ text: String, field: String = "code") throws(RegistryError) -> String {
        guard isHyphenatedCode(text) else {
            throw .invalid(field, "'\(text)' is not a protocol code; expected capital letters and digits in up to 4 hyphen-separated parts (2–32 characters), e.g. LTFU-GENE-15Y")
        }
        return text
    }

    /// Capital letters and digits in 1–4 hyphen-separated parts, starting with a letter, 2–32 characters.
    private static func isHyphenatedCode(_ text: String) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        return (2...32).contains(text.count) && (1...4).contains(parts.count)
            && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy { c in c.isASCII && (c.isUppercase || c.isNumber) } }
            && text.first!.isLetter
    }

    /// ICD-10 (and KCD) codes: a letter, two digits or a digit and a letter, then an optional
    /// dot and 1–4 more characters, e.g. `G20`, `M17.0`, `C91.00`.
    public static func icd10(_ text: String, field: String = "indication") throws(RegistryError) -> String {
        let code = text.uppercased()
        let chars = Array(code)
        var ok = chars.count >= 3 && chars[0].isASCII && chars[0].isLetter
            && chars[1].isASCII && chars[1].isNumber
            && chars[2].isASCII && (chars[2].isNumber || chars[2].isLetter)
        if ok && chars.count > 3 {
            let rest = chars[3...]
            ok = rest.first == "." && (2...5).contains(rest.count)
                && rest.dropFirst().allSatisfy { $0.isASCII && ($0.isNumber || $0.isLetter) }
        }
        guard ok else {
            throw .invalid(field, "'\(text)' is not an ICD-10 code; expected a letter, two characters and an optional .suffix, e.g. G20 or M17.0")
        }
        return code
    }

    /// A required free-text name: 1–200 characters, no control characters.
    public static func name(_ text: String, field: String, maxLength: Int = 200) throws(RegistryError) -> String {
        let trimmed = text.trimmingCharactersInWhitespace()
        guard !trimmed.isEmpty, trimmed.count <= maxLength,
              !trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw .invalid(field, "must be 1–\(maxLength) characters without control characters")
        }
        return trimmed
    }

    /// A required reason for a change that the audit trail keeps.
    public static func reason(_ text: String?, field: String = "reason") throws(RegistryError) -> String {
        guard let text, !text.trimmingCharactersInWhitespace().isEmpty else {
            throw .invalid(field, "a reason is required for this change; give one with --\(field) \"...\"")
        }
        return try name(text, field: field, maxLength: 500)
    }

    /// Product lot numbers: 1–40 letters, digits, '-', '_', '.' or '/'.
    public static func lot(_ text: String, field: String = "lot") throws(RegistryError) -> String {
        let lot = text.trimmingCharactersInWhitespace()
        guard (1...40).contains(lot.count), lot.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_./".contains($0)) }) else {
            throw .invalid(field, "'\(text)' is not a lot number; expected 1–40 letters, digits, '-', '_', '.' or '/', e.g. LOT-7")
        }
        return lot
    }

    /// Amounts of money in won: whole, non-negative, below 10 billion.
    public static func krw(_ value: Int, field: String) throws(RegistryError) -> Int {
        guard (0...9_999_999_999).contains(value) else {
            throw .invalid(field, "\(value) is out of range; expected whole won from 0 to 9,999,999,999")
        }
        return value
    }

    private static func matches(_ text: String, letters: ClosedRange<Int>, digits: ClosedRange<Int>) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return false }
        return letters.contains(parts[0].count) && parts[0].allSatisfy { $0.isASCII && $0.isUppercase }
            && digits.contains(parts[1].count) && parts[1].allSatisfy { $0.isASCII && $0.isNumber }
    }
}

extension String {
    /// The string without leading and trailing white space (Foundation-free).
    public func trimmingCharactersInWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
