/// Why a published count is hidden, or that it is not.
public enum Disclosure: String, Sendable, Equatable {
    /// Shown as it is.
    case shown
    /// A count from 1 to K − 1.
    case primary
    /// Not small itself, but hidden so that a small one cannot be recomputed from a total.
    case complementary

    /// Whether the value is withheld.
    public var isSuppressed: Bool { self != .shown }
}

/// Small-cell suppression for published aggregates (CMS: no counts of 1–10, nor any cell that
/// can be derived from others; OHDSI: below 5).
///
/// Counts are cells addressed by index; an equation says that one cell is the sum of others (a
/// row or column total, a group total, the events of a group over its grades). Primary
/// suppression hides every count from 1 to K − 1; zeros are shown. Complementary suppression
/// then makes sure no equation has exactly one hidden cell, since that cell would be the total
/// minus the shown ones: it hides, in such an equation, the smallest shown positive part (lowest
/// index on ties, so the result is deterministic), or the total if no part can be hidden, and
/// repeats until every equation has none or at least two. This is the usual heuristic; it does not
/// solve the general linear-programming attack over many equations at once.
public struct SmallCellSuppression: Sendable {
    /// A total and the cells that add up to it.
    public struct Equation: Equatable, Sendable {
        public var total: Int
        public var parts: [Int]
        public init(total: Int, parts: [Int]) { self.total = total; self.parts = parts }
    }

    /// K: counts below it (and above zero) are suppressed.
    public let minimumCell: Int

    public init(minimumCell: Int) { self.minimumCell = minimumCell }

    /// Whether a count is small (1 to K − 1).
    public func isSmall(_ count: Int) -> Bool { MinimumCell.published(count, k: minimumCell) == nil }

    /// The disclosure of each cell. `withheld` names cells to treat as primary whatever their
    /// value (non-zero ones), e.g. every count describing a group of fewer than K patients.
    public func apply(_ values: [Int], equations: [Equation], withheld: [Int] = []) -> [Disclosure] {
        var state = values.map { isSmall($0) ? Disclosure.primary : .shown }
        for cell in withheld where values[cell] != 0 { state[cell] = .primary }
        var byCell = [[Int]](repeating: [], count: values.count)
        for (e, eq) in equations.enumerated() {
            byCell[eq.total].append(e)
            for p in eq.parts { byCell[p].append(e) }
        }
        var queue = Array(equations.indices)
        var queued = [Bool](repeating: true, count: equations.count)
        var head = 0
        while head < queue.count {
            let e = queue[head]
            head += 1
            queued[e] = false
            let eq = equations[e]
            let hidden = (state[eq.total].isSuppressed ? 1 : 0) + eq.parts.reduce(0) { $0 + (state[$1].isSuppressed ? 1 : 0) }
            guard hidden == 1 else { continue }
            var pick: Int? = nil
            for p in eq.parts where !state[p].isSuppressed && values[p] > 0 {
                if let best = pick, (values[best], best) <= (values[p], p) { continue }
                pick = p
            }
            if pick == nil && !state[eq.total].isSuppressed { pick = eq.total }
            guard let cell = pick else { continue }
            state[cell] = .complementary
            for other in byCell[cell] where !queued[other] {
                queued[other] = true
                queue.append(other)
            }
        }
        return state
    }
}
