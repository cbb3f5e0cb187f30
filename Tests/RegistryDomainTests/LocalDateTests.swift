import Foundation
import PropertyBased
import RegistryDomain
import Testing

@Suite("Local dates and calendar arithmetic")
struct LocalDateTests {
    @Test("parsing is strict and round-trips")
    func parsing() {
        #expect(LocalDate("2025-02-21")?.description == "2025-02-21")
        #expect(LocalDate("2024-02-29") != nil)
        for bad in ["2025-02-29", "2025-13-01", "2025-00-10", "2025-1-01", "25-01-01", "2025/01/01", "", "2025-01-01T00:00", "２０２５-01-01"] {
            #expect(LocalDate(bad) == nil, "\(bad) should not parse")
        }
        #expect(LocalDate("2000-01-01")?.dayNumber == 0)
        #expect(LocalDate("1970-01-01")?.dayNumber == -10_957)
    }

    @Test("month arithmetic clamps to the month's end", arguments: [
        ("2025-01-31", 1, "2025-02-28"), ("2024-01-31", 1, "2024-02-29"), ("2024-01-31", 6, "2024-07-31"),
        ("2023-08-31", 6, "2024-02-29"), ("2025-08-31", 6, "2026-02-28"), ("2025-03-31", 1, "2025-04-30"),
        ("2025-12-31", 6, "2026-06-30"), ("2025-11-15", 3, "2026-02-15"), ("2025-05-31", -3, "2025-02-28"),
    ])
    func months(start: String, months: Int, expected: String) {
        #expect(LocalDate(start)!.adding(months: months).description == expected)
    }

    @Test("year arithmetic moves 29 February to 28 February in common years")
    func leapYears() {
        let leap = LocalDate("2024-02-29")!
        #expect(leap.adding(years: 1).description == "2025-02-28")
        #expect(leap.adding(years: 4).description == "2028-02-29")
        #expect(leap.adding(years: 76).description == "2100-02-28")  // 2100 is not a leap year
        #expect(LocalDate("2096-02-29")!.adding(years: 4).description == "2100-02-28")
        #expect(LocalDate("1996-02-29")!.adding(years: 4).description == "2000-02-29")  // 2000 is
    }

    @Test("the Seoul date turns at 15:00 UTC")
    func seoulMidnight() {
        let before = Date(timeIntervalSince1970: 1_764_082_799)  // 2025-11-25 14:59:59 UTC = 23:59:59 KST
        let after = Date(timeIntervalSince1970: 1_764_082_800)   // 2025-11-25 15:00:00 UTC = 00:00 KST on the 26th
        #expect(LocalDate.seoulDate(at: before).description == "2025-11-25")
        #expect(LocalDate.seoulDate(at: after).description == "2025-11-26")
    }

    @Test("day numbers, month and year arithmetic agree with Foundation's Gregorian calendar")
    func agreesWithFoundation() async {
        // Pure calendar arithmetic, compared in UTC so no zone rule can interfere.
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        func local(_ d: Date) -> LocalDate {
            let c = calendar.dateComponents([.year, .month, .day], from: d)
            return LocalDate(year: c.year!, month: c.month!, day: c.day!)!
        }
        // Forward offsets only: schedules never step back, and Foundation on Linux turns
        // 29 February minus whole years into 1 March where clamping gives 28 February.
        await propertyCheck(count: 2_000, input: Gen.int(in: -30_000...40_000), Gen.int(in: 0...400)) { day, months in
            let date = LocalDate(dayNumber: day)
            let c = date.components
            let foundation = calendar.date(from: DateComponents(year: c.year, month: c.month, day: c.day))!
            #expect(local(foundation) == date)
            #expect(Int(foundation.timeIntervalSince1970 / 86_400) - 10_957 == day)
            let moved = calendar.date(byAdding: .month, value: months, to: foundation)!
            #expect(local(moved) == date.adding(months: months), "\(date) + \(months) months")
            #expect(LocalDate(date.description) == date)
        }
    }

    @Test("the fixed +9 offset gives the same Seoul dates as the tz database since 1990")
    func seoulAgreesWithZoneDatabase() async {
        var seoul = Calendar(identifier: .gregorian)
        seoul.timeZone = TimeZone(identifier: "Asia/Seoul")!
        await propertyCheck(count: 2_000, input: Gen.int(in: 631_152_000...4_102_444_800)) { seconds in
            let instant = Date(timeIntervalSince1970: Double(seconds))
            let c = seoul.dateComponents([.year, .month, .day], from: instant)
            #expect(LocalDate.seoulDate(at: instant) == LocalDate(year: c.year!, month: c.month!, day: c.day!))
        }
    }
}

@Suite("Follow-up schedules")
struct ScheduleTests {
    @Test("each class has its length, and early time points use CIBMTR's windows")
    func standardProtocols() {
        let gene = FollowUpProtocol.standard(for: .gene)
        #expect(gene.timePoints.last?.offset == .years(15))
        #expect(FollowUpProtocol.standard(for: .cell).timePoints.last?.offset == .years(5))
        #expect(FollowUpProtocol.standard(for: .xenogeneic).timePoints.last?.offset == .years(30))
        let day100 = gene.timePoints.first { $0.label == "day 100" }!
        #expect(day100.windowBefore == 15 && day100.windowAfter == 15)
        let month6 = gene.timePoints.first { $0.label == "month 6" }!
        #expect(month6.windowBefore == 30 && month6.windowAfter == 30)
        // Yearly examinations for five years, then yearly contacts: the visit type switches.
        #expect(gene.timePoints.first { $0.label == "year 5" }?.contactType == .examination)
        #expect(gene.timePoints.filter { $0.offset.amount > 5 && $0.offset.unit == "year" }.allSatisfy { $0.contactType != .examination })
        #expect(Set(gene.timePoints.map(\.label)).count == gene.timePoints.count)
    }

    @Test("a schedule anchored on 31 January lands on month ends")
    func monthEndAnchor() {
        let plan = FollowUpSchedule.plan(protocol: .standard(for: .cell), anchor: LocalDate("2024-01-31")!)
        func due(_ label: String) -> String { plan.first { $0.label == label }!.due.description }
        #expect(due("day 28") == "2024-02-28")
        #expect(due("day 100") == "2024-05-10")
        #expect(due("month 6") == "2024-07-31")
        #expect(due("month 9") == "2024-10-31")
        #expect(due("month 18") == "2025-07-31")
        #expect(due("year 1") == "2025-01-31")
        let m6 = plan.first { $0.label == "month 6" }!
        #expect(m6.windowStart.description == "2024-07-01" && m6.windowEnd.description == "2024-08-30")
        #expect(plan.map(\.sequence) == Array(1...plan.count))
    }

    @Test("windows always contain the due date, and due dates never go backwards", arguments: FollowUpClass.allCases)
    func windowsContainDueDates(cls: FollowUpClass) async {
        await propertyCheck(count: 300, input: Gen.int(in: 7_000...12_000)) { day in
            let plan = FollowUpSchedule.plan(protocol: .standard(for: cls), anchor: LocalDate(dayNumber: day))
            #expect(plan.allSatisfy { $0.windowStart <= $0.due && $0.due <= $0.windowEnd })
            #expect(zip(plan, plan.dropFirst()).allSatisfy { $0.due < $1.due })
        }
    }
}
