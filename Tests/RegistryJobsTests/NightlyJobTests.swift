import Foundation
import PostgresNIO
import RegistryDomain
import RegistryJobs
import RegistryStorage
import RegistryTestSupport
import Testing

/// Two institutions and patients in every situation the nightly job must tell apart, on the fixed
/// test date 2026-11-25.
struct NightlyFixture {
    var f: Fixture
    var second: Fixture
    /// Dosed 2025-04-01: recent windows overdue, one serious event whose report was never sent.
    var active: PatientID
    /// Dosed 2021-07-01, never seen since: years of missed follow-ups, so a lost proposal.
    var silent: PatientID
    /// Like `silent`, but phoned in on 2025-01-15 (an unscheduled visit): no proposal.
    var contacted: PatientID
    var deceased: PatientID, withdrawn: PatientID, lost: PatientID
    var lateEvent: AdverseEventID

    static func make(_ database: Database) async throws -> NightlyFixture {
        let today = database.today()
        let f = try await Fixture.make(database, since2021: true)
        let second = try await Fixture.make(database, code: "ARM-002")
        func patient(_ localID: String, dose: String) async throws -> PatientID {
            let p = try await database.transaction(actor: "test") { tx in try await tx.patients.enroll(try NewPatient(institutionCode: "ARM-001", localID: localID, birthYear: 1970, sex: "male", consentOn: "2021-06-10",
                                                          consentVersion: "2", pseudonymizer: Fixture.key, today: today)) }.patient
            _ = try await database.transaction(actor: "test") { tx in try await tx.administrations.administer(patientID: p.id, planID: f.plan.id, try f.dose(on: dose, today: today)) }
            return p.id
        }
        _ = try await database.transaction(actor: "test") { tx in try await tx.administrations.administer(patientID: f.patient.id, planID: f.plan.id, try f.dose(on: "2021-07-01", today: today)) }
        _ = try await database.transaction(actor: "test") { tx in try await tx.administrations.administer(patientID: second.patient.id, planID: second.plan.id, try second.dose(on: "2025-04-01", today: today)) }
        let active = try await patient("MRN-A", dose: "2025-04-01")
        let contacted = try await patient("MRN-C", dose: "2021-07-01")
        _ = try await database.transaction(actor: "test") { tx in try await tx.visits.log(followUpID: nil, patientID: contacted, try visit("2025-01-15", contact: "phone")) }
        let deceased = try await patient("MRN-D", dose: "2021-07-01")
        _ = try await database.transaction(actor: "test") { tx in try await tx.statusChanges.change(.death, patientID: deceased, on: LocalDate("2023-01-10")!, reason: "progressive disease") }
        let withdrawn = try await patient("MRN-W", dose: "2021-07-01")
        _ = try await database.transaction(actor: "test") { tx in try await tx.statusChanges.change(.withdrawal, patientID: withdrawn, on: LocalDate("2023-03-01")!, reason: "patient request") }
        let lost = try await patient("MRN-L", dose: "2021-07-01")
        _ = try await database.transaction(actor: "test") { tx in try await tx.statusChanges.change(.lost, patientID: lost, on: LocalDate("2024-02-01")!, reason: "no contact") }
        // Both recently treated patients phoned in after their early follow-ups were missed: no proposals for them.
        for id in [active, second.patient.id] {
            _ = try await database.transaction(actor: "test") { tx in try await tx.visits.log(followUpID: nil, patientID: id, try visit("2025-12-01", contact: "phone")) }
        }
        let ae = try await database.transaction(actor: "test") { tx in try await tx.adverseEvents.report(patientID: active, try event(grade: 3, serious: true, criteria: ["hospitalization"])).0 }
        return NightlyFixture(f: f, second: second, active: active, silent: f.patient.id, contacted: contacted,
                              deceased: deceased, withdrawn: withdrawn, lost: lost, lateEvent: ae.id)
    }
}

/// Runs one night on `database` with its digests under `out`.
func night(_ database: Database, _ date: String, out: URL, _ configure: (inout NightlyJob.Options) -> Void = { _ in }) async throws -> NightlyJob.Outcome {
    var options = NightlyJob.Options(asOf: LocalDate(date)!)
    options.outputDirectory = out.appendingPathComponent(date)
    configure(&options)
    return try await NightlyJob(database: database).run(options)
}

extension NightlyJob.Outcome {
    var ranRun: JobRun? { if case .ran(let r, _) = self { return r } else { return nil } }
    var wasResumed: Bool { if case .ran(_, let resumed) = self { return resumed } else { return false } }
    var declined: Bool {
        switch self { case .alreadySucceeded, .heldElsewhere: return true; default: return false }
    }
}

