import Foundation
import HTTPTypes
@testable import RegistryAPI
import RegistryDomain
import RegistryStorage
import RegistryTestSupport
import Testing

/// Issue #14: every mistake a site records can be put right, and what follows from a record
/// follows it back (obs. 1, 3, 7 and the voids and status-change corrections), over the HTTP API
/// on real PostgreSQL. Every refusal is checked to write nothing.
@Suite("Voids and derived state")
struct VoidTests {
    /// The patient's follow-ups as (id, status, suspended by) — what a death or its undoing changes.
    static func followUps(_ h: APIHarness) async throws -> [String] {
        try await h.database.plainTransaction { c in
            var out: [String] = []
            for try await (id, status, by, inst) in try await c.query("""
                SELECT f.id, f.status, coalesce(f.suspended_by::text, '-'), f.institution_id FROM follow_up f WHERE f.patient_id = \(h.patientA) ORDER BY f.id
                """, logger: TestDatabase.logger).decode((Int, String, String, Int).self) { out.append("\(id):\(status):\(by):\(inst)") }
            return out
        }
    }

    static func kinds(_ got: Got, _ key: String = "consequences") -> [String] {
        (got.json[key] as? [[String: Any]] ?? []).compactMap { $0["kind"] as? String }
    }

    @Test("#1: a grade 5 event's death is shown before it is recorded; corrected below grade 5, the death is voided and every follow-up it suspended is owed again, as before the event")
    func gradeFiveDeathFollowsItsEvent() async throws {
        try await APIHarness.run { h, api in
            let a = h.tokens["A"]!
            let original = try await Self.followUps(h)
            let before = try await h.snapshot()
            let body = #"{"onset":"2026-10-01","aware":"2026-10-02","term":"Cytokine release syndrome","category":"other","grade":5,"outcome_on":"2026-10-05"}"#
            let unconfirmed = try await api.call(.post, "/patients/\(h.patientA)/adverse-events", token: a, json: body)
            #expect(unconfirmed.status == 409 && unconfirmed.pointers == ["/confirm"], "\(unconfirmed.text)")
            #expect(Self.kinds(unconfirmed) == ["status-change-recorded", "patient-status", "follow-ups-suspended"], "\(unconfirmed.text)")
            #expect(unconfirmed.text.contains("deceased") && unconfirmed.text.contains("confirm: true"), "\(unconfirmed.text)")
            #expect(try await h.snapshot() == before, "an unconfirmed grade 5 report wrote something")

            let reported = try await api.call(.post, "/patients/\(h.patientA)/adverse-events", token: a, json: String(body.dropLast()) + #","confirm":true}"#)
            #expect(reported.status == 201 && Self.kinds(reported) == ["status-change-recorded", "patient-status", "follow-ups-suspended"], "\(reported.text)")
            let ae = try #require(reported.id)
            #expect(try await h.database.count("patient", where: "id = \(h.patientA) AND status = 'deceased' AND status_on = DATE '2026-10-05'") == 1)
            #expect(try await Self.followUps(h) != original)

            // Regraded: without confirmation, the consequences are listed and nothing changes.
            let uri = "/adverse-events/\(ae)"
            let etag = try await api.etag(uri, token: a)
            let deceased = try await h.snapshot()
            let regraded = #"{"reason":"regraded after specialist review: not fatal","grade":3,"outcome":"recovered","serious":true,"criteria":["hospitalization"]}"#
            let refused = try await api.call(.patch, uri, token: a, json: regraded, headers: [.ifMatch: etag])
            #expect(refused.status == 409 && Self.kinds(refused) == ["status-change-voided", "patient-status", "follow-ups-restored"], "\(refused.text)")
            #expect(try await h.snapshot() == deceased, "an unconfirmed correction wrote something")

            let corrected = try await api.call(.patch, uri, token: a, json: String(regraded.dropLast()) + #","confirm":true}"#, headers: [.ifMatch: etag])
            #expect(corrected.status == 200 && corrected.json["grade"] as? Int == 3, "\(corrected.text)")
            #expect(try await h.database.count("patient", where: "id = \(h.patientA) AND status = 'active' AND status_on IS NULL") == 1)
            #expect(try await Self.followUps(h) == original, "the follow-ups the death suspended must come back exactly")
            let changes = try await api.call(.get, "/patients/\(h.patientA)/status-changes", token: a).items
            #expect(changes.count == 1 && changes.first?["void"] != nil, "the death stays, marked void: \(changes)")
            #expect(try await h.database.count("audit_log", where: "entity = 'patient_status_change' AND action = 'update' AND reason LIKE 'regraded%'") == 1)
            // A visit can be logged again: the patient is alive in the registry's eyes.
            let visit = try await api.call(.post, "/follow-ups/\(h.openFollowUpA)/visits", token: a, json: #"{"on":"2026-11-20","contact":"phone","vital":"alive"}"#)
            #expect(visit.status == 201, "\(visit.text)")
        }
    }

    @Test("#3: an adverse event entered twice is voided with a reason: kept and marked, out of the duplicate check; voiding again, without If-Match or from another site is refused and writes nothing")
    func duplicateEventVoided() async throws {
        try await APIHarness.run { h, api in
            let a = h.tokens["A"]!, b = h.tokens["B"]!
            let second = try await api.call(.post, "/patients/\(h.patientA)/adverse-events", token: a,
                                            json: #"{"onset":"2025-06-01","aware":"2025-06-03","term":"fever","category":"infection","grade":3,"serious":true,"criteria":["hospitalization"],"distinct":true}"#)
            #expect(second.status == 201, "\(second.text)")
            let id = try #require(second.id)
            let uri = "/adverse-events/\(id)"
            let before = try await h.snapshot()
            #expect(try await api.call(.post, uri + "/void", token: a, json: #"{"reason":"entered twice"}"#).status == 428)
            let etag = try await api.etag(uri, token: a)
            #expect(try await api.call(.post, uri + "/void", token: b, json: #"{"reason":"entered twice"}"#, headers: [.ifMatch: etag]).status == 404)
            let noReason = try await api.call(.post, uri + "/void", token: a, json: #"{"reason":" "}"#, headers: [.ifMatch: etag])
            #expect(noReason.status == 422 && noReason.pointers == ["/reason"], "\(noReason.text)")
            #expect(try await h.snapshot() == before, "a refused void wrote something")

            let voided = try await api.call(.post, uri + "/void", token: a, json: #"{"reason":"entered twice: same as the first fever"}"#, headers: [.ifMatch: etag])
            #expect(voided.status == 200 && Self.kinds(voided).isEmpty, "\(voided.text)")
            let mark = voided.json["void"] as? [String: Any]
            #expect(mark?["voided_on"] as? String == "2026-11-25" && mark?["reason"] as? String == "entered twice: same as the first fever", "\(voided.text)")
            #expect(try await h.database.count("adverse_event", where: "id = \(id) AND voided_on IS NOT NULL") == 1)
            let again = try await api.call(.post, uri + "/void", token: a, json: #"{"reason":"again"}"#, headers: [.ifMatch: try await api.etag(uri, token: a)])
            #expect(again.status == 409 && again.text.contains("was voided on 2026-11-25"), "\(again.text)")
            let correct = try await api.call(.patch, uri, token: a, json: #"{"reason":"x","grade":2}"#, headers: [.ifMatch: try await api.etag(uri, token: a)])
            #expect(correct.status == 409, "a voided event cannot be corrected: \(correct.text)")
            let submit = try await api.call(.post, uri + "/report-submission", token: a, json: #"{"on":"2026-11-20"}"#)
            #expect(submit.status == 409 || submit.status == 404, "\(submit.text)")
            // The same event can be entered again without --distinct: the voided one no longer counts.
            let third = try await api.call(.post, "/patients/\(h.patientA)/adverse-events", token: a,
                                           json: #"{"onset":"2025-06-01","aware":"2025-06-03","term":"Fever","category":"infection","grade":2}"#)
            #expect(third.status == 409, "the first fever still stands: \(third.text)")
        }
    }

    @Test("a visit entered in error is voided: its follow-up is owed again (overdue), shown before it is applied, and can be completed by a new visit")
    func visitVoided() async throws {
        try await APIHarness.run { h, api in
            let a = h.tokens["A"]!
            let uri = "/visits/\(h.visitA)"
            let etag = try await api.etag(uri, token: a)
            let before = try await h.snapshot()
            let refused = try await api.call(.post, uri + "/void", token: a, json: #"{"reason":"logged for the wrong patient"}"#, headers: [.ifMatch: etag])
            #expect(refused.status == 409 && Self.kinds(refused) == ["follow-up-reopened"] && refused.text.contains("\(h.followUpA)"), "\(refused.text)")
            #expect(try await h.snapshot() == before)
            let voided = try await api.call(.post, uri + "/void", token: a, json: #"{"reason":"logged for the wrong patient","confirm":true}"#, headers: [.ifMatch: etag])
            #expect(voided.status == 200 && Self.kinds(voided) == ["follow-up-reopened"], "\(voided.text)")
            #expect(try await h.database.count("follow_up", where: "id = \(h.followUpA) AND status = 'scheduled' AND completed_on IS NULL AND timing IS NULL") == 1)
            let worklist = try await api.call(.get, "/worklist?days=60&limit=200", token: a).items
            #expect(worklist.contains { $0["follow_up_id"] as? Int == h.followUpA.rawValue && $0["kind"] as? String == "overdue" }, "the reopened follow-up is overdue again")
            let visits = try await api.call(.get, "/patients/\(h.patientA)/visits", token: a).items
            #expect(visits.count == 1 && visits.first?["void"] != nil, "the voided visit stays listed, marked")
            let redo = try await api.call(.post, "/follow-ups/\(h.followUpA)/visits", token: a, json: #"{"on":"2025-07-11","contact":"examination","vital":"alive"}"#)
            #expect(redo.status == 201, "\(redo.text)")
        }
    }

    @Test("#7: a phone call at an examination time point is kept, marked as a protocol deviation and counted")
    func contactDeviationMarked() async throws {
        try await APIHarness.run { h, api in
            let a = h.tokens["A"]!
            let planned = try await h.database.plainTransaction { c in
                try await c.query("SELECT contact_type FROM follow_up WHERE id = \(h.openFollowUpA)", logger: TestDatabase.logger).decode(String.self).collect()
            }
            let other = planned == ["phone"] ? "questionnaire" : "phone"
            let got = try await api.call(.post, "/follow-ups/\(h.openFollowUpA)/visits", token: a, json: #"{"on":"2026-11-20","contact":"\#(other)","vital":"alive"}"#)
            #expect(got.status == 201, "\(got.text)")
            let deviation = got.json["contact_deviation"] as? [String: Any]
            #expect(deviation?["planned"] as? String == planned.first && deviation?["actual"] as? String == other, "\(got.text)")
            let same = try await api.call(.get, "/visits/\(h.visitA)", token: a)
            #expect(same.json["contact_deviation"] == nil, "a visit made as planned is no deviation: \(same.text)")
            // Counted in the outcome report (a second deviation and six patients, so an administrator's K of 2 shows them).
            let next = try await h.database.ints("SELECT min(id) FROM follow_up WHERE patient_id = \(h.patientA) AND status = 'scheduled' AND contact_type = 'examination'")
            let second = try await api.call(.post, "/follow-ups/\(next[0])/visits", token: a, json: #"{"on":"2026-11-21","contact":"questionnaire","vital":"alive"}"#)
            #expect(second.status == 201 && second.json["contact_deviation"] != nil, "\(second.text)")
            try await OutcomeReportAPITests.treatMore(h)
            let report = try await OutcomeReportAPITests.exact(h)
            let followUp = (report["total"] as? [String: Any])?["follow_up"] as? [String: Any]
            #expect(followUp?["contact_deviations"] as? Int == 2, "\(String(describing: followUp))")
        }
    }

    @Test("status changes: only the latest standing one is voided, a death from a grade 5 event only through its event; a loss voided brings the follow-ups back; a transfer voided sends the patient back")
    func statusChangesVoided() async throws {
        try await APIHarness.run { h, api in
            let a = h.tokens["A"]!, b = h.tokens["B"]!
            let original = try await Self.followUps(h)
            let lost = try await api.call(.post, "/patients/\(h.patientA)/status-changes", token: a, json: #"{"kind":"lost","on":"2026-09-01","reason":"no answer"}"#)
            #expect(lost.status == 201, "\(lost.text)")
            let found = try await api.call(.post, "/patients/\(h.patientA)/status-changes", token: a, json: #"{"kind":"found","on":"2026-10-01","reason":"called back"}"#)
            #expect(found.status == 201, "\(found.text)")
            let lostID = try #require(lost.id), foundID = try #require(found.id)
            let before = try await h.snapshot()
            let notLatest = try await api.call(.post, "/status-changes/\(lostID)/void", token: a, json: #"{"reason":"x","confirm":true}"#,
                                               headers: [.ifMatch: try await api.etag("/status-changes/\(lostID)", token: a)])
            #expect(notLatest.status == 409 && notLatest.text.contains("/status-changes/\(foundID)/void"), "\(notLatest.text)")
            #expect(try await h.snapshot() == before)
            // Voiding the found makes the patient lost again; voiding the loss then brings everything back.
            let f = try await api.call(.post, "/status-changes/\(foundID)/void", token: a, json: #"{"reason":"wrong patient called back","confirm":true}"#,
                                       headers: [.ifMatch: try await api.etag("/status-changes/\(foundID)", token: a)])
            #expect(f.status == 200 && Self.kinds(f).contains("patient-status"), "\(f.text)")
            #expect(try await h.database.count("patient", where: "id = \(h.patientA) AND status = 'lost-to-follow-up' AND status_on = DATE '2026-09-01'") == 1)
            let l = try await api.call(.post, "/status-changes/\(lostID)/void", token: a, json: #"{"reason":"entered for the wrong patient","confirm":true}"#,
                                       headers: [.ifMatch: try await api.etag("/status-changes/\(lostID)", token: a)])
            #expect(l.status == 200, "\(l.text)")
            #expect(try await h.database.count("patient", where: "id = \(h.patientA) AND status = 'active' AND status_on IS NULL") == 1)
            #expect(try await Self.followUps(h) == original, "voiding the loss and the found leaves the follow-ups as if neither happened")

            // A transfer voided by the receiving site: the patient and what is owed go back.
            let moved = try await api.call(.post, "/patients/\(h.patientA)/status-changes", token: a, json: #"{"kind":"transfer","on":"2026-11-20","reason":"moved","to":"ARM-002"}"#)
            #expect(moved.status == 201, "\(moved.text)")
            let transfer = try #require(moved.id)
            #expect(try await api.call(.get, "/patients/\(h.patientA)", token: a).status == 404)
            let back = try await api.call(.post, "/status-changes/\(transfer)/void", token: b, json: #"{"reason":"sent to the wrong hospital","confirm":true}"#,
                                          headers: [.ifMatch: try await api.etag("/status-changes/\(transfer)", token: b)])
            #expect(back.status == 200 && Self.kinds(back) == ["patient-returned"], "\(back.text)")
            #expect(try await api.call(.get, "/patients/\(h.patientA)", token: b).status == 404)
            #expect(try await api.call(.get, "/patients/\(h.patientA)", token: a).status == 200)
            #expect(try await Self.followUps(h) == original, "every follow-up still owed is back at the sending site")
        }
    }

    @Test("a status change's date is corrected with a reason: the follow-ups it suspended are redone from the new date; a death from a grade 5 event takes its date from the event")
    func statusChangeCorrected() async throws {
        try await APIHarness.run { h, api in
            let a = h.tokens["A"]!
            let death = try await api.call(.post, "/patients/\(h.patientA)/status-changes", token: a, json: #"{"kind":"death","on":"2026-11-01","reason":"reported by family"}"#)
            #expect(death.status == 201, "\(death.text)")
            let id = try #require(death.id)
            let suspended = try await h.database.count("follow_up", where: "patient_id = \(h.patientA) AND status = 'not-required'")
            let uri = "/status-changes/\(id)"
            let before = try await h.snapshot()
            let refused = try await api.call(.patch, uri, token: a, json: #"{"reason":"death certificate","on":"2026-05-01"}"#, headers: [.ifMatch: try await api.etag(uri, token: a)])
            #expect(refused.status == 409 && Self.kinds(refused) == ["follow-ups-suspended"], "\(refused.text)")
            #expect(try await h.snapshot() == before)
            let corrected = try await api.call(.patch, uri, token: a, json: #"{"reason":"death certificate","on":"2026-05-01","confirm":true}"#,
                                               headers: [.ifMatch: try await api.etag(uri, token: a)])
            #expect(corrected.status == 200 && corrected.json["effective_on"] as? String == "2026-05-01", "\(corrected.text)")
            #expect(try await h.database.count("follow_up", where: "patient_id = \(h.patientA) AND status = 'not-required'") > suspended)
            #expect(try await h.database.count("follow_up", where: "patient_id = \(h.patientA) AND status = 'scheduled' AND due_on > DATE '2026-05-01'") == 0)
            #expect(try await h.database.count("patient", where: "id = \(h.patientA) AND status_on = DATE '2026-05-01'") == 1)
            // Before the visit that saw the patient alive: refused as a new death would be.
            let early = try await api.call(.patch, uri, token: a, json: #"{"reason":"x","on":"2025-07-01","confirm":true}"#, headers: [.ifMatch: try await api.etag(uri, token: a)])
            #expect(early.status == 422 && early.pointers == ["/on"] && early.text.contains("seen alive"), "\(early.text)")
        }
    }

    /// The follow-up ids on A's worklist (overdue and due within 60 days).
    static func worklistIDs(_ api: APIClient, token: String) async throws -> Set<Int> {
        Set(try await api.call(.get, "/worklist?days=60&limit=200", token: token).items.compactMap { $0["follow_up_id"] as? Int })
    }

    /// The outcome report's total for all patients (an administrator's, K of 2).
    /// The report's exact total (over HTTP its counts are perturbed).
    static func reportTotal(_ api: APIClient, _ h: APIHarness) async throws -> [String: Any] {
        try await OutcomeReportAPITests.exact(h)["total"] as? [String: Any] ?? [:]
    }

    static func expected(_ total: [String: Any]) -> Int? {
        (total["follow_up"] as? [String: Any])?["expected"] as? Int
    }

    /// Runs the nightly job for the harness's today with the built binary.
    static func night(_ h: APIHarness) throws -> RegistryBinary.Result {
        let home = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("registry-void-night-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: home) }
        return try RegistryBinary(databaseURL: h.database.url, home: home)
            .run(["jobs", "run", "nightly", "--as-of", "2026-11-25", "--out", home.appendingPathComponent("w").path, "--json"])
    }

    @Test("a dose recorded in error is voided: its follow-ups are withdrawn from the schedule, the worklist, the nightly job and the report; without If-Match, from another site or unconfirmed it is refused and writes nothing")
    func administrationVoided() async throws {
        try await APIHarness.run { h, api in
            let a = h.tokens["A"]!, b = h.tokens["B"]!
            try await OutcomeReportAPITests.treatMore(h)
            let dosed = try await api.call(.post, "/patients/\(h.patientA)/administrations", token: a,
                                          json: #"{"plan_id":\#(h.planA),"on":"2026-01-10","lot":"LOT-WRONG","dose":"2e6","fee_notified_krw":1,"fee_collected_krw":1}"#)
            #expect(dosed.status == 201, "\(dosed.text)")
            let dose = try #require(dosed.id)
            let schedule = Set((dosed.json["follow_ups"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? Int })
            #expect(!schedule.isEmpty)
            let worklist = try await Self.worklistIDs(api, token: a)
            #expect(!worklist.isDisjoint(with: schedule), "the second dose's follow-ups are on the worklist")
            let reported = try await Self.reportTotal(api, h)
            #expect(reported["administrations"] as? Int == 7, "\(reported)")
            let expectedBefore = try #require(Self.expected(reported))

            let uri = "/administrations/\(dose)"
            let before = try await h.snapshot()
            #expect(try await api.call(.post, uri + "/void", token: a, json: #"{"reason":"dose for the wrong patient"}"#).status == 428)
            let etag = try await api.etag(uri, token: a)
            let elsewhere = try await api.call(.post, uri + "/void", token: b, json: #"{"reason":"dose for the wrong patient","confirm":true}"#, headers: [.ifMatch: etag])
            #expect(elsewhere.status == 404, "another site's dose is not found: \(elsewhere.text)")
            let unconfirmed = try await api.call(.post, uri + "/void", token: a, json: #"{"reason":"dose for the wrong patient"}"#, headers: [.ifMatch: etag])
            #expect(unconfirmed.status == 409 && Self.kinds(unconfirmed) == ["follow-ups-withdrawn"], "\(unconfirmed.text)")
            #expect(unconfirmed.text.contains("\(schedule.count) follow-ups of administration \(dose) withdrawn from the schedule"), "\(unconfirmed.text)")
            #expect(try await h.snapshot() == before, "a refused void wrote something")

            let voided = try await api.call(.post, uri + "/void", token: a, json: #"{"reason":"dose for the wrong patient","confirm":true}"#, headers: [.ifMatch: etag])
            #expect(voided.status == 200 && Self.kinds(voided) == ["follow-ups-withdrawn"], "\(voided.text)")
            #expect((voided.json["void"] as? [String: Any])?["reason"] as? String == "dose for the wrong patient", "\(voided.text)")
            #expect(try await h.database.count("follow_up", where: "administration_id = \(dose) AND status = 'voided'") == schedule.count)
            #expect(try await h.database.count("audit_log", where: "entity = 'administration' AND entity_id = \(dose) AND action = 'update' AND reason = 'dose for the wrong patient'") == 1)
            let worklistAfter = try await Self.worklistIDs(api, token: a)
            #expect(worklistAfter.isDisjoint(with: schedule) && !worklistAfter.isEmpty, "withdrawn follow-ups left the worklist")
            let listed = try await api.call(.get, "/patients/\(h.patientA)/follow-ups", token: a).items.filter { schedule.contains($0["id"] as? Int ?? 0) }
            #expect(listed.count == schedule.count && listed.allSatisfy { $0["status"] as? String == "voided" }, "the patient's listing keeps them, withdrawn")

            // The night flags the first dose's open follow-ups, none of the withdrawn ones.
            let night = try Self.night(h)
            #expect(night.status == 0, "\(night.stderr)")
            #expect(try await h.database.count("follow_up", where: "administration_id = \(dose) AND (overdue_since IS NOT NULL OR status <> 'voided')") == 0)
            #expect(try await h.database.count("follow_up", where: "administration_id = \(h.administrationA) AND overdue_since IS NOT NULL") > 0)

            let after = try await Self.reportTotal(api, h)
            #expect(after["administrations"] as? Int == 6, "the voided dose no longer counts: \(after)")
            #expect(try #require(Self.expected(after)) < expectedBefore, "its follow-ups are no longer expected: \(after)")

            // Voided once: a second void, a correction or a visit at a withdrawn follow-up is refused.
            let again = try await api.call(.post, uri + "/void", token: a, json: #"{"reason":"again"}"#, headers: [.ifMatch: try await api.etag(uri, token: a)])
            #expect(again.status == 409 && again.text.contains("was voided on 2026-11-25"), "\(again.text)")
            let correct = try await api.call(.patch, uri, token: a, json: #"{"reason":"x","lot":"LOT-2"}"#, headers: [.ifMatch: try await api.etag(uri, token: a)])
            #expect(correct.status == 409, "\(correct.text)")
            let visit = try await api.call(.post, "/follow-ups/\(schedule.min()!)/visits", token: a, json: #"{"on":"2026-11-20","contact":"phone","vital":"alive"}"#)
            #expect(visit.status == 409 && visit.text.contains("withdrawn from the schedule"), "\(visit.text)")
        }
    }

    @Test("the first dose is voided only once no standing visit completed its follow-ups and no event or visit needs it; the patient is then as if never dosed")
    func firstDoseVoided() async throws {
        try await APIHarness.run { h, api in
            let a = h.tokens["A"]!
            let uri = "/administrations/\(h.administrationA)"
            let body = #"{"reason":"dose recorded for the wrong patient","confirm":true}"#
            var before = try await h.snapshot()
            let completed = try await api.call(.post, uri + "/void", token: a, json: body, headers: [.ifMatch: try await api.etag(uri, token: a)])
            #expect(completed.status == 409 && completed.text.contains("visit \(h.visitA) completed follow-ups of administration \(h.administrationA)"), "\(completed.text)")
            #expect(try await h.snapshot() == before, "a refused void wrote something")

            let visit = try await api.call(.post, "/visits/\(h.visitA)/void", token: a, json: body, headers: [.ifMatch: try await api.etag("/visits/\(h.visitA)", token: a)])
            #expect(visit.status == 200, "\(visit.text)")
            before = try await h.snapshot()
            let needed = try await api.call(.post, uri + "/void", token: a, json: body, headers: [.ifMatch: try await api.etag(uri, token: a)])
            #expect(needed.status == 409 && needed.text.contains("no dose") && needed.text.contains("adverse event \(h.adverseEventA)"), "\(needed.text)")
            #expect(try await h.snapshot() == before, "a refused void wrote something")

            let event = try await api.call(.post, "/adverse-events/\(h.adverseEventA)/void", token: a, json: body,
                                           headers: [.ifMatch: try await api.etag("/adverse-events/\(h.adverseEventA)", token: a)])
            #expect(event.status == 200, "\(event.text)")
            let voided = try await api.call(.post, uri + "/void", token: a, json: body, headers: [.ifMatch: try await api.etag(uri, token: a)])
            #expect(voided.status == 200 && Self.kinds(voided) == ["follow-ups-withdrawn"], "\(voided.text)")
            #expect(try await h.database.count("follow_up", where: "patient_id = \(h.patientA) AND status <> 'voided'") == 0)
            // No dose stands: data that needs one is refused as for a patient never dosed; a screening visit is not.
            let ae = try await api.call(.post, "/patients/\(h.patientA)/adverse-events", token: a, json: #"{"onset":"2026-11-01","aware":"2026-11-02","term":"Rash","category":"other","grade":1}"#)
            #expect(ae.status == 409 && ae.text.contains("no administration yet"), "\(ae.text)")
            let screening = try await api.call(.post, "/patients/\(h.patientA)/visits", token: a, json: #"{"on":"2026-11-20","contact":"examination","vital":"alive","screening":true}"#)
            #expect(screening.status == 201, "\(screening.text)")
        }
    }

    @Test("a patient enrolled in error is voided once nothing of theirs stands: refused listing what does, then kept, marked, out of listings and the report, and the local key can be enrolled again")
    func patientVoided() async throws {
        try await APIHarness.run { h, api in
            let a = h.tokens["A"]!, b = h.tokens["B"]!
            try await OutcomeReportAPITests.treatMore(h)
            let uri = "/patients/\(h.patientA)"
            let body = #"{"reason":"enrolled twice","confirm":true}"#
            var before = try await h.snapshot()
            #expect(try await api.call(.post, uri + "/void", token: a, json: body).status == 428)
            let etag = try await api.etag(uri, token: a)
            #expect(try await api.call(.post, uri + "/void", token: b, json: body, headers: [.ifMatch: etag]).status == 404)
            let standing = try await api.call(.post, uri + "/void", token: a, json: body, headers: [.ifMatch: etag])
            #expect(standing.status == 409 && standing.text.contains("administration \(h.administrationA); visit \(h.visitA); adverse event \(h.adverseEventA)"), "\(standing.text)")
            #expect(try await h.snapshot() == before, "a refused void wrote something")
            #expect(try await Self.reportTotal(api, h)["patients"] as? Int == 6)

            let confirm = #"{"reason":"patient enrolled twice","confirm":true}"#
            for record in ["/visits/\(h.visitA)", "/adverse-events/\(h.adverseEventA)", "/administrations/\(h.administrationA)"] {
                let got = try await api.call(.post, record + "/void", token: a, json: confirm, headers: [.ifMatch: try await api.etag(record, token: a)])
                #expect(got.status == 200, "\(record): \(got.text)")
            }
            // Nothing stands; the pending lost-to-follow-up proposal goes with the patient, once confirmed.
            before = try await h.snapshot()
            let unconfirmed = try await api.call(.post, uri + "/void", token: a, json: #"{"reason":"enrolled twice"}"#, headers: [.ifMatch: try await api.etag(uri, token: a)])
            #expect(unconfirmed.status == 409 && Self.kinds(unconfirmed) == ["lost-proposal-withdrawn"], "\(unconfirmed.text)")
            #expect(try await h.snapshot() == before, "an unconfirmed void wrote something")
            let voided = try await api.call(.post, uri + "/void", token: a, json: body, headers: [.ifMatch: try await api.etag(uri, token: a)])
            #expect(voided.status == 200 && (voided.json["void"] as? [String: Any])?["reason"] as? String == "enrolled twice", "\(voided.text)")
            #expect(try await h.database.count("lost_proposal", where: "id = \(h.proposalA) AND decision = 'rejected'") == 1)

            let shown = try await api.call(.get, uri, token: a)
            #expect(shown.status == 200 && (shown.json["patient"] as? [String: Any])?["void"] != nil, "shown, marked void: \(shown.text)")
            let listed = try await api.call(.get, "/patients?limit=100", token: a).items.compactMap { $0["id"] as? Int }
            #expect(!listed.contains(h.patientA.rawValue) && listed.count == 5, "\(listed)")
            #expect(try await api.call(.get, "/worklist?days=60&limit=200", token: a).items.allSatisfy { $0["patient_id"] as? Int != h.patientA.rawValue })
            #expect(try await api.call(.get, "/lost-proposals", token: a).items.isEmpty)
            #expect(try await Self.reportTotal(api, h)["patients"] as? Int == 5)
            let again = try await api.call(.post, uri + "/void", token: a, json: body, headers: [.ifMatch: try await api.etag(uri, token: a)])
            #expect(again.status == 409, "\(again.text)")
            let dose = try await api.call(.post, "/patients/\(h.patientA)/administrations", token: a,
                                          json: #"{"plan_id":\#(h.planA),"on":"2026-01-10","lot":"LOT-A","dose":"2e6","fee_notified_krw":1,"fee_collected_krw":1}"#)
            #expect(dose.status == 409 && dose.text.contains("was voided"), "\(dose.text)")

            // The local key: looked up, it says the patient was voided; enrolled again, it is a new patient.
            let lookup = try await api.call(.post, "/patients/lookup", token: a, json: #"{"local_id":"MRN-A"}"#)
            #expect(lookup.status == 404 && lookup.text.contains("patient \(h.patientA)") && lookup.text.contains("was voided"), "\(lookup.text)")
            let enrolled = try await api.call(.post, "/patients", token: a, json: #"{"local_id":"MRN-A","birth_year":1961,"sex":"female","consent_on":"2025-03-20","consent_version":"2"}"#)
            #expect(enrolled.status == 201 && enrolled.json["created"] as? Bool == true && enrolled.id != h.patientA.rawValue, "\(enrolled.text)")
            let found = try await api.call(.post, "/patients/lookup", token: a, json: #"{"local_id":"MRN-A"}"#)
            #expect(found.status == 200 && found.id == enrolled.id, "\(found.text)")
        }
    }
}
