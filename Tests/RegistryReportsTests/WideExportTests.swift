import Foundation
import PostgresNIO
import RegistryDomain
@testable import RegistryReports
import RegistryStorage
import RegistryTestSupport
import Testing

@Suite("The longitudinal export in wide form")
struct WideExportTests {
    static func export(_ database: Database, institution: String? = nil, language: ReportLanguage = .en) async throws -> (String, WideExport.Summary) {
        var out = Data()
        let summary = try await WideExport.write(database: database, purpose: "test: wide export", institution: institution, language: language,
                                                 actor: "cli:analyst", today: SmallRegistry.today) { out.append($0) }
        return (String(decoding: out, as: UTF8.self), summary)
    }

    @Test("a row per patient and time point of every standing dose, measures as columns in the catalogue's order, names beside codes; recorded")
    func wide() async throws {
        try await TestDatabase.withDatabase { database in
            _ = try await SmallRegistry.make(database)
            let (csv, summary) = try await Self.export(database)
            let lines = csv.components(separatedBy: "\r\n").filter { !$0.isEmpty }
            let header = lines[0].components(separatedBy: ",")
            #expect(Array(header.prefix(WideExport.columns.count)) == WideExport.columns)
            #expect(header.contains("ecog") && header.contains("pain-nrs") && header.contains("disease-response") && header.contains("disease-response_label"))
            #expect(header.firstIndex(of: "ecog")! < header.firstIndex(of: "pain-nrs")!, "the catalogue's order")
            // GT-01 has 21 time points (three patients), CT-01 11 (p4, p5 and p6's two doses).
            #expect(summary.rows == 3 * 21 + 4 * 11 && lines.count == summary.rows + 1 && summary.patients == 6)
            // p1's day-100 visit: ECOG 1, with the product's and institution's names beside their codes.
            let ecog = header.firstIndex(of: "ecog")!
            let day100 = lines.map { $0.components(separatedBy: ",") }.filter { $0[7] == "day 100" && $0[12] == "2024-09-11" && $0[ecog] == "1" }
            #expect(day100.count == 2, "p1 and p2")
            #expect(day100.allSatisfy { $0[1] == "ARM-001" && $0[2] == "Hospital ARM-001" && $0[3] == "GT-01" && $0[4] == "Example AAV vector" && $0[10] == "completed" })
            // p5's month 6 was closed as not done (unreachable).
            #expect(lines.contains { $0.contains(",month 6,") && $0.contains(",not-done,unreachable,") })
            #expect(!csv.contains("MRN-"), "no local numbers: patients by pseudonym only")
            // Recorded as a pull of its own, with the checksum of what was written.
            let recorded = try await database.plainTransaction { tx in
                try await tx.connection.query("SELECT report, role, purpose, content_sha256 FROM report_pull", logger: TestDatabase.logger)
                    .decode((String, String, String, String).self).collect()
            }
            #expect(recorded.count == 1 && recorded[0].0 == "wide" && recorded[0].1 == "admin" && "sha256:\(recorded[0].3)" == summary.checksum)
            // One institution's follow-ups only; an unknown one is refused before anything is written.
            let (arm2, only) = try await Self.export(database, institution: "ARM-002")
            #expect(only.rows == 44 && !arm2.contains(",ARM-001,"))
            await expectRefusal(field: "institution") { _ = try await Self.export(database, institution: "ARM-999") }
            await expectRefusal(field: "purpose") {
                _ = try await WideExport.write(database: database, purpose: " ", institution: nil, language: .en, actor: "cli:x") { _ in }
            }
        }
    }

    @Test("registry export wide on the command line: the file, mode 0600, the summary; --lang ko names answers in Korean; refusals name the option")
    func commandLine() async throws {
        let (cli, home, url) = try await SmallRegistry.commandLine()
        defer { try? FileManager.default.removeItem(at: home) }
        let file = home.appendingPathComponent("wide.csv").path
        let done = try cli.run(["export", "wide", "--purpose", "annual statistics", "--lang", "ko", "--out", file, "--json"])
        #expect(done.status == 0, "\(done.stderr)")
        #expect((done.json as? [String: Any])?["rows"] as? Int == 107)
        let text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(text.hasPrefix("patient,institution,institution_name,product,product_name,"))
        let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try cli.run(["export", "wide", "--purpose", "x", "--lang", "fr", "--json"]).errorJSON?["field"] as? String == "lang")
        #expect(try cli.run(["export", "wide", "--purpose", "x", "--institution", "ARM-999", "--json"]).errorJSON?["field"] as? String == "institution")
        try await TestDatabase.drop(url)
    }
}
