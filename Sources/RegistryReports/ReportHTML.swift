import Foundation
import RegistryDomain

/// The report as one self-contained HTML page: headline figures, charts as inline SVG (survival
/// by product with confidence bands, completeness by time point, adverse events by grade and
/// category), and tables. No scripts, fonts or images are fetched; it reads on a phone, a laptop
/// and on paper, and every chart has a title and a text alternative.
enum ReportHTML {
    static func render(_ r: OutcomeReportContent, checksum: String, language: ReportLanguage = .en) -> String {
        ReportText.$current.withValue(ReportText.catalogues[language]!) {
            ReportNames.$current.withValue(ReportNames(products: r.productNames, institutions: r.institutionNames)) { page(r, checksum: checksum) }
        }
    }

    private static func page(_ r: OutcomeReportContent, checksum: String) -> String {
        let p = r.parameters
        let t = r.total
        var filters = [p.product.map { T("filter_product", $0) }, p.indication.map { T("filter_indication", $0) }, p.institution.map { T("filter_institution", $0) }].compactMap { $0 }
        if filters.isEmpty { filters = [T("filter_all")] }
        var html = """
            <!DOCTYPE html>
            <html lang="\(ReportText.current.language.rawValue)">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(esc(T("doc_title", p.asOf.description)))</title>
            <style>\(css)</style>
            </head>
            <body>
            <header>
            <p class="kicker">\(esc(T("kicker")))</p>
            <h1>\(esc(T("heading")))</h1>
            <p class="meta">\(esc(T("data_as_of"))) <strong>\(p.asOf)</strong> · \(esc(filters.joined(separator: ", ")))\(p.by.isEmpty ? "" : " · " + esc(T("by", p.by.map { T("dim_\($0.rawValue)") }.joined(separator: ", "))))</p>
            <p class="meta">\(esc(T("recorded_by"))) <strong>\(esc(seoulTime(r.recordedBy)))</strong> <small>(\(esc(r.recordedBy)))</small>\(r.provisional ? " · <strong class=\"warn\">" + esc(T("provisional", r.horizon ?? "")) + "</strong>" : "")</p>
            \(p.suppression && p.perturbation ? "<p class=\"meta\">" + esc(T("perturbation_on", String(r.perturbationMaximum))) + "</p>" : "")
            <p class="meta">\(p.suppression ? esc(T("suppression_on", String(p.minimumCell - 1), "\u{1}")).replacingOccurrences(of: "\u{1}", with: "<span class=\"s\">\(esc(T("supp")))</span>") : "<strong class=\"warn\">\(esc(T("suppression_off")))</strong>")</p>
            </header>
            <main>
            <section aria-labelledby="h-headline">
            <h2 id="h-headline">\(esc(T("headline")))</h2>
            <div class="cards">
            \(card(T("card_patients"), count(t.patients)))
            \(card(T("card_administrations"), count(t.administrations)))
            \(card(T("card_person_years"), number(t.personYears)))
            \(card(T("card_completeness"), percent(t.completeness), note: T("card_completeness_note")))
            \(card(T("card_overdue"), count(t.overdueNow)))
            \(card(T("card_deaths"), count(t.deaths)))
            \(card(T("card_survival_1y"), survival(t.survival.first { $0.years == 1 })))
            \(card(T("card_serious"), count(t.serious)))
            \(card(T("card_special"), number(t.specialInterestPer100PersonYears), note: T("card_special_note")))
            \(card(T("card_late"), count(t.expeditedReportsLate)))
            </div>
            </section>
            <section aria-labelledby="h-survival">
            <h2 id="h-survival">\(esc(T("survival_heading")))</h2>
            <p class="note">\(esc(T("survival_note", String(p.suppression ? p.minimumCell : 1), String(p.suppression ? p.minimumCell - 1 : 0))))</p>
            <div class="multiples">
            \(r.curves.isEmpty ? "<p>\(esc(T("survival_none")))</p>" : r.curves.enumerated().map { survivalChart($1, id: $0) }.joined(separator: "\n"))
            </div>
            \(curveless(r))
            </section>
            <section aria-labelledby="h-completeness">
            <h2 id="h-completeness">\(esc(T("completeness_heading")))</h2>
            \(completenessChart(t.timePoints))
            \(completenessTable(t.timePoints))
            </section>
            <section aria-labelledby="h-ae">
            <h2 id="h-ae">\(esc(T("ae_heading")))</h2>
            <div class="pair">
            \(barChart(id: "ae-grade", title: T("ae_by_grade"), items: t.byGrade.enumerated().map { (T("grade", String($0.offset + 1)), $0.element) }, color: "#b4462c"))
            \(barChart(id: "ae-category", title: T("ae_by_category"), items: t.byCategory.map { (name($0.category), $0.events) }, color: "#6b4c9a"))
            </div>
            \(aeTable(t))
            </section>
            <section aria-labelledby="h-measures">
            <h2 id="h-measures">\(esc(T("measures_heading")))</h2>
            \(measureTable(t.measures))
            </section>
            """
        if p.by.contains(.institution) { html += scorecard(r.groups.filter { $0.key.dimensions == [.institution] }) }
        let levels = OutcomeTables.levels(p.by).filter { !$0.isEmpty }
        for level in levels {
            let rows = r.groups.filter { $0.key.dimensions == level.sorted() }
            let title = T("by_level", level.map { T("dim_\($0.rawValue)") }.joined(separator: " × "))
            html += """
                <section aria-labelledby="h-\(level.map(\.rawValue).joined(separator: "-"))">
                <h2 id="h-\(level.map(\.rawValue).joined(separator: "-"))">\(esc(title))</h2>
                <details\(rows.count <= 200 ? " open" : "")><summary>\(esc(T("groups", String(rows.count))))</summary>
                \(groupTable(rows, caption: title, dims: level))
                </details>
                </section>
                """
        }
        html += """
            <section aria-labelledby="h-total">
            <h2 id="h-total">\(esc(T("all_patients")))</h2>
            \(groupTable([t], caption: T("all_patients_caption"), dims: []))
            </section>
            <section aria-labelledby="h-definitions">
            <h2 id="h-definitions">\(esc(T("definitions")))</h2>
            <dl>\(definitions().map { "<dt>\(esc($0.term))</dt><dd>\(esc($0.text))</dd>" }.joined())</dl>
            </section>
            </main>
            <footer>
            <p>\(esc(T("footer", r.registryVersion, String(p.minimumCell), p.suppression ? "" : T("footer_off"), String(r.primarySuppressed), String(r.complementarySuppressed))))</p>
            <p class="checksum">\(esc(T("checksum"))) sha256:\(checksum)</p>
            </footer>
            </body>
            </html>

            """
        return html
    }

