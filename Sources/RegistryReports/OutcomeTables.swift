import RegistryDomain

/// Turns the rows of `OutcomeData` into the report's groups: sums additive counts from cells into
/// every published group, estimates survival per group, applies small-cell suppression (primary
/// and complementary, over the groups' totals and each group's own breakdowns), and withholds
/// every figure derived from a withheld count. Pure: no I/O.
struct OutcomeTables {
    /// The published levels: the cross of `by`, each dimension alone (with two or more), the total.
    static func levels(_ by: [ReportDimension]) -> [[ReportDimension]] {
        var out = [by]
        if by.count > 1 { out += by.map { [$0] } }
        if !by.isEmpty { out.append([]) }
        return out
    }

    /// Days at which survival at a number of years is read (years of 365.25 days).
    static func days(years: Int) -> Int { Int((365.25 * Double(years)).rounded(.down)) }

    private struct Accumulator {
        var patients = 0, deaths = 0, lost = 0, withdrawn = 0, personDays = 0
        var times: [Int: SurvivalCount] = [:]
        var followUps: [String: (expected: Int, completed: Int)] = [:]
        var overdue = 0, deviations = 0
        var grades = [0, 0, 0, 0, 0]
        var categories: [String: Int] = [:]
        var events = 0, serious = 0, late = 0
        var administrations = 0
        /// Record-key sums behind each count, by its path in the report (CellKeyPerturbation);
        /// at-risk counts come from `timeKeys`, the key sums of the patients with each survival time.
        var keys: [String: Int] = [:]
        var timeKeys: [Int: Int] = [:]
        var notified: [Double] = [], collected: [Double] = []
        /// Changes from baseline with how many had each, per measure and time point (by index
        /// into `measureIDs`); values may repeat, as they come from several cells.
        var measures: [Int: [(value: Double, count: Int)]] = [:]

        mutating func key(_ path: String, _ k: Int) { keys[path, default: 0] += k }

        mutating func addSurvival(days: Int, status: Int, patients n: Int, key k: Int) {
            patients += n
            personDays += days * n
            key("patients", k)
            timeKeys[days, default: 0] += k
            switch status {
            case 1: deaths += n; key("deaths", k)
            case 2: withdrawn += n; key("withdrawn", k)
            case 3: lost += n; key("lost", k)
            default: break
            }
            var c = times[days] ?? SurvivalCount(time: days, events: 0, censored: 0)
            if status == 1 { c.events += n } else { c.censored += n }
            times[days] = c
        }
    }

    private struct MeasureID: Hashable {
        var key: String
        var label: String
    }

    static let specialCategories = AdverseEventCategory.allCases.filter(\.isOfSpecialInterest)

