import ArgumentParser
import RegistryDomain

struct MeasureCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "measure", abstract: "The measure catalogue: the coded measures visits may record.",
        subcommands: [Add.self, List.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a measure to the catalogue; visits may record it at once.", discussion: """
            The code is LOINC where LOINC has one (its check digit is verified), else the registry's
            own (capital letters, digits, hyphens). The display is given in English and in Korean. A
            measure is a number within --min and --max (whole with --integer, in --unit if it has
            one), or coded: give each answer as --answer "VALUE|CODE|English|한국어"; visits then record
            KEY=CODE or KEY=VALUE. Measures are never changed or removed: the reason stays in the
            audit trail.

            Examples:
              registry measure add --key ferritin --code-system LOINC --code 2276-4 --display "Ferritin" --display-ko "페리틴" --unit ng/mL --min 0 --max 100000 --reason "HLH work-up in protocol LTFU-CART-15Y v2"
              registry measure add --key hlh --code-system registry --code HLH-CRITERIA --display "HLH criteria met" --display-ko "혈구탐식성 림프조직구증 기준 충족" --min 0 --max 1 --answer "0|no|No|아니오" --answer "1|yes|Yes|예" --reason "protocol amendment RC-2026-07"
            """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "The key visits use, e.g. crs-grade (lowercase letters, digits, hyphens).") var key: String
        @Option(name: .customLong("code-system"), help: "LOINC or registry.") var codeSystem: String
        @Option(help: "The code in that system, e.g. 718-7 or ASTCT-CRS-GRADE.") var code: String
        @Option(help: "The name in English.") var display: String
        @Option(name: .customLong("display-ko"), help: "The name in Korean.") var displayKo: String
        @Option(help: "The unit values are stored in, e.g. mg/dL (none for scores and coded answers).") var unit: String?
        @Option(help: "The lowest value allowed.") var min: Double
        @Option(help: "The highest value allowed.") var max: Double
        @Flag(help: "Whole numbers only (implied by --answer).") var integer = false
        @Option(name: .customLong("answer"), help: ArgumentHelp("A coded answer, VALUE|CODE|English|한국어; repeat for each.", valueName: "answer"))
        var answers: [String] = []
        @Option(help: "Why it is added (required), kept in the audit trail.") var reason: String?

        func run() async throws {
            try await CommandContext.run(global) { ctx in
                let reason = try Rules.reason(reason)
                let new = try AnswerOption.measure(key: key, codeSystem: codeSystem, code: code, display: display, displayKo: displayKo, unit: unit,
                                                   minimum: min, maximum: max, integer: integer, answers: answers)
                let added = try await ctx.write { tx in try await tx.measures.add(new, reason: reason) }
                try ctx.emit(added) {
                    "measure \(added.key) added (\(added.codeSystem) \(added.code), \(added.display) / \(added.displayKo)): \(MeasureText.values(added))"
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the measure catalogue; with --key, one measure with its answers.", discussion: """
            Example:
              registry measure list
              registry measure list --key disease-response
            """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "Only this measure, in full.") var key: String?

        func run() async throws {
            try await CommandContext.run(global, reach: .site) { ctx in
                let all = try await ctx.read { tx in try await tx.measures.catalogue() }.definitions.filter { key == nil || $0.key == key }
                if let key, all.isEmpty {
                    throw RegistryError.notFound("key", "the catalogue has no measure \(key)", remedy: .list(.measures))
                }
                try ctx.emit(all) {
                    guard key != nil, let m = all.first else {
                        return table(["KEY", "CODE", "NAME", "VALUES"], all.map { ["\($0.key)", "\($0.codeSystem) \($0.code)", $0.display, MeasureText.values($0)] })
                    }
                    var lines = ["\(m.key): \(m.display) / \(m.displayKo)", "code: \(m.codeSystem) \(m.code)", "values: \(MeasureText.values(m))"]
                    if m.isCoded {
                        lines.append(table(["VALUE", "CODE", "ANSWER", "한국어"], m.answers.map { ["\($0.value)", $0.code, $0.display, $0.displayKo] }))
                    }
                    return lines.joined(separator: "\n")
                }
            }
        }
    }
}

/// How a listing describes a measure's values.
enum MeasureText {
    /// `0 to 5, whole numbers`, `1 to 25 g/dL`, or the answers `CR=1 PR=2 SD=3 PD=4`.
    static func values(_ m: MeasureDefinition) -> String {
        if m.isCoded { return m.answers.map { "\($0.code)=\($0.value)" }.joined(separator: " ") }
        return "\(MeasureValue.formatted(m.minimum)) to \(MeasureValue.formatted(m.maximum))" + (m.unit.map { " \($0)" } ?? "") + (m.integer ? ", whole numbers" : "")
    }
}

/// `--answer VALUE|CODE|English|한국어`, the answers of `registry measure add`.
enum AnswerOption {
    /// The measure the options describe. A refusal of an answer names `answer` and says which one, counting from 1.
    static func measure(key: String, codeSystem: String, code: String, display: String, displayKo: String, unit: String?,
                        minimum: Double, maximum: Double, integer: Bool, answers: [String]) throws(RegistryError) -> NewMeasureDefinition {
        var checks = FieldChecks()
        var parsed: [NewMeasureDefinition.Answer] = []
        for (i, text) in answers.enumerated() {
            let answer = checks.check { () throws(RegistryError) -> NewMeasureDefinition.Answer in
                let parts = text.split(separator: "|", omittingEmptySubsequences: false).map { String($0).trimmingCharactersInWhitespace() }
                guard parts.count == 4, let value = Int(parts[0]) else {
                    throw .invalid("answer", "--answer \(i + 1) ('\(text)') is not an answer; expected VALUE|CODE|English|한국어 with a whole-number value, e.g. \"1|CR|Complete response|완전 반응\"")
                }
                return .init(value: value, code: parts[1], display: parts[2], displayKo: parts[3])
            }
            if let answer { parsed.append(answer) }
        }
        try checks.finish()
        do {
            return try NewMeasureDefinition(key: key, codeSystem: codeSystem, code: code, display: display, displayKo: displayKo, unit: unit,
                                            minimum: minimum, maximum: maximum, integer: integer, answers: parsed)
        } catch {
            // The domain names an answer by its path (answers/2).
            throw error.mapped { e in
                guard let field = e.field, field.hasPrefix("answers") else { return e }
                let parts = field.split(separator: "/")
                guard parts.count == 2, let i = Int(parts[1]) else { return RegistryError(e.code, field: "answer", e.message, hint: e.hint) }
                return RegistryError(e.code, field: "answer", "--answer \(i + 1) ('\(answers[i])'): \(e.message)", hint: e.hint)
            }
        }
    }
}
