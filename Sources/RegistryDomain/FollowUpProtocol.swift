/// How a follow-up is carried out.
public enum ContactType: String, Codable, CaseIterable, Sendable {
    case examination, phone, questionnaire

    /// Parses a contact type or lists the allowed ones.
    public static func parse(_ text: String, field: String = "contact") throws(RegistryError) -> ContactType {
        guard let c = ContactType(rawValue: text) else {
            throw .invalid(field, "'\(text)' is not a contact type; allowed: examination, phone, questionnaire")
        }
        return c
    }
}

/// An offset from the administration date, in calendar units.
public enum ScheduleOffset: Hashable, Codable, Sendable, CustomStringConvertible {
    case days(Int)
    case months(Int)
    case years(Int)

    /// The due date for an anchor (administration) date.
    public func due(from anchor: LocalDate) -> LocalDate {
        switch self {
        case .days(let n): return anchor.adding(days: n)
        case .months(let n): return anchor.adding(months: n)
        case .years(let n): return anchor.adding(years: n)
        }
    }

    /// The unit's name as stored (`day`, `month`, `year`).
    public var unit: String {
        switch self { case .days: "day"; case .months: "month"; case .years: "year" }
    }

    /// The count of units.
    public var amount: Int {
        switch self { case .days(let n), .months(let n), .years(let n): n }
    }

    /// Rebuilds an offset from its stored unit and amount.
    public init?(unit: String, amount: Int) {
        switch unit {
        case "day": self = .days(amount)
        case "month": self = .months(amount)
        case "year": self = .years(amount)
        default: return nil
        }
    }

    public var description: String { "\(amount) \(unit)\(amount == 1 ? "" : "s")" }
}

/// One time point of a protocol: a label, when it is due, its window and how contact is made.
public struct TimePoint: Hashable, Codable, Sendable {
    public var label: String
    public var offset: ScheduleOffset
    public var windowBefore: Int
    public var windowAfter: Int
    public var contactType: ContactType

    public init(label: String, offset: ScheduleOffset, windowBefore: Int, windowAfter: Int, contactType: ContactType) {
        self.label = label; self.offset = offset; self.windowBefore = windowBefore
        self.windowAfter = windowAfter; self.contactType = contactType
    }
}

/// A versioned list of time points that a plan's administrations are followed by.
public struct FollowUpProtocol: Hashable, Codable, Sendable {
    public var code: String
    public var version: Int
    public var followUpClass: FollowUpClass
    public var timePoints: [TimePoint]

    public init(code: String, version: Int, followUpClass: FollowUpClass, timePoints: [TimePoint]) {
        self.code = code; self.version = version; self.followUpClass = followUpClass; self.timePoints = timePoints
    }

    /// The registry's default protocol for each follow-up class (version 1).
    ///
    /// Early safety visits as CIBMTR schedules them (day 100 ±15, month 6 ±30), then yearly
    /// examinations (±60 days) for five years; gene and xenogeneic products then switch to yearly
    /// questionnaires or calls, as the FDA's long-term follow-up guidance allows, to year 15 or 30.
    public static func standard(for cls: FollowUpClass) -> FollowUpProtocol {
        var points: [TimePoint] = [
            TimePoint(label: "day 7", offset: .days(7), windowBefore: 2, windowAfter: 3, contactType: .phone),
            TimePoint(label: "day 28", offset: .days(28), windowBefore: 7, windowAfter: 7, contactType: .examination),
            TimePoint(label: "day 100", offset: .days(100), windowBefore: 15, windowAfter: 15, contactType: .examination),
            TimePoint(label: "month 6", offset: .months(6), windowBefore: 30, windowAfter: 30, contactType: .examination),
            TimePoint(label: "month 9", offset: .months(9), windowBefore: 30, windowAfter: 30, contactType: .phone),
            TimePoint(label: "year 1", offset: .years(1), windowBefore: 60, windowAfter: 60, contactType: .examination),
            TimePoint(label: "month 18", offset: .months(18), windowBefore: 60, windowAfter: 60, contactType: .questionnaire),
        ]
        for y in 2...5 {
            points.append(TimePoint(label: "year \(y)", offset: .years(y), windowBefore: 60, windowAfter: 60, contactType: .examination))
        }
        if cls.years > 5 {
            for y in 6...cls.years {
                points.append(TimePoint(label: "year \(y)", offset: .years(y), windowBefore: 60, windowAfter: 60,
                                        contactType: y % 2 == 0 ? .questionnaire : .phone))
            }
        }
        let code: String
        switch cls {
        case .cell: code = "LTFU-CELL-5Y"
        case .gene: code = "LTFU-GENE-15Y"
        case .xenogeneic: code = "LTFU-XENO-30Y"
        }
        return FollowUpProtocol(code: code, version: 1, followUpClass: cls, timePoints: points)
    }
}

