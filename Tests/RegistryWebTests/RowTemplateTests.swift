import Testing
@testable import RegistryWeb

/// Row templates are rendered by RowTemplate rather than swift-mustache (for speed); both must
/// give the same HTML for every kind of row, in both languages.
@Suite struct RowTemplateTests {
    @Test("the worklist's rows render byte for byte as swift-mustache renders the same template, text escaped the same way")
    func sameAsMustache() throws {
        let views = try Views.load()
        let flags = [false, true]
        var cases = 0
        for language in Language.allCases {
            for overdue in flags {
                for transferred in flags {
                    for escalated in flags {
                        var row: [String: RowTemplate.Value] = [
                            "id": .text("42"), "patient": .text("7"), "label": .text("month <6> & \"year\" 'one'"),
                            "overdue": .flag(overdue), "due": .text("2026-11-01"), "window": .text("2026-10-01 – 2026-12-01"),
                            "transferred_in": .flag(transferred),
                        ]
                        if overdue { row["days_overdue"] = .text("12일 지남") }
                        if escalated { row["escalation"] = .text("level 2") }
                        let fast = views.rows("worklist-row", [row], language: language)
                        var values: [String: Any] = row.mapValues { value -> Any in
                            switch value {
                            case .text(let text): text
                            case .flag(let flag): flag
                            }
                        }
                        values["t"] = views.strings[language]!
                        let mustache = try #require(views.library.render(TemplateNode.make(values), withTemplate: "worklist-row"))
                        #expect(fast == mustache, "\(language), overdue \(overdue), transferred \(transferred), escalated \(escalated)")
                        #expect(fast.contains("month &lt;6&gt; &amp; &quot;year&quot; &#39;one&#39;"))
                        cases += 1
                    }
                }
            }
        }
        #expect(cases == 16)
        // Outside the subset: refused when the templates load, not rendered wrongly.
        #expect(throws: RowTemplate.SyntaxError.self) { try RowTemplate("<td>{{>partial}}</td>", name: "bad") }
        #expect(throws: RowTemplate.SyntaxError.self) { try RowTemplate("<td>{{#open}}x</td>", name: "bad") }
    }
}
