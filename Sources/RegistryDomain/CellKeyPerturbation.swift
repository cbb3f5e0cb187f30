/// Consistent perturbation of published counts by cell key: the method of the Australian Bureau
/// of Statistics' TableBuilder (Fraser & Wooton 2005; Thompson, Broadfoot & Elazar 2013).
///
/// Every record a count can count (a patient, a dose, a follow-up, an adverse event) carries a
/// record key, a number from 0 to 255 drawn once from its id with a secret seed
/// (`report.cell-key-seed`, made when the registry is created). A count's cell key is the sum of
/// the record keys of the records it counts, modulo 256, so it depends only on which records are
/// behind the count: the same records give the same cell key, and the same published value, in
/// every table, filter, breakdown and pull. The published value is the count plus a perturbation
/// from −D to +D read from the cell key, with probabilities proportional to (D + 1 − |p|)²,
/// centred on zero. Zero stays zero (no record is behind it) and nothing else becomes zero: a
/// count of records never shows as none, so a zero that a margin shows cannot bound the withheld
/// cells inside it.
///
/// The guarantee (docs/disclosure.md): a published count differs from the true one by at most D,
/// the same group of records always shows the same value, and two different groups show values
/// whose perturbations are, to anyone without the seed, independent. Differencing two pulls
/// therefore gives the difference of the true counts plus the difference of two perturbations,
/// never the exact count; repeating a query gives the same value, not a fresh draw to average.
/// Counts that come out from 1 to K − 1 are then withheld as small.
public struct CellKeyPerturbation: Sendable, Equatable {
    /// Record and cell keys run from 0 to `keySpace` − 1.
    public static let keySpace = 256
    /// The largest perturbation a registry may be set to.
    public static let largestMaximum = 5
    /// D unless the registry's `report.cell-key-max` says otherwise.
    public static let defaultMaximum = 2

    /// D: published counts are within D of the true ones.
    public let maximum: Int
    /// The perturbation for each cell key.
    private let table: [Int]

    public init(maximum: Int = defaultMaximum) {
        precondition((1...Self.largestMaximum).contains(maximum), "D from 1 to \(Self.largestMaximum)")
        self.maximum = maximum
        let values = Array(-maximum...maximum)
        let weights = values.map { (maximum + 1 - abs($0)) * (maximum + 1 - abs($0)) }
        let total = weights.reduce(0, +)
        // Keys are shared out in proportion to the weights, largest remainders first, symmetric
        // about zero so that the perturbation has mean zero.
        var shares = weights.map { $0 * Self.keySpace / total }
        var left = Self.keySpace - shares.reduce(0, +)
        let centre = maximum
        if left % 2 == 1 { shares[centre] += 1; left -= 1 }
        var step = 1
        while left > 0 {
            shares[centre - step % (maximum + 1)] += 1
            shares[centre + step % (maximum + 1)] += 1
            left -= 2
            step += 1
        }
        table = zip(values, shares).flatMap { value, share in [Int](repeating: value, count: share) }
    }

    /// Parses `report.cell-key-max`.
    public static func parse(_ text: String?, field: String = "report.cell-key-max") throws(RegistryError) -> CellKeyPerturbation {
        guard let text else { return CellKeyPerturbation() }
        guard let d = Int(text), (1...largestMaximum).contains(d) else {
            throw .invalid(field, "'\(text)' is not allowed; allowed: 1 to \(largestMaximum) (published counts differ from the true ones by at most this)")
        }
        return CellKeyPerturbation(maximum: d)
    }

    /// The perturbation a cell key gives.
    public func perturbation(cellKey: Int) -> Int {
        table[((cellKey % Self.keySpace) + Self.keySpace) % Self.keySpace]
    }

    /// The published value of a count whose records' keys sum to `keySum`: 0 only for 0, else at least 1.
    public func publish(_ count: Int, keySum: Int) -> Int {
        count == 0 ? 0 : max(1, count + perturbation(cellKey: keySum))
    }

    /// A record key from a hash of the record's id (PostgreSQL's `hashint8extended(id, seed)`).
    public static func recordKey(hash: Int64) -> Int {
        Int(((hash % Int64(keySpace)) + Int64(keySpace)) % Int64(keySpace))
    }
}