    // MARK: pieces

    /// The names of the report being rendered, for the pieces that print codes.
    struct ReportNames: Sendable {
        var products: [String: String] = [:]
        var institutions: [String: String] = [:]
        @TaskLocal static var current = ReportNames()
    }

    static func esc(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }

    static var suppressedMark: String { "<span class=\"s\" title=\"\(esc(T("supp_title")))\">\(esc(T("supp")))</span>" }

    static func count(_ f: Figure) -> String {
        switch f {
        case .count(let n): return n.formatted(.number.grouping(.automatic).locale(Locale(identifier: "en_US")))
        case .value(let x, let d): return grouped(formatFixed(x, d))
        case .suppressed: return suppressedMark
        case .notEstimable: return "<span class=\"ne\" title=\"\(esc(T("not_estimable")))\">–</span>"
        }
    }

    static func number(_ f: Figure) -> String { count(f) }

    /// A rate with its 95 % interval beneath, when both are values.
    static func rateWithInterval(_ rate: Figure, _ lower: Figure?, _ upper: Figure?) -> String {
        guard case .value = rate, let lower, let upper, case .value = lower, case .value = upper else { return number(rate) }
        return number(rate) + " <small class=\"ci\">(\(esc(T("ci"))) \(number(lower))–\(number(upper)))</small>"
    }

    /// `4439.2` as `4,439.2`.
    static func grouped(_ fixed: String) -> String {
        let negative = fixed.hasPrefix("-")
        let body = negative ? String(fixed.dropFirst()) : fixed
        let parts = body.split(separator: ".", maxSplits: 1)
        var whole = String(parts[0])
        var out = ""
        while whole.count > 3 {
            out = "," + whole.suffix(3) + out
            whole = String(whole.dropLast(3))
        }
        return (negative ? "-" : "") + whole + out + (parts.count > 1 ? "." + parts[1] : "")
    }

    static func percent(_ f: Figure) -> String {
        guard case .value(let x, _) = f else { return count(f) }
        return formatFixed(x * 100, 1) + " %"
    }

