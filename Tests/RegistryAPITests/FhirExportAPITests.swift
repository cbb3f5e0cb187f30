import Foundation
import HTTPTypes
import Hummingbird
import PostgresNIO
@testable import RegistryAPI
import RegistryDomain
import RegistryStorage
import RegistryTestSupport
import Testing

/// The Bulk Data Access IG's asynchronous flow over HTTP, as a client drives it.
@Suite("FHIR Bulk Data export over HTTP")
struct FhirExportAPITests {
    static let prefer: HTTPFields = [HTTPField.Name("Prefer")!: "respond-async", .accept: "application/fhir+json"]

    /// The path of an absolute URL the server gave (Content-Location, the manifest's urls).
    static func path(_ url: String?) -> String {
        guard let url, let parsed = URL(string: url) else { return "/missing-url" }
        return parsed.path + (parsed.query.map { "?" + $0 } ?? "")
    }

    /// An OperationOutcome answer: its status, content type, and the issue's code and expressions.
    static func expectOutcome(_ got: Got, _ status: Int, code: String, expression: String? = nil, _ note: String,
                              sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(got.status == status, "\(note): \(got.status) \(got.text)", sourceLocation: sourceLocation)
        #expect(got.headers[.contentType] == "application/fhir+json", "\(note): \(got.headers[.contentType] ?? "-")", sourceLocation: sourceLocation)
        #expect(got.json["resourceType"] as? String == "OperationOutcome", "\(note): \(got.text)", sourceLocation: sourceLocation)
        let issue = (got.json["issue"] as? [[String: Any]])?.first
        #expect(issue?["code"] as? String == code && issue?["severity"] as? String == "error", "\(note): \(got.text)", sourceLocation: sourceLocation)
        #expect((issue?["diagnostics"] as? String)?.isEmpty == false, sourceLocation: sourceLocation)
        if let expression { #expect((issue?["expression"] as? [String])?.contains(expression) == true, "\(note): \(got.text)", sourceLocation: sourceLocation) }
    }

    /// Polls `status` until it is no longer 202 (at most 20 s), returning the last answer and the 202s seen.
    static func poll(_ api: APIClient, _ status: String, token: String?) async throws -> (Got, [Got]) {
        var running: [Got] = []
        for _ in 0..<200 {
            let got = try await api.call(.get, status, token: token)
            guard got.status == 202 else { return (got, running) }
            running.append(got)
            try await Task.sleep(for: .milliseconds(100))
        }
        return (try await api.call(.get, status, token: token), running)
    }

    /// Runs `body` while the patient table is locked, so that an export started in it stays running.
    static func holdingPatients<T: Sendable>(_ database: Database, _ body: () async throws -> T) async throws -> T {
        try await database.withConnection { c in
            _ = try await c.query("BEGIN", logger: TestDatabase.logger)
            _ = try await c.query("LOCK TABLE patient IN ACCESS EXCLUSIVE MODE", logger: TestDatabase.logger)
            do {
                let value = try await body()
                _ = try await c.query("COMMIT", logger: TestDatabase.logger)
                return value
            } catch {
                _ = try? await c.query("ROLLBACK", logger: TestDatabase.logger)
                throw error
            }
        }
    }

    @Test("a kick-off without Prefer: respond-async, with an unknown _type or format, without an administrator's purpose and recipient, or from the wrong token is refused with an OperationOutcome")
    func refusals() async throws {
        try await APIHarness.run { h, api in
            let admin = h.tokens["admin"]!, a = h.tokens["A"]!
            let system = "/fhir/$export?purpose=study&recipient=KoNECT"
            Self.expectOutcome(try await api.call(.get, system, token: admin), 400, code: "invalid", expression: "Prefer", "no Prefer")
            Self.expectOutcome(try await api.call(.get, system + "&_type=Patient,Practitioner", token: admin, headers: Self.prefer), 400, code: "invalid",
                          expression: "_type", "unknown type")
            let unknown = try await api.call(.get, system + "&_type=Foo", token: admin, headers: Self.prefer)
            #expect(unknown.text.contains("'Foo' is not a resource type"), "the refusal names the type: \(unknown.text)")
            Self.expectOutcome(try await api.call(.get, system + "&_since=yesterday", token: admin, headers: Self.prefer), 400, code: "invalid", expression: "_since", "bad _since")
            Self.expectOutcome(try await api.call(.get, system + "&_outputFormat=text/csv", token: admin, headers: Self.prefer), 400, code: "invalid",
                          expression: "_outputFormat", "bad format")
            Self.expectOutcome(try await api.call(.get, "/fhir/$export?purpose=study", token: admin, headers: Self.prefer), 400, code: "invalid",
                          expression: "recipient", "an administrator names the recipient")
            Self.expectOutcome(try await api.call(.get, system + "&patient=Patient/1", token: admin, headers: Self.prefer), 400, code: "invalid",
                          expression: "patient", "a parameter this server does not take")
            Self.expectOutcome(try await api.call(.post, "/fhir/$export", token: admin, json: #"{"resourceType":"Bundle"}"#, headers: Self.prefer), 400, code: "invalid",
                          "a POST body that is not Parameters")
            Self.expectOutcome(try await api.call(.get, system, token: a, headers: Self.prefer), 403, code: "forbidden", "the system level is for administrators")
            Self.expectOutcome(try await api.call(.get, "/fhir/Group/ARM-001/$export", token: h.tokens["regulator"], headers: Self.prefer), 403, code: "forbidden",
                          "regulators get aggregates only")
            Self.expectOutcome(try await api.call(.get, "/fhir/Group/ARM-002/$export", token: a, headers: Self.prefer), 403, code: "forbidden",
                          expression: "institution", "another institution's patients")
            Self.expectOutcome(try await api.call(.get, "/fhir/Group/ARM-999/$export?purpose=x&recipient=y", token: admin, headers: Self.prefer), 404,
                          code: "not-found", "an institution that does not exist")
            Self.expectOutcome(try await api.call(.get, "/fhir/$export", token: nil, headers: Self.prefer), 401, code: "login", "no token")
            Self.expectOutcome(try await api.call(.get, "/fhir/bulk-status/0123456789abcdef0123456789abcdef", token: admin), 404, code: "not-found", "no such job")
            #expect(try await h.database.count("fhir_export_job") == 0, "nothing started")
            #expect(try await h.database.count("report_pull") == 0)
        }
    }

    @Test("kick-off, 202 polls with X-Progress, the manifest, the files with the same token only; an institution's Group export holds its own patients")
    func asyncFlow() async throws {
        try await APIHarness.run(transport: .live) { h, api in
            let a = h.tokens["A"]!, b = h.tokens["B"]!, admin = h.tokens["admin"]!
            // A patient at B too, treated, so that scoping has something to leave out.
            let patientB = try await h.database.transaction(actor: "test") { tx in
                try await tx.patients.enroll(try NewPatient(institutionCode: "ARM-002", localID: "MRN-B", birthYear: 1970, sex: "male", consentOn: "2025-03-20",
                                                            consentVersion: "2", pseudonymizer: h.api.pseudonymizer, today: APIHarness.today))
            }.patient.id
            _ = try await h.database.transaction(actor: "test") { tx in
                try await tx.administrations.administer(patientID: patientB, planID: h.planB,
                                                        try NewAdministration(on: "2025-04-02", lot: "LOT-B", dose: "1e6", feeNotified: 1, feeCollected: 1, today: APIHarness.today))
            }
            let kickOffURL = "/fhir/Group/ARM-001/$export?_outputFormat=application/fhir+ndjson"
            let (kickOff, running) = try await Self.holdingPatients(h.database) {
                let kickOff = try await api.call(.get, kickOffURL, token: a, headers: Self.prefer)
                let running = try await api.call(.get, Self.path(kickOff.headers[.contentLocation]), token: a)
                return (kickOff, running)
            }
            #expect(kickOff.status == 202, "\(kickOff.text)")
            let location = try #require(kickOff.headers[.contentLocation])
            #expect(location.hasPrefix("http://") && location.contains("/fhir/bulk-status/"), "an absolute URL: \(location)")
            // Running while the registry is locked: 202 with X-Progress and Retry-After.
            #expect(running.status == 202)
            #expect(running.headers[HTTPField.Name("X-Progress")!]?.isEmpty == false && running.headers[.retryAfter] != nil, "\(running.headers)")
            let (done, _) = try await Self.poll(api, Self.path(location), token: a)
            #expect(done.status == 200, "\(done.text)")
            #expect(done.headers[.contentType] == "application/json")
            let manifest = done.json
            #expect((manifest["transactionTime"] as? String)?.hasSuffix("Z") == true)
            #expect(manifest["request"] as? String == location.components(separatedBy: "/fhir/")[0] + kickOffURL, "the kick-off's URL")
            #expect(manifest["requiresAccessToken"] as? Bool == true && (manifest["error"] as? [Any])?.isEmpty == true)
            let output = try #require(manifest["output"] as? [[String: Any]])
            let counts = Dictionary(uniqueKeysWithValues: output.map { ($0["type"] as! String, $0["count"] as! Int) })
            #expect(counts == ["Patient": 1, "ResearchStudy": 1, "ResearchSubject": 1, "Medication": 1, "MedicationAdministration": 1, "Encounter": 1,
                               "Observation": 1, "AdverseEvent": 1, "CarePlan": 1], "A's one treated patient, visit, measure and event")
            // The files: NDJSON, with the token that started the job; another token sees nothing.
            let patientFile = Self.path(output.first { $0["type"] as? String == "Patient" }?["url"] as? String)
            let patients = try await api.call(.get, patientFile, token: a)
            #expect(patients.status == 200 && patients.headers[.contentType] == "application/fhir+ndjson")
            let lines = patients.text.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].contains("\"id\":\"patient-\(h.patientA)\"") && !patients.text.contains("patient-\(patientB)"))
            #expect(try await api.call(.get, patientFile, token: b).status == 404, "another institution's token")
            #expect(try await api.call(.get, patientFile, token: admin).status == 404, "even an administrator's: the files are the starter's")
            #expect(try await api.call(.get, Self.path(location), token: b).status == 404)
            for entry in output {
                let file = try await api.call(.get, Self.path(entry["url"] as? String), token: a)
                #expect(file.text.split(separator: "\n").count == entry["count"] as? Int)
                #expect(!file.text.contains("Patient/patient-\(patientB)"), "\(entry["type"]!): nothing of B's patient")
            }
            // Recorded as the institution's own pull.
            let pulls = try await h.database.plainTransaction { tx in
                try await tx.connection.query("SELECT r.report, r.role, i.code FROM report_pull r JOIN institution i ON i.id = r.institution_id",
                                              logger: TestDatabase.logger).decode((String, String, String).self).collect()
            }
            #expect(pulls.count == 1 && pulls[0] == ("fhir", "institution", "ARM-001"))

