/// A coded outcome measure a visit can record, with what values and units it allows. The
/// registry's measures are data (the `measure_definition` table, seeded by schema/0012 and added
/// to by administrators); `MeasureCatalogue` holds them and checks values against them.
public struct MeasureDefinition: Hashable, Codable, Sendable {
    /// The short name used on the command line (`ecog`, `crs-grade`, `hemoglobin`).
    public var key: String
    /// The code system: `LOINC`, or `registry` where LOINC has no code.
    public var codeSystem: String
    /// The code in that system.
    public var code: String
    /// The name in English.
    public var display: String
    /// The name in Korean, for the people who read it.
    public var displayKo: String
    /// The unit values are stored in; nil for unitless scores and coded answers.
    public var unit: String?
    public var minimum: Double
    public var maximum: Double
    /// Whether only whole numbers are allowed (scores such as ECOG; every coded measure).
    public var integer: Bool
    /// For a coded measure, what each value means (disease response: 1 CR ... 4 PD); empty for a
    /// plain number.
    public var answers: [MeasureAnswer]

    public init(key: String, codeSystem: String, code: String, display: String, displayKo: String, unit: String?,
                minimum: Double, maximum: Double, integer: Bool, answers: [MeasureAnswer] = []) {
        self.key = key; self.codeSystem = codeSystem; self.code = code; self.display = display; self.displayKo = displayKo
        self.unit = unit; self.minimum = minimum; self.maximum = maximum; self.integer = integer; self.answers = answers
    }

    /// Whether values are answers from a list rather than quantities.
    public var isCoded: Bool { !answers.isEmpty }

    /// The answer a value stands for.
    public func answer(for value: Double) -> MeasureAnswer? { answers.first { Double($0.value) == value } }
}

/// One allowed answer of a coded measure: the stored value, the code a user may type for it, and
/// its meaning in English and Korean.
public struct MeasureAnswer: Hashable, Codable, Sendable {
    /// The value stored for this answer (a whole number within the measure's range).
    public var value: Int
    /// What a user types for it (`CR`, `negative`, `grade-2`); matched ignoring case.
    public var code: String
    public var display: String
    public var displayKo: String

    public init(value: Int, code: String, display: String, displayKo: String) {
        self.value = value; self.code = code; self.display = display; self.displayKo = displayKo
    }
}

/// One validated measurement.
public struct MeasureValue: Hashable, Codable, Sendable {
    public var key: String
    public var codeSystem: String
    public var code: String
    public var value: Double
    public var unit: String?

    public init(key: String, codeSystem: String, code: String, value: Double, unit: String?) {
        self.key = key; self.codeSystem = codeSystem; self.code = code; self.value = value; self.unit = unit
    }

    static func format(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v) }

    /// A number as `MeasureCatalogue.parse` reads it back: whole numbers without a trailing `.0`.
    public static func formatted(_ v: Double) -> String { format(v) }

    /// The value as decimal text, without a trailing `.0` for whole numbers (as stored in SQL).
    public var valueText: String { Self.format(value) }
}
