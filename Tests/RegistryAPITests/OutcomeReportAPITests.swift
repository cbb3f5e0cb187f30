import Foundation
import HTTPTypes
import PostgresNIO
@testable import RegistryAPI
import RegistryDomain
import RegistryReports
import RegistryStorage
import RegistryTestSupport
import Testing

/// `registry report outcomes`, run as the built binary against the harness's database.
struct ReportCommandLine {
    let url: DatabaseURL
    let home: URL

    func run(_ arguments: [String], command: [String] = ["report", "outcomes"]) throws -> RegistryBinary.Result {
        try RegistryBinary(databaseURL: url, home: home).run(command + arguments + ["--actor", "registrar"])
    }
}

@Suite("API: the outcome report")
struct OutcomeReportAPITests {
    /// Five more of A's patients treated with GT-01: six in all, so a K of 2 shows figures a K of 12 suppresses.
    static func treatMore(_ h: APIHarness) async throws {
        for i in 1...5 {
            let (patient, _) = try await h.database.transaction(actor: "test") { tx in try await tx.patients.enroll(try NewPatient(institutionCode: "ARM-001", localID: "MRN-R\(i)", birthYear: 1950 + i, sex: i % 2 == 0 ? "male" : "female",
                                                                       consentOn: "2025-05-01", consentVersion: "2", pseudonymizer: h.api.pseudonymizer, today: APIHarness.today)) }
            _ = try await h.database.transaction(actor: "test") { tx in try await tx.administrations.administer(patientID: patient.id, planID: h.planA,
                                             try NewAdministration(on: "2025-05-0\(i + 1)", lot: "LOT-R", dose: "2e6", feeNotified: 30_000_000, feeCollected: 25_000_000 + i,
                                                                   today: APIHarness.today)) }
        }
    }

    /// The report's exact figures (an administrator's unsuppressed pull, no perturbation), as
    /// JSON: what the tests of what is counted compare with, since over HTTP counts are perturbed.
    static func exact(_ h: APIHarness, product: String? = nil) async throws -> [String: Any] {
        let p = ReportParameters(purpose: "test: exact figures", asOf: LocalDate("2026-11-25")!, product: product, minimumCell: 2, suppression: false)
        let r = try await OutcomeReport.build(database: h.database, parameters: p, actor: "cli:test", role: .admin, today: APIHarness.today)
        return try JSONSerialization.jsonObject(with: r.json()) as? [String: Any] ?? [:]
    }

    static func pulls(_ h: APIHarness) async throws -> [(actor: String, role: String, purpose: String, minCell: Int, checksum: String)] {
        try await h.database.plainTransaction { c in
            try await c.query("SELECT pulled_by, role, purpose, min_cell, content_sha256 FROM report_pull ORDER BY id", logger: TestDatabase.logger)
                .decode((String, String, String, Int32, String).self).collect().map { ($0.0, $0.1, $0.2, Int($0.3), $0.4) }
        }
    }

