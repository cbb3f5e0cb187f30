import Foundation
import HTTPTypes
import RegistryDomain
import RegistryStorage
import RegistryTestSupport
import Testing

@Suite("Imports over HTTP")
struct ImportAPITests {
    static let csv: HTTPFields = [.contentType: "text/csv; charset=utf-8"]
    static let patients = """
        institution,local_id,birth_year,sex,consent_on,consent_version
        ARM-001,MRN-X1,1970,male,2025-05-01,2
        ARM-001,MRN-X2,1971,female,2025-05-01,2
        ARM-002,MRN-X3,1972,female,2025-05-01,2

        """

    @Test("an institution's file: 422 and nothing written when a row is rejected, each problem with line, column and message; accept-valid writes the rest; a re-import nothing")
    func institutionImport() async throws {
        try await APIHarness.run { h, api in
            let before = try await h.snapshot()
            let refused = try await api.call(.post, "/imports/patients", token: h.tokens["A"], json: Self.patients, headers: Self.csv)
            #expect(refused.status == 422, "\(refused.text)")
            #expect(refused.json["committed"] as? Bool == false && refused.json["written"] as? Int == 2)
            let rejects = refused.json["rejects"] as? [[String: Any]] ?? []
            #expect(rejects.count == 1 && rejects.first?["line"] as? Int == 4 && rejects.first?["column"] as? String == "institution")
            #expect((rejects.first?["message"] as? String)?.contains("this import is for ARM-001") == true, "\(rejects)")
            #expect(try await h.snapshot() == before)

            let accepted = try await api.call(.post, "/imports/patients?mode=accept-valid", token: h.tokens["A"], json: Self.patients, headers: Self.csv)
            #expect(accepted.status == 200 && accepted.json["written"] as? Int == 2 && accepted.json["committed"] as? Bool == true, "\(accepted.text)")
            #expect(try await h.database.count("patient") == 3)
            let again = try await api.call(.post, "/imports/patients?mode=accept-valid", token: h.tokens["A"], json: Self.patients, headers: Self.csv)
            #expect(again.status == 200 && again.json["written"] as? Int == 0 && again.json["unchanged"] as? Int == 2, "\(again.text)")

            // The dry run reports and writes nothing.
            let dry = try await api.call(.post, "/imports/patients?dry_run=true", token: h.tokens["B"],
                                         json: "local_id,birth_year,sex,consent_on,consent_version\nMRN-Y,1980,male,2025-05-01,2\n", headers: Self.csv)
            #expect(dry.status == 200 && dry.json["written"] as? Int == 1 && dry.json["dry_run"] as? Bool == true, "\(dry.text)")
            #expect(try await h.database.count("patient") == 3)
        }
    }

    @Test("refusals: not CSV 415, an unknown kind 404, another site for an institution's token 403, a regulator 403, bad parameters named; the template in Korean")
    func refusals() async throws {
        try await APIHarness.run { h, api in
            #expect(try await api.call(.post, "/imports/patients", token: h.tokens["A"], json: "{}").status == 415)
            #expect(try await api.call(.post, "/imports/doctors", token: h.tokens["A"], json: "a", headers: Self.csv).status == 404)
            let other = try await api.call(.post, "/imports/patients?institution=ARM-002", token: h.tokens["A"], json: Self.patients, headers: Self.csv)
            #expect(other.status == 403 && other.parameters == ["institution"], "\(other.text)")
            #expect(try await api.call(.post, "/imports/patients", token: h.tokens["regulator"], json: Self.patients, headers: Self.csv).status == 403)
            let bad = try await api.call(.post, "/imports/patients?mode=some&dry_run=maybe", token: h.tokens["A"], json: Self.patients, headers: Self.csv)
            #expect(bad.status == 400 || bad.status == 422, "\(bad.text)")
            #expect(Set(bad.parameters) == ["mode", "dry_run"], "\(bad.text)")
            let template = try await api.call(.get, "/imports/visits/template?lang=ko", token: h.tokens["A"])
            #expect(template.status == 200 && template.text.hasPrefix("\u{FEFF}기관코드,환자번호,투여일,방문시점") && template.text.contains("ecog"))
        }
    }

    @Test("a large file gets 202 and a status URL; the token that sent it polls it to the result, another token gets 404; an administrator imports for a named institution")
    func background() async throws {
        try await APIHarness.run(importSyncBytes: 64) { h, api in
            let started = try await api.call(.post, "/imports/patients?institution=ARM-002", token: h.tokens["admin"], json: Self.patients.replacingOccurrences(of: "ARM-001", with: "ARM-002"),
                                             headers: Self.csv)
            #expect(started.status == 202, "\(started.text)")
            let location = try #require(started.headers[.location])
            #expect(location.hasPrefix("/import-jobs/") && started.headers[.retryAfter] != nil)
            var done: Got? = nil
            for _ in 0..<100 {
                let polled = try await api.call(.get, location, token: h.tokens["admin"])
                if polled.status == 202 { #expect(polled.headers[HTTPField.Name("X-Progress")!] != nil); try await Task.sleep(for: .milliseconds(50)); continue }
                done = polled
                break
            }
            #expect(done?.status == 200 && done?.json["written"] as? Int == 3, "\(done?.status ?? 0) \(done?.text ?? "still running")")
            #expect(try await api.call(.get, location, token: h.tokens["A"]).status == 404)
            #expect(try await h.database.count("patient", where: "institution_id = (SELECT id FROM institution WHERE code = 'ARM-002')") == 3)
        }
    }
}
