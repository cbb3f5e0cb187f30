import Foundation
import RegistryDomain
import Testing
@testable import RegistryWeb

/// Every word a page shows exists in both languages: a key missing from one catalogue would show
/// as the key itself.
@Suite struct WebCatalogueTests {
    let views: Views

    init() throws { views = try Views.load() }

    @Test func bothLanguagesHaveTheSameKeys() {
        let ko = Set(views.catalogue.strings[.ko]?.keys.map { $0 } ?? [])
        let en = Set(views.catalogue.strings[.en]?.keys.map { $0 } ?? [])
        #expect(!ko.isEmpty)
        #expect(ko.subtracting(en).sorted() == [], "in Korean only")
        #expect(en.subtracting(ko).sorted() == [], "in English only")
    }

    @Test func everyKeyTheTemplatesAndPagesUseExists() throws {
        let known = Set(views.catalogue.strings[.ko]?.keys.map { $0 } ?? [])
        var used: Set<String> = []
        let web = Self.sources.appendingPathComponent("Sources/RegistryWeb")
        for file in try FileManager.default.subpathsOfDirectory(atPath: web.path) where file.hasSuffix(".mustache") || file.hasSuffix(".swift") {
            let text = try String(contentsOf: web.appendingPathComponent(file), encoding: .utf8)
            let pattern = file.hasSuffix(".mustache") ? #"\{\{[#^/]?t\.([a-z_]+)\}\}"# : #"text\("([a-z_]+)""#
            let regex = try NSRegularExpression(pattern: pattern)
            for match in regex.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                used.insert(String(text[Range(match.range(at: 1), in: text)!]))
            }
        }
        #expect(used.count > 50)
        #expect(used.subtracting(known).sorted() == [], "used but not in the catalogues")
    }

    @Test func everyCodedValueHasWords() {
        func check<E: CaseIterable & RawRepresentable>(_ prefix: String, _: E.Type) where E.RawValue == String {
            for value in E.allCases {
                for language in Language.allCases {
                    #expect(views.catalogue.strings[language]?["\(prefix)_\(value.rawValue)"] != nil, "\(prefix)_\(value.rawValue) in \(language)")
                }
            }
        }
        check("sex", Sex.self); check("pstatus", PatientStatus.self); check("contact", ContactType.self)
        check("vital", VitalStatus.self); check("timing", VisitTiming.self); check("notdone", NotDoneReason.self)
        check("kind", StatusChangeKind.self); check("aecat", AdverseEventCategory.self); check("role", UserRole.self)
        check("related", Relatedness.self); check("outcome", AdverseEventOutcome.self); check("criterion", SeriousnessCriterion.self)
    }

    @Test func languageFromCookieThenAcceptLanguage() {
        #expect(Language.negotiate(acceptLanguage: nil, cookie: nil) == .ko)
        #expect(Language.negotiate(acceptLanguage: "en-US,en;q=0.9", cookie: nil) == .en)
        #expect(Language.negotiate(acceptLanguage: "fr-FR, en;q=0.5, ko;q=0.8", cookie: nil) == .ko)
        #expect(Language.negotiate(acceptLanguage: "de, fr;q=0.9", cookie: nil) == .ko)
        #expect(Language.negotiate(acceptLanguage: "en;q=0, ko;q=0.1", cookie: nil) == .ko)
        #expect(Language.negotiate(acceptLanguage: "ko-KR", cookie: "en") == .en)
        #expect(Language.negotiate(acceptLanguage: "en", cookie: "xx") == .en)
    }

    @Test func refusalPatternsFillTheirValues() throws {
        let catalogue = views.catalogue
        #expect(catalogue.refusal("the two new passwords are not the same", .ko) == "새 비밀번호 두 개가 같지 않습니다")
        #expect(catalogue.refusal("the two new passwords are not the same", .en) == "the two new passwords are not the same")
        let pattern = try Catalogue.pattern("{} is out of range; allowed: {} to {}")
        let text = "1890 is out of range; allowed: 1900 to 2026"
        #expect(pattern.firstMatch(in: text, range: NSRange(text.startIndex..., in: text))?.numberOfRanges == 4)
    }

    /// The package's root, from this file's path.
    static var sources: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }
}