    static func survival(_ s: SurvivalFigures?) -> String {
        guard let s else { return count(.notEstimable) }
        guard case .value(let est, _) = s.estimate else { return count(s.estimate) }
        var text = formatFixed(est * 100, 1) + " %"
        if case .value(let lo, _) = s.lower, case .value(let hi, _) = s.upper {
            text += " <small class=\"ci\">(\(esc(T("ci"))) \(formatFixed(lo * 100, 1))–\(formatFixed(hi * 100, 1)))</small>"
        }
        return text
    }

    static func millions(_ f: Figure) -> String {
        guard case .value(let x, _) = f else { return count(f) }
        return formatFixed(x / 1_000_000, 1)
    }

    static func name(_ c: AdverseEventCategory) -> String { T("cat_\(c.rawValue)") }

    /// The definitions in the page's language: the report document's own (English), or the
    /// catalogue's wording of each (a test keeps every one worded).
    static func definitions() -> [(term: String, text: String)] {
        ReportJSON.definitions.sorted { $0.key < $1.key }.map { key, english in
            let term = key.replacingOccurrences(of: "_", with: " ")
            guard ReportText.current.language != .en else { return (term, english) }
            return (T("term_\(key)"), T("definition_\(key)", String(VisitRules.screeningWindowDays)))
        }
    }

