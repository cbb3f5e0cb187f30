import Foundation
import RegistryStorage
import RegistryTestSupport
import Testing

@Suite("Import round trip")
struct ImportRoundTripTests {
    @Test("registry demo --csv writes the registry as import files; imported into an empty registry with the same reference data they give a byte-identical outcome report")
    func roundTrip() async throws {
        let home = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("registry-roundtrip-\(UUID().uuidString)")
        let files = home.appendingPathComponent("files")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: home) }
        let direct = try await TestDatabase.create(), imported = try await TestDatabase.create()
        let a = RegistryBinary(databaseURL: direct, home: home), b = RegistryBinary(databaseURL: imported, home: home)

        let built = try a.run(["demo", "--patients", "300", "--seed", "11", "--csv", files.path, "--quiet"])
        #expect(built.status == 0, "\(built.stderr)")
        let reference = try b.run(["demo", "--reference-only", "--seed", "11"])
        #expect(reference.status == 0, "\(reference.stderr)")
        for kind in ["patients", "administrations", "visits", "adverse-events", "status-changes"] {
            let file = files.appendingPathComponent("\(kind).csv").path
            let rows = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\r\n").count - 1
            let result = try b.run(["import", kind, file, "--json"])
            let json = result.json as? [String: Any] ?? [:]
            #expect(result.status == 0 && json["committed"] as? Bool == true, "\(kind): \(result.stdout.prefix(3000)) \(result.stderr)")
            // Every row written, or already there: a grade 5 event imported before records its death.
            let written = json["written"] as? Int ?? -1, unchanged = json["unchanged"] as? Int ?? -1
            #expect(written + unchanged == rows && written > 0 && (kind == "status-changes" || unchanged == 0), "\(kind): \(rows) rows, \(written) written, \(unchanged) unchanged")
            // Each file imported again writes nothing.
            let again = try b.run(["import", kind, file, "--json"])
            #expect((again.json as? [String: Any])?["written"] as? Int == 0, "\(kind) again: \(again.stdout.prefix(500))")
        }
        // The institutions the demo suspended or revoked after treating their patients.
        for (code, status) in [("ARM-137", "suspended"), ("ARM-139", "suspended"), ("ARM-141", "revoked")] {
            let set = try b.run(["institution", "set-status", code, "--status", status, "--reason", "as in the demo"])
            #expect(set.status == 0, "\(set.stderr)")
        }
        // The horizon is printed to the second: let the last change fall in an earlier one, so that
        // both cuts read everything (a change in the horizon's own second, after it, would be left out).
        try await Task.sleep(for: .milliseconds(1100))
        let horizon = ISO8601DateFormatter().string(from: Date())
        let report = ["report", "outcomes", "--purpose", "import round trip", "--recorded-by", horizon, "--no-suppression",
                      "--by", "product,institution,year", "--format", "json"]
        let fromDemo = try a.run(report), fromImport = try b.run(report)
        #expect(fromDemo.status == 0 && fromImport.status == 0, "\(fromDemo.stderr) \(fromImport.stderr)")
        #expect(!fromDemo.stdout.isEmpty && fromDemo.stdout == fromImport.stdout,
                "the reports differ: \(zip(fromDemo.stdout.split(separator: ","), fromImport.stdout.split(separator: ",")).enumerated().first { $0.element.0 != $0.element.1 }.map { "at \($0.offset): \($0.element.0) vs \($0.element.1)" } ?? "in length")")
        try await TestDatabase.drop(direct)
        try await TestDatabase.drop(imported)
    }
}
