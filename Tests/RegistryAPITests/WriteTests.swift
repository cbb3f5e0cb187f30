import Foundation
import HTTPTypes
import Hummingbird
@testable import RegistryAPI
import RegistryDomain
import RegistryStorage
import RegistryTestSupport
import Testing

@Suite("API writes: idempotent retries, corrections with If-Match, paging, the worklist")
struct WriteTests {
    static let visit = #"{"on":"2026-11-20","contact":"examination","vital":"alive","measures":[{"key":"ecog","value":1},{"key":"hemoglobin","value":12.5,"unit":"g/dL"}]}"#

    @Test("a retried POST with the same Idempotency-Key gets the first response and writes nothing twice")
    func idempotentRetries() async throws {
        try await APIHarness.run { h, api in
            let a = h.tokens["A"]!
            let uri = "/follow-ups/\(h.openFollowUpA)/visits"
            let first = try await api.call(.post, uri, token: a, json: Self.visit, headers: [Idempotency.header: "visit-1"])
            #expect(first.status == 201, "\(first.text)")
            #expect(first.headers[Reply.replayedHeader] == nil)
            let after = try await h.snapshot()
            let retry = try await api.call(.post, uri, token: a, json: Self.visit, headers: [Idempotency.header: "visit-1"])
            #expect(retry.status == 201 && retry.text == first.text)
            #expect(retry.headers[.location] == first.headers[.location] && retry.headers[.eTag] == first.headers[.eTag])
            #expect(retry.headers[Reply.replayedHeader] == "true")
            #expect(try await h.snapshot() == after, "the retry wrote something")
            // Without the key the same request is a second visit, refused: the follow-up is completed.
            #expect(try await api.call(.post, uri, token: a, json: Self.visit).status == 409)
            // The same key for a different request is refused, and writes nothing.
            let reused = try await api.call(.post, "/patients/\(h.patientA)/visits", token: a, json: Self.visit, headers: [Idempotency.header: "visit-1"])
            #expect(reused.status == 422 && reused.problemType == "urn:registry:problem:idempotency-key-reused", "\(reused.text)")
            #expect(try await h.snapshot() == after)
            // Keys belong to their token: B's "visit-1" is B's own.
            let enrolB = #"{"local_id":"MRN-B","birth_year":1980,"sex":"male","consent_on":"2025-05-01","consent_version":"1"}"#
            #expect(try await api.call(.post, "/patients", token: h.tokens["B"], json: enrolB, headers: [Idempotency.header: "visit-1"]).status == 201)
            #expect(try await api.call(.post, "/patients", token: h.tokens["B"], json: enrolB, headers: [Idempotency.header: "visit-1"]).headers[Reply.replayedHeader] == "true")
            #expect(try await api.call(.post, uri, token: a, json: Self.visit, headers: [Idempotency.header: String(repeating: "k", count: 201)]).status == 400)
        }
    }

    @Test("concurrent retries with one key: one write, every caller gets the same response")
    func concurrentRetries() async throws {
        try await APIHarness.run(transport: .live) { h, api in
            let a = h.tokens["A"]!
            let visitsBefore = try await h.database.count("visit")
            let responses = try await withThrowingTaskGroup(of: Got.self) { group in
                for _ in 0..<6 {
                    group.addTask {
                        try await api.call(.post, "/patients/\(h.patientA)/visits", token: a, json: Self.visit, headers: [Idempotency.header: "unscheduled-1"])
                    }
                }
                return try await group.collect()
            }
            #expect(responses.allSatisfy { $0.status == 201 }, "\(responses.map(\.text))")
            #expect(Set(responses.map(\.text)).count == 1)
            #expect(try await h.database.count("visit") == visitsBefore + 1)
        }
    }