extension Database {
    /// Every flag the nightly job sets, as comparable lines (no run ids, which differ between databases).
    func nightlyFlags() async throws -> [String] {
        try await plainTransaction { c in
            var lines: [String] = []
            for sql in [
                "SELECT concat_ws('|', 'fu', id, status, overdue_since, escalation_level, missed_on) FROM follow_up ORDER BY id",
                "SELECT concat_ws('|', 'ae', id, report_late_flagged_on) FROM adverse_event ORDER BY id",
                "SELECT concat_ws('|', 'lp', patient_id, institution_id, proposed_on, missed_count, decision) FROM lost_proposal ORDER BY patient_id, proposed_on",
                "SELECT concat_ws('|', 'p', id, status) FROM patient ORDER BY id",
            ] {
                lines += try await c.query(PostgresQuery(unsafeSQL: sql), logger: TestDatabase.logger).decode(String.self).collect()
            }
            return lines
        }
    }

    func sql(_ text: String) async throws {
        try await plainTransaction { c in _ = try await c.query(PostgresQuery(unsafeSQL: text), logger: TestDatabase.logger) }
    }
}

/// Two databases holding the same fixture (the second cloned from the first), for comparing an
/// interrupted run with an uninterrupted one, or nights in order with nights out of order.
func withTwins<T: Sendable>(_ fixture: (Database) async throws -> T, _ body: (Database, Database, T) async throws -> Void) async throws {
    let today = LocalDate("2026-11-25")!
    let urlA = try await TestDatabase.create()
    let urlB = urlA.with(database: urlA.database + "_twin")
    let made: T
    do {
        let db = try await Database.open(urlA, logger: TestDatabase.logger, today: { today })
        do { made = try await fixture(db); await db.close() } catch { await db.close(); throw error }
        try await TestDatabase.clone(urlA.database, to: urlB.database)
    } catch {
        try? await TestDatabase.drop(urlA)
        throw error
    }
    let a = try await Database.open(urlA, logger: TestDatabase.logger, today: { today })
    let b = try await Database.open(urlB, logger: TestDatabase.logger, today: { today })
    var failure: (any Error)?
    do { try await body(a, b, made) } catch { failure = error }
    await a.close(); await b.close()
    try? await TestDatabase.drop(urlA); try? await TestDatabase.drop(urlB)
    if let failure { throw failure }
}

func temporaryFolder() -> URL {
    URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("registry-nightly-\(UUID().uuidString.prefix(8))")
}