    static func content(_ data: OutcomeData, parameters p: ReportParameters) -> OutcomeReportContent {
        let levels = levels(p.by)
        func key(_ cell: OutcomeData.Cell, _ level: [ReportDimension]) -> GroupKey {
            GroupKey(product: level.contains(.product) ? data.productCodes[cell.product] : nil,
                     indication: level.contains(.indication) ? cell.indication : nil,
                     institution: level.contains(.institution) ? data.institutionCodes[cell.institution] : nil,
                     year: level.contains(.year) ? cell.year : nil,
                     quarter: level.contains(.quarter) ? "\(cell.year)Q\(cell.quarter)" : nil)
        }
        func key(_ dims: OutcomeData.Dims) -> GroupKey {
            GroupKey(product: dims.product.flatMap { data.productCodes[$0] }, indication: dims.indication,
                     institution: dims.institution.flatMap { data.institutionCodes[$0] }, year: dims.year,
                     quarter: dims.quarter.map { "\($0 / 10)Q\($0 % 10)" })
        }

        // Groups, level by level, each level in order of its values; the total is always there.
        var keys: [GroupKey] = []
        var levelOf: [Int] = []
        for (l, level) in levels.enumerated() {
            let found = Set(data.cells.values.map { key($0, level) }).union(level.isEmpty ? [GroupKey()] : [])
            for k in found.sorted(by: GroupKey.ordered) { keys.append(k); levelOf.append(l) }
        }
        var index: [GroupKey: Int] = [:]
        for (i, k) in keys.enumerated() { index[k] = i }
        // Cells are numbered densely from 1 (dense_rank), so their groups sit in an array.
        var cellGroups = [[Int]](repeating: [], count: (data.cells.keys.max() ?? 0) + 1)
        for (cell, dims) in data.cells { cellGroups[cell] = levels.map { index[key(dims, $0)]! } }

        var acc = [Accumulator](repeating: Accumulator(), count: keys.count)
        var productTimes: [Int: [Int: SurvivalCount]] = [:]
        for row in data.survival {
            for g in cellGroups[row.cell] { acc[g].addSurvival(days: row.days, status: row.status, patients: row.patients, key: row.cellKey) }
            let product = data.cells[row.cell]!.product
            var c = productTimes[product, default: [:]][row.days] ?? SurvivalCount(time: row.days, events: 0, censored: 0)
            if row.status == 1 { c.events += row.patients } else { c.censored += row.patients }
            productTimes[product, default: [:]][row.days] = c
        }
        var labelOrder: [String: Int] = [:]
        for row in data.followUps {
            labelOrder[row.label] = min(labelOrder[row.label] ?? .max, row.sequence)
            for g in cellGroups[row.cell] {
                let old = acc[g].followUps[row.label] ?? (0, 0)
                acc[g].followUps[row.label] = (old.expected + row.expected, old.completed + row.completed)
                acc[g].overdue += row.overdue
                acc[g].deviations += row.deviations
                acc[g].key("fu.expected", row.cellKeys[0]); acc[g].key("fu@\(row.label).expected", row.cellKeys[0])
                acc[g].key("fu.completed", row.cellKeys[1]); acc[g].key("fu@\(row.label).completed", row.cellKeys[1])
                acc[g].key("fu.overdue", row.cellKeys[2]); acc[g].key("fu.deviations", row.cellKeys[3])
            }
        }
        for row in data.adverseEvents {
            for g in cellGroups[row.cell] {
                acc[g].events += row.events
                acc[g].grades[row.grade - 1] += row.events
                acc[g].categories[row.category, default: 0] += row.events
                if row.serious { acc[g].serious += row.events }
                if row.late { acc[g].late += row.events }
                acc[g].key("ae.events", row.cellKey); acc[g].key("ae.grade.\(row.grade)", row.cellKey); acc[g].key("ae.category.\(row.category)", row.cellKey)
                if row.serious { acc[g].key("ae.serious", row.cellKey) }
                if row.late { acc[g].key("ae.late", row.cellKey) }
                if AdverseEventCategory(rawValue: row.category)?.isOfSpecialInterest == true { acc[g].key("ae.special", row.cellKey) }
            }
        }
        for row in data.fees {
            guard let g = index[key(row.dims)] else { continue }
            acc[g].administrations = row.administrations
            acc[g].keys["administrations"] = row.cellKey
            acc[g].notified = row.notified
            acc[g].collected = row.collected
        }
        var measureIDs: [MeasureID] = []
        var measureIndex: [MeasureID: Int] = [:]
        var measureSequence: [Int] = []
        for row in data.measures {
            let id = MeasureID(key: row.key, label: row.label)
            let m: Int
            if let known = measureIndex[id] { m = known } else {
                m = measureIDs.count
                measureIDs.append(id)
                measureIndex[id] = m
                measureSequence.append(row.sequence)
            }
            measureSequence[m] = min(measureSequence[m], row.sequence)
            for g in cellGroups[row.cell] {
                acc[g].measures[m, default: []].append((row.change, row.count))
                acc[g].key("measure@\(id.key)@\(id.label)", row.cellKey)
            }
        }
        for (m, id) in measureIDs.enumerated() { labelOrder[id.label] = min(labelOrder[id.label] ?? .max, measureSequence[m]) }
        let measureSummaries: [[MeasureID: QuantileSummary]] = acc.map { a in
            var out: [MeasureID: QuantileSummary] = [:]
            for (m, values) in a.measures { out[measureIDs[m]] = Quantiles.summary(counted: values)! }
            return out
        }
        let labelRank: (String, String) -> Bool = { (labelOrder[$0] ?? .max, $0) < (labelOrder[$1] ?? .max, $1) }
        let measurePosition = Dictionary(data.measureNames.enumerated().map { ($1.key, $0) }, uniquingKeysWith: { first, _ in first })
        let measureDisplay = Dictionary(data.measureNames.map { ($0.key, $0.display) }, uniquingKeysWith: { first, _ in first })
        let measureRank: (MeasureID, MeasureID) -> Bool = { a, b in
            let ia = measurePosition[a.key] ?? .max
            let ib = measurePosition[b.key] ?? .max
            return ia != ib ? ia < ib : a.label != b.label ? labelRank(a.label, b.label) : false
        }

        // Every published count is a cell; equations say which cells add up to which.
        let kms = acc.map { KaplanMeier(Array($0.times.values)) }
        var values: [Int] = []
        var cellKeys: [Int] = []
        var cells = [[String: Int]](repeating: [:], count: keys.count)
        var paths = [[String]](repeating: [], count: keys.count)
        for g in keys.indices {
            let a = acc[g]
            var list: [(String, Int)] = [("patients", a.patients), ("administrations", a.administrations), ("deaths", a.deaths),
                                         ("lost", a.lost), ("withdrawn", a.withdrawn),
                                         ("fu.expected", a.followUps.values.reduce(0) { $0 + $1.expected }),
                                         ("fu.completed", a.followUps.values.reduce(0) { $0 + $1.completed }), ("fu.overdue", a.overdue),
                                         ("fu.deviations", a.deviations)]
            // Time points nothing is expected at yet (year 6 of a fresh registry) are left out.
            for label in a.followUps.keys.sorted(by: labelRank) where a.followUps[label]!.expected + a.followUps[label]!.completed > 0 {
                list.append(("fu@\(label).expected", a.followUps[label]!.expected))
                list.append(("fu@\(label).completed", a.followUps[label]!.completed))
            }
            var atRiskKeys: [String: Int] = [:]
            for y in OutcomeReportContent.survivalYears {
                list.append(("at-risk.\(y)", kms[g].atRisk(at: days(years: y))))
                atRiskKeys["at-risk.\(y)"] = a.timeKeys.reduce(0) { $0 + ($1.key >= days(years: y) ? $1.value : 0) }
            }
            list.append(("ae.events", a.events))
            for grade in 1...5 { list.append(("ae.grade.\(grade)", a.grades[grade - 1])) }
            for c in AdverseEventCategory.allCases { list.append(("ae.category.\(c.rawValue)", a.categories[c.rawValue] ?? 0)) }
            list.append(("ae.serious", a.serious))
            list.append(("ae.late", a.late))
            list.append(("ae.special", specialCategories.reduce(0) { $0 + (a.categories[$1.rawValue] ?? 0) }))
            for m in measureSummaries[g].keys.sorted(by: measureRank) { list.append(("measure@\(m.key)@\(m.label)", measureSummaries[g][m]!.count)) }
            for (path, value) in list {
                cells[g][path] = values.count
                paths[g].append(path)
                values.append(value)
                cellKeys.append(atRiskKeys[path] ?? a.keys[path] ?? 0)
            }
        }
        var equations: [SmallCellSuppression.Equation] = []
        // Group totals: a group is the sum of its children at every finer published level.
        struct Parent: Hashable { var cell: Int; var level: Int }
        var lattice: [Parent: [Int]] = [:]
        for g in keys.indices {
            let level = levels[levelOf[g]]
            for coarser in levels where coarser.count < level.count && coarser.allSatisfy(level.contains) {
                let parentKey = GroupKey(product: coarser.contains(.product) ? keys[g].product : nil,
                                         indication: coarser.contains(.indication) ? keys[g].indication : nil,
                                         institution: coarser.contains(.institution) ? keys[g].institution : nil,
                                         year: coarser.contains(.year) ? keys[g].year : nil,
                                         quarter: coarser.contains(.quarter) ? keys[g].quarter : nil)
                let parent = index[parentKey]!
                for path in paths[g] {
                    guard let total = cells[parent][path] else { continue }
                    lattice[Parent(cell: total, level: levelOf[g]), default: []].append(cells[g][path]!)
                }
            }
        }
        for parent in lattice.keys.sorted(by: { ($0.cell, $0.level) < ($1.cell, $1.level) }) {
            equations.append(.init(total: parent.cell, parts: lattice[parent]!))
        }
        // Breakdowns within a group: time points add up to the whole, grades and categories to
        // all events, the five delayed categories to the events of special interest.
        for g in keys.indices {
            let c = cells[g]
            let labels = paths[g].filter { $0.hasPrefix("fu@") && $0.hasSuffix(".expected") }.map { String($0.dropFirst(3).dropLast(9)) }
            if !labels.isEmpty {
                equations.append(.init(total: c["fu.expected"]!, parts: labels.map { c["fu@\($0).expected"]! }))
                equations.append(.init(total: c["fu.completed"]!, parts: labels.map { c["fu@\($0).completed"]! }))
            }
            equations.append(.init(total: c["ae.events"]!, parts: (1...5).map { c["ae.grade.\($0)"]! }))
            equations.append(.init(total: c["ae.events"]!, parts: AdverseEventCategory.allCases.map { c["ae.category.\($0.rawValue)"]! }))
            equations.append(.init(total: c["ae.special"]!, parts: specialCategories.map { c["ae.category.\($0.rawValue)"]! }))
        }
        // A group of fewer than K patients is not described at all: every count of it is withheld
        // (zeros aside), and protected by complementary suppression like a small count.
        // With perturbation (always for regulators) every count is published as the cell-key
        // method gives it, the same for the same records in every pull; small results are then
        // withheld. No complementary suppression: totals and parts no longer add up exactly, so
        // a withheld count cannot be recomputed from them, and a pattern that changed from pull
        // to pull would itself give counts away. Without perturbation (an administrator's
        // choice) the classic complementary suppression protects the small counts of this pull.
        let perturbed = p.suppression && p.perturbation
        if perturbed { values = values.indices.map { data.perturbation.publish(values[$0], keySum: cellKeys[$0]) } }
        let suppression = SmallCellSuppression(minimumCell: p.minimumCell)
        let withheld = keys.indices.filter { suppression.isSmall(values[cells[$0]["patients"]!]) }.flatMap { g in paths[g].map { cells[g][$0]! } }
        let disclosure = p.suppression
            ? suppression.apply(values, equations: perturbed ? [] : equations, withheld: withheld)
            : [Disclosure](repeating: .shown, count: values.count)
        /// Deaths up to day t: a survival figure whose deaths are from 1 to K − 1 would give them away.
        let floor = p.suppression ? p.minimumCell : 1
        func revealsFewDeaths(_ times: [Int: SurvivalCount], by t: Int) -> Bool {
            let deaths = times.values.reduce(0) { $0 + ($1.time <= t ? $1.events : 0) }
            return deaths > 0 && deaths < floor
        }

        func figures(_ g: Int) -> GroupFigures {
            let a = acc[g]
            func count(_ path: String) -> Figure {
                guard let i = cells[g][path] else { return .count(0) }
                return disclosure[i].isSuppressed ? .suppressed : .count(values[i])
            }
            func hidden(_ path: String) -> Bool { cells[g][path].map { disclosure[$0].isSuppressed } ?? false }
            let patients = count("patients")
            let personYears = Double(a.personDays) / 365.25
            func ratio(_ num: String, _ den: String) -> Figure {
                let d = cells[g][den].map { values[$0] } ?? 0
                guard d > 0 else { return .notEstimable }
                if hidden(num) || hidden(den) { return .suppressed }
                return .value(Double(cells[g][num].map { values[$0] } ?? 0) / Double(d), decimals: 4)
            }
            func rate(_ path: String) -> Figure {
                guard a.personDays > 0 else { return .notEstimable }
                if hidden(path) || patients.isSuppressed { return .suppressed }
                return .value(Double(values[cells[g][path]!]) / personYears * 100, decimals: 2)
            }
            let timePoints = a.followUps.keys.sorted(by: labelRank).filter { cells[g]["fu@\($0).expected"] != nil }.map { label in
                TimePointFigures(timePoint: label, expected: count("fu@\(label).expected"), completed: count("fu@\(label).completed"),
                                 completeness: ratio("fu@\(label).completed", "fu@\(label).expected"))
            }
            let survival = OutcomeReportContent.survivalYears.map { y -> SurvivalFigures in
                let atRisk = count("at-risk.\(y)")
                if atRisk.isSuppressed || patients.isSuppressed || revealsFewDeaths(a.times, by: days(years: y)) {
                    return SurvivalFigures(years: y, atRisk: atRisk, estimate: .suppressed, lower: .suppressed, upper: .suppressed)
                }
                guard let e = kms[g].estimate(at: days(years: y)) else {
                    return SurvivalFigures(years: y, atRisk: atRisk, estimate: .notEstimable, lower: .notEstimable, upper: .notEstimable)
                }
                return SurvivalFigures(years: y, atRisk: atRisk, estimate: .value(e.survival, decimals: 4),
                                       lower: e.lower.map { .value($0, decimals: 4) } ?? .notEstimable,
                                       upper: e.upper.map { .value($0, decimals: 4) } ?? .notEstimable)
            }
            let categories = AdverseEventCategory.allCases.map { c -> CategoryFigures in
                let path = "ae.category.\(c.rawValue)"
                guard c.isOfSpecialInterest else { return CategoryFigures(category: c, events: count(path)) }
                let perHundred = rate(path)
                guard case .value = perHundred else {
                    return CategoryFigures(category: c, events: count(path), per100PersonYears: perHundred, lower: perHundred, upper: perHundred)
                }
                let ci = PoissonInterval.exact(count: cells[g][path].map { values[$0] } ?? 0)
                return CategoryFigures(category: c, events: count(path), per100PersonYears: perHundred,
                                       lower: .value(ci.lower / personYears * 100, decimals: 2), upper: .value(ci.upper / personYears * 100, decimals: 2))
            }
            let measures = measureSummaries[g].keys.sorted(by: measureRank).map { m -> MeasureFigures in
                let path = "measure@\(m.key)@\(m.label)"
                let q = measureSummaries[g][m]!
                func value(_ x: Double) -> Figure { hidden(path) ? .suppressed : .value(x, decimals: 3) }
                return MeasureFigures(measure: m.key, display: measureDisplay[m.key] ?? m.key, timePoint: m.label, count: count(path), median: value(q.median),
                                      lowerQuartile: value(q.lowerQuartile), upperQuartile: value(q.upperQuartile))
            }
            func fee(_ q: [Double]) -> FeeFigures {
                if a.administrations == 0 || q.count != 3 { return FeeFigures(median: .notEstimable, lowerQuartile: .notEstimable, upperQuartile: .notEstimable) }
                if hidden("administrations") { return FeeFigures(median: .suppressed, lowerQuartile: .suppressed, upperQuartile: .suppressed) }
                return FeeFigures(median: .value(q[1], decimals: 0), lowerQuartile: .value(q[0], decimals: 0), upperQuartile: .value(q[2], decimals: 0))
            }
            return GroupFigures(
                key: keys[g], patients: patients, administrations: count("administrations"),
                personYears: patients.isSuppressed ? .suppressed : .value(personYears, decimals: 1),
                deaths: count("deaths"), lostToFollowUp: count("lost"), withdrawn: count("withdrawn"),
                followUpExpected: count("fu.expected"), followUpCompleted: count("fu.completed"),
                completeness: ratio("fu.completed", "fu.expected"), overdueNow: count("fu.overdue"), contactDeviations: count("fu.deviations"),
                timePoints: timePoints, survival: survival,
                adverseEvents: count("ae.events"), byGrade: (1...5).map { count("ae.grade.\($0)") }, byCategory: categories,
                serious: count("ae.serious"), expeditedReportsLate: count("ae.late"),
                specialInterest: count("ae.special"), specialInterestPer100PersonYears: rate("ae.special"),
                measures: measures, feesNotified: fee(a.notified), feesCollected: fee(a.collected))
        }

        let total = index[GroupKey()]!
        let groups = keys.indices.filter { $0 != total }.map(figures)
        // Curves by product, cut where fewer than K remain at risk. A curve's first steps give away
        // how many patients it starts from, so there is none for a product below K, nor for one
        // whose count the report withholds.
        var curves: [SurvivalCurve] = []
        for (product, times) in productTimes.sorted(by: { (data.productCodes[$0.key] ?? "") < (data.productCodes[$1.key] ?? "") }) {
            let km = KaplanMeier(Array(times.values))
            guard km.total >= floor else { continue }
            if let g = index[GroupKey(product: data.productCodes[product])], let i = cells[g]["patients"], disclosure[i].isSuppressed { continue }
            var points: [SurvivalCurve.Point] = []
            for month in 0...360 {
                let t = Int((Double(month) * 30.4375).rounded())
                guard km.atRisk(at: t) >= floor, let e = km.estimate(at: t) else { break }
                if revealsFewDeaths(times, by: t) { continue }
                points.append(.init(days: t, survival: e.survival, lower: e.lower ?? e.survival, upper: e.upper ?? e.survival))
            }
            // A lone point at 100 % says nothing; such a product gets no curve (the page lists it).
            guard points.count >= 2 else { continue }
            curves.append(SurvivalCurve(product: data.productCodes[product] ?? "\(product)", points: points))
        }
        let named = groups.map(\.key) + [GroupKey(product: p.product, institution: p.institution)]
        let productCodes = Set(named.compactMap(\.product) + curves.map(\.product))
        let institutionCodes = Set(named.compactMap(\.institution))
        var content = OutcomeReportContent(parameters: p, registryVersion: "\(RegistryVersion.software) (schema \(data.schemaVersion))",
                                    total: figures(total), groups: groups, curves: curves,
                                    primarySuppressed: disclosure.filter { $0 == .primary }.count,
                                    complementarySuppressed: disclosure.filter { $0 == .complementary }.count,
                                    productNames: data.productNames.filter { productCodes.contains($0.key) },
                                    institutionNames: data.institutionNames.filter { institutionCodes.contains($0.key) })
        content.recordedBy = data.cut.recordedBy
        content.perturbationMaximum = data.perturbation.maximum
        content.horizon = p.cut.horizon
        content.provisional = data.cut.provisional
        return content
    }
}
