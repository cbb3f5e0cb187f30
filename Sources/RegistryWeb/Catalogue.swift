import Foundation

/// Every people-facing text of the web application, in Korean and English, read from
/// `Resources/messages`: the pages' words by key (`ko.json`, `en.json`: `{"strings": {...}}`) and
/// the Korean wording of the registry's refusals (`refusals.ko.json`: pairs of the English message
/// as a pattern whose `{}` stand for the values it names, and its Korean wording with `{1}`, `{2}`,
/// ... for them, in order). No text is in code.
public final class Catalogue: @unchecked Sendable {
    /// The pages' words by language and key.
    public let strings: [Language: [String: String]]
    private let refusals: [(pattern: NSRegularExpression, wording: String)]

    /// Reads both catalogues from `directory`.
    public init(directory: URL) throws {
        var strings: [Language: [String: String]] = [:]
        var refusals: [(NSRegularExpression, String)] = []
        for language in Language.allCases {
            let data = try Data(contentsOf: directory.appendingPathComponent("\(language.rawValue).json"))
            let file = try JSONDecoder().decode(File.self, from: data)
            strings[language] = file.strings
        }
        let refusalFile = directory.appendingPathComponent("refusals.ko.json")
        for pair in try JSONDecoder().decode([[String]].self, from: Data(contentsOf: refusalFile)) where pair.count == 2 {
            refusals.append((try Self.pattern(pair[0]), pair[1]))
        }
        self.strings = strings
        self.refusals = refusals
    }

    private struct File: Decodable {
        var strings: [String: String]
    }

    /// The text of `key` in `language`; the key itself when it is missing (a test keeps both
    /// catalogues complete, so this shows only in development).
    public func text(_ key: String, _ language: Language) -> String {
        strings[language]?[key] ?? key
    }

    /// `key`'s text with `{1}`, `{2}`, ... replaced by `values`.
    public func text(_ key: String, _ language: Language, _ values: String...) -> String {
        Self.fill(text(key, language), values)
    }

    /// The catalogue shipped with the web application, for other front ends' people-facing text
    /// (the command line's import rejects in Korean).
    public static func load() throws -> Catalogue {
        guard let root = Bundle.module.url(forResource: "Resources", withExtension: nil) else { throw RegistryWebError.missingResources }
        return try Catalogue(directory: root.appendingPathComponent("messages"))
    }

    /// A refusal's message in `language`: English as the registry words it; Korean from the
    /// pattern that matches it (the English when none does, which a test prevents for the refusals
    /// the web forms can give).
    public func refusal(_ message: String, _ language: Language) -> String {
        guard language == .ko else { return message }
        return korean(message) ?? message
    }

    /// The Korean wording of an English refusal, when the catalogue has its pattern.
    public func korean(_ message: String) -> String? {
        let range = NSRange(message.startIndex..., in: message)
        for (pattern, wording) in refusals {
            guard let match = pattern.firstMatch(in: message, range: range) else { continue }
            let values = (1..<match.numberOfRanges).map { i in
                Range(match.range(at: i), in: message).map { String(message[$0]) } ?? ""
            }
            return Self.fill(wording, values)
        }
        return nil
    }

    static func fill(_ text: String, _ values: [String]) -> String {
        var out = text
        for (i, value) in values.enumerated() { out = out.replacingOccurrences(of: "{\(i + 1)}", with: value) }
        return out
    }

    /// An English message with `{}` placeholders as a whole-string pattern, each `{}` a group.
    static func pattern(_ english: String) throws -> NSRegularExpression {
        let parts = english.components(separatedBy: "{}").map(NSRegularExpression.escapedPattern(for:))
        return try NSRegularExpression(pattern: "^" + parts.joined(separator: "(.+?)") + "$", options: [.dotMatchesLineSeparators])
    }
}
