import Foundation
import RegistryDomain
import RegistryStorage
import RegistryTestSupport
import Testing

@Suite("The registry command line", .serialized)
struct CommandLineTests {
    @Test("the main path with --json: created objects carry an id, lists are arrays, follow-ups have their fields")
    func mainPathJSON() async throws {
        let url = try await TestDatabase.create()
        let home = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("registry-cli-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: home) }
        let cli = RegistryBinary(databaseURL: url, home: home)
        let inst = try cli.run(["institution", "add", "--code", "ARM-001", "--name", "Example University Hospital", "--designation", "D-2025-001", "--designated-on", "2025-02-21", "--json"])
        #expect(inst.status == 0, "\(inst.stderr)")
        #expect(inst.id != nil)
        #expect(try cli.run(["product", "add", "--code", "GT-01", "--name", "Example AAV vector", "--manufacturer", "Example Bio", "--modality", "gene-therapy", "--json"]).status == 0)
        let plan = try #require(try cli.run(["plan", "add", "--institution", "ARM-001", "--product", "GT-01", "--indication", "G20", "--risk", "high", "--json"]).id)
        let decided = try cli.run(["plan", "decide", "\(plan)", "--decision", "approved", "--on", "2025-03-15", "--reference", "RC-2025-014", "--json"])
        #expect(decided.status == 0 && (decided.json as? [String: Any])?["decision"] as? String == "approved")
        let enroll = ["patient", "enroll", "--institution", "ARM-001", "--local-id", "MRN-12345", "--birth-year", "1961", "--sex", "female", "--consent-on", "2025-03-20", "--consent-version", "2", "--json"]
        let patient = try #require(try cli.run(enroll).id)
        #expect(try cli.run(enroll).id == patient)
        // Found again by the hospital's own number, without enrolling; an unknown number is refused with the way to enrol.
        let auditRows = try await TestDatabase.count(url, "audit_log")
        let found = try cli.run(["patient", "find", "--institution", "ARM-001", "--local-id", " MRN-12345 ", "--json"])
        #expect(found.status == 0 && found.id == patient, "\(found.stderr)")
        let text = try cli.run(["patient", "find", "--institution", "ARM-001", "--local-id", "MRN-12345"])
        #expect(text.stdout.hasPrefix("patient \(patient) ("), "\(text.stdout)")
        #expect(!text.stdout.contains("MRN-12345"))
        let unknown = try cli.run(["patient", "find", "--institution", "ARM-001", "--local-id", "MRN-99999"])
        #expect(unknown.status == 1 && unknown.stderr.contains("ARM-001 holds no patient with this local key") && unknown.stderr.contains("registry patient enroll"), "\(unknown.stderr)")
        #expect(try await TestDatabase.count(url, "audit_log") == auditRows, "a lookup wrote to the audit trail")
        // The patient's own details are corrected with a reason; nothing to correct is refused.
        let corrected = try cli.run(["patient", "correct", "\(patient)", "--birth-year", "1962", "--reason", "transcription error", "--json"])
        #expect(corrected.status == 0 && (corrected.json as? [String: Any])?["birth_year"] as? Int == 1962, "\(corrected.stderr)")
        let empty = try cli.run(["patient", "correct", "\(patient)", "--reason", "nothing"])
        #expect(empty.status == 1 && empty.stderr.contains("nothing to correct"), "\(empty.stderr)")
        // The pseudonym key was created under the home, readable by its owner only.
        let keyAttributes = try FileManager.default.attributesOfItem(atPath: home.appendingPathComponent("pseudonym.key").path)
        #expect((keyAttributes[.posixPermissions] as? Int) == 0o600)
        let admin = try cli.run(["administer", "--patient", "\(patient)", "--plan", "\(plan)", "--on", "2025-04-01", "--lot", "LOT-7", "--dose", "2e6 cells/kg", "--fee-notified", "30000000", "--fee-collected", "30000000", "--json"])
        #expect(admin.status == 0, "\(admin.stderr)")
        #expect(admin.id != nil)
        let list = try cli.run(["followups", "list", "--patient", "\(patient)", "--json"])
        let followUps = try #require(list.json as? [[String: Any]])
        #expect(followUps.count == 21)
        for key in ["id", "label", "due", "window_start", "window_end", "contact_type", "status"] {
            #expect(followUps.allSatisfy { $0[key] != nil }, "follow-ups lack \(key)")
        }
        let day100 = try #require(followUps.first { $0["label"] as? String == "day 100" })
        #expect(day100["due"] as? String == "2025-07-10")
        #expect(day100["window_start"] as? String == "2025-06-25")
        let byInstitution = try cli.run(["followups", "list", "--institution", "ARM-001", "--due-before", "2026-01-01", "--json"])
        // day 7, day 28, day 100 and month 6; month 9 is due on 2026-01-01 itself, not before it.
        #expect((byInstitution.json as? [[String: Any]])?.map { $0["label"] as? String } == ["day 7", "day 28", "day 100", "month 6"])

        // #14 obs. 1: a grade 5 event lists the death it would record and writes nothing until confirmed;
        // regraded, the death is taken back with everything it suspended.
        let grade5 = ["ae", "report", "--patient", "\(patient)", "--onset", "2025-09-01", "--aware", "2025-09-02", "--term", "Sepsis", "--category", "infection", "--grade", "5"]
        let rows = try await TestDatabase.count(url, "audit_log")
        let unconfirmed = try cli.run(grade5)
        #expect(unconfirmed.status == 1 && unconfirmed.stderr.contains("  - patient \(patient) becomes deceased") && unconfirmed.stderr.contains("--confirm"), "\(unconfirmed.stderr)")
        #expect(unconfirmed.stderr.split(separator: "\n").count >= 4, "one line per consequence: \(unconfirmed.stderr)")
        #expect(try await TestDatabase.count(url, "audit_log") == rows, "an unconfirmed grade 5 report wrote something")
        let died = try cli.run(grade5 + ["--confirm"])
        #expect(died.status == 0 && died.stdout.contains("also: patient \(patient) becomes deceased"), "\(died.stderr)")
        let event = try #require(try cli.run(["patient", "show", "\(patient)", "--json"]).json as? [String: Any])
        let ae = try #require((event["adverse_events"] as? [[String: Any]])?.first?["id"] as? Int)
        let regraded = try cli.run(["ae", "correct", "\(ae)", "--grade", "3", "--outcome", "recovered", "--serious", "false", "--reason", "not fatal after review", "--confirm", "--json"])
        #expect(regraded.status == 0, "\(regraded.stderr)")
        #expect(((regraded.json as? [String: Any])?["consequences"] as? [[String: Any]])?.first?["kind"] as? String == "status-change-voided", "\(regraded.stdout)")
        let alive = try #require(try cli.run(["patient", "show", "\(patient)", "--json"]).json as? [String: Any])
        #expect((alive["patient"] as? [String: Any])?["status"] as? String == "active")
        let again = try cli.run(["followups", "list", "--patient", "\(patient)", "--json"])
        #expect((again.json as? [[String: Any]])?.filter { $0["status"] as? String == "not-required" }.isEmpty == true, "the follow-ups the death suspended are owed again")
        let voided = try cli.run(["ae", "void", "\(ae)", "--reason", "entered for the wrong patient"])
        #expect(voided.status == 0 && voided.stdout == "adverse event \(ae) voided as entered in error\n", "\(voided.stdout)\(voided.stderr)")
        try await TestDatabase.drop(url)
    }

    @Test("#14 obs. 10: with an acting institution every patient command sees and writes only its patients, as its API token would")
    func actingSite() async throws {
        let url = try await TestDatabase.create()
        let home = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("registry-cli-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: home) }
        let cli = RegistryBinary(databaseURL: url, home: home)
        // Set up by the registry's operator: two sites, a product, a plan and a treated patient each.
        var plans: [String: Int] = [:], patients: [String: Int] = [:], followUps: [String: Int] = [:], doses: [String: Int] = [:]
        #expect(try cli.run(["product", "add", "--code", "GT-01", "--name", "Example AAV vector", "--manufacturer", "Example Bio", "--modality", "gene-therapy"]).status == 0)
        for (i, site) in ["ARM-001", "ARM-002"].enumerated() {
            #expect(try cli.run(["institution", "add", "--code", site, "--name", "Hospital \(i)", "--designation", "D-2025-00\(i)", "--designated-on", "2025-02-21"]).status == 0)
            let plan = try #require(try cli.run(["plan", "add", "--institution", site, "--product", "GT-01", "--indication", "G20", "--risk", "high", "--json"]).id)
            #expect(try cli.run(["plan", "decide", "\(plan)", "--decision", "approved", "--on", "2025-03-15", "--reference", "RC-\(i)"]).status == 0)
            let patient = try #require(try cli.run(["patient", "enroll", "--institution", site, "--local-id", "MRN-\(i)", "--birth-year", "1961", "--sex", "female",
                                                    "--consent-on", "2025-03-20", "--consent-version", "2", "--json"]).id)
            doses[site] = try #require(try cli.run(["administer", "--patient", "\(patient)", "--plan", "\(plan)", "--on", "2025-04-01", "--lot", "LOT-\(i)",
                                                    "--dose", "2e6 cells/kg", "--fee-notified", "1", "--fee-collected", "1", "--json"]).id)
            let list = try #require(try cli.run(["followups", "list", "--patient", "\(patient)", "--json"]).json as? [[String: Any]])
            plans[site] = plan; patients[site] = patient; followUps[site] = try #require(list.first?["id"] as? Int)
        }
        let site1 = ["REGISTRY_INSTITUTION": "ARM-001", "REGISTRY_ACTOR": "dr.kim"]
        let mine = try #require(patients["ARM-001"]), theirs = try #require(patients["ARM-002"])

        // Reads: the other site's patient, follow-ups, lots and plans are not there; its own are.
        let shown = try cli.run(["patient", "show", "\(theirs)", "--json"], environment: site1)
        #expect(shown.status == 1 && shown.stdout.isEmpty && shown.errorJSON?["code"] as? String == "not-found", "\(shown.stdout)\(shown.stderr)")
        #expect(try cli.run(["patient", "show", "\(mine)", "--json"], environment: site1).status == 0)
        let listed = try cli.run(["followups", "list", "--institution", "ARM-002", "--due-before", "2027-01-01", "--json"], environment: site1)
        #expect(listed.status == 1 && listed.stdout.isEmpty && listed.errorJSON?["field"] as? String == "institution", "\(listed.stderr)")
        let own = try #require(try cli.run(["followups", "list", "--due-before", "2027-01-01", "--json"], environment: site1).json as? [[String: Any]])
        #expect(!own.isEmpty && own.allSatisfy { $0["patient_id"] as? Int == mine }, "\(own)")
        #expect(try cli.run(["followups", "list", "--patient", "\(theirs)"], environment: site1).status == 1)
        #expect((try cli.run(["trace", "--lot", "LOT-1", "--json"], environment: site1).json as? [Any])?.isEmpty == true)
        #expect(try cli.run(["plan", "show", "\(plans["ARM-002"]!)"], environment: site1).status == 1)
        #expect((try cli.run(["plan", "list", "--json"], environment: site1).json as? [[String: Any]])?.map { $0["id"] as? Int } == [plans["ARM-001"]])
        let found = try cli.run(["patient", "find", "--institution", "ARM-002", "--local-id", "MRN-1", "--json"], environment: site1)
        #expect(found.status == 1 && found.stdout.isEmpty && found.errorJSON?["field"] as? String == "institution")

        // Writes for the other site or its patient are refused and write nothing.
        let audited = try await TestDatabase.count(url, "audit_log")
        let refused: [[String]] = [
            ["patient", "enroll", "--institution", "ARM-002", "--local-id", "MRN-9", "--birth-year", "1970", "--sex", "male", "--consent-on", "2025-03-20", "--consent-version", "2"],
            ["administer", "--patient", "\(theirs)", "--plan", "\(plans["ARM-002"]!)", "--on", "2025-05-01", "--lot", "LOT-9", "--dose", "1", "--fee-notified", "1", "--fee-collected", "1"],
            ["administer", "--patient", "\(mine)", "--plan", "\(plans["ARM-002"]!)", "--on", "2025-05-01", "--lot", "LOT-9", "--dose", "1", "--fee-notified", "1", "--fee-collected", "1"],
            ["visit", "log", "--followup", "\(followUps["ARM-002"]!)", "--on", "2025-04-08", "--contact", "examination", "--vital", "alive"],
            ["ae", "report", "--patient", "\(theirs)", "--onset", "2025-05-01", "--aware", "2025-05-02", "--term", "Fever", "--category", "infection", "--grade", "1"],
            ["patient", "correct", "\(theirs)", "--birth-year", "1962", "--reason", "typo"],
            ["patient", "death", "--patient", "\(theirs)", "--on", "2025-06-01", "--cause", "sepsis"],
            ["followup", "close", "\(followUps["ARM-002"]!)", "--reason", "unreachable"],
            ["administration", "void", "\(doses["ARM-002"]!)", "--reason", "wrong patient", "--confirm"],
            ["patient", "void", "\(theirs)", "--reason", "enrolled in error", "--confirm"],
            ["report", "outcomes", "--purpose", "check", "--format", "json"],
            ["report", "safety-listing", "--purpose", "check"],
            ["institution", "add", "--code", "ARM-003", "--name", "X", "--designation", "D-3", "--designated-on", "2025-02-21"],
        ]
        for arguments in refused {
            let r = try cli.run(arguments + ["--json"], environment: site1)
            #expect(r.status == 1 && r.stdout.isEmpty && r.errorJSON != nil, "\(arguments.prefix(2)): \(r.stdout)\(r.stderr)")
        }
        #expect(try await TestDatabase.count(url, "audit_log") == audited, "a refused command wrote something")
        let whole = try cli.run(["report", "outcomes", "--purpose", "check", "--format", "json"], environment: site1)
        #expect(whole.stderr.contains("acts for the whole registry") && whole.stderr.contains("REGISTRY_INSTITUTION"), "\(whole.stderr)")

        // Its own patients: enrolled without naming the site, recorded as the OS user and the stated actor.
        let enrolled = try cli.run(["patient", "enroll", "--local-id", "MRN-7", "--birth-year", "1970", "--sex", "male", "--consent-on", "2025-03-20", "--consent-version", "2", "--json"], environment: site1)
        let newID = try #require(enrolled.id, "\(enrolled.stderr)")
        #expect((enrolled.json as? [String: Any])?["institution_code"] as? String == "ARM-001")
        #expect(try await TestDatabase.count(url, "audit_log", where: "entity = 'patient' AND entity_id = \(newID) AND actor LIKE 'cli:% (dr.kim)'") == 1)
        // The operator (no acting site) still sees every site, and pulls the safety listing:
        // CSV on stdout, the summary (pull, events, checksum) on stderr, recorded.
        #expect(try cli.run(["patient", "show", "\(theirs)"]).status == 0)
        let listing = try cli.run(["report", "safety-listing", "--purpose", "signal review", "--from", "2025-01-01"])
        #expect(listing.status == 0 && listing.stdout.hasPrefix("case_id,event_id,institution,") && listing.stdout.contains("checksum,sha256:"), "\(listing.stderr)")
        #expect(listing.stderr.contains("safety listing 2025-01-01 to ") && listing.stderr.contains("pull "), "\(listing.stderr)")
        let badListing = try cli.run(["report", "safety-listing", "--purpose", "x", "--from", "2026-05-01", "--to", "2026-04-01", "--format", "json", "--json"])
        #expect(badListing.status == 1 && badListing.errorJSON?["field"] as? String == "from", "\(badListing.stderr)")
        #expect(try await TestDatabase.count(url, "report_pull", where: "report = 'safety-listing' AND purpose = 'signal review'") == 1)
        try await TestDatabase.drop(url)
    }

    @Test("a dose recorded for the wrong patient is voided: refused until confirmed (one line per consequence, nothing written), its follow-ups withdrawn and never flagged by the nightly job; the patient is then voided and the local key enrolled again")
    func doseAndPatientVoided() async throws {
        let url = try await TestDatabase.create()
        let home = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("registry-cli-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: home) }
        let cli = RegistryBinary(databaseURL: url, home: home)
        #expect(try cli.run(["institution", "add", "--code", "ARM-001", "--name", "Example University Hospital", "--designation", "D-2025-001", "--designated-on", "2025-02-21"]).status == 0)
        #expect(try cli.run(["product", "add", "--code", "GT-01", "--name", "Example AAV vector", "--manufacturer", "Example Bio", "--modality", "gene-therapy"]).status == 0)
        let plan = try #require(try cli.run(["plan", "add", "--institution", "ARM-001", "--product", "GT-01", "--indication", "G20", "--risk", "high", "--json"]).id)
        #expect(try cli.run(["plan", "decide", "\(plan)", "--decision", "approved", "--on", "2025-03-15", "--reference", "RC-2025-014"]).status == 0)
        var patients: [Int] = [], doses: [Int] = []
        for mrn in ["MRN-1", "MRN-2"] {
            let patient = try #require(try cli.run(["patient", "enroll", "--institution", "ARM-001", "--local-id", mrn, "--birth-year", "1961", "--sex", "female",
                                                   "--consent-on", "2025-03-20", "--consent-version", "2", "--json"]).id)
            patients.append(patient)
            doses.append(try #require(try cli.run(["administer", "--patient", "\(patient)", "--plan", "\(plan)", "--on", "2025-04-01", "--lot", "LOT-7", "--dose", "2e6",
                                                  "--fee-notified", "1", "--fee-collected", "1", "--json"]).id))
        }
        let dose = doses[0], patient = patients[0]
        let scheduled = try await TestDatabase.count(url, "follow_up", where: "administration_id = \(dose)")
        let rows = try await TestDatabase.count(url, "audit_log")
        let standing = try cli.run(["patient", "void", "\(patient)", "--reason", "enrolled in error", "--confirm"])
        #expect(standing.status == 1 && standing.stderr.contains("administration \(dose)") && standing.stderr.contains("void them first"), "\(standing.stderr)")
        let unconfirmed = try cli.run(["administration", "void", "\(dose)", "--reason", "dose for the wrong patient"])
        #expect(unconfirmed.status == 1 && unconfirmed.stderr.contains("  - \(scheduled) follow-ups of administration \(dose) withdrawn from the schedule")
                && unconfirmed.stderr.contains("--confirm"), "\(unconfirmed.stderr)")
        #expect(try await TestDatabase.count(url, "audit_log") == rows, "a refused void wrote something")

        let voided = try cli.run(["administration", "void", "\(dose)", "--reason", "dose for the wrong patient", "--confirm"])
        #expect(voided.status == 0 && voided.stdout.contains("also: \(scheduled) follow-ups of administration \(dose) withdrawn from the schedule"), "\(voided.stdout)\(voided.stderr)")
        #expect(try await TestDatabase.count(url, "follow_up", where: "administration_id = \(dose) AND status = 'voided'") == scheduled)
        let shown = try cli.run(["followups", "list", "--patient", "\(patient)"])
        #expect(shown.stdout.contains("withdrawn: administration \(dose) voided"), "\(shown.stdout)")
        // Tonight's run flags the other patient's overdue follow-ups, none of the withdrawn ones.
        let night = try cli.run(["jobs", "run", "nightly", "--out", home.appendingPathComponent("w").path])
        #expect(night.status == 0, "\(night.stderr)")
        #expect(try await TestDatabase.count(url, "follow_up", where: "administration_id = \(dose) AND (overdue_since IS NOT NULL OR status <> 'voided')") == 0)
        #expect(try await TestDatabase.count(url, "follow_up", where: "administration_id = \(doses[1]) AND overdue_since IS NOT NULL") > 0)

        let patientVoided = try cli.run(["patient", "void", "\(patient)", "--reason", "enrolled in error"])
        #expect(patientVoided.status == 0 && patientVoided.stdout == "patient \(patient) at ARM-001 voided as enrolled in error\n", "\(patientVoided.stdout)\(patientVoided.stderr)")
        let show = try cli.run(["patient", "show", "\(patient)"])
        #expect(show.stdout.contains("VOIDED on") && show.stdout.contains("enrolled in error"), "\(show.stdout)")
        let find = try cli.run(["patient", "find", "--institution", "ARM-001", "--local-id", "MRN-1"])
        #expect(find.status == 1 && find.stderr.contains("patient \(patient), enrolled at ARM-001 with this local key, was voided"), "\(find.stderr)")
        let again = try cli.run(["patient", "enroll", "--institution", "ARM-001", "--local-id", "MRN-1", "--birth-year", "1961", "--sex", "female",
                                 "--consent-on", "2025-03-20", "--consent-version", "2", "--json"])
        #expect(again.status == 0 && again.id != nil && again.id != patient, "\(again.stdout)\(again.stderr)")
        try await TestDatabase.drop(url)
    }

    @Test("a refusal exits non-zero with the error and field on stderr, and writes nothing")
    func refusals() async throws {
        let url = try await TestDatabase.create()
        let home = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("registry-cli-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: home) }
        let cli = RegistryBinary(databaseURL: url, home: home)
        let cord = try cli.run(["product", "add", "--code", "CB-01", "--name", "Cord blood", "--manufacturer", "X", "--modality", "minimally-manipulated", "--json"])
        #expect(cord.status != 0)
        #expect(cord.stdout.isEmpty)
        #expect(cord.errorJSON?["field"] as? String == "modality")
        #expect((cord.errorJSON?["error"] as? String)?.contains("outside the Advanced Regenerative Bio Act") == true)
        let text = try cli.run(["institution", "add", "--code", "ARM-1", "--name", "X", "--designation", "D-1", "--designated-on", "2025-02-21"])
        #expect(text.status != 0)
        #expect(text.stderr.hasPrefix("error: code: 'ARM-1' is not an institution code"))
        let future = try cli.run(["institution", "add", "--code", "ARM-001", "--name", "X", "--designation", "D-1", "--designated-on", "2999-01-01", "--json"])
        #expect(future.errorJSON?["field"] as? String == "designated-on")
        let unknownPlan = try cli.run(["plan", "decide", "77", "--decision", "approved", "--on", "2025-03-15", "--reference", "RC-1", "--json"])
        #expect(unknownPlan.status != 0 && unknownPlan.errorJSON?["field"] as? String == "plan")
        // A night a year ahead (a mistyped year) is refused before anything is written.
        let nextYear = LocalDate.todayInSeoul().adding(days: 365).description
        let night = try cli.run(["jobs", "run", "nightly", "--as-of", nextYear, "--out", home.appendingPathComponent("w").path, "--json"])
        #expect(night.status != 0 && night.errorJSON?["field"] as? String == "as-of")
        #expect((night.errorJSON?["error"] as? String)?.contains("after today in Seoul") == true)
        let listed = try cli.run(["institution", "list", "--json"])
        #expect((listed.json as? [Any])?.isEmpty == true)
        let runs = try cli.run(["jobs", "history", "--json"])
        #expect((runs.json as? [Any])?.isEmpty == true, "a refused night recorded a run")
        try await TestDatabase.drop(url)
    }

    @Test("an unreachable database gives one clear line and exit code 3, within 10 seconds")
    func unreachable() throws {
        let home = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("registry-cli-\(UUID().uuidString)")
        let cli = RegistryBinary(databaseURL: DatabaseURL(host: "127.0.0.1", port: try closedPort(), user: "x", password: "secret", database: "x"), home: home)
        let start = Date()
        let result = try cli.run(["institution", "list"])
        #expect(Date().timeIntervalSince(start) < 10)
        #expect(result.status == 3)
        #expect(result.stderr.hasPrefix("error: database-url: cannot connect to PostgreSQL"))
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(!result.stderr.contains("secret"), "the password must never be printed")
    }

    @Test("every command's --help shows an example")
    func helpHasExamples() throws {
        let cli = RegistryBinary(databaseURL: nil, home: URL(fileURLWithPath: "/nonexistent"))
        for command in [["institution", "add"], ["institution", "list"], ["product", "add"], ["protocol", "add"], ["protocol", "list"], ["measure", "add"], ["measure", "list"], ["plan", "add"], ["plan", "decide"], ["patient", "enroll"],
                        ["patient", "show"], ["administer"], ["followups", "list"], ["trace"], ["demo"], ["migrate"], ["db", "start"], ["db", "url"],
                        ["visit", "log"], ["visit", "correct"], ["followup", "close"], ["ae", "report"], ["ae", "submit"], ["ae", "correct"],
                        ["patient", "death"], ["patient", "withdraw"], ["patient", "lost"], ["patient", "found"], ["patient", "transfer"],
                        ["administration", "correct"], ["administration", "void"], ["patient", "void"], ["config", "list"], ["config", "set"],
                        ["jobs", "run"], ["jobs", "history"], ["jobs", "show"], ["jobs", "proposal", "list"], ["jobs", "proposal", "confirm"],
                        ["jobs", "proposal", "reject"], ["worker"], ["serve"], ["token", "issue"], ["token", "list"], ["token", "revoke"], ["report", "outcomes"],
                        ["report", "safety-listing"]] {
            let help = try cli.run(command + ["--help"])
            #expect(help.status == 0)
            #expect(help.stdout.contains("Example"), "\(command.joined(separator: " ")) --help has no example")
        }
    }
}