    static func card(_ label: String, _ value: String, note: String? = nil) -> String {
        "<div class=\"card\"><div class=\"label\">\(esc(label))</div><div class=\"value\">\(value)</div>\(note.map { "<div class=\"cardnote\">\(esc($0))</div>" } ?? "")</div>"
    }

    // MARK: charts

    /// One product's survival curve with its band, as a small multiple.
    static func survivalChart(_ c: SurvivalCurve, id: Int) -> String {
        let w = 320.0, h = 200.0, l = 38.0, r = 10.0, top = 10.0, b = 30.0
        let lastDays = c.points.last?.days ?? 0
        let years = max(1, Int((Double(lastDays) / 365.25).rounded(.up)))
        func x(_ days: Int) -> Double { l + (w - l - r) * Double(days) / (365.25 * Double(years)) }
        func y(_ s: Double) -> Double { top + (h - top - b) * (1 - s) }
        // Runs of consecutive monthly points: where points are left out (deaths so far from 1 to
        // K − 1), the curve and its band break rather than run flat through the gap.
        var runs: [[SurvivalCurve.Point]] = []
        for pt in c.points {
            if let last = runs.last?.last, pt.days - last.days <= 32 { runs[runs.count - 1].append(pt) } else { runs.append([pt]) }
        }
        var line = "", band = ""
        for run in runs {
            let first = run[0]
            line += " M\(f1(x(first.days))) \(f1(y(first.survival)))"
            for pt in run.dropFirst() { line += " H\(f1(x(pt.days))) V\(f1(y(pt.survival)))" }
            // Band: along the upper bound, then back along the lower bound (both as steps).
            band += " M\(f1(x(first.days))) \(f1(y(first.upper)))"
            for pt in run.dropFirst() { band += " H\(f1(x(pt.days))) V\(f1(y(pt.upper)))" }
            let rev = Array(run.reversed())
            band += " V\(f1(y(rev[0].lower)))"
            for (i, pt) in rev.enumerated() where i > 0 {
                band += " H\(f1(x(rev[i - 1].days))) V\(f1(y(pt.lower))) "
            }
            band += " H\(f1(x(first.days))) Z"
        }
        line = String(line.dropFirst())
        band = String(band.dropFirst())
        var grid = ""
        for s in [0.0, 0.25, 0.5, 0.75, 1.0] {
            grid += "<line x1=\"\(f1(l))\" x2=\"\(f1(w - r))\" y1=\"\(f1(y(s)))\" y2=\"\(f1(y(s)))\" class=\"grid\"/>"
            grid += "<text x=\"\(f1(l - 4))\" y=\"\(f1(y(s) + 3.5))\" class=\"tick\" text-anchor=\"end\">\(Int(s * 100))%</text>"
        }
        for yr in 0...years {
            grid += "<text x=\"\(f1(x(Int(365.25 * Double(yr)))))\" y=\"\(f1(h - b + 14))\" class=\"tick\" text-anchor=\"middle\">\(yr)</text>"
        }
        let end = c.points.last
        let desc = T("km_desc", c.product, String(c.points.count))
            + (end.map { T("km_desc_end", formatFixed(Double($0.days) / 365.25, 1), formatFixed($0.survival * 100, 1), formatFixed($0.lower * 100, 1), formatFixed($0.upper * 100, 1)) } ?? "")
        return """
            <figure class="small">
            <svg viewBox="0 0 \(Int(w)) \(Int(h))" role="img" aria-labelledby="km\(id)-t km\(id)-d">
            <title id="km\(id)-t">\(esc(T("km_title", c.product)))</title>
            <desc id="km\(id)-d">\(esc(desc))</desc>
            \(grid)
            <path d="\(band)" class="band"/>
            <path d="\(line)" class="curve"/>
            <text x="\(f1((l + w - r) / 2))" y="\(f1(h - 3))" class="axis" text-anchor="middle">\(esc(T("km_axis")))</text>
            </svg>
            <figcaption>\(esc(c.product))\(ReportNames.current.products[c.product].map { " <small class=\"name\">\(esc($0))</small>" } ?? "")</figcaption>
            </figure>
            """
    }

    /// Horizontal bars of completeness per time point against the 90 % target; the values stand
    /// in a column of their own so that the target line never crosses them.
    static func completenessChart(_ points: [TimePointFigures]) -> String {
        guard !points.isEmpty else { return "<p>\(esc(T("cmp_none")))</p>" }
        return completenessBars(id: "cmp", items: points.map { ($0.timePoint, $0.completeness) }, labelWidth: 74, title: T("completeness_heading"),
                                caption: T("cmp_caption"))
    }

    /// Horizontal bars of completeness with the CIBMTR target of 90 % marked: green at or above it,
    /// amber below; withheld or not-yet-due values say so.
    static func completenessBars(id: String, items points: [(label: String, completeness: Figure)], labelWidth l: Double,
                                 title: String, caption: String) -> String {
        let row = 24.0, r = 66.0, w = 460.0 + max(0, l - 74), top = 24.0
        let h = top + row * Double(points.count) + 22
        func x(_ v: Double) -> Double { l + (w - l - r) * v }
        var body = ""
        for v in [0.0, 0.25, 0.5, 0.75, 1.0] {
            body += "<line x1=\"\(f1(x(v)))\" x2=\"\(f1(x(v)))\" y1=\"\(f1(top))\" y2=\"\(f1(h - 20))\" class=\"grid\"/>"
            body += "<text x=\"\(f1(x(v)))\" y=\"\(f1(h - 6))\" class=\"tick\" text-anchor=\"middle\">\(Int(v * 100))%</text>"
        }
        for (i, tp) in points.enumerated() {
            let y = top + row * Double(i)
            body += "<text x=\"\(f1(l - 6))\" y=\"\(f1(y + 16))\" class=\"label\" text-anchor=\"end\">\(esc(tp.label))</text>"
            if case .value(let v, _) = tp.completeness {
                body += "<rect x=\"\(f1(l))\" y=\"\(f1(y + 4))\" width=\"\(f1(x(v) - l))\" height=\"\(f1(row - 8))\" class=\"\(v >= 0.9 ? "bar-ok" : "bar-low")\"/>"
                body += "<text x=\"\(f1(w - 4))\" y=\"\(f1(y + 16))\" class=\"value\" text-anchor=\"end\">\(formatFixed(v * 100, 1)) %</text>"
            } else {
                body += "<text x=\"\(f1(w - 4))\" y=\"\(f1(y + 16))\" class=\"value muted\" text-anchor=\"end\">\(esc(tp.completeness.isSuppressed ? T("suppressed") : T("not_yet_due")))</text>"
            }
        }
        let target = x(0.9)
        body += "<line x1=\"\(f1(target))\" x2=\"\(f1(target))\" y1=\"\(f1(top - 4))\" y2=\"\(f1(h - 20))\" class=\"target\"/>"
        body += "<text x=\"\(f1(target))\" y=\"\(f1(top - 8))\" class=\"tick target-label\" text-anchor=\"middle\">\(esc(T("cmp_target")))</text>"
        let desc = points.map { "\($0.label): \($0.completeness.number.map { formatFixed($0 * 100, 1) + " %" } ?? ($0.completeness.isSuppressed ? T("suppressed") : T("not_estimable")))" }.joined(separator: "; ")
        return """
            <figure class="wide">
            <svg viewBox="0 0 \(Int(w)) \(Int(h))" role="img" aria-labelledby="\(id)-t \(id)-d">
            <title id="\(id)-t">\(esc(title))</title>
            <desc id="\(id)-d">\(esc(T("cmp_desc"))) \(esc(desc))</desc>
            \(body)
            </svg>
            <figcaption>\(esc(caption))</figcaption>
            </figure>
            """
    }

    /// Horizontal bars of counts, suppressed ones labelled as such.
    static func barChart(id: String, title: String, items: [(String, Figure)], color: String) -> String {
        let row = 26.0, l = 200.0, r = 54.0, w = 460.0, top = 6.0
        let h = top + row * Double(items.count) + 8
        let maxValue = max(1, items.compactMap { $0.1.number }.max() ?? 1)
        var body = ""
        for (i, (label, f)) in items.enumerated() {
            let y = top + row * Double(i)
            body += "<text x=\"\(f1(l - 6))\" y=\"\(f1(y + 17))\" class=\"label\" text-anchor=\"end\">\(esc(label))</text>"
            if let v = f.number {
                let bw = (w - l - r) * v / maxValue
                body += "<rect x=\"\(f1(l))\" y=\"\(f1(y + 4))\" width=\"\(f1(bw))\" height=\"\(f1(row - 8))\" fill=\"\(color)\"/>"
                body += "<text x=\"\(f1(l + bw + 4))\" y=\"\(f1(y + 17))\" class=\"value\">\(Int(v).formatted(.number.locale(Locale(identifier: "en_US"))))</text>"
            } else {
                body += "<text x=\"\(f1(l + 4))\" y=\"\(f1(y + 17))\" class=\"value muted\">\(esc(T("suppressed")))</text>"
            }
        }
        let desc = items.map { "\($0.0): \($0.1.isSuppressed ? T("suppressed") : $0.1.text)" }.joined(separator: "; ")
        return """
            <figure class="half">
            <svg viewBox="0 0 \(Int(w)) \(Int(h))" role="img" aria-labelledby="\(id)-t \(id)-d">
            <title id="\(id)-t">\(esc(title))</title>
            <desc id="\(id)-d">\(esc(desc))</desc>
            \(body)
            </svg>
            <figcaption>\(esc(title))</figcaption>
            </figure>
            """
    }

    static func f1(_ v: Double) -> String { formatFixed(v, 1) }

    // MARK: tables

    static func completenessTable(_ points: [TimePointFigures]) -> String {
        guard !points.isEmpty else { return "" }
        return """
            <div class="scroll"><table>
            <caption>\(esc(T("cmp_table_caption")))</caption>
            <thead><tr><th scope="col">\(esc(T("col_time_point")))</th><th scope="col">\(esc(T("col_expected")))</th><th scope="col">\(esc(T("col_completed")))</th><th scope="col">\(esc(T("col_completeness")))</th></tr></thead>
            <tbody>\(points.map { "<tr><th scope=\"row\">\(esc($0.timePoint))</th><td>\(count($0.expected))</td><td>\(count($0.completed))</td><td>\(percent($0.completeness))</td></tr>" }.joined())</tbody>
            </table></div>
            """
    }

    static func aeTable(_ g: GroupFigures) -> String {
        let categories = g.byCategory.map { c in
            "<tr><th scope=\"row\">\(esc(name(c.category)))</th><td>\(count(c.events))</td><td>\(c.per100PersonYears.map { rateWithInterval($0, c.lower, c.upper) } ?? "")</td></tr>"
        }.joined()
        return """
            <div class="scroll"><table>
            <caption>\(esc(T("ae_table_caption")))</caption>
            <thead><tr><th scope="col">\(esc(T("col_category")))</th><th scope="col">\(esc(T("col_events")))</th><th scope="col">\(esc(T("col_per_100py")))</th></tr></thead>
            <tbody>\(categories)
            <tr class="sum"><th scope="row">\(esc(T("row_all_events")))</th><td>\(count(g.adverseEvents))</td><td></td></tr>
            <tr><th scope="row">\(esc(T("row_special")))</th><td>\(count(g.specialInterest))</td><td>\(number(g.specialInterestPer100PersonYears))</td></tr>
            <tr><th scope="row">\(esc(T("row_serious")))</th><td>\(count(g.serious))</td><td></td></tr>
            <tr><th scope="row">\(esc(T("row_late")))</th><td>\(count(g.expeditedReportsLate))</td><td></td></tr>
            </tbody>
            </table></div>
            """
    }

    static func measureTable(_ measures: [MeasureFigures]) -> String {
        guard !measures.isEmpty else { return "<p>\(esc(T("measures_none")))</p>" }
        let rows = measures.map { m in
            "<tr><th scope=\"row\">\(esc(m.display))</th><td>\(esc(m.timePoint))</td><td>\(count(m.count))</td><td>\(count(m.median))</td><td>\(T("iqr_to", count(m.lowerQuartile), count(m.upperQuartile)))</td></tr>"
        }.joined()
        return """
            <div class="scroll"><table>
            <caption>\(esc(T("measures_caption", String(VisitRules.screeningWindowDays))))</caption>
            <thead><tr><th scope="col">\(esc(T("col_measure")))</th><th scope="col">\(esc(T("col_time_point")))</th><th scope="col">n</th><th scope="col">\(esc(T("col_median_change")))</th><th scope="col">\(esc(T("col_iqr")))</th></tr></thead>
            <tbody>\(rows)</tbody>
            </table></div>
            """
    }

    /// The products of the report's groups that have no curve, named under the curves.
    static func curveless(_ r: OutcomeReportContent) -> String {
        let drawn = Set(r.curves.map(\.product))
        let missing = Set(r.groups.compactMap(\.key.product)).subtracting(drawn).sorted()
        guard !missing.isEmpty else { return "" }
        let floor = r.parameters.suppression ? r.parameters.minimumCell : 1
        return "<p class=\"note\">\(esc(T("survival_missing", missing.joined(separator: ", "), String(floor), String(max(floor - 1, 0)))))</p>"
    }

    /// Institutions ranked by follow-up completeness, best first, with the CIBMTR target of 90 %:
    /// the bars, then a table with the counts behind them and the follow-ups overdue. Institutions
    /// whose completeness is withheld or not yet estimable come last, in code order.
    static func scorecard(_ institutions: [GroupFigures]) -> String {
        guard !institutions.isEmpty else { return "" }
        let ranked = institutions.enumerated().sorted { a, b in
            switch (a.element.completeness.number, b.element.completeness.number) {
            case let (x?, y?): return x != y ? x > y : a.offset < b.offset
            case (_?, nil): return true
            case (nil, _?): return false
            default: return a.offset < b.offset
            }
        }.map(\.element)
        let below = ranked.filter { ($0.completeness.number ?? 1) < 0.9 }.count
        let figured = ranked.filter { $0.completeness.number != nil }
        let rows = ranked.enumerated().map { i, g -> String in
            let rank = g.completeness.number == nil ? "–" : String(i + 1)
            return "<tr><td>\(rank)</td><th scope=\"row\">\(keyText(g.key, .institution))</th><td>\(count(g.patients))</td><td>\(count(g.followUpExpected))</td>"
                + "<td>\(count(g.followUpCompleted))</td><td class=\"\((g.completeness.number ?? 1) < 0.9 ? "low" : "")\">\(percent(g.completeness))</td><td>\(count(g.overdueNow))</td></tr>"
        }.joined(separator: "\n")
        let head = ["sc_rank", "dim_institution", "g_patients", "col_expected", "col_completed", "col_completeness", "g_overdue"]
            .map { "<th scope=\"col\">\(esc(T($0).prefix(1).uppercased() + T($0).dropFirst()))</th>" }.joined()
        return """
            <section aria-labelledby="h-scorecard">
            <h2 id="h-scorecard">\(esc(T("sc_heading")))</h2>
            <p class="note">\(esc(T("sc_note", String(below), String(figured.count), String(ranked.count - figured.count))))</p>
            \(figured.isEmpty ? "" : completenessBars(id: "sc", items: figured.map { ($0.key.institution ?? "", $0.completeness) }, labelWidth: 90, title: T("sc_heading"), caption: T("sc_caption")))
            <details\(ranked.count <= 30 ? " open" : "")><summary>\(esc(T("sc_table_summary", String(ranked.count))))</summary>
            <div class="scroll"><table class="scorecard">
            <caption>\(esc(T("sc_table_caption")))</caption>
            <thead><tr>\(head)</tr></thead>
            <tbody>
            \(rows)
            </tbody>
            </table></div>
            </details>
            </section>
            """
    }

    /// An ISO 8601 UTC time (`2026-12-06T02:39:41.707355Z`) as Seoul reads it: `2026-12-06 11:39:41 KST`.
    static func seoulTime(_ utc: String) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        guard let date = f.date(from: utc) else { return utc }
        let out = DateFormatter()
        out.locale = Locale(identifier: "en_US_POSIX")
        out.timeZone = TimeZone(identifier: "Asia/Seoul")
        out.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return out.string(from: date) + " KST"
    }

    /// A group's value of a dimension: a product's or institution's code with its name beneath.
    static func keyText(_ key: GroupKey, _ d: ReportDimension) -> String {
        guard let value = key.value(d) else { return esc(T("g_all_value")) }
        let name = d == .product ? ReportNames.current.products[value] : d == .institution ? ReportNames.current.institutions[value] : nil
        return esc(value) + (name.map { "<br><small class=\"name\">\(esc($0))</small>" } ?? "")
    }

    /// A level's groups in three tables that each fit a laptop's width: patients and follow-up,
    /// survival and safety, fees. The group's key stays in the first columns of each (sticky when
    /// a phone scrolls sideways).
    static func groupTable(_ groups: [GroupFigures], caption: String, dims: [ReportDimension]) -> String {
        let fee: (FeeFigures) -> String = { "\(millions($0.median)) <small>(\(millions($0.lowerQuartile))–\(millions($0.upperQuartile)))</small>" }
        let parts: [(String, [String], (GroupFigures) -> [String])] = [
            ("part_follow_up", ["g_patients", "g_administrations", "g_person_years", "g_deaths", "g_lost", "g_withdrawn", "g_completeness", "g_overdue", "g_deviations"].map { T($0) },
             { g in [count(g.patients), count(g.administrations), number(g.personYears), count(g.deaths), count(g.lostToFollowUp),
                     count(g.withdrawn), percent(g.completeness), count(g.overdueNow), count(g.contactDeviations)] }),
            ("part_safety", OutcomeReportContent.survivalYears.map { T("g_survival", String($0)) } + ["g_aes", "g_serious", "g_late", "g_special"].map { T($0) },
             { g in OutcomeReportContent.survivalYears.map { y in survival(g.survival.first { $0.years == y }) }
                 + [count(g.adverseEvents), count(g.serious), count(g.expeditedReportsLate), number(g.specialInterestPer100PersonYears)] }),
            ("part_fees", ["g_fee_notified", "g_fee_collected"].map { T($0) }, { g in [fee(g.feesNotified), fee(g.feesCollected)] }),
        ]
        return parts.map { part, measures, cells in
            let head = ((dims.isEmpty ? [T("g_group")] : dims.map { T("dim_\($0.rawValue)").capitalized }) + measures).map { "<th scope=\"col\">\(esc($0))</th>" }.joined()
            let rows = groups.map { g -> String in
                let keyCells = dims.isEmpty ? "" : dims.enumerated().map { i, d in
                    let text = keyText(g.key, d)
                    return i == 0 ? "<th scope=\"row\">\(text)</th>" : "<td class=\"k\">\(text)</td>"
                }.joined()
                return "<tr>\(dims.isEmpty ? "<th scope=\"row\">\(esc(T("g_all")))</th>" : keyCells)\(cells(g).map { "<td>\($0)</td>" }.joined())</tr>"
            }.joined(separator: "\n")
            return """
                <div class="scroll"><table class="groups">
                <caption>\(esc(caption)) — \(esc(T(part)))</caption>
                <thead><tr>\(head)</tr></thead>
                <tbody>
                \(rows)
                </tbody>
                </table></div>
                """
        }.joined(separator: "\n")
    }

    static let css = """
        :root{--ink:#1d2433;--muted:#5b6478;--line:#d9dee8;--bg:#f6f7fa;--accent:#1f5f99;--ok:#2e7d4f;--low:#c27c0e}
        *{box-sizing:border-box}
        body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans KR",sans-serif;color:var(--ink);background:#fff}
        header,main,footer{max-width:1200px;margin:0 auto;padding:0 20px}
        header{padding-top:24px;border-bottom:3px solid var(--accent)}
        .kicker{margin:0;color:var(--accent);font-weight:600;font-size:13px;text-transform:uppercase;letter-spacing:.04em}
        h1{margin:4px 0 8px;font-size:28px;line-height:1.2}
        h2{font-size:20px;margin:32px 0 12px;padding-bottom:4px;border-bottom:1px solid var(--line)}
        .meta{margin:4px 0;color:var(--muted)}
        .warn{color:#a40000}
        .note{color:var(--muted);margin-top:0}
        .cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:12px}
        .card{background:var(--bg);border:1px solid var(--line);border-radius:8px;padding:12px 14px}
        .card .label{font-size:13px;color:var(--muted)}
        .card .value{font-size:24px;font-weight:650;font-variant-numeric:tabular-nums}
        .card .value small{font-size:13px;font-weight:400;color:var(--muted)}
        .card .value small.ci{display:block}
        td small.ci{display:block}
        svg .target-label{fill:#a40000}
        .cardnote{font-size:12px;color:var(--muted)}
        .multiples{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:12px}
        figure{margin:0}
        figure.small{border:1px solid var(--line);border-radius:8px;padding:6px}
        figure.wide{max-width:560px}
        figure.half{max-width:560px}
        .pair{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:16px}
        figcaption{text-align:center;font-weight:600;font-size:14px}
        svg{width:100%;height:auto;display:block}
        svg text{font-family:inherit;fill:var(--ink)}
        svg .tick{font-size:10px;fill:var(--muted)}
        svg .axis{font-size:10px;fill:var(--muted)}
        svg .label{font-size:13px}
        svg .value{font-size:13px;font-variant-numeric:tabular-nums}
        svg .muted{fill:var(--muted);font-style:italic}
        svg .grid{stroke:var(--line);stroke-width:1}
        svg .band{fill:rgba(31,95,153,.18);stroke:none}
        svg .curve{fill:none;stroke:var(--accent);stroke-width:2}
        svg .bar-ok{fill:var(--ok)}
        svg .bar-low{fill:var(--low)}
        svg .target{stroke:#a40000;stroke-dasharray:4 3;stroke-width:1.5}
        .scroll{overflow-x:auto;margin:12px 0;-webkit-overflow-scrolling:touch}
        table{border-collapse:collapse;font-variant-numeric:tabular-nums;font-size:14px;min-width:min(100%,640px)}
        table.groups{min-width:min(100%,900px)}
        caption{text-align:left;font-weight:600;padding:4px 0 8px;caption-side:top;position:sticky;left:0;max-width:calc(100vw - 40px)}
        th,td{padding:5px 8px;border-bottom:1px solid var(--line);text-align:right;white-space:nowrap}
        th[scope=row],td.k,thead th:first-child{text-align:left}
        table.groups th[scope=row]{position:sticky;left:0;background:#fff;z-index:1;white-space:normal;min-width:9em;max-width:15em}
        table.groups thead th{white-space:normal;vertical-align:bottom;max-width:10em}
        table.groups td small{white-space:nowrap}
        table.groups thead th:first-child{left:0;z-index:2}
        td.low{color:var(--low);font-weight:600}
        table.scorecard th[scope=row]{text-align:left}
        thead th{background:var(--bg);font-weight:600;position:sticky;top:0}
        tr.sum th,tr.sum td{border-top:2px solid var(--ink)}
        td small{color:var(--muted)}
        .s{color:var(--muted);font-style:italic}
        .ne{color:var(--muted)}
        details summary{cursor:pointer;color:var(--accent);margin-bottom:4px}
        dl{display:grid;grid-template-columns:minmax(120px,200px) 1fr;gap:6px 16px}
        dt{font-weight:600;text-transform:capitalize}
        dd{margin:0;color:var(--muted)}
        footer{margin-top:40px;padding-bottom:32px;color:var(--muted);font-size:13px;border-top:1px solid var(--line)}
        .checksum{font-family:ui-monospace,monospace;word-break:break-all}
        @media (max-width:600px){
          body{font-size:14px}
          h1{font-size:22px}
          .cards{grid-template-columns:repeat(2,1fr)}
          .card .value{font-size:19px}
          dl{grid-template-columns:1fr}
          thead th{white-space:normal}
          th,td{padding:5px 6px}
        }
        @media print{
          body{font-size:10pt}
          header,main,footer{max-width:none;padding:0}
          .card,figure,tr,.cards{break-inside:avoid}
          h2,caption{break-after:avoid}
          .multiples{grid-template-columns:repeat(4,1fr)}
          table{font-size:8pt}
          thead th{position:static}
          .scroll{overflow:visible}
          details>summary{display:none}
          a{color:inherit}
        }
        """
}