/// A protocol as an administrator proposes it, checked before anything is stored. The store gives
/// it its version: 1 for a new code, else one more than the code's latest.
///
/// Refusals name the field as a path into the time points, 0-based, e.g.
/// `time-points/3/window-before` (the HTTP body's `/time_points/3/window_before`).
public struct NewFollowUpProtocol: Hashable, Sendable {
    /// One time point as entered, before it is checked.
    public struct Entry: Hashable, Sendable {
        public var label: String
        public var offsetAmount: Int
        /// `day`, `month` or `year`, or the plural.
        public var offsetUnit: String
        public var windowBefore: Int
        public var windowAfter: Int
        public var contactType: String

        public init(label: String, offsetAmount: Int, offsetUnit: String, windowBefore: Int, windowAfter: Int, contactType: String) {
            self.label = label; self.offsetAmount = offsetAmount; self.offsetUnit = offsetUnit
            self.windowBefore = windowBefore; self.windowAfter = windowAfter; self.contactType = contactType
        }
    }

    public let code: String
    public let followUpClass: FollowUpClass
    public let timePoints: [TimePoint]

    /// The most time points a protocol may have.
    public static let maxTimePoints = 100
    /// The widest window on either side of a due date, in days.
    public static let maxWindowDays = 365
    /// The longest label.
    public static let maxLabelLength = 60

    /// Checks every field: the code's shape, the class, and each time point: a label of its own,
    /// due 1 or more days, months or years after the dose and within the class's follow-up
    /// period, a window that opens after the day of the dose, a contact type, and each due after
    /// the one before it for every dose date (so "30 days" then "1 month" is refused: after a
    /// dose on 31 January, month 1 falls on 28 February). Refuses once with every field at fault;
    /// a check that compares with the class or the time point before runs when that one is valid.
    public init(code: String, followUpClass: String, timePoints entries: [Entry]) throws(RegistryError) {
        var checks = FieldChecks()
        let code = checks.check { () throws(RegistryError) in try Rules.protocolCode(code) }
        let cls = checks.check { () throws(RegistryError) -> FollowUpClass in
            guard let cls = FollowUpClass(rawValue: followUpClass) else {
                throw .invalid("follow-up-class", "'\(followUpClass)' is not a follow-up class; allowed: cell (5 years), gene (15 years), xenogeneic (30 years)")
            }
            return cls
        }
        var points: [TimePoint] = []
        if (1...Self.maxTimePoints).contains(entries.count) {
            let periodEnds = cls.map { cls in Self.doseDates.map { $0.adding(years: cls.years) } } ?? []
            // The time point just before, when it was valid: the one the next is compared with.
            var previous: (point: TimePoint, dues: [LocalDate])? = nil
            for (i, entry) in entries.enumerated() {
                let path = "time-points/\(i)"
                guard let (point, dues) = Self.check(entry, path: path, followUpClass: cls, periodEnds: periodEnds, into: &checks) else {
                    previous = nil
                    continue
                }
                if let earlier = points.first(where: { $0.label.lowercased() == point.label.lowercased() }) {
                    checks.refuse(.invalid("\(path)/label", "'\(point.label)' is already the label of an earlier time point ('\(earlier.label)'); each time point needs a label of its own"))
                }
                if let previous, !zip(dues, previous.dues).allSatisfy({ $0 > $1 }) {
                    checks.refuse(.invalid("\(path)/offset-amount", "\(point.offset) is not after '\(previous.point.label)' (\(previous.point.offset)), the time point before it, for every dose date; list the time points in order, each due after the one before"))
                }
                points.append(point)
                previous = (point, dues)
            }
        } else {
            checks.refuse(.invalid("time-points", "a protocol has 1 to \(Self.maxTimePoints) time points; this one has \(entries.count)"))
        }
        try checks.finish()
        self.code = code!
        self.followUpClass = cls!
        self.timePoints = points
    }

    /// The protocol at `version`.
    public func versioned(_ version: Int) -> FollowUpProtocol {
        FollowUpProtocol(code: code, version: version, followUpClass: followUpClass, timePoints: timePoints)
    }

