import Foundation

/// The languages every page, message and report is shown in. Korean is the default: the
/// registry's people are Korean hospitals and the Korean ministry.
public enum Language: String, Sendable, CaseIterable {
    case ko, en

    /// The other language, for the switch on every page.
    public var other: Language { self == .ko ? .en : .ko }

    /// The language's name in itself, as the switch shows it.
    public var ownName: String { self == .ko ? "한국어" : "English" }

    /// The language a request asks for: the `lang` cookie (set by the switch) when it names one we
    /// have, else the first of Accept-Language's ranges (by q, then order) that we have, else Korean.
    public static func negotiate(acceptLanguage: String?, cookie: String?) -> Language {
        if let cookie, let chosen = Language(rawValue: cookie) { return chosen }
        guard let header = acceptLanguage else { return .ko }
        var ranges: [(tag: String, q: Double, order: Int)] = []
        for (order, part) in header.split(separator: ",").enumerated() {
            let pieces = part.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let tag = pieces.first?.lowercased(), !tag.isEmpty else { continue }
            var q = 1.0
            for parameter in pieces.dropFirst() where parameter.hasPrefix("q=") {
                q = Double(parameter.dropFirst(2)) ?? 0
            }
            if q > 0 { ranges.append((tag, q, order)) }
        }
        for range in ranges.sorted(by: { $0.q != $1.q ? $0.q > $1.q : $0.order < $1.order }) {
            let primary = range.tag.split(separator: "-").first.map(String.init) ?? range.tag
            if let language = Language(rawValue: primary) { return language }
        }
        return .ko
    }
}
