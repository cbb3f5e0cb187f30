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