    @Test("a correction needs the ETag it read: a stale one gets 412 and writes nothing, none gets 428")
    func staleCorrection() async throws {
        try await APIHarness.run { h, api in
            let a = h.tokens["A"]!
            let read = try await api.call(.get, "/visits/\(h.visitA)", token: a)
            let etag = try #require(read.headers[.eTag])
            let fix = #"{"reason":"transcription error","measures":[{"key":"ecog","value":2}]}"#
            let corrected = try await api.call(.patch, "/visits/\(h.visitA)", token: a, json: fix, headers: [.ifMatch: etag])
            #expect(corrected.status == 200, "\(corrected.text)")
            let newETag = try #require(corrected.headers[.eTag])
            #expect(newETag != etag)
            #expect(try await api.call(.get, "/visits/\(h.visitA)", token: a).headers[.eTag] == newETag)
            let before = try await h.snapshot()
            // A second coordinator, still holding the first version, corrects the same visit.
            let stale = try await api.call(.patch, "/visits/\(h.visitA)", token: a, json: #"{"reason":"other fix","contact":"phone"}"#, headers: [.ifMatch: etag])
            #expect(stale.status == 412 && stale.problemType == "urn:registry:problem:precondition-failed", "\(stale.text)")
            let missing = try await api.call(.patch, "/visits/\(h.visitA)", token: a, json: #"{"reason":"other fix","contact":"phone"}"#)
            #expect(missing.status == 428 && missing.problemType == "urn:registry:problem:precondition-required")
            #expect(try await h.snapshot() == before, "a refused correction wrote something")
            #expect(try await h.database.read { tx in try await tx.visits.visit(id: h.visitA) }.contactType == .examination)
            // Adverse events and administrations take the same rule.
            let ae = try await api.call(.get, "/adverse-events/\(h.adverseEventA)", token: a)
            #expect(try await api.call(.patch, "/adverse-events/\(h.adverseEventA)", token: a, json: #"{"reason":"regraded","grade":2}"#, headers: [.ifMatch: "\"1\""]).status == 412)
            let regraded = try await api.call(.patch, "/adverse-events/\(h.adverseEventA)", token: a, json: #"{"reason":"regraded","grade":2}"#, headers: [.ifMatch: ae.headers[.eTag]!])
            #expect(regraded.status == 200 && regraded.json["grade"] as? Int == 2, "\(regraded.text)")
            let admin = try await api.call(.get, "/administrations/\(h.administrationA)", token: a)
            let moved = try await api.call(.patch, "/administrations/\(h.administrationA)", token: a, json: #"{"reason":"date from the infusion record","on":"2025-04-03"}"#,
                                           headers: [.ifMatch: admin.headers[.eTag]!])
            #expect(moved.status == 200, "\(moved.text)")
            #expect(try await api.call(.patch, "/administrations/\(h.administrationA)", token: a, json: #"{"reason":"again","lot":"LOT-Q"}"#,
                                       headers: [.ifMatch: admin.headers[.eTag]!]).status == 412)
        }
    }

    @Test("lists page with cursors, capped at the maximum page size")
    func paging() async throws {
        try await APIHarness.run { h, api in
            let a = h.tokens["A"]!
            for i in 1...4 {
                _ = try await api.call(.post, "/patients", token: a, json: #"{"local_id":"MRN-P\#(i)","birth_year":1970,"sex":"male","consent_on":"2025-05-01","consent_version":"1"}"#)
            }
            var ids: [Int] = [], cursor: String? = nil, pages = 0
            repeat {
                let got = try await api.call(.get, "/patients?limit=2" + (cursor.map { "&cursor=\($0)" } ?? ""), token: a)
                ids += got.items.compactMap { $0["id"] as? Int }
                cursor = got.json["next_cursor"] as? String
                pages += 1
            } while cursor != nil && pages < 10
            #expect(pages == 3 && ids.count == 5 && ids == ids.sorted() && Set(ids).count == 5)
            #expect(try await api.call(.get, "/patients?limit=100000", token: a).items.count == 5)
            let followUps = try await api.call(.get, "/follow-ups?limit=100000", token: a)
            #expect(followUps.items.count == 21 && followUps.json["next_cursor"] == nil)
            let firstPage = try await api.call(.get, "/follow-ups?limit=5&status=scheduled", token: a)
            let secondPage = try await api.call(.get, "/follow-ups?limit=5&status=scheduled&cursor=\(firstPage.json["next_cursor"] as! String)", token: a)
            #expect(Set(firstPage.items.compactMap { $0["id"] as? Int }).isDisjoint(with: secondPage.items.compactMap { $0["id"] as? Int }))
            for bad in ["/patients?limit=0", "/patients?cursor=zzz", "/patients?limit=abc", "/follow-ups?status=late", "/patients?pseudonym=XYZ"] {
                let got = try await api.call(.get, bad, token: a)
                #expect(got.status == 400 && got.problemType == "urn:registry:problem:invalid-parameter", "\(bad): \(got.text)")
            }
        }
    }

    @Test("the worklist: overdue oldest first, then due in the next days, under the one definition of overdue")
    func worklist() async throws {
        try await APIHarness.run { h, api in
            let got = try await api.call(.get, "/worklist?days=200&limit=200", token: h.tokens["A"]!)
            #expect(got.status == 200 && got.json["as_of"] as? String == "2026-11-25")
            let kinds = got.items.map { $0["kind"] as? String ?? "" }
            #expect(kinds.first == "overdue" && kinds.contains("due-soon"))
            #expect(kinds == kinds.sorted { ($0 == "overdue" ? 0 : 1) < ($1 == "overdue" ? 0 : 1) })
            let overdue = got.items.filter { $0["kind"] as? String == "overdue" }
            let ends = overdue.compactMap { $0["window_end"] as? String }
            #expect(ends == ends.sorted() && overdue.allSatisfy { ($0["days_overdue"] as? Int ?? 0) > 0 })
            #expect(!overdue.contains { $0["follow_up_id"] as? Int == h.followUpA.rawValue }, "completed follow-ups are not overdue")
            // The same overdue set as follow_up_overdue() in SQL.
            let sql = try await h.database.count("follow_up f JOIN patient p ON p.id = f.patient_id",
                                              where: "f.patient_id = \(h.patientA) AND follow_up_overdue(f.window_end, f.status, p.status, DATE '2026-11-25')")
            #expect(overdue.count == sql)
            // Paging through it gives the same entries.
            var paged: [Int] = [], cursor: String? = nil
            repeat {
                let page = try await api.call(.get, "/worklist?days=200&limit=3" + (cursor.map { "&cursor=\($0)" } ?? ""), token: h.tokens["A"]!)
                paged += page.items.compactMap { $0["follow_up_id"] as? Int }
                cursor = page.json["next_cursor"] as? String
            } while cursor != nil
            #expect(paged == got.items.compactMap { $0["follow_up_id"] as? Int })
        }
    }
}
