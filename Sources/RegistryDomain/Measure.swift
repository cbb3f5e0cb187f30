/// A coded outcome measure a visit can record, with what values and units it allows.
public struct MeasureDefinition: Hashable, Codable, Sendable {
    /// The short name used on the command line (`ecog`, `eq5d-index`, `hemoglobin`).
    public var key: String
    /// The code system: `LOINC` or `registry` for registry-defined outcome measures.
    public var codeSystem: String
    /// The code in that system.
    public var code: String
    public var display: String
    /// The unit values are stored in; nil for unitless scores.
    public var unit: String?
    public var minimum: Double
    public var maximum: Double
    /// Whether only whole numbers are allowed (scores such as ECOG).
    public var integer: Bool

    public init(key: String, codeSystem: String, code: String, display: String, unit: String?, minimum: Double, maximum: Double, integer: Bool) {
        self.key = key; self.codeSystem = codeSystem; self.code = code; self.display = display
        self.unit = unit; self.minimum = minimum; self.maximum = maximum; self.integer = integer
    }

    /// The registry's measures: performance and quality-of-life scores used across indications,
    /// and the laboratory values the FDA's long-term follow-up guidance watches (blood counts).
    public static let catalogue: [MeasureDefinition] = [
        .init(key: "ecog", codeSystem: "LOINC", code: "89247-1", display: "ECOG performance status", unit: nil, minimum: 0, maximum: 5, integer: true),
        .init(key: "karnofsky", codeSystem: "LOINC", code: "89243-0", display: "Karnofsky performance status", unit: nil, minimum: 0, maximum: 100, integer: true),
        .init(key: "eq5d-index", codeSystem: "registry", code: "EQ5D5L-INDEX-KR", display: "EQ-5D-5L index (Korean value set)", unit: nil, minimum: -0.594, maximum: 1, integer: false),
        .init(key: "eq-vas", codeSystem: "registry", code: "EQ-VAS", display: "EQ visual analogue scale", unit: nil, minimum: 0, maximum: 100, integer: true),
        .init(key: "pain-nrs", codeSystem: "LOINC", code: "72514-3", display: "Pain severity 0-10 numeric rating", unit: nil, minimum: 0, maximum: 10, integer: true),
        .init(key: "womac", codeSystem: "registry", code: "WOMAC-TOTAL", display: "WOMAC total score", unit: nil, minimum: 0, maximum: 96, integer: true),
        .init(key: "alsfrs-r", codeSystem: "registry", code: "ALSFRS-R", display: "ALS functional rating scale, revised", unit: nil, minimum: 0, maximum: 48, integer: true),
        .init(key: "updrs-iii", codeSystem: "registry", code: "MDS-UPDRS-III", display: "MDS-UPDRS part III", unit: nil, minimum: 0, maximum: 132, integer: true),
        .init(key: "hemoglobin", codeSystem: "LOINC", code: "718-7", display: "Hemoglobin", unit: "g/dL", minimum: 1, maximum: 25, integer: false),
        .init(key: "wbc", codeSystem: "LOINC", code: "6690-2", display: "Leukocytes", unit: "10*3/uL", minimum: 0, maximum: 500, integer: false),
        .init(key: "platelets", codeSystem: "LOINC", code: "777-3", display: "Platelets", unit: "10*3/uL", minimum: 0, maximum: 2_000, integer: false),
        .init(key: "weight", codeSystem: "LOINC", code: "29463-7", display: "Body weight", unit: "kg", minimum: 0.5, maximum: 400, integer: false),
    ]

    /// The definition with a key.
    public static func named(_ key: String) -> MeasureDefinition? { catalogue.first { $0.key == key } }
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

    /// Parses `key=value` or `key=value:unit` (e.g. `ecog=1`, `hemoglobin=12.1:g/dL`) and checks
    /// the value's type, range and unit against the measure's definition.
    public static func parse(_ text: String, field: String = "measure") throws(RegistryError) -> MeasureValue {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2 else {
            throw .invalid(field, "'\(text)' is not a measure; expected KEY=VALUE or KEY=VALUE:UNIT, e.g. ecog=1 or hemoglobin=12.1:g/dL")
        }
        guard let def = MeasureDefinition.named(parts[0]) else {
            throw .invalid(field, "'\(parts[0])' is not a known measure; allowed: \(MeasureDefinition.catalogue.map(\.key).joined(separator: ", "))")
        }
        let valueAndUnit = parts[1].split(separator: ":", maxSplits: 1).map(String.init)
        guard let raw = valueAndUnit.first, let value = Double(raw), value.isFinite else {
            throw .invalid(field, "\(def.key): '\(parts[1])' is not a number")
        }
        if valueAndUnit.count == 2 && valueAndUnit[1] != (def.unit ?? "") {
            throw .invalid(field, "\(def.key): unit '\(valueAndUnit[1])' is not allowed; \(def.unit.map { "allowed: \($0)" } ?? "this score has no unit")")
        }
        if def.integer && value != value.rounded() {
            throw .invalid(field, "\(def.key): \(raw) is not a whole number; \(def.display) takes whole numbers from \(Int(def.minimum)) to \(Int(def.maximum))")
        }
        guard value >= def.minimum && value <= def.maximum else {
            throw .invalid(field, "\(def.key): \(raw) is out of range; allowed: \(format(def.minimum)) to \(format(def.maximum))\(def.unit.map { " \($0)" } ?? "")")
        }
        return MeasureValue(key: def.key, codeSystem: def.codeSystem, code: def.code, value: value, unit: def.unit)
    }

    static func format(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v) }

    /// A number as `parse` reads it back: whole numbers without a trailing `.0`.
    public static func formatted(_ v: Double) -> String { format(v) }

    /// The value as decimal text, without a trailing `.0` for whole numbers (as stored in SQL).
    public var valueText: String { Self.format(value) }
}
