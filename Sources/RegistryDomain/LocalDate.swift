import Foundation

/// A calendar date with no time of day, as clinicians write it (Asia/Seoul local calendar).
///
/// Stored as a day number counted from 2000-01-01 (PostgreSQL's own epoch for `date`), so the
/// storage layer can move it to and from the database without any calendar conversion.
public struct LocalDate: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Days since 2000-01-01 (negative before it).
    public let dayNumber: Int

    /// A date from its day number since 2000-01-01.
    public init(dayNumber: Int) { self.dayNumber = dayNumber }

    /// A date from its parts, or nil when the parts name no real date (30 February, month 13).
    public init?(year: Int, month: Int, day: Int) {
        guard (1...9999).contains(year), (1...12).contains(month),
              (1...LocalDate.daysInMonth(year: year, month: month)).contains(day) else { return nil }
        self.dayNumber = LocalDate.daysFromCivil(year: year, month: month, day: day)
    }

    /// Parses `YYYY-MM-DD` strictly; nil for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              parts.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
              let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]) else { return nil }
        self.init(year: y, month: m, day: d)
    }

    /// Year, month and day of this date.
    public var components: (year: Int, month: Int, day: Int) { LocalDate.civil(fromDays: dayNumber) }
    /// The calendar year.
    public var year: Int { components.year }

    /// `YYYY-MM-DD`.
    public var description: String {
        // By hand rather than String(format:), which costs microseconds a call in Foundation's
        // formatter: digests and exports print millions of dates.
        let c = components
        let ascii: [UInt8] = [
            UInt8(48 + c.year / 1000 % 10), UInt8(48 + c.year / 100 % 10), UInt8(48 + c.year / 10 % 10), UInt8(48 + c.year % 10), 45,
            UInt8(48 + c.month / 10), UInt8(48 + c.month % 10), 45, UInt8(48 + c.day / 10), UInt8(48 + c.day % 10),
        ]
        return String(decoding: ascii, as: UTF8.self)
    }

    public static func < (a: LocalDate, b: LocalDate) -> Bool { a.dayNumber < b.dayNumber }

    /// This date moved by a number of days.
    public func adding(days: Int) -> LocalDate { LocalDate(dayNumber: dayNumber + days) }

    /// Calendar month arithmetic: the same day of the month, clamped to the month's last day
    /// (31 Jan + 1 month = 28 or 29 Feb), as registries count "month 6".
    public func adding(months: Int) -> LocalDate {
        let c = components
        let total = c.year * 12 + (c.month - 1) + months
        let y = total / 12, m = total % 12 + 1
        let d = min(c.day, LocalDate.daysInMonth(year: y, month: m))
        return LocalDate(dayNumber: LocalDate.daysFromCivil(year: y, month: m, day: d))
    }

    /// Calendar year arithmetic: 29 Feb + 1 year = 28 Feb.
    public func adding(years: Int) -> LocalDate { adding(months: years * 12) }

    /// Whole days from this date to another (positive when `other` is later).
    public func days(until other: LocalDate) -> Int { other.dayNumber - dayNumber }

    /// Seoul has kept UTC+9 without daylight saving since 1988, so the local date is a fixed
    /// offset from UTC; PostgreSQL's `Asia/Seoul` zone gives the same dates for every instant
    /// the registry can hold.
    public static let seoulOffsetSeconds = 9 * 3600

    /// The Asia/Seoul calendar date at an instant.
    public static func seoulDate(at instant: Date) -> LocalDate {
        let seconds = Int(instant.timeIntervalSince1970.rounded(.down)) + seoulOffsetSeconds
        let daysSince1970 = Int((Double(seconds) / 86_400).rounded(.down))
        return LocalDate(dayNumber: daysSince1970 - 10_957)  // 1970-01-01 is day -10957
    }

    /// Today in Seoul.
    public static func todayInSeoul() -> LocalDate { seoulDate(at: Date()) }

    /// Whether a year is a Gregorian leap year.
    public static func isLeapYear(_ y: Int) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }

    /// Number of days in a month of a year.
    public static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    // Howard Hinnant's days-from-civil algorithms, shifted to a 2000-01-01 epoch.
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468 - 10_957
    }

    static func civil(fromDays n: Int) -> (year: Int, month: Int, day: Int) {
        let z = n + 10_957 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}

extension LocalDate: Codable {
    /// Decodes from `YYYY-MM-DD`.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let date = LocalDate(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "expected a date as YYYY-MM-DD, got \(text)"))
        }
        self = date
    }

    /// Encodes as `YYYY-MM-DD`.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
