import Foundation

/// How repeated failed sign-ins slow down and then lock an account. Pure: storage counts the
/// consecutive failures and asks this what follows.
///
/// The first failure costs nothing (a typo); from the second, each answer waits longer (1, 2, 4,
/// then 8 seconds); the fifth consecutive failure locks the account for 15 minutes, and while the
/// count stands (no correct sign-in, no reset) every further failure locks it again.
public enum SignInThrottle {
    /// The consecutive failure that locks the account.
    public static let lockAfter = 5
    /// How long a lock lasts.
    public static let lockDuration: Duration = .seconds(15 * 60)

    /// How long to wait before answering after `failures` consecutive failures (this one included).
    public static func delay(afterFailures failures: Int) -> Duration {
        guard failures >= 2 else { return .zero }
        return .seconds(1 << min(failures - 2, 3))
    }

    /// Until when the account is locked after `failures` consecutive failures, the last at
    /// `lastFailure`; nil while it is not.
    public static func lockedUntil(failures: Int, lastFailure: Date) -> Date? {
        guard failures >= lockAfter else { return nil }
        return lastFailure.addingTimeInterval(TimeInterval(lockDuration.components.seconds))
    }
}