    @Test("regulator and admin reports are byte for byte the command line's (JSON, CSV, HTML, each with its content type); every pull is recorded and audited")
    func sameBytesAsTheCommandLine() async throws {
        try await APIHarness.run { h, api in
            try await Self.treatMore(h)
            let home = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("registry-report-api-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: home) }
            let cli = ReportCommandLine(url: h.database.url, home: home)
            let query = "/reports/outcomes?purpose=MFDS%20quarterly%20review&as_of=2026-11-25&by=product,year&product=GT-01"
            let options = ["--purpose", "MFDS quarterly review", "--as-of", "2026-11-25", "--by", "product,year", "--product", "GT-01"]
            let regulator = h.tokens["regulator"]!, admin = h.tokens["admin"]!

            for (format, contentType) in [("json", "application/json"), ("csv", "text/csv; charset=utf-8"), ("html", "text/html; charset=utf-8")] {
                let got = try await api.call(.get, "\(query)&min_cell=12&format=\(format)", token: regulator)
                #expect(got.status == 200, "\(format): \(got.text.prefix(500))")
                #expect(got.headers[.contentType] == contentType)
                #expect(got.headers[.cacheControl] == "no-store", "a cached copy would be a pull nobody recorded")
                let printed = try cli.run(options + ["--role", "regulator", "--min-cell", "12", "--format", format])
                #expect(printed.status == 0, "\(printed.stderr)")
                #expect(!printed.stdout.isEmpty && got.text == printed.stdout, "\(format) over HTTP differs from the command line's")
            }
            // JSON is the default format. A regulator's K of 12 hides the six patients; an admin's K of 2 shows them (perturbed).
            let suppressed = try await api.call(.get, "\(query)&min_cell=12", token: regulator)
            #expect(suppressed.headers[.contentType] == "application/json")
            #expect((suppressed.json["total"] as? [String: Any])?["patients"] as? String == "suppressed", "\(suppressed.text.prefix(300))")
            let shown = try await api.call(.get, "\(query)&min_cell=2", token: admin)
            // Over HTTP counts are always perturbed: 6 within 2.
            #expect(abs(((shown.json["total"] as? [String: Any])?["patients"] as? Int ?? 99) - 6) <= 2, "\(shown.text.prefix(300))")
            let adminPrinted = try cli.run(options + ["--min-cell", "2", "--format", "json"])
            #expect(adminPrinted.status == 0 && shown.text == adminPrinted.stdout, "the admin's report differs from the command line's")

            // Five pulls over HTTP and four at the command line, each with who, role, purpose and what was handed out.
            let pulls = try await Self.pulls(h)
            let regulatorActor = h.grants["regulator"]!.actor, adminActor = h.grants["admin"]!.actor
            #expect(pulls.filter { $0.actor == regulatorActor }.count == 4)
            #expect(pulls.filter { $0.actor == regulatorActor }.allSatisfy { $0.role == "regulator" && $0.minCell == 12 && $0.purpose == "MFDS quarterly review" })
            #expect(pulls.filter { $0.actor == adminActor }.map { "\($0.role) \($0.minCell)" } == ["admin 2"])
            #expect(pulls.filter { $0.actor.hasPrefix("cli:") && $0.actor.hasSuffix(" (registrar)") }.count == 4)
            let checksum = try #require(suppressed.json["checksum"] as? String)
            #expect(pulls.filter { $0.actor == regulatorActor }.last?.checksum == String(checksum.dropFirst("sha256:".count)))
            let audited = try await h.database.count("audit_log", where: "entity = 'report_pull' AND actor = '\(regulatorActor)' AND reason = 'outcome report: MFDS quarterly review'")
            #expect(audited == 4)

            // ?cut= pulls the regulator's last cut again: the same bytes, whatever was entered since;
            // a new pull of the same parameters sees the new visit.
            let last = try await h.database.plainTransaction { c in
                try await c.query("SELECT max(id) FROM report_pull WHERE pulled_by = \(regulatorActor)", logger: TestDatabase.logger).decode(Int.self).collect()
            }[0]
            let logged = try await api.call(.post, "/patients/\(h.patientA)/visits", token: h.tokens["A"], json: #"{"on":"2026-11-24","contact":"phone","vital":"alive"}"#)
            #expect(logged.status == 201, "\(logged.text.prefix(300))")
            let again = try await api.call(.get, "/reports/outcomes?purpose=re-check&cut=\(last)&format=json", token: regulator)
            #expect(again.status == 200 && again.text == suppressed.text, "\(again.text.prefix(300))")
            let fresh = try await api.call(.get, "\(query)&min_cell=12", token: regulator)
            #expect(fresh.status == 200 && (fresh.json["recorded_by"] as? String ?? "") > (suppressed.json["recorded_by"] as? String ?? "~"))
        }
    }

    @Test("the trend by quarter over HTTP: the command line's bytes, a pull per quarter; every bad parameter named at once, nothing pulled; institutions 403")
    func trend() async throws {
        try await APIHarness.run { h, api in
            try await Self.treatMore(h)
            let home = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("registry-trend-api-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: home) }
            let regulator = h.tokens["regulator"]!
            let got = try await api.call(.get, "/reports/trend?purpose=trend%20check&from=2025Q2&to=2026Q3&format=csv&min_cell=12", token: regulator)
            #expect(got.status == 200 && got.headers[.contentType] == "text/csv; charset=utf-8", "\(got.text.prefix(300))")
            #expect(got.text.components(separatedBy: "\r\n").filter { !$0.isEmpty }.count == 7, "a header and six quarters")
            let printed = try ReportCommandLine(url: h.database.url, home: home)
                .run(["--purpose", "trend check", "--min-cell", "12", "--role", "regulator", "--format", "csv"], command: ["report", "trend", "--from", "2025Q2", "--to", "2026Q3"])
            #expect(printed.status == 0 && printed.stdout == got.text, "\(printed.stderr)")
            #expect(try await h.database.count("report_pull") == 12)
            let bad = try await api.call(.get, "/reports/trend?from=2026Q1&to=2026Q9&format=pdf&lag_days=-1", token: regulator)
            #expect(bad.status == 400 && Set(bad.parameters) == ["purpose", "format", "lag_days"], "\(bad.text)")
            let late = try await api.call(.get, "/reports/trend?purpose=x&from=2026Q1&to=2026Q4", token: regulator)
            #expect(late.status == 400 && late.parameters == ["to"], "\(late.text)")
            #expect(try await h.database.count("report_pull") == 12, "a refused trend pulls nothing")
            #expect(try await api.call(.get, "/reports/trend?purpose=x&from=2026Q1&to=2026Q2", token: h.tokens["A"]).status == 403)
        }
    }

    @Test("institution tokens get 403; a missing purpose or a bad parameter gets a problem naming the query parameter; a revoked token pulls nothing")
    func refusals() async throws {
        try await APIHarness.run { h, api in
            let regulator = h.tokens["regulator"]!
            let base = "/reports/outcomes?purpose=committee%20question"
            let institution = try await api.call(.get, base, token: h.tokens["A"])
            #expect(institution.status == 403 && institution.problemType == "urn:registry:problem:forbidden", "\(institution.text)")
            for (uri, parameter, says) in [
                ("/reports/outcomes?as_of=2026-11-01&format=csv", "purpose", "purpose is required"),
                ("/reports/outcomes?purpose=", "purpose", "characters"),
                ("\(base)&by=product,colour", "by", "allowed: product, indication, institution, year"),
                ("\(base)&by=year,year", "by", "twice"),
                ("\(base)&format=pdf", "format", "allowed: json, csv, html"),
                ("\(base)&format=html&lang=fr", "lang", "allowed: ko, en"),
                ("\(base)&min_cell=5", "min_cell", "allowed: 11 to 1000"),
                ("\(base)&min_cell=lots", "min_cell", "allowed: 11 to 1000"),
                ("\(base)&as_of=2026-02-30", "as_of", "YYYY-MM-DD"),
                ("\(base)&as_of=2026-12-01", "as_of", "in the future"),
                ("\(base)&product=NO-SUCH", "product", "no product has code NO-SUCH"),
                ("\(base)&indication=Parkinson", "indication", "ICD-10"),
                ("\(base)&role=admin", "role", "not a parameter"),
                ("\(base)&no_suppression=maybe", "no_suppression", "true or false"),
                ("\(base)&cut=1&as_of=2026-11-01&by=product", "as_of", "a cut repeats its pull's parameters; leave out as_of, by"),
                ("\(base)&cut=first", "cut", "not a pull number"),
                ("\(base)&cut=999", "cut", "no outcome report was pulled as pull 999"),
                ("\(base)&quarter=2026Q9", "quarter", "YYYYQn"),
                ("\(base)&quarter=2026Q3&as_of=2026-09-30", "as_of", "a quarter sets the as-of date"),
                ("\(base)&lag_days=30", "lag_days", "go with a quarter"),
                ("\(base)&quarter=2026Q3&lag_days=400", "lag_days", "allowed: 0 to 365"),
                ("\(base)&recorded_by=soon", "recorded_by", "ISO 8601"),
            ] {
                let got = try await api.call(.get, uri, token: regulator)
                #expect(got.status == 400 && got.problemType == "urn:registry:problem:invalid-parameter", "\(uri): \(got.status) \(got.text)")
                #expect(got.headers[.contentType] == "application/problem+json")
                #expect(got.parameters == [parameter], "\(uri): \(got.text)")
                #expect((got.json["detail"] as? String)?.contains(says) == true, "\(uri): \(got.text)")
            }
            // Unsuppressed figures are not served over HTTP, not even to an admin.
            let unsuppressed = try await api.call(.get, "\(base)&no_suppression=true", token: h.tokens["admin"])
            #expect(unsuppressed.status == 403 && unsuppressed.parameters == ["no_suppression"], "\(unsuppressed.text)")
            #expect(try await h.database.count("report_pull") == 0, "a refused pull is not recorded")

            // The page in Korean: the same figures and checksum, Korean words.
            let korean = try await api.call(.get, "\(base)&format=html&lang=ko", token: regulator)
            #expect(korean.status == 200 && korean.text.contains("<html lang=\"ko\">") && korean.text.contains("주요 수치"), "\(korean.text.prefix(300))")

            // Once revoked, a token pulls nothing, though its grant is still cached from the pull before.
            #expect(try await api.call(.get, "\(base)&no_suppression=false", token: regulator).status == 200)
            _ = try await h.database.transaction(actor: "test") { tx in try await tx.tokens.revoke(id: h.grants["regulator"]!.tokenID, reason: "test") }
            let revoked = try await api.call(.get, base, token: regulator)
            #expect(revoked.status == 401 && revoked.problemType == "urn:registry:problem:unauthenticated", "\(revoked.text)")
            #expect(try await h.database.count("report_pull") == 2)
        }
    }

    @Test("the safety listing over HTTP: regulators and admins get it as the command line builds it, institutions 403; every field at fault named at once")
    func safetyListing() async throws {
        try await APIHarness.run { h, api in
            let base = "/reports/safety-listing?purpose=signal%20review"
            let listing = try await api.call(.get, base, token: h.tokens["regulator"])
            #expect(listing.status == 200 && listing.headers[.contentType] == "application/json" && listing.headers[.cacheControl] == "no-store", "\(listing.text)")
            #expect(listing.json["listing"] as? String == "safety" && (listing.json["events"] as? [Any]) != nil)
            let csv = try await api.call(.get, "\(base)&format=csv", token: h.tokens["admin"])
            #expect(csv.status == 200 && csv.text.hasPrefix("case_id,event_id,") && csv.headers[.contentType] == "text/csv; charset=utf-8")
            let institution = try await api.call(.get, base, token: h.tokens["A"])
            #expect(institution.status == 403 && institution.problemType == "urn:registry:problem:forbidden", "\(institution.text)")
            let bad = try await api.call(.get, "/reports/safety-listing?from=2026-02-30&to=2099-01-01&format=pdf", token: h.tokens["regulator"])
            #expect(bad.status == 400 && bad.problemType == "urn:registry:problem:invalid-parameter", "\(bad.text)")
            #expect(bad.parameters == ["format"], "the format is checked first: \(bad.text)")
            let fields = try await api.call(.get, "/reports/safety-listing?from=2026-02-30&to=2099-01-01", token: h.tokens["regulator"])
            #expect(Set(fields.parameters) == ["purpose", "to", "from"], "\(fields.text)")
            #expect(try await h.database.count("report_pull", where: "report = 'safety-listing'") == 2)
        }
    }
}
