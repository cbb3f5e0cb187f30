import Foundation
import HTTPTypes
import RegistryDomain
@testable import RegistryAPI
import RegistryStorage
import RegistryTestSupport
import Testing

/// Findings 3 and 5 of issue #18: bodies and query strings read strictly.
@Suite("Strict input")
struct StrictInputTests {
    static let patient = #""birth_year":1970,"sex":"male","consent_on":"2025-05-01","consent_version":"1""#

    @Test("a key given twice is refused naming it (it was stored with the first value); nothing is written")
    func duplicateKeys() async throws {
        try await APIHarness.run { h, api in
            let before = try await h.snapshot()
            let got = try await api.call(.post, "/patients", token: h.tokens["A"], json: #"{"local_id":"MRN-D1","local_id":"MRN-D2",\#(Self.patient)}"#)
            #expect(got.status == 422 && got.pointers == ["/local_id"], "\(got.text)")
            let nested = try await api.call(.post, "/follow-ups/\(h.openFollowUpA)/visits", token: h.tokens["A"],
                                            json: #"{"on":"2026-11-20","contact":"examination","vital":"dead","vital":"alive"}"#)
            #expect(nested.status == 422 && nested.pointers == ["/vital"], "\(nested.text)")
            #expect(try await h.snapshot() == before)
        }
    }

    @Test("NUL and other control characters are refused with 422 naming the field, in bodies and in query strings; tabs and line breaks pass")
    func controlCharacters() async throws {
        try await APIHarness.run { h, api in
            let before = try await h.snapshot()
            let note = try await api.call(.post, "/follow-ups/\(h.openFollowUpA)/visits", token: h.tokens["A"],
                                          json: #"{"on":"2026-11-20","contact":"examination","vital":"alive","note":"ok\u0000"}"#)
            #expect(note.status == 422 && note.pointers == ["/note"], "\(note.text)")
            let bell = try await api.call(.post, "/patients", token: h.tokens["A"], json: "{\"local_id\":\"MRN-\u{07}\",\(Self.patient)}")
            #expect(bell.status == 422 || bell.status == 400, "\(bell.text)")
            #expect(try await h.snapshot() == before)
            let lot = try await api.call(.get, "/administrations?lot=LOT%00A", token: h.tokens["A"])
            #expect(lot.status == 422 && lot.parameters == ["lot"], "\(lot.text)")
            let lines = try await api.call(.post, "/follow-ups/\(h.openFollowUpA)/visits", token: h.tokens["A"],
                                           json: #"{"on":"2026-11-20","contact":"examination","vital":"alive","note":"line one\nline two\tend"}"#)
            #expect(lines.status == 201, "\(lines.text)")
        }
    }

    @Test("only application/json or a +json type in UTF-8: other media types, charsets and byte-order marks get 415")
    func mediaTypes() async throws {
        try await APIHarness.run { h, api in
            let body = #"{"local_id":"MRN-M1",\#(Self.patient)}"#
            for type in ["application/jsonx", "application/json; charset=latin1", "text/plain"] {
                let got = try await api.call(.post, "/patients", token: h.tokens["A"], json: body, headers: [.contentType: type])
                #expect(got.status == 415, "\(type): \(got.status) \(got.text)")
            }
            let bom = try await api.call(.post, "/patients", token: h.tokens["A"], json: "\u{FEFF}" + body)
            #expect(bom.status == 415, "\(bom.text)")
            #expect(try await h.database.count("patient") == 1)
            let vendor = try await api.call(.post, "/patients", token: h.tokens["A"], json: body, headers: [.contentType: "application/merge-patch+json; charset=UTF-8"])
            #expect(vendor.status == 201, "\(vendor.text)")
        }
    }

    @Test("a method a path does not take gets 405 with Allow listing the ones it does; an unknown path 404")
    func methodNotAllowed() async throws {
        try await APIHarness.run { h, api in
            let delete = try await api.call(.delete, "/patients", token: h.tokens["A"])
            #expect(delete.status == 405 && delete.headers[.allow] == "GET, POST", "\(delete.status) \(delete.headers[.allow] ?? "-") \(delete.text)")
            let put = try await api.call(.put, "/patients/\(h.patientA)", token: h.tokens["A"])
            #expect(put.status == 405 && (put.headers[.allow] ?? "").contains("GET"), "\(put.text)")
            #expect(try await api.call(.get, "/no-such-thing", token: h.tokens["A"]).status == 404)
        }
    }
}

/// Finding 4 of issue #18: a retried request replays, never a conflict.
@Suite("Idempotent replay")
struct IdempotentReplayTests {
    @Test("20 identical visits with one Idempotency-Key at once: one visit written, every answer the first 201")
    func concurrentRetries() async throws {
        try await APIHarness.run(transport: .live) { h, api in
            let body = #"{"on":"2026-11-20","contact":"examination","vital":"alive"}"#
            let answers = try await withThrowingTaskGroup(of: Got.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        try await api.call(.post, "/follow-ups/\(h.openFollowUpA)/visits", token: h.tokens["A"], json: body,
                                           headers: [Idempotency.header: "visit-retry-1"])
                    }
                }
                var out: [Got] = []
                for try await got in group { out.append(got) }
                return out
            }
            #expect(answers.map(\.status).allSatisfy { $0 == 201 }, "\(answers.map(\.status)) \(answers.first?.text ?? "")")
            #expect(Set(answers.compactMap(\.id)).count == 1)
            #expect(try await h.database.count("visit", where: "follow_up_id = \(h.openFollowUpA)") == 1)
        }
    }
}

/// Finding 7 of issue #18: guessing tokens is limited per client address.
@Suite("Failed authentication")
struct FailedAuthenticationTests {
    @Test("unknown tokens from one address: 401 up to the limit, then 429 with Retry-After and no lookup; valid tokens, used before or never, still pass")
    func limited() async throws {
        try await APIHarness.run(authFailuresPerMinute: 3) { h, api in
            var statuses: [Int] = []
            for i in 0..<6 {
                statuses.append(try await api.call(.get, "/patients", token: "rgt_guess\(i)_0000000000000000000000000000000000").status)
            }
            #expect(statuses == [401, 401, 401, 429, 429, 429], "\(statuses)")
            let held = try await api.call(.get, "/patients", token: "rgt_guess9_0000000000000000000000000000000000")
            #expect(held.status == 429 && Int(held.headers[.retryAfter] ?? "") ?? 0 >= 1, "\(held.headers)")
            #expect(try await api.call(.get, "/patients", token: h.tokens["A"]).status == 200)
            #expect(try await api.call(.get, "/patients", token: h.tokens["B"]).status == 200)
        }
    }

    @Test("the budget: spent by failures, earned back with time, the wait until the next attempt")
    func budget() {
        var b = FailureBudget(perMinute: 6, now: 0)
        var allowed: [Bool] = []
        for _ in 0..<6 { allowed.append(b.allows(now: 0)); b.fail(now: 0) }
        #expect(allowed == Array(repeating: true, count: 6))
        let exhausted = b.allows(now: 0), wait = b.retryAfter(now: 0)
        #expect(!exhausted && wait == 10)
        let early = b.allows(now: 9.9), onTime = b.allows(now: 10)
        #expect(!early && onTime)
        let fullAt59 = b.isFull(now: 59), fullAt60 = b.isFull(now: 60)
        #expect(!fullAt59 && fullAt60)
    }
}

@Suite("Refusals name no other site")
struct NoOtherSiteTests {
    @Test("a dose posted with another site's plan is refused without that site's code")
    func otherSitesPlan() async throws {
        try await APIHarness.run { h, api in
            let got = try await api.call(.post, "/patients/\(h.patientA)/administrations", token: h.tokens["A"],
                                         json: #"{"plan_id":\#(h.planB),"on":"2025-05-01","lot":"LOT-X","dose":"1e6","fee_notified_krw":1,"fee_collected_krw":1}"#)
            #expect((got.status == 409 || got.status == 404) && !got.text.contains("ARM-002"), "\(got.text)")
        }
    }
}
