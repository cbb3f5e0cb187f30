import RegistryDomain
import Testing

@Suite("New follow-up protocols")
struct FollowUpProtocolTests {
    typealias Entry = NewFollowUpProtocol.Entry

    static func entry(_ label: String, _ amount: Int, _ unit: String, _ before: Int = 7, _ after: Int = 7, _ contact: String = "examination") -> Entry {
        Entry(label: label, offsetAmount: amount, offsetUnit: unit, windowBefore: before, windowAfter: after, contactType: contact)
    }

    /// The field a refusal names, or nil when the protocol is accepted.
    func refusal(_ points: [Entry], code: String = "LTFU-T-1", followUpClass: String = "cell") -> String? {
        do { _ = try NewFollowUpProtocol(code: code, followUpClass: followUpClass, timePoints: points); return nil } catch { return error.field }
    }

    @Test("the registry's standard protocols pass the rules every new protocol is held to")
    func standardProtocolsPass() throws {
        for cls in FollowUpClass.allCases {
            let standard = FollowUpProtocol.standard(for: cls)
            let entries = standard.timePoints.map {
                Entry(label: $0.label, offsetAmount: $0.offset.amount, offsetUnit: $0.offset.unit, windowBefore: $0.windowBefore,
                      windowAfter: $0.windowAfter, contactType: $0.contactType.rawValue)
            }
            let new = try NewFollowUpProtocol(code: standard.code, followUpClass: cls.rawValue, timePoints: entries)
            #expect(new.versioned(1) == standard)
        }
    }

    @Test("each refusal names the time point's field by its path")
    func refusalsNameThePath() {
        let good = [Self.entry("day 28", 28, "days"), Self.entry("month 6", 6, "months", 30, 30), Self.entry("year 1", 1, "year", 60, 60, "phone")]
        #expect(refusal(good) == nil)
        func with(_ i: Int, _ change: (inout Entry) -> Void) -> [Entry] { var p = good; change(&p[i]); return p }
        #expect(refusal(with(2) { $0.windowAfter = 366 }) == "time-points/2/window-after")
        #expect(refusal(with(1) { $0.windowBefore = -1 }) == "time-points/1/window-before")
        #expect(refusal(with(1) { $0.offsetUnit = "weeks" }) == "time-points/1/offset-unit")
        #expect(refusal(with(0) { $0.offsetAmount = 0 }) == "time-points/0/offset-amount")
        #expect(refusal(with(2) { $0.contactType = "visit" }) == "time-points/2/contact-type")
        #expect(refusal(with(2) { $0.label = "  " }) == "time-points/2/label")
        #expect(refusal(with(2) { $0.label = "Month 6" }) == "time-points/2/label", "labels differing only in case")
        #expect(refusal(good, code: "ltfu") == "code")
        #expect(refusal(good, followUpClass: "somatic") == "follow-up-class")
        #expect(refusal([]) == "time-points")
        #expect(refusal(Array(repeating: good[0], count: 101)) == "time-points")
    }

    @Test("time points are in order for every dose date, within the class's follow-up, windows open after the dose")
    func calendarRules() {
        // After a dose on 1 January, month 1 and 31 days both fall on 1 February.
        #expect(refusal([Self.entry("m1", 1, "month", 0, 0), Self.entry("d31", 31, "days", 0, 0)]) == "time-points/1/offset-amount")
        #expect(refusal([Self.entry("m1", 1, "month", 0, 0), Self.entry("d32", 32, "days", 0, 0)]) == nil)
        // After a dose on 31 January, month 1 falls on 28 February, before day 30.
        #expect(refusal([Self.entry("d30", 30, "days", 0, 0), Self.entry("m1", 1, "month", 0, 0)]) == "time-points/1/offset-amount")
        #expect(refusal([Self.entry("y1", 1, "year", 0, 0), Self.entry("m12", 12, "months", 0, 0)]) == "time-points/1/offset-amount")
        // Cell products are followed 5 years: year 5 is the last, and 1827 days is beyond it for some doses.
        #expect(refusal([Self.entry("y5", 5, "years")]) == nil)
        #expect(refusal([Self.entry("y6", 6, "years")]) == "time-points/0/offset-amount")
        #expect(refusal([Self.entry("d1827", 1827, "days")]) == "time-points/0/offset-amount")
        #expect(refusal([Self.entry("y6", 6, "years")], followUpClass: "gene") == nil)
        #expect(refusal([Self.entry("huge", Int.max, "months")]) == "time-points/0/offset-amount")
        // A window may open the day after the dose, not on it; month 1 is 28 days after a dose on 31 January.
        #expect(refusal([Self.entry("day 7", 7, "days", 6)]) == nil)
        #expect(refusal([Self.entry("day 7", 7, "days", 7)]) == "time-points/0/window-before")
        #expect(refusal([Self.entry("month 1", 1, "month", 27)]) == nil)
        #expect(refusal([Self.entry("month 1", 1, "month", 28)]) == "time-points/0/window-before")
    }
}
