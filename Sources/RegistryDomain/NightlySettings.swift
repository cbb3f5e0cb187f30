/// The nightly job's settings (`registry_setting` keys `jobs.*`), parsed and checked in one place
/// so a change of setting is refused when the job could not use the value.
public struct NightlySettings: Equatable, Sendable {
    /// Days overdue after which a follow-up moves up one escalation level, ascending.
    public var escalateDays: [Int] = [30, 90]
    /// Days overdue after which a follow-up is marked missed.
    public var missedAfterDays = 365
    /// Consecutive missed follow-ups (no contact since) that make the job propose lost to follow-up.
    public var lostAfterMissed = 2
    /// Days the job keeps its run history and outbox.
    public var retentionDays = 400
    /// Local Seoul time the worker runs the job at, as minutes after midnight.
    public var nightlyAtMinutes = 120

    public init() {}

    /// The setting keys this type reads.
    public static let keys = ["jobs.escalate-days", "jobs.missed-after-days", "jobs.lost-after-missed", "jobs.retention-days", "jobs.nightly-at"]

    /// Reads the settings from their stored text, falling back to the defaults for keys not present.
    public init(_ values: [String: String]) throws(RegistryError) {
        for key in Self.keys {
            if let value = values[key] { try set(key, value) }
        }
    }

    /// Checks and applies one setting; refuses values the job cannot use, naming what is allowed.
    public mutating func set(_ key: String, _ value: String) throws(RegistryError) {
        let text = value.trimmingCharactersInWhitespace()
        func days(_ range: ClosedRange<Int>) throws(RegistryError) -> Int {
            guard let n = Int(text), range.contains(n) else {
                throw .invalid("value", "'\(value)' is not allowed for \(key); allowed: whole days from \(range.lowerBound) to \(range.upperBound)")
            }
            return n
        }
        switch key {
        case "jobs.escalate-days":
            let parts = text.split(separator: ",", omittingEmptySubsequences: false)
            let list = parts.compactMap { Int(String($0).trimmingCharactersInWhitespace()) }
            guard !list.isEmpty, list.count == parts.count, list.count <= 9, list.allSatisfy({ (1...3650).contains($0) }),
                  zip(list, list.dropFirst()).allSatisfy({ $0 < $1 }) else {
                throw .invalid("value", "'\(value)' is not allowed for \(key); allowed: 1 to 9 ascending whole days from 1 to 3650, comma-separated, e.g. 30,90")
            }
            escalateDays = list
        case "jobs.missed-after-days": missedAfterDays = try days(1...3650)
        case "jobs.lost-after-missed": lostAfterMissed = try days(1...20)
        case "jobs.retention-days": retentionDays = try days(30...36_500)
        case "jobs.nightly-at":
            let hm = text.split(separator: ":")
            guard hm.count == 2, hm[0].count == 2, hm[1].count == 2, let h = Int(hm[0]), let m = Int(hm[1]), (0...23).contains(h), (0...59).contains(m) else {
                throw .invalid("value", "'\(value)' is not allowed for \(key); allowed: a Seoul local time HH:MM from 00:00 to 23:59")
            }
            nightlyAtMinutes = h * 60 + m
        default:
            throw .invalid("key", "'\(key)' is not a nightly job setting; allowed: \(Self.keys.joined(separator: ", "))")
        }
    }
}
