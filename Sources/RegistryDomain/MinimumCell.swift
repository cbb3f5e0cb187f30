/// The small-cell rule for everything published: K, its default and the floors each kind of caller may ask for.
public enum MinimumCell {
    /// K unless a caller asks for another (CMS: no counts of 1–10).
    public static let defaultK = 11
    /// Regulators never get K below this.
    public static let regulatorFloor = 5
    /// Nobody gets K below this.
    public static let floor = 2
    /// The largest K anyone may ask for.
    public static let maximum = 1000

    /// A count from 1 to K − 1 is withheld (nil); zero and larger counts show. The SQL twin is `registry_suppress(n, k)`.
    public static func published(_ count: Int, k: Int) -> Int? {
        count >= 1 && count < k ? nil : count
    }
}