            // An administrator's system export: every patient, with the purpose and recipient recorded; POST with a Parameters body.
            let body = #"{"resourceType":"Parameters","parameter":[{"name":"purpose","valueString":"safety study"},{"name":"recipient","valueString":"MFDS"},{"name":"_type","valueString":"Patient"},{"name":"_type","valueString":"MedicationAdministration"},{"name":"_since","valueInstant":"2020-01-01T00:00:00Z"}]}"#
            let started = try await api.call(.post, "/fhir/$export", token: admin, json: body, headers: { var h = Self.prefer; h[.contentType] = "application/fhir+json"; return h }())
            #expect(started.status == 202, "\(started.text)")
            let (all, _) = try await Self.poll(api, Self.path(started.headers[.contentLocation]), token: admin)
            let allOutput = try #require(all.json["output"] as? [[String: Any]])
            #expect(Dictionary(uniqueKeysWithValues: allOutput.map { ($0["type"] as! String, $0["count"] as! Int) }) == ["Patient": 2, "MedicationAdministration": 2])
            let recipient = try await h.database.plainTransaction { tx in
                try await tx.connection.query("SELECT purpose, recipient FROM report_pull WHERE role = 'admin'", logger: TestDatabase.logger)
                    .decode((String, String?).self).collect()
            }
            #expect(recipient.count == 1 && recipient[0] == ("safety study", "MFDS"))
            // _since after everything: no patient changed, an empty output.
            let later = try await api.call(.get, "/fhir/Group/ARM-001/$export?_since=2100-01-01T00:00:00Z", token: a, headers: Self.prefer)
            let (none, _) = try await Self.poll(api, Self.path(later.headers[.contentLocation]), token: a)
            #expect(none.status == 200 && (none.json["output"] as? [Any])?.isEmpty == true, "\(none.text)")
        }
    }

    @Test("DELETE cancels a running job (later polls 404, its files gone); a job whose server went away is reported failed, not running")
    func cancelAndLost() async throws {
        try await APIHarness.run(transport: .live) { h, api in
            let a = h.tokens["A"]!, b = h.tokens["B"]!
            let location = try await Self.holdingPatients(h.database) {
                let kickOff = try await api.call(.get, "/fhir/Group/ARM-001/$export", token: a, headers: Self.prefer)
                let status = Self.path(kickOff.headers[.contentLocation])
                #expect(try await api.call(.delete, status, token: b).status == 404, "only the starter cancels")
                let cancelled = try await api.call(.delete, status, token: a)
                #expect(cancelled.status == 202, "\(cancelled.text)")
                return status
            }
            Self.expectOutcome(try await api.call(.get, location, token: a), 404, code: "not-found", "a cancelled job")
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await api.call(.get, location, token: a).status == 404, "still gone once the export noticed")
            #expect(try await h.database.count("fhir_export_job") == 0)
            let folder = (h.api.configuration.fhirExportRoot ?? FileManager.default.temporaryDirectory.appendingPathComponent("registry-fhir-exports"))
                .appendingPathComponent(String(location.split(separator: "/").last!))
            #expect(!FileManager.default.fileExists(atPath: folder.path), "its files deleted")

            // A job whose process stopped sending heartbeats (a restart): failed, with an OperationOutcome.
            let lost = "00112233445566778899aabbccddeeff"
            try await h.database.plainTransaction { tx in
                try await tx.connection.query("""
                    INSERT INTO fhir_export_job (id, token_id, actor, role, institution_id, request, types, purpose, heartbeat_at, created_at)
                    SELECT \(lost), \(h.grants["A"]!.tokenID), 'api:token', 'institution', id, 'http://x/fhir/Group/ARM-001/$export', '{Patient}', 'x',
                           now() - interval '10 minutes', now() - interval '10 minutes' FROM institution WHERE code = 'ARM-001'
                    """, logger: TestDatabase.logger)
            }
            let failed = try await api.call(.get, "/fhir/bulk-status/\(lost)", token: a)
            Self.expectOutcome(failed, 500, code: "exception", "a lost job")
            #expect(failed.text.contains("went away"), "\(failed.text)")
            #expect(try await api.call(.get, "/fhir/bulk-status/\(lost)", token: a).status == 500, "and stays failed")
        }
    }
}