    /// Every day of four years, one of them leap: months and years clamp differently by the day
    /// and year they start from, so what holds for each of these dose dates holds for every one.
    static let doseDates: [LocalDate] = (0..<1461).map { LocalDate(year: 2021, month: 1, day: 1)!.adding(days: $0) }

    /// One time point checked, with its due date after each of `doseDates`; nil when any of its
    /// fields was refused (each refusal kept in `checks`). Without a valid class (`followUpClass`
    /// nil) the offset is not checked, nor the window against it.
    private static func check(_ e: Entry, path: String, followUpClass cls: FollowUpClass?, periodEnds: [LocalDate],
                              into checks: inout FieldChecks) -> (TimePoint, [LocalDate])? {
        let label = checks.check { () throws(RegistryError) in try Rules.name(e.label, field: "\(path)/label", maxLength: maxLabelLength) }
        let units = ["day": "day", "days": "day", "month": "month", "months": "month", "year": "year", "years": "year"]
        let unit = checks.check { () throws(RegistryError) -> String in
            guard let unit = units[e.offsetUnit] else {
                throw .invalid("\(path)/offset-unit", "'\(e.offsetUnit)' is not a unit; allowed: days, months, years")
            }
            return unit
        }
        var due: (offset: ScheduleOffset, dues: [LocalDate])? = nil
        if let cls, let unit {
            due = checks.check { () throws(RegistryError) -> (offset: ScheduleOffset, dues: [LocalDate]) in
                // The coarse bound first keeps the calendar arithmetic below far from overflow.
                guard e.offsetAmount >= 1, e.offsetAmount <= cls.years * 366, let offset = ScheduleOffset(unit: unit, amount: e.offsetAmount) else {
                    throw .invalid("\(path)/offset-amount", "\(e.offsetAmount) is not allowed; a time point is due 1 or more \(unit)s after the dose, within the \(cls.years)-year follow-up of \(cls.rawValue) products")
                }
                let dues = doseDates.map { offset.due(from: $0) }
                guard zip(dues, periodEnds).allSatisfy({ $0 <= $1 }) else {
                    throw .invalid("\(path)/offset-amount", "\(offset) is beyond the \(cls.years)-year follow-up of \(cls.rawValue) products; allowed: up to \(cls.years) years after the dose")
                }
                return (offset, dues)
            }
        }
        var windows: [Int?] = []
        for (field, days) in [("window-before", e.windowBefore), ("window-after", e.windowAfter)] {
            windows.append(checks.check { () throws(RegistryError) -> Int in
                guard (0...maxWindowDays).contains(days) else {
                    throw .invalid("\(path)/\(field)", "\(days) is not a window; allowed: 0 to \(maxWindowDays) days")
                }
                return days
            })
        }
        var opensAfterDose = true
        if let due, windows[0] != nil {
            let shortest = zip(doseDates, due.dues).map { $0.days(until: $1) }.min()!
            if e.windowBefore >= shortest {
                opensAfterDose = false
                checks.refuse(.invalid("\(path)/window-before", "a window opening \(e.windowBefore) days before a time point due \(due.offset) after the dose would open on or before the day of the dose; allowed: 0 to \(shortest - 1)"))
            }
        }
        let contact = checks.check { () throws(RegistryError) in try ContactType.parse(e.contactType, field: "\(path)/contact-type") }
        guard let label, let due, let before = windows[0], let after = windows[1], opensAfterDose, let contact else { return nil }
        return (TimePoint(label: label, offset: due.offset, windowBefore: before, windowAfter: after, contactType: contact), due.dues)
    }
}

/// A stored protocol with its database id, as the front ends list it (the offset as unit and amount).
public struct StoredProtocol: Encodable, Equatable, Sendable {
    /// One time point.
    public struct Point: Encodable, Equatable, Sendable {
        public var label: String
        public var offsetUnit: String
        public var offsetAmount: Int
        public var windowBefore: Int
        public var windowAfter: Int
        public var contactType: ContactType
    }
    public var id: Int
    public var code: String
    public var version: Int
    public var followUpClass: FollowUpClass
    public var timePoints: [Point]

    /// The protocol `p`, stored under `id`.
    public init(id: Int, _ p: FollowUpProtocol) {
        self.id = id; code = p.code; version = p.version; followUpClass = p.followUpClass
        timePoints = p.timePoints.map { Point(label: $0.label, offsetUnit: $0.offset.unit, offsetAmount: $0.offset.amount,
                                             windowBefore: $0.windowBefore, windowAfter: $0.windowAfter, contactType: $0.contactType) }
    }
}
