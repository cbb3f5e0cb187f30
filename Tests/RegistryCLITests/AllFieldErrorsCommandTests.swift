import Foundation
import RegistryDomain
import RegistryStorage
import RegistryTestSupport
import Testing

/// Issue #14, observation 11, at the command line: a refusal prints one `error:` line per option
/// at fault (with `--json`, one entry each in `errors`), exits 1 and writes nothing.
@Suite("Every invalid option in one refusal")
struct AllFieldErrorsCommandTests {
    /// The lines of stderr.
    static func lines(_ text: String) -> [String] { text.split(separator: "\n").map(String.init) }

    /// The fields of `errors` in a `--json` refusal.
    static func fields(_ json: [String: Any]?) -> [String] {
        (json?["errors"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String }
    }

    @Test("patient enroll with three mistakes prints three error lines, and --json three entries; nothing is enrolled")
    func enrolment() async throws {
        let url = try await TestDatabase.create()
        let home = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("registry-errors-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: home) }
        let cli = RegistryBinary(databaseURL: url, home: home)
        #expect(try cli.run(["institution", "add", "--code", "ARM-001", "--name", "A Hospital", "--designation", "D-1", "--designated-on", "2025-02-21"]).status == 0)
        let trail = try await TestDatabase.count(url, "audit_log")
        let enroll = ["patient", "enroll", "--institution", "ARM-001", "--local-id", "MRN-1", "--birth-year", "1850", "--sex", "f",
                      "--consent-on", "2025-13-01", "--consent-version", "2"]
        let text = try cli.run(enroll)
        #expect(text.status == 1 && text.stdout.isEmpty, "\(text.stderr)")
        let lines = Self.lines(text.stderr)
        #expect(lines.count == 3, "\(text.stderr)")
        #expect(lines.first?.hasPrefix("error: birth-year: 1850 is out of range; allowed: 1900 to ") == true, "\(text.stderr)")
        #expect(lines.dropFirst().first == "error: sex: 'f' is not allowed; allowed: female, male, other, unknown", "\(text.stderr)")
        #expect(lines.last?.hasPrefix("error: consent-on: '2025-13-01' is not a date; expected YYYY-MM-DD") == true, "\(text.stderr)")

        let json = try cli.run(enroll + ["--json"])
        #expect(json.status == 1, "\(json.stderr)")
        let problem = json.errorJSON
        #expect(Self.fields(problem) == ["birth-year", "sex", "consent-on"], "\(json.stderr)")
        // The first error keeps the keys a single refusal has.
        #expect(problem?["field"] as? String == "birth-year" && problem?["code"] as? String == "invalid", "\(json.stderr)")
        #expect((problem?["error"] as? String)?.hasPrefix("1850 is out of range") == true, "\(json.stderr)")
        #expect(((problem?["errors"] as? [[String: Any]])?.dropFirst().first?["error"] as? String)?.contains("female, male") == true, "\(json.stderr)")

        // One mistake is one line, as before.
        var once = enroll
        once[once.firstIndex(of: "f")!] = "female"
        once[once.firstIndex(of: "2025-13-01")!] = "2025-03-20"
        let one = try cli.run(once)
        #expect(one.status == 1 && Self.lines(one.stderr).count == 1 && one.stderr.hasPrefix("error: birth-year: "), "\(one.stderr)")
        #expect(Self.fields(try cli.run(once + ["--json"]).errorJSON) == ["birth-year"])

        #expect(try await TestDatabase.count(url, "patient") == 0, "a refused enrolment enrolled a patient")
        #expect(try await TestDatabase.count(url, "audit_log") == trail, "a refused enrolment wrote to the audit trail")
        try await TestDatabase.drop(url)
    }

    @Test("an adverse event report, a status change and a protocol's time points list every option at fault, one line each")
    func otherCommands() async throws {
        let url = try await TestDatabase.create()
        let home = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("registry-errors-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: home) }
        let cli = RegistryBinary(databaseURL: url, home: home)
        #expect(try cli.run(["institution", "list"]).status == 0)
        let trail = try await TestDatabase.count(url, "audit_log")
        let event = try cli.run(["ae", "report", "--patient", "1", "--onset", "2025-06-31", "--aware", "2025-06-03", "--term", " ", "--category", "infection",
                                 "--grade", "6", "--criteria", "hospitalisation", "--serious", "--json"])
        #expect(event.status == 1 && Self.fields(event.errorJSON) == ["onset", "term", "grade", "criteria"], "\(event.stderr)")
        let death = try cli.run(["patient", "death", "--patient", "1", "--on", "2025-02-30"])
        #expect(death.status == 1 && Self.lines(death.stderr).count == 2, "\(death.stderr)")
        #expect(Self.lines(death.stderr).map { String($0.split(separator: ":")[1]) } == [" on", " cause"], "\(death.stderr)")
        // Options the command line renames (each --point) keep every refusal, each saying which one.
        let points = try cli.run(["protocol", "add", "--code", "LTFU-X", "--follow-up-class", "gene", "--point", "day 28:28d:40:7:examination",
                                  "--point", "month 6:6m:30:30:letter", "--point", "year 20:20y:60:60:phone"])
        let pointLines = Self.lines(points.stderr)
        #expect(points.status == 1 && pointLines.count == 3 && pointLines.allSatisfy { $0.hasPrefix("error: point: --point ") }, "\(points.stderr)")
        #expect(pointLines.map { $0.dropFirst("error: point: --point ".count).prefix(1) } == ["1", "2", "3"], "\(points.stderr)")
        #expect(try await TestDatabase.count(url, "audit_log") == trail, "a refusal wrote to the audit trail")
        try await TestDatabase.drop(url)
    }
}
