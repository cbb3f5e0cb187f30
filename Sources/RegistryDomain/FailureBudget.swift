/// How many failed attempts a client may make before it must wait: a token bucket. A client starts
/// with `capacity` attempts, spends one per failure, and earns them back at `perMinute`; with none
/// left it is told how many seconds until the next. Pure: the caller keeps one per client address
/// and says what time it is (seconds on any monotonic clock).
public struct FailureBudget: Sendable, Equatable {
    public let capacity: Double
    public let perSecond: Double
    public private(set) var left: Double
    public private(set) var at: Double

    public init(perMinute: Int, now: Double) {
        capacity = Double(max(perMinute, 1)); perSecond = Double(max(perMinute, 1)) / 60; left = capacity; at = now
    }

    private mutating func refill(_ now: Double) {
        if now > at { left = min(capacity, left + (now - at) * perSecond); at = now }
    }

    /// Whether the client may try now (at least one attempt left).
    public mutating func allows(now: Double) -> Bool {
        refill(now)
        return left >= 1
    }

    /// Spends one attempt on a failure.
    public mutating func fail(now: Double) {
        refill(now)
        left = max(0, left - 1)
    }

    /// Whole seconds until the next attempt is allowed (at least 1).
    public mutating func retryAfter(now: Double) -> Int {
        refill(now)
        return max(1, Int(((1 - left) / perSecond).rounded(.up)))
    }

    /// Whether the budget is whole again (the client can be forgotten).
    public mutating func isFull(now: Double) -> Bool {
        refill(now)
        return left >= capacity
    }
}