@Suite("The embedded database")
struct EmbeddedClusterTests {
    @Test("created on first use, started on a free loopback port, stopped cleanly")
    func lifecycle() async throws {
        // As root the server user must reach the folder: make it under /tmp, world-traversable.
        let home = URL(fileURLWithPath: "/tmp/registry-embedded-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let cluster = EmbeddedCluster(home: home)
        defer {
            try? cluster.stop()
            try? FileManager.default.removeItem(at: home)
        }
        #expect(try cluster.state() == .notCreated)
        let url = try cluster.start()
        guard case .running(let port) = try cluster.state() else { Issue.record("not running after start"); return }
        #expect(url.port == port && url.host == "127.0.0.1" && url.password != nil)
        // The socket is in the data directory when its path fits a socket address (this one does).
        #expect(url.socketDirectory == home.appendingPathComponent("pgdata").path, "connects over the cluster's unix socket: \(url)")
        let db = try await Database.open(url, logger: TestDatabase.logger)
        try await Migrator.migrate(db)
        await db.close()
        #expect(try cluster.start().port == port, "starting again reuses the running cluster")
        try cluster.stop()
        #expect(try cluster.state() == .stopped)
        let passwordAttributes = try FileManager.default.attributesOfItem(atPath: home.appendingPathComponent("db.password").path)
        #expect((passwordAttributes[.posixPermissions] as? Int) == 0o600)
    }
}
