import Foundation
import RegistryDomain
import RegistryStorage
import RegistryTestSupport
import Testing

/// Issue #14, observation 9, at the command line: the measure catalogue as data an administrator
/// adds to, cell and gene therapy measures on a visit, and screening visits before the dose.
@Suite("registry measure and screening visits")
struct MeasureCommandTests {
    static func contains(_ text: String, all parts: [String]) -> Bool { parts.allSatisfy { text.contains($0) } }

    /// A visit's measures as key -> value, from `--json`.
    static func values(_ json: Any?) -> [String: Double] {
        var out: [String: Double] = [:]
        for m in (json as? [String: Any])?["measures"] as? [[String: Any]] ?? [] {
            if let key = m["key"] as? String, let value = m["value"] as? Double { out[key] = value }
        }
        return out
    }

    @Test("#9: registry measure add puts a measure in the catalogue (LOINC check digit, Korean name, coded answers, a reason in the trail) and the next visit records it, without a new build; refusals name the option and write nothing")
    func addAndUse() async throws {
        let url = try await TestDatabase.create()
        let home = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("registry-measure-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: home) }
        let cli = RegistryBinary(databaseURL: url, home: home)

        let list = try cli.run(["measure", "list"])
        #expect(list.status == 0 && Self.contains(list.stdout, all: ["crs-grade", "registry ASTCT-CRS-GRADE", "vcn", "copies/cell", "rcl-test", "negative=0 positive=1"]), "\(list.stdout)")
        let one = try cli.run(["measure", "list", "--key", "disease-response"])
        #expect(one.status == 0 && Self.contains(one.stdout, all: ["Disease response / 질병 반응", "LOINC 88040-1", "CR", "Complete response", "완전 반응", "PD"]), "\(one.stdout)")

        let ferritin = ["measure", "add", "--key", "ferritin", "--code-system", "LOINC", "--display", "Ferritin", "--display-ko", "페리틴",
                        "--unit", "ng/mL", "--min", "0", "--max", "100000", "--json"]
        let hlh = ["measure", "add", "--key", "hlh", "--code-system", "registry", "--code", "HLH-CRITERIA", "--display", "HLH criteria met",
                   "--display-ko", "혈구탐식성 림프조직구증 기준 충족", "--min", "0", "--max", "1", "--reason", "protocol amendment RC-2026-07", "--json"]
        let measures = try await TestDatabase.count(url, "measure_definition")
        let trail = try await TestDatabase.count(url, "audit_log")
        let mistyped = try cli.run(ferritin + ["--code", "2276-5", "--reason", "HLH work-up"])
        #expect(mistyped.status == 1 && mistyped.errorJSON?["field"] as? String == "code", "\(mistyped.stderr)")
        #expect((mistyped.errorJSON?["error"] as? String)?.contains("check digit of 2276 is 4") == true, "\(mistyped.stderr)")
        let noReason = try cli.run(ferritin + ["--code", "2276-4"])
        #expect(noReason.status == 1 && noReason.errorJSON?["field"] as? String == "reason", "\(noReason.stderr)")
        let twice = try cli.run(hlh + ["--answer", "0|no|No|아니오", "--answer", "0|yes|Yes|예"])
        #expect(twice.status == 1 && twice.errorJSON?["field"] as? String == "answer", "\(twice.stderr)")
        #expect((twice.errorJSON?["error"] as? String)?.hasPrefix("--answer 2 ('0|yes|Yes|예'): the value 0 is given twice") == true, "\(twice.stderr)")
        let shape = try cli.run(hlh + ["--answer", "0:no:No:아니오", "--answer", "1|yes|Yes|예"])
        #expect(shape.status == 1 && shape.errorJSON?["field"] as? String == "answer", "\(shape.stderr)")
        let english = try cli.run(["measure", "add", "--key", "ferritin", "--code-system", "LOINC", "--code", "2276-4", "--display", "Ferritin", "--display-ko", "Ferritin",
                                   "--min", "0", "--max", "100000", "--reason", "HLH work-up", "--json"])
        #expect(english.status == 1 && english.errorJSON?["field"] as? String == "display-ko", "\(english.stderr)")
        let taken = try cli.run(["measure", "add", "--key", "crs-grade", "--code-system", "registry", "--code", "CRS-X", "--display", "CRS", "--display-ko", "사이토카인",
                                 "--min", "0", "--max", "4", "--integer", "--reason", "again", "--json"])
        #expect(taken.status == 1 && taken.errorJSON?["field"] as? String == "key", "\(taken.stderr)")
        #expect((taken.errorJSON?["hint"] as? String)?.contains("registry measure list") == true, "\(taken.stderr)")
        #expect(try await TestDatabase.count(url, "measure_definition") == measures, "a refused measure was added")
        #expect(try await TestDatabase.count(url, "audit_log") == trail, "a refused measure wrote to the trail")

        let added = try cli.run(ferritin + ["--code", "2276-4", "--reason", "HLH work-up in protocol LTFU-CART-15Y v2"])
        #expect(added.status == 0 && (added.json as? [String: Any])?["display_ko"] as? String == "페리틴", "\(added.stderr)")
        let coded = try cli.run(hlh + ["--answer", "0|no|No|아니오", "--answer", "1|yes|Yes|예"])
        #expect(coded.status == 0 && (coded.json as? [String: Any])?["integer"] as? Bool == true, "\(coded.stderr)")
        #expect(try await TestDatabase.count(url, "audit_log", where: "entity = 'measure_definition' AND action = 'insert' AND reason = 'protocol amendment RC-2026-07'") == 1)
        let text = try cli.run(["measure", "list"])
        #expect(text.stdout.contains("ferritin") && text.stdout.contains("no=0 yes=1"), "\(text.stdout)")

        // A CAR-T patient: screening before the dose, then the day 28 visit with the new measures.
        #expect(try cli.run(["institution", "add", "--code", "ARM-001", "--name", "A", "--designation", "D-1", "--designated-on", "2025-02-21"]).status == 0)
        #expect(try cli.run(["product", "add", "--code", "CART-19", "--name", "CAR-T", "--manufacturer", "X", "--modality", "gene-therapy"]).status == 0)
        let plan = try #require(try cli.run(["plan", "add", "--institution", "ARM-001", "--product", "CART-19", "--indication", "C91.0", "--risk", "high", "--json"]).id)
        #expect(try cli.run(["plan", "decide", "\(plan)", "--decision", "approved", "--on", "2025-03-15", "--reference", "RC-1"]).status == 0)
        let patient = try #require(try cli.run(["patient", "enroll", "--institution", "ARM-001", "--local-id", "MRN-1", "--birth-year", "1961", "--sex", "female",
                                                "--consent-on", "2024-12-01", "--consent-version", "2", "--json"]).id)
        let visits = try await TestDatabase.count(url, "visit")
        let plainNoDose = try cli.run(["visit", "log", "--patient", "\(patient)", "--on", "2025-01-10", "--contact", "examination", "--vital", "alive", "--unscheduled"])
        #expect(plainNoDose.status == 1 && plainNoDose.stderr.contains("add --screening"), "\(plainNoDose.stderr)")
        let noScreening = try cli.run(["visit", "log", "--patient", "\(patient)", "--on", "2025-01-10", "--contact", "examination", "--vital", "alive"])
        #expect(noScreening.status == 1 && noScreening.stderr.contains("--screening"), "\(noScreening.stderr)")
        #expect(try await TestDatabase.count(url, "visit") == visits, "a refused visit was written")
        let first = try cli.run(["visit", "log", "--patient", "\(patient)", "--on", "2025-01-10", "--contact", "examination", "--vital", "alive", "--screening",
                                 "--measure", "ecog=1", "--measure", "hlh=no"])
        #expect(first.status == 0 && first.stdout.contains("(screening, before the dose)"), "\(first.stderr)")

        let admin = try cli.run(["administer", "--patient", "\(patient)", "--plan", "\(plan)", "--on", "2025-04-01", "--lot", "LOT-7", "--dose", "2e6 cells/kg",
                                 "--fee-notified", "1", "--fee-collected", "1", "--json"])
        #expect(admin.status == 0, "\(admin.stderr)")
        let plain = try cli.run(["visit", "log", "--patient", "\(patient)", "--on", "2025-03-15", "--contact", "examination", "--vital", "alive", "--unscheduled", "--json"])
        #expect(plain.status == 1 && plain.errorJSON?["field"] as? String == "on", "\(plain.stderr)")
        #expect((plain.errorJSON?["hint"] as? String) == "if it is a screening visit before the dose, add --screening", "\(plain.stderr)")
        let tooEarly = try cli.run(["visit", "log", "--patient", "\(patient)", "--on", "2024-12-02", "--contact", "examination", "--vital", "alive", "--screening", "--json"])
        #expect(tooEarly.status == 1 && tooEarly.errorJSON?["field"] as? String == "on", "\(tooEarly.stderr)")
        #expect((tooEarly.errorJSON?["error"] as? String)?.contains("90-day screening window") == true, "\(tooEarly.stderr)")
        #expect(try await TestDatabase.count(url, "visit") == visits + 1, "a refused visit was written")
        let screening = try cli.run(["visit", "log", "--patient", "\(patient)", "--on", "2025-03-15", "--contact", "examination", "--vital", "alive", "--screening",
                                     "--measure", "disease-response=PD", "--measure", "ecog=2", "--json"])
        #expect(screening.status == 0 && (screening.json as? [String: Any])?["screening"] as? Bool == true, "\(screening.stderr)")

        let followUps = try #require(try cli.run(["followups", "list", "--patient", "\(patient)", "--json"]).json as? [[String: Any]])
        let day28 = try #require(followUps.first { $0["label"] as? String == "day 28" }?["id"] as? Int)
        let day28Visit = ["visit", "log", "--followup", "\(day28)", "--on", "2025-04-29", "--contact", "examination", "--vital", "alive", "--json",
                          "--measure", "crs-grade=2", "--measure", "icans-grade=grade-1", "--measure", "vcn=1.2:copies/cell", "--measure", "ferritin=350:ng/mL",
                          "--measure", "hlh=yes", "--measure", "disease-response=CR"]
        let badAnswer = try cli.run(day28Visit + ["--measure", "rcl-test=maybe"])
        #expect(badAnswer.status == 1 && badAnswer.errorJSON?["field"] as? String == "measure", "\(badAnswer.stderr)")
        #expect((badAnswer.errorJSON?["error"] as? String)?.contains("'maybe' is not an answer to Replication-competent lentivirus test; allowed: negative (0: Negative), positive (1: Positive)") == true,
                "\(badAnswer.stderr)")
        #expect(try await TestDatabase.count(url, "visit") == visits + 2, "a refused visit was written")
        let logged = try cli.run(day28Visit + ["--measure", "rcl-test=negative"])
        #expect(logged.status == 0, "\(logged.stderr)")
        #expect(Self.values(logged.json) == ["crs-grade": 2, "icans-grade": 1, "vcn": 1.2, "ferritin": 350, "hlh": 1, "disease-response": 1, "rcl-test": 0], "\(logged.stdout)")
        try await TestDatabase.drop(url)
    }
}