@Suite("The nightly job")
struct NightlyJobTests {
    @Test("flags overdue, escalates, marks missed, proposes lost, flags late reports, writes a digest per institution, with the audit actor")
    func fullNight() async throws {
        try await TestDatabase.withDatabase { database in
            let x = try await NightlyFixture.make(database)
            let out = temporaryFolder()
            defer { try? FileManager.default.removeItem(at: out) }
            let run = try #require(try await night(database, "2026-11-25", out: out).ranRun)
            #expect(run.status == .succeeded && run.attempts == 1 && run.finishedAt != nil)
            #expect(Set(run.stepCounts.keys) == Set(NightlyStep.allCases.map(\.rawValue)))
            // The active patient's day 100 (window closed 2025-07-25): overdue since the 26th, past 90 days, then missed after 365.
            let day100 = try #require(try await database.read { tx in try await tx.followUps.of(patientID: x.active) }.first { $0.label == "day 100" })
            #expect(try await database.count("follow_up", where: "id = \(day100.id) AND overdue_since = DATE '2025-07-26' AND escalation_level = 2 AND status = 'missed' AND missed_on = DATE '2026-07-26'") == 1)
            // Its year 1 (window closed 2026-05-31): overdue 178 days, level 2, not yet missed.
            let year1 = try #require(try await database.read { tx in try await tx.followUps.of(patientID: x.active) }.first { $0.label == "year 1" })
            #expect(try await database.count("follow_up", where: "id = \(year1.id) AND overdue_since = DATE '2026-06-01' AND escalation_level = 2 AND status = 'scheduled' AND missed_on IS NULL") == 1)
            // A listing says what the night found (#14, observation 13), not a plain "scheduled".
            #expect(year1.state.daysOverdue == 178 && year1.state.overdueSince == LocalDate("2026-06-01") && year1.state.escalationLevel == 2)
            #expect(year1.stateText == "overdue 178 days (flagged 2026-06-01, escalation 2)")
            #expect(day100.stateText == "missed on 2026-07-26")
            #expect(try await database.count("adverse_event", where: "id = \(x.lateEvent) AND report_late_flagged_on = DATE '2025-06-19'") == 1)
            #expect(run.stepCounts["flag-overdue"] == (try await database.count("follow_up", where: "overdue_since IS NOT NULL")))
            // Every nightly change is in the audit trail under the job's actor.
            let audited = try await database.count("audit_log", where: "entity = 'follow_up' AND action = 'update' AND actor = 'registry jobs nightly'")
            #expect(audited == run.stepCounts["flag-overdue"]! + run.stepCounts["escalate"]! + run.stepCounts["mark-missed"]!)
            // Digests: each institution with work gets CSV and JSON, and one outbox row.
            for code in ["ARM-001", "ARM-002"] {
                let json = try Data(contentsOf: out.appendingPathComponent("2026-11-25/\(code).json"))
                let list = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
                let overdue = try #require(list["overdue"] as? [[String: Any]])
                #expect(!overdue.isEmpty, "\(code)")
                let ends = overdue.compactMap { $0["window_end"] as? String }
                #expect(ends == ends.sorted(), "oldest first")
                let csv = try String(contentsOf: out.appendingPathComponent("2026-11-25/\(code).csv"), encoding: .utf8)
                #expect(csv.hasPrefix("kind,id,patient_id,what,due_on,window_end,days_overdue,escalation_level,transferred_in,proposed_on,report_due_on,days_late\n") && csv.contains("\noverdue,"))
            }
            // Due soon: every scheduled follow-up of an active patient whose window is open now or
            // whose due date comes within 30 days, including those past their due date but still
            // in their window.
            var listed: Set<Int> = []
            for code in ["ARM-001", "ARM-002"] {
                let json = try Data(contentsOf: out.appendingPathComponent("2026-11-25/\(code).json"))
                let list = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
                for item in try #require(list["due_soon"] as? [[String: Any]]) { listed.insert(try #require(item["follow_up_id"] as? Int)) }
            }
            let truth = Set(try await database.ints("""
                SELECT f.id FROM follow_up f JOIN patient p ON p.id = f.patient_id AND p.status = 'active'
                WHERE f.status = 'scheduled' AND f.window_end >= DATE '2026-11-25' AND f.due_on < DATE '2026-11-25' + 30
                """))
            #expect(listed == truth && !truth.isEmpty)
            #expect(try await database.count("follow_up", where: "id IN (\(truth.map(String.init).joined(separator: ",")))  AND due_on < DATE '2026-11-25'") > 0,
                    "the fixture has a follow-up past its due date with its window still open")
            #expect(try await database.count("outbox", where: "kind = 'worklist-digest' AND run_id = \(run.id)") == 2)
            #expect(run.stepCounts["digest"] == 2)
            let arm1 = try String(contentsOf: out.appendingPathComponent("2026-11-25/ARM-001.csv"), encoding: .utf8)
            #expect(arm1.contains("\nlost-proposal,") && arm1.contains("\nlate-report,\(x.lateEvent),"))
        }
    }

    @Test("two runners started together give one run; the other reports that it exists")
    func concurrentRunners() async throws {
        try await TestDatabase.withDatabase { database in
            _ = try await NightlyFixture.make(database)
            let out = temporaryFolder()
            defer { try? FileManager.default.removeItem(at: out) }
            async let first = night(database, "2026-11-25", out: out)
            async let second = night(database, "2026-11-25", out: out)
            let outcomes = try await [first, second]
            #expect(outcomes.filter { $0.ranRun != nil }.count == 1)
            #expect(outcomes.filter(\.declined).count == 1)
            #expect(try await database.count("job_run") == 1)
            // Flags were set once: one audit row per changed row, not two.
            let run = try #require(outcomes.compactMap(\.ranRun).first)
            #expect(try await database.count("audit_log", where: "entity = 'follow_up' AND actor = 'registry jobs nightly'")
                    == run.stepCounts["flag-overdue"]! + run.stepCounts["escalate"]! + run.stepCounts["mark-missed"]!)
        }
    }

    @Test("two registry processes started at the same moment: both exit 0, one run")
    func concurrentProcesses() async throws {
        let url = try await TestDatabase.create()
        let db = try await Database.open(url, logger: TestDatabase.logger, today: { LocalDate("2026-11-25")! })
        do { _ = try await NightlyFixture.make(db); await db.close() } catch { await db.close(); throw error }
        let home = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: home) }
        let cli = RegistryBinary(databaseURL: url, home: home)
        async let a = Task.detached { try cli.run(["jobs", "run", "nightly", "--as-of", "2026-11-25", "--json"]) }.value
        async let b = Task.detached { try cli.run(["jobs", "run", "nightly", "--as-of", "2026-11-25", "--json"]) }.value
        let results = try await [a, b]
        #expect(results.allSatisfy { $0.status == 0 }, "\(results.map(\.stderr))")
        let outcomes = results.compactMap { ($0.json as? [String: Any])?["outcome"] as? String }.sorted()
        #expect(outcomes.count == 2 && outcomes.filter { $0 == "ran" }.count == 1)
        #expect(outcomes.contains("already-ran") || outcomes.contains("running-elsewhere"), "\(outcomes)")
        #expect(FileManager.default.fileExists(atPath: home.appendingPathComponent("worklists/2026-11-25/ARM-001.json").path))
        let again = try cli.run(["jobs", "run", "nightly", "--as-of", "2026-11-25"])
        #expect(again.status == 0 && again.stdout.contains("already ran"))
        let history = try cli.run(["jobs", "history", "--json"])
        #expect((history.json as? [[String: Any]])?.count == 1)
        try await TestDatabase.drop(url)
    }

    @Test("a runner killed after step 1 is taken over once its heartbeat is stale; the result equals an uninterrupted run")
    func takeover() async throws {
        try await withTwins({ try await NightlyFixture.make($0) }) { crashed, clean, _ in
            let out = temporaryFolder(), cleanOut = temporaryFolder()
            defer { try? FileManager.default.removeItem(at: out); try? FileManager.default.removeItem(at: cleanOut) }
            let stopped = try await night(crashed, "2026-11-25", out: out) { $0.simulateCrashAfter = .flagOverdue }
            guard case .simulatedCrash(let runID) = stopped else { Issue.record("expected the drill to stop, got \(stopped)"); return }
            #expect(try await crashed.count("job_run", where: "id = \(runID) AND status = 'running' AND step_counts ? 'flag-overdue' AND NOT step_counts ? 'escalate'") == 1)
            // While its heartbeat is fresh, the run belongs to the (dead) runner: a second runner leaves it alone.
            #expect(try await night(crashed, "2026-11-25", out: out).declined)
            try await crashed.sql("UPDATE job_run SET heartbeat_at = heartbeat_at - interval '10 minutes' WHERE id = \(runID)")
            let resumed = try await night(crashed, "2026-11-25", out: out)
            let run = try #require(resumed.ranRun)
            #expect(resumed.wasResumed && run.id == runID && run.attempts == 2 && run.status == .succeeded)
            let uninterrupted = try #require(try await night(clean, "2026-11-25", out: cleanOut).ranRun)
            #expect(run.stepCounts == uninterrupted.stepCounts)
            #expect(try await crashed.nightlyFlags() == clean.nightlyFlags())
            #expect(try await crashed.count("audit_log") == clean.count("audit_log"))
            for code in ["ARM-001", "ARM-002"] {
                #expect(try Data(contentsOf: out.appendingPathComponent("2026-11-25/\(code).json"))
                        == Data(contentsOf: cleanOut.appendingPathComponent("2026-11-25/\(code).json")))
            }
        }
    }

    @Test("a failed step is recorded with its name and the next invocation resumes there")
    func failedStepResumes() async throws {
        try await TestDatabase.withDatabase { database in
            _ = try await NightlyFixture.make(database)
            let out = temporaryFolder()
            defer { try? FileManager.default.removeItem(at: out) }
            // The digest cannot write into a path that is a file.
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
            try Data("x".utf8).write(to: out.appendingPathComponent("2026-11-25"))
            await expectRefusal(field: "step") { _ = try await night(database, "2026-11-25", out: out) }
            let failed = try #require(try await JobRuns.history(database).first)
            #expect(failed.status == .failed && failed.failedStep == "digest" && failed.error != nil)
            #expect(failed.stepCounts["late-reports"] != nil && failed.stepCounts["digest"] == nil)
            try FileManager.default.removeItem(at: out.appendingPathComponent("2026-11-25"))
            let resumed = try await night(database, "2026-11-25", out: out)
            #expect(resumed.wasResumed && resumed.ranRun?.attempts == 2 && resumed.ranRun?.stepCounts["digest"] == 2)
        }
    }

    @Test("a rerun changes nothing: every step finds nothing left to do, flags and the audit trail stay as they were")
    func rerunChangesNothing() async throws {
        try await TestDatabase.withDatabase { database in
            _ = try await NightlyFixture.make(database)
            let out = temporaryFolder()
            defer { try? FileManager.default.removeItem(at: out) }
            let first = try #require(try await night(database, "2026-11-25", out: out).ranRun)
            let flags = try await database.nightlyFlags(), audit = try await database.count("audit_log")
            guard case .alreadySucceeded(let same) = try await night(database, "2026-11-25", out: out) else { Issue.record("a succeeded night ran again"); return }
            #expect(same.id == first.id)
            // Force every step to run again on the same night: each finds nothing to change.
            try await database.sql("UPDATE job_run SET status = 'failed', error = 'drill', step_counts = '{}' WHERE id = \(first.id)")
            let again = try #require(try await night(database, "2026-11-25", out: out).ranRun)
            for step in ["flag-overdue", "escalate", "mark-missed", "propose-lost", "late-reports", "prune"] {
                #expect(again.stepCounts[step] == 0, "\(step)")
            }
            #expect(try await database.nightlyFlags() == flags)
            #expect(try await database.count("audit_log") == audit)
            #expect(try await database.count("outbox") == 2)
        }
    }

    @Test("--as-of replays a past night; nights out of order give the same flags as in order")
    func replay() async throws {
        try await withTwins({ try await NightlyFixture.make($0) }) { inOrder, outOfOrder, _ in
            let out = temporaryFolder()
            defer { try? FileManager.default.removeItem(at: out) }
            let nights = ["2024-03-01", "2025-06-01", "2025-09-15", "2026-11-25"]
            for d in nights { #expect(try await night(inOrder, d, out: out.appendingPathComponent("a")).ranRun != nil) }
            for d in nights.reversed() { #expect(try await night(outOfOrder, d, out: out.appendingPathComponent("b")).ranRun != nil) }
            #expect(try await inOrder.nightlyFlags() == outOfOrder.nightlyFlags())
            // Replaying a night already done changes nothing: declined while its run is kept, rerun
            // harmlessly once pruned (2025-06-01 is beyond the 400 days kept from 2026-11-25).
            let before = try await inOrder.nightlyFlags()
            #expect(try await night(inOrder, "2026-11-25", out: out).declined)
            #expect(try await inOrder.count("job_run", where: "as_of = DATE '2025-06-01'") == 0)
            #expect(try await night(inOrder, "2025-06-01", out: out).ranRun?.stepCounts["flag-overdue"] == 0)
            #expect(try await inOrder.nightlyFlags() == before)
            // What a night set is what that night saw: a follow-up overdue on 2025-06-01 is dated from its window.
            #expect(try await inOrder.count("follow_up", where: "overdue_since IS NOT NULL AND overdue_since <> window_end + 1") == 0)
        }
    }

    @Test("the overdue boundary is Seoul midnight: at 2025-11-25T15:30Z a window that closed on the 25th is overdue")
    func seoulMidnight() async throws {
        try await TestDatabase.withDatabase { database in
            let f = try await Fixture.make(database)
            // Day 100's window closes 115 days after the dose: on 2025-11-25 for a dose on 2025-08-02.
            let (_, fus) = try await database.transaction(actor: "test") { tx in try await tx.administrations.administer(patientID: f.patient.id, planID: f.plan.id, try f.dose(on: "2025-08-02", today: database.today())) }
            let closing = try #require(fus.first { $0.windowEnd == LocalDate("2025-11-25") })
            let instant = Date(timeIntervalSince1970: 1_764_084_600)  // 2025-11-25 15:30 UTC = 2025-11-26 00:30 Seoul
            let asOf = LocalDate.seoulDate(at: instant)
            #expect(asOf == LocalDate("2025-11-26"))
            let out = temporaryFolder()
            defer { try? FileManager.default.removeItem(at: out) }
            // A night dated by UTC (still the 25th) must not flag it; the Seoul night does.
            _ = try await night(database, "2025-11-25", out: out)
            #expect(try await database.count("follow_up", where: "id = \(closing.id) AND overdue_since IS NULL") == 1)
            _ = try await night(database, asOf.description, out: out)
            #expect(try await database.count("follow_up", where: "id = \(closing.id) AND overdue_since = DATE '2025-11-26'") == 1)
        }
    }

    @Test("deceased, withdrawn and lost patients are never flagged or proposed")
    func inactivePatientsNeverFlagged() async throws {
        try await TestDatabase.withDatabase { database in
            let x = try await NightlyFixture.make(database)
            let out = temporaryFolder()
            defer { try? FileManager.default.removeItem(at: out) }
            let inactive = [x.deceased, x.withdrawn, x.lost].map(String.init).joined(separator: ",")
            // Each has follow-ups whose windows closed before their status changed and that stayed scheduled.
            #expect(try await database.count("follow_up", where: "patient_id IN (\(inactive)) AND status = 'scheduled' AND window_end < DATE '2026-11-25'") > 10)
            for d in ["2023-06-01", "2024-12-01", "2026-11-25"] { _ = try await night(database, d, out: out) }
            #expect(try await database.count("follow_up", where: "patient_id IN (\(inactive)) AND (overdue_since IS NOT NULL OR escalation_level > 0 OR missed_on IS NOT NULL OR status = 'missed')") == 0)
            #expect(try await database.count("lost_proposal", where: "patient_id IN (\(inactive))") == 0)
            // (Flags set before a status change stay, dated: the deceased patient died in 2023 after windows had closed;
            // the 2023-06-01 night already saw them inactive, so none were set.)
            #expect(try await database.count("follow_up", where: "patient_id = \(x.silent) AND overdue_since IS NOT NULL") > 0)
        }
    }

    @Test("a night after today in Seoul (a mistyped year) is refused, dry run or not, and writes nothing; today's night runs")
    func futureNightRefused() async throws {
        try await TestDatabase.withDatabase { database in
            _ = try await NightlyFixture.make(database)
            let out = temporaryFolder()
            defer { try? FileManager.default.removeItem(at: out) }
            let before = try await database.snapshot()
            for dryRun in [false, true] {
                await expectRefusal(field: "as-of", code: .invalid) {
                    _ = try await night(database, "2027-11-25", out: out) { $0.dryRun = dryRun }
                }
                await expectRefusal(field: "as-of", code: .invalid) {
                    _ = try await night(database, "2026-11-26", out: out) { $0.dryRun = dryRun }  // tomorrow
                }
            }
            #expect(try await database.snapshot() == before, "a refused night wrote something")
            #expect(try await database.count("job_run") == 0)
            #expect(try await database.count("follow_up", where: "overdue_since IS NOT NULL OR status = 'missed'") == 0)
            #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("2027-11-25").path))
            #expect(try await night(database, "2026-11-25", out: out).ranRun != nil)
        }
    }

    @Test("a proposal never changes the patient's status; confirming does, audited; rejecting leaves the patient active")
    func proposals() async throws {
        try await TestDatabase.withDatabase(today: LocalDate("2026-11-26")!) { database in  // runs the next night too
            let x = try await NightlyFixture.make(database)
            let out = temporaryFolder()
            defer { try? FileManager.default.removeItem(at: out) }
            _ = try await night(database, "2026-11-25", out: out)
            let pending = try await database.read { tx in try await tx.lostProposals.list(decision: .pending) }
            // The silent patient only: the contacted one phoned in after the first missed follow-up.
            #expect(pending.map(\.patientID) == [x.silent])
            let proposal = try #require(pending.first)
            #expect(proposal.missedCount == 2 && proposal.institutionCode == "ARM-001")
            #expect(try await database.read { tx in try await tx.patients.patient(id: x.silent) }.status == .active)
            #expect(try await database.read { tx in try await tx.statusChanges.of(patientID: x.silent) }.isEmpty)
            // Another night does not propose again while it is pending.
            _ = try await night(database, "2026-11-26", out: out)
            #expect(try await database.count("lost_proposal") == 1)
            await expectRefusal(field: "proposal", code: .notFound) {
                _ = try await database.acting(as: "ARM-002") { tx in try await tx.lostProposals.confirm(id: proposal.id, on: LocalDate("2026-11-25")!, reason: "x") }
            }
            #expect(try await database.read { tx in try await tx.patients.patient(id: x.silent) }.status == .active)
            let confirmed = try await database.acting(as: "ARM-001", actor: "site:coordinator") { tx in
                try await tx.lostProposals.confirm(id: proposal.id, on: LocalDate("2026-11-25")!, reason: "no answer to 3 letters")
            }
            #expect(confirmed.decision == .confirmed && confirmed.decidedBy == "site:coordinator" && confirmed.statusChangeID != nil)
            #expect(try await database.read { tx in try await tx.patients.patient(id: x.silent) }.status == .lostToFollowUp)
            #expect(try await database.read { tx in try await tx.statusChanges.of(patientID: x.silent) }.map(\.kind) == [.lost])
            #expect(try await database.count("audit_log", where: "entity = 'patient' AND entity_id = \(x.silent) AND action = 'update' AND actor = 'site:coordinator' AND after->>'status' = 'lost-to-follow-up' AND reason = 'no answer to 3 letters'") == 1)
            #expect(try await database.count("audit_log", where: "entity = 'lost_proposal' AND action = 'update' AND after->>'decision' = 'confirmed'") == 1)
            await expectRefusal(field: "proposal", code: .conflict) {
                _ = try await database.transaction(actor: "site") { tx in try await tx.lostProposals.reject(id: proposal.id, reason: "late") }
            }
        }
    }

    @Test("a rejected proposal leaves the patient active and is not proposed again for the same misses")
    func rejection() async throws {
        try await TestDatabase.withDatabase(today: LocalDate("2026-11-26")!) { database in  // runs the next night too
            let x = try await NightlyFixture.make(database)
            let out = temporaryFolder()
            defer { try? FileManager.default.removeItem(at: out) }
            _ = try await night(database, "2026-11-25", out: out)
            let proposal = try #require(try await database.read { tx in try await tx.lostProposals.list(decision: .pending) }.first)
            let rejected = try await database.transaction(actor: "site") { tx in try await tx.lostProposals.reject(id: proposal.id, reason: "patient phoned, visit booked") }
            #expect(rejected.decision == .rejected)
            #expect(try await database.read { tx in try await tx.patients.patient(id: x.silent) }.status == .active)
            _ = try await night(database, "2026-11-26", out: out)
            #expect(try await database.read { tx in try await tx.lostProposals.list(decision: .pending) }.isEmpty)
        }
    }

    @Test("worklist files: the JSON reads back to the same worklist; CSV quotes what needs quoting")
    func worklistFormats() throws {
        var list = Worklist(institution: "ARM-001", asOf: LocalDate("2026-11-25")!)
        list.overdue = [.init(followUpID: 1, patientID: 2, label: "day 100", dueOn: LocalDate("2025-07-10")!, windowEnd: LocalDate("2025-07-25")!, daysOverdue: 488, escalationLevel: 2)]
        list.dueSoon = [.init(followUpID: 3, patientID: 2, label: "year 2", dueOn: LocalDate("2026-12-01")!, windowStart: LocalDate("2026-10-02")!, windowEnd: LocalDate("2027-01-30")!, transferredIn: true)]
        list.proposals = [.init(proposalID: 4, patientID: 5, proposedOn: LocalDate("2026-08-31")!, missedCount: 2)]
        list.lateReports = [.init(adverseEventID: 6, patientID: 2, term: "Fever, \"high\"\nand\tchills \u{1}", grade: 3, reportDueOn: LocalDate("2025-06-18")!, daysLate: 525)]
        // The hand-written JSON says exactly what Foundation's encoder (snake_case keys) would.
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        for w in [list, Worklist(institution: "ARM-002", asOf: LocalDate("2026-11-25")!)] {
            let mine = try JSONSerialization.jsonObject(with: Data(w.json.utf8)) as? NSDictionary
            let foundation = try JSONSerialization.jsonObject(with: encoder.encode(w)) as? NSDictionary
            #expect(mine != nil && mine == foundation)
        }
        let csv = list.csv.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(csv[0] == "kind,id,patient_id,what,due_on,window_end,days_overdue,escalation_level,transferred_in,proposed_on,report_due_on,days_late")
        #expect(csv[1] == "overdue,1,2,day 100,2025-07-10,2025-07-25,488,2,false,,,")
        #expect(csv[2] == "due-soon,3,2,year 2,2026-12-01,2027-01-30,,,true,,,")
        #expect(csv[3] == "lost-proposal,4,5,2 missed,,,,,,2026-08-31,,")
        #expect(list.csv.contains("late-report,6,2,\"Fever, \"\"high\"\"\nand\tchills \u{1}\",,,,,,,2025-06-18,525\n"))
        #expect(csv[0...3].allSatisfy { $0.split(separator: ",", omittingEmptySubsequences: false).count == 12 })
    }

    @Test("a dry run reports counts and keeps nothing")
    func dryRun() async throws {
        try await TestDatabase.withDatabase { database in
            _ = try await NightlyFixture.make(database)
            let flags = try await database.nightlyFlags(), audit = try await database.count("audit_log")
            guard case .dryRun(let counts) = try await NightlyJob(database: database).run(NightlyJob.Options(asOf: LocalDate("2026-11-25")!, dryRun: true)) else {
                Issue.record("expected a dry run"); return
            }
            #expect((counts["flag-overdue"] ?? 0) > 0 && counts["propose-lost"] == 1 && counts["digest"] == 2)
            #expect(try await database.nightlyFlags() == flags)
            #expect(try await database.count("audit_log") == audit)
            #expect(try await database.count("job_run") == 0)
        }
    }

    @Test("pruning removes runs and outbox rows older than the retention period, never registry records")
    func prune() async throws {
        try await TestDatabase.withDatabase { database in
            _ = try await NightlyFixture.make(database)
            let out = temporaryFolder()
            defer { try? FileManager.default.removeItem(at: out) }
            _ = try await night(database, "2024-01-10", out: out)
            try await database.sql("UPDATE outbox SET created_at = TIMESTAMPTZ '2024-01-10 02:00+09'")
            let proposals = try await database.count("lost_proposal")
            let run = try #require(try await night(database, "2026-11-25", out: out).ranRun)
            #expect(run.stepCounts["prune"]! >= 2)
            #expect(try await database.count("job_run") == 1)
            #expect(try await database.count("job_run", where: "as_of = DATE '2024-01-10'") == 0)
            #expect(try await database.count("lost_proposal") >= proposals)
            await expectRefusal(field: nil, code: .conflict) { try await database.sql("DELETE FROM lost_proposal") }
        }
    }

    @Test("settings are checked: escalation thresholds ascending, days in range")
    func settings() async throws {
        try await TestDatabase.withDatabase { database in
            await expectRefusal(field: "value") { try await database.transaction(actor: "admin") { tx in try await tx.settings.set(key: "jobs.escalate-days", value: "90,30", reason: "x") } }
            await expectRefusal(field: "value") { try await database.transaction(actor: "admin") { tx in try await tx.settings.set(key: "jobs.nightly-at", value: "25:00", reason: "x") } }
            await expectRefusal(field: "value") { try await database.transaction(actor: "admin") { tx in try await tx.settings.set(key: "jobs.missed-after-days", value: "0", reason: "x") } }
            try await database.transaction(actor: "admin") { tx in try await tx.settings.set(key: "jobs.escalate-days", value: "14,30,90", reason: "stricter") }
            #expect(try NightlySettings(try await database.read { tx in try await tx.settings.all() }).escalateDays == [14, 30, 90])
        }
    }

    @Test("the worker catches up missed nights, then sleeps until the Seoul time and stops cleanly when cancelled")
    func workerCatchUp() async throws {
        // Due nights: before 02:00 Seoul the latest is yesterday; after, today.
        let at = 120
        let before = Date(timeIntervalSince1970: 1_764_089_400)  // 2025-11-25 16:50 UTC = 11-26 01:50 Seoul
        #expect(NightlyWorker.nightsDue(now: before, atMinutes: at, lastSucceeded: LocalDate("2025-11-23")) == [LocalDate("2025-11-24")!, LocalDate("2025-11-25")!])
        #expect(NightlyWorker.nightsDue(now: before.addingTimeInterval(1_200), atMinutes: at, lastSucceeded: LocalDate("2025-11-23")).last == LocalDate("2025-11-26"))
        #expect(NightlyWorker.nightsDue(now: before, atMinutes: at, lastSucceeded: LocalDate("2025-11-25")).isEmpty)
        #expect(NightlyWorker.nightsDue(now: before, atMinutes: at, lastSucceeded: nil) == [LocalDate("2025-11-25")!])
        #expect(NightlyWorker.nightsDue(now: before, atMinutes: at, lastSucceeded: LocalDate("2024-01-01")).count == NightlyWorker.maximumCatchUp)
        #expect(NightlyWorker.nextRun(after: before, atMinutes: at) == before.addingTimeInterval(600))

        try await TestDatabase.withDatabase { database in
            _ = try await NightlyFixture.make(database)
            let out = temporaryFolder()
            defer { try? FileManager.default.removeItem(at: out) }
            _ = try await night(database, "2025-11-22", out: out)
            let (lines, continuation) = AsyncStream.makeStream(of: String.self)
            let worker = NightlyWorker(database: database, worklistRoot: out, now: { before }) { continuation.yield($0) }
            let task = Task { await worker.run() }
            for await line in lines where line.hasPrefix("next nightly run") { break }
            task.cancel()
            await task.value
            #expect(try await JobRuns.history(database).map(\.asOf.description) == ["2025-11-25", "2025-11-24", "2025-11-23", "2025-11-22"])
            #expect(try await database.count("job_run", where: "status <> 'succeeded'") == 0)
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("2025-11-24/ARM-001.csv").path))
        }
    }

    @Test("registry worker stops on SIGTERM with exit 0")
    func workerStopsOnSignal() async throws {
        let url = try await TestDatabase.create()
        let home = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: home) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: RegistryBinary.path)
        process.arguments = ["worker", "--database-url", url.urlString]
        var env = ProcessInfo.processInfo.environment
        env["REGISTRY_HOME"] = home.path
        process.environment = env
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        let (lines, continuation) = AsyncStream.makeStream(of: String.self)
        err.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty { continuation.finish() } else { continuation.yield(String(decoding: data, as: UTF8.self)) }
        }
        try process.run()
        var seen = ""
        for await chunk in lines {
            seen += chunk
            if seen.contains("next nightly run") { break }
        }
        #expect(seen.contains("succeeded"), "\(seen)")
        process.terminate()  // SIGTERM
        process.waitUntilExit()
        err.fileHandleForReading.readabilityHandler = nil
        #expect(process.terminationReason == .exit && process.terminationStatus == 0)
        try await TestDatabase.drop(url)
    }
}
