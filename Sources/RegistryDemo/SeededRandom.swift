/// SplitMix64: small, fast and the same on every platform, so the same seed gives the same registry.
public struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// An independent stream for one part of the data (a chunk, a table).
    init(seed: UInt64, stream: UInt64) { state = seed ^ (stream &* 0x9E37_79B9_7F4A_7C15) &+ 0x632B_E59B_D9B4_E019 }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    /// True with probability p.
    mutating func chance(_ p: Double) -> Bool { unit() < p }

    /// Uniform integer in a closed range.
    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }
}
