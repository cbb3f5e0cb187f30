import Foundation

/// The language of a report's HTML page. The figures, the JSON and the CSV (and so the checksum)
/// are the same in both: only the words around them change.
public enum ReportLanguage: String, CaseIterable, Sendable {
    case en, ko
}

/// The report page's words, from `Resources/report.{en,ko}.json` (`{"strings": {...}}`): no text
/// of the page is in code. `{1}`, `{2}`, ... stand for the values filled in, in order.
struct ReportText: Sendable {
    let language: ReportLanguage
    let strings: [String: String]

    /// The catalogue of the page being rendered.
    @TaskLocal static var current = ReportText.catalogues[.en]!

    static let catalogues: [ReportLanguage: ReportText] = {
        var out: [ReportLanguage: ReportText] = [:]
        for language in ReportLanguage.allCases {
            // `.copy("Resources")`: the folder itself is the resource.
            guard let url = Bundle.module.url(forResource: "Resources", withExtension: nil)?.appendingPathComponent("report.\(language.rawValue).json"),
                  let data = try? Data(contentsOf: url),
                  let file = try? JSONDecoder().decode([String: [String: String]].self, from: data), let strings = file["strings"] else {
                preconditionFailure("the report's catalogue report.\(language.rawValue).json is missing from the build (Resources of RegistryReports)")
            }
            out[language] = ReportText(language: language, strings: strings)
        }
        return out
    }()

    /// `key`'s text with `{1}`, `{2}`, ... replaced by `values`; the key itself when it is
    /// missing (a test keeps both catalogues complete).
    func text(_ key: String, _ values: [String]) -> String {
        var text = strings[key] ?? key
        for (i, value) in values.enumerated() { text = text.replacingOccurrences(of: "{\(i + 1)}", with: value) }
        return text
    }
}

/// The text of `key` in the page being rendered (ReportText.current).
func T(_ key: String, _ values: String...) -> String { ReportText.current.text(key, values) }
