/// The measures visits may record, as stored (storage loads them: `tx.measures.catalogue()`), and
/// the one rule that checks a value against its definition. A measure an administrator adds is
/// usable by the next visit, without a new build.
public struct MeasureCatalogue: Sendable, Equatable {
    /// The definitions, in the order they were added.
    public let definitions: [MeasureDefinition]
    private let byKey: [String: MeasureDefinition]

    public init(_ definitions: [MeasureDefinition]) {
        self.definitions = definitions
        byKey = Dictionary(definitions.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The definition with a key.
    public func named(_ key: String) -> MeasureDefinition? { byKey[key] }

    /// The measure keys of `KEY=VALUE[:UNIT]` texts: what `parse` will look up.
    public static func keys(of texts: [String]) -> [String] {
        texts.map { String($0.prefix { $0 != "=" }) }
    }

    /// Where a measure comes in the catalogue (for ordering report rows), nil when it is not there.
    public func position(of key: String) -> Int? { definitions.firstIndex { $0.key == key } }

    /// Parses `key=value` or `key=value:unit` (e.g. `ecog=1`, `hemoglobin=12.1:g/dL`) and, for a
    /// coded measure, `key=code` or `key=value` (`disease-response=CR`, `crs-grade=2`), and checks
    /// the value's type, range, unit or answer against the measure's definition.
    public func parse(_ text: String, field: String = "measure") throws(RegistryError) -> MeasureValue {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2 else {
            throw .invalid(field, "'\(text)' is not a measure; expected KEY=VALUE or KEY=VALUE:UNIT, e.g. ecog=1, hemoglobin=12.1:g/dL or disease-response=CR")
        }
        guard let def = named(parts[0]) else {
            throw .invalid(field, "'\(parts[0])' is not a known measure; allowed: \(definitions.map(\.key).joined(separator: ", "))",
                           remedy: .list(.measures))
        }
        let valueAndUnit = parts[1].split(separator: ":", maxSplits: 1).map(String.init)
        let raw = valueAndUnit.first ?? ""
        if def.isCoded {
            guard valueAndUnit.count == 1 else {
                throw .invalid(field, "\(def.key): an answer has no unit; give the answer alone, e.g. \(def.key)=\(def.answers[0].code)")
            }
            let number = Double(raw)
            guard let answer = def.answers.first(where: { $0.code.lowercased() == raw.lowercased() || number == Double($0.value) }) else {
                throw .invalid(field, "\(def.key): '\(raw)' is not an answer to \(def.display); allowed: \(Self.describe(def.answers))")
            }
            return MeasureValue(key: def.key, codeSystem: def.codeSystem, code: def.code, value: Double(answer.value), unit: nil)
        }
        guard let value = Double(raw), value.isFinite else {
            throw .invalid(field, "\(def.key): '\(parts[1])' is not a number")
        }
        if valueAndUnit.count == 2 && valueAndUnit[1] != (def.unit ?? "") {
            throw .invalid(field, "\(def.key): unit '\(valueAndUnit[1])' is not allowed; \(def.unit.map { "allowed: \($0)" } ?? "this score has no unit")")
        }
        if def.integer && value != value.rounded() {
            throw .invalid(field, "\(def.key): \(raw) is not a whole number; \(def.display) takes whole numbers from \(MeasureValue.format(def.minimum)) to \(MeasureValue.format(def.maximum))")
        }
        guard value >= def.minimum && value <= def.maximum else {
            throw .invalid(field, "\(def.key): \(raw) is out of range; allowed: \(MeasureValue.format(def.minimum)) to \(MeasureValue.format(def.maximum))\(def.unit.map { " \($0)" } ?? "")")
        }
        return MeasureValue(key: def.key, codeSystem: def.codeSystem, code: def.code, value: value, unit: def.unit)
    }

    /// `CR (1: Complete response), PR (2: Partial response)`: what a refusal lists.
    static func describe(_ answers: [MeasureAnswer]) -> String {
        answers.map { "\($0.code) (\($0.value): \($0.display))" }.joined(separator: ", ")
    }
}
