/// A measure an administrator adds to the catalogue, checked: a key users can type, a code in
/// LOINC (check digit verified) or the registry's own system, names in English and Korean, a
/// range, and for a coded measure its answers. Refusals name the field (`key`, `code`, `min`,
/// `answers/N`).
public struct NewMeasureDefinition: Sendable, Equatable {
    /// The code systems a measure may be coded in: LOINC where it has a code, the registry's own otherwise.
    public static let codeSystems = ["LOINC", "registry"]

    public let definition: MeasureDefinition

    /// One answer as given, before it is checked (the same shape as a stored one).
    public typealias Answer = MeasureAnswer

    /// Checks an administrator's new measure, refusing once with every field at fault. A coded
    /// measure (with answers) takes whole numbers: `integer` is implied. The code is checked when
    /// its system is valid, the bounds against each other when both are numbers, and the answers
    /// against the range when it is valid.
    public init(key: String, codeSystem: String, code: String, display: String, displayKo: String, unit: String?,
                minimum: Double, maximum: Double, integer: Bool, answers: [Answer] = []) throws(RegistryError) {
        var checks = FieldChecks()
        let key = checks.check { () throws(RegistryError) -> String in
            let key = key.trimmingCharactersInWhitespace()
            guard Self.isKey(key) else {
                throw .invalid("key", "'\(key)' is not a measure key; expected 2-40 lowercase letters, digits and hyphens starting with a letter, e.g. crs-grade")
            }
            return key
        }
        let system = checks.check { () throws(RegistryError) -> String in
            guard Self.codeSystems.contains(codeSystem) else {
                throw .invalid("code-system", "'\(codeSystem)' is not a code system here; allowed: \(Self.codeSystems.joined(separator: ", ")) (registry where LOINC has no code)")
            }
            return codeSystem
        }
        let code = code.trimmingCharactersInWhitespace()
        if let system {
            checks.check { () throws(RegistryError) in
                if system == "LOINC" {
                    try Self.checkLOINC(code)
                } else if !Self.isRegistryCode(code) {
                    throw .invalid("code", "'\(code)' is not a registry code; expected 1-40 capital letters, digits and hyphens, e.g. ASTCT-CRS-GRADE")
                }
            }
        }
        let display = checks.check { () throws(RegistryError) in try Rules.name(display, field: "display") }
        let displayKo = checks.check { () throws(RegistryError) in try Self.korean(displayKo, field: "display-ko") }
        let unitText = checks.check { () throws(RegistryError) -> String? in
            guard let unit, !unit.trimmingCharactersInWhitespace().isEmpty else { return nil }
            let u = unit.trimmingCharactersInWhitespace()
            // ':' and '=' separate a unit and a value in KEY=VALUE:UNIT.
            guard u.count <= 20, !u.contains(where: { $0.isWhitespace || $0 == ":" || $0 == "=" }) else {
                throw .invalid("unit", "'\(u)' is not a unit; expected up to 20 characters without spaces, ':' or '=', e.g. mg/dL or copies/cell")
            }
            return u
        }
        let whole = integer || !answers.isEmpty
        let lower = checks.check { () throws(RegistryError) -> Double in
            guard minimum.isFinite else { throw .invalid("min", "the minimum must be a number") }
            guard !whole || minimum == minimum.rounded() else { throw .invalid("min", "\(MeasureValue.format(minimum)) is not a whole number; a measure of whole numbers has whole bounds") }
            return minimum
        }
        let upper = checks.check { () throws(RegistryError) -> Double in
            guard maximum.isFinite else { throw .invalid("max", "the maximum must be a number") }
            guard !whole || maximum == maximum.rounded() else { throw .invalid("max", "\(MeasureValue.format(maximum)) is not a whole number; a measure of whole numbers has whole bounds") }
            return maximum
        }
        var range: ClosedRange<Double>? = nil
        if let lower, let upper {
            range = checks.check { () throws(RegistryError) -> ClosedRange<Double> in
                guard lower <= upper else {
                    throw .invalid("max", "the maximum \(MeasureValue.format(upper)) is below the minimum \(MeasureValue.format(lower))")
                }
                return lower...upper
            }
        }
        var checked: [MeasureAnswer] = []
        if !answers.isEmpty {
            if (unitText ?? nil) != nil { checks.refuse(.invalid("unit", "a coded measure has answers, not a unit; leave the unit out")) }
            if answers.count < 2 { checks.refuse(.invalid("answers", "a coded measure needs at least two answers")) }
            for (i, a) in answers.enumerated() {
                let field = "answers/\(i)"
                let answer = checks.check { () throws(RegistryError) -> MeasureAnswer in
                    let code = a.code.trimmingCharactersInWhitespace()
                    guard code.first?.isLetter == true, code.count <= 30, code.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
                        throw .invalid(field, "'\(code)' is not an answer code; expected up to 30 letters, digits and hyphens starting with a letter, e.g. CR or not-tested")
                    }
                    if let range, !range.contains(Double(a.value)) {
                        throw .invalid(field, "the value \(a.value) of answer \(code) is outside the measure's range \(MeasureValue.format(range.lowerBound)) to \(MeasureValue.format(range.upperBound))")
                    }
                    if let earlier = checked.first(where: { $0.value == a.value }) {
                        throw .invalid(field, "the value \(a.value) is given twice (\(earlier.code) and \(code)); each answer has a value of its own")
                    }
                    if let earlier = checked.first(where: { $0.code.lowercased() == code.lowercased() }) {
                        throw .invalid(field, "the code \(code) is given twice (values \(earlier.value) and \(a.value)); codes are matched ignoring case")
                    }
                    return MeasureAnswer(value: a.value, code: code, display: try Rules.name(a.display, field: field),
                                         displayKo: try Self.korean(a.displayKo, field: field))
                }
                if let answer { checked.append(answer) }
            }
        }
        try checks.finish()
        definition = MeasureDefinition(key: key!, codeSystem: system!, code: code, display: display!, displayKo: displayKo!, unit: unitText!,
                                       minimum: lower!, maximum: upper!, integer: whole, answers: checked)
    }

    static func isKey(_ key: String) -> Bool {
        (2...40).contains(key.count) && key.first.map { $0.isASCII && $0.isLowercase } == true
            && key.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }
    }

    static func isRegistryCode(_ code: String) -> Bool {
        (1...40).contains(code.count) && code.first.map { $0.isASCII && ($0.isUppercase || $0.isNumber) } == true
            && code.allSatisfy { $0.isASCII && ($0.isUppercase || $0.isNumber || $0 == "-") }
    }

    /// Refuses text with no Korean in it: the Korean display is for people who read Korean.
    static func korean(_ text: String, field: String) throws(RegistryError) -> String {
        let name = try Rules.name(text, field: field)
        guard name.unicodeScalars.contains(where: { (0xAC00...0xD7A3).contains($0.value) || (0x3131...0x318E).contains($0.value) }) else {
            throw .invalid(field, "'\(name)' has no Korean in it; give the name as Korean readers see it, e.g. 사이토카인 방출 증후군 등급")
        }
        return name
    }

    /// LOINC codes are digits, a hyphen and a mod-10 check digit (LOINC users' guide): a mistyped
    /// digit is caught here rather than stored.
    public static func checkLOINC(_ code: String, field: String = "code") throws(RegistryError) {
        let parts = code.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, (1...7).contains(parts[0].count), parts[1].count == 1,
              parts[0].allSatisfy({ $0.isASCII && $0.isNumber }), let given = Int(parts[1]) else {
            throw .invalid(field, "'\(code)' is not a LOINC code; expected digits, a hyphen and a check digit, e.g. 718-7")
        }
        let expected = loincCheckDigit(String(parts[0]))
        guard given == expected else {
            throw .invalid(field, "'\(code)' is not a LOINC code: the check digit of \(parts[0]) is \(expected); check the code")
        }
    }

    /// The mod-10 check digit of a LOINC code's digits: from the right, every other digit doubled
    /// (starting with the last), the digits of the results summed, and the distance to the next ten.
    public static func loincCheckDigit(_ digits: String) -> Int {
        var sum = 0
        for (i, ch) in digits.reversed().enumerated() {
            let d = Int(String(ch))!
            if i % 2 == 0 { let twice = d * 2; sum += twice / 10 + twice % 10 } else { sum += d }
        }
        return (10 - sum % 10) % 10
    }
}
