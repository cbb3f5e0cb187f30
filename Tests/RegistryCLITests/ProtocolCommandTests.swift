import Foundation
import RegistryDomain
import RegistryStorage
import RegistryTestSupport
import Testing

@Suite("registry protocol")
struct ProtocolCommandTests {
    @Test("protocol add takes --point, gives an existing code its next version, names the --point at fault; plan add --protocol follows the latest")
    func addListAndPlan() async throws {
        let url = try await TestDatabase.create()
        let home = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("registry-protocol-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: home) }
        let cli = RegistryBinary(databaseURL: url, home: home)
        let points = ["--point", "day 28:28d:7:7:examination", "--point", "month 6:6m:30:30:examination", "--point", "year 1:1y:60:60:phone"]
        let first = try cli.run(["protocol", "add", "--code", "LTFU-CART-15Y", "--follow-up-class", "gene", "--json"] + points)
        #expect(first.status == 0, "\(first.stderr)")
        let stored = try #require(first.json as? [String: Any])
        #expect(stored["version"] as? Int == 1)
        let timePoints = stored["time_points"] as? [[String: Any]] ?? []
        #expect(timePoints.map { $0["label"] as? String } == ["day 28", "month 6", "year 1"])
        #expect(timePoints.last?["offset_unit"] as? String == "year" && timePoints.last?["window_after"] as? Int == 60 && timePoints.last?["contact_type"] as? String == "phone")

        let second = try cli.run(["protocol", "add", "--code", "LTFU-CART-15Y", "--follow-up-class", "gene", "--reason", "committee amendment", "--point", "year 15:15y:60:60:questionnaire"] + points)
        #expect(second.status == 1 && second.stderr.contains("--point 2 ('day 28:28d:7:7:examination')"), "out of order: \(second.stderr)")
        let amended = try cli.run(["protocol", "add", "--code", "LTFU-CART-15Y", "--follow-up-class", "gene", "--reason", "committee amendment"]
                                  + points + ["--point", "year 15:15y:60:60:questionnaire"])
        #expect(amended.status == 0 && amended.stdout.contains("protocol LTFU-CART-15Y version 2 added"), "\(amended.stderr)")
        for (point, says) in [("month 6:6w:30:30:examination", "'6w' is not an offset"), ("month 6:6m:30:examination", "not a time point"),
                              ("month 6:6m:30:30:visit", "contact-type: 'visit' is not a contact type")] {
            let refused = try cli.run(["protocol", "add", "--code", "LTFU-X", "--follow-up-class", "gene", "--point", point, "--json"])
            #expect(refused.status == 1 && refused.errorJSON?["field"] as? String == "point", "\(refused.stderr)")
            #expect((refused.errorJSON?["error"] as? String)?.contains(says) == true, "\(refused.stderr)")
        }

        let list = try cli.run(["protocol", "list", "--code", "LTFU-CART-15Y", "--json"])
        #expect((list.json as? [[String: Any]])?.map { $0["version"] as? Int } == [1, 2])
        let text = try cli.run(["protocol", "list", "--code", "LTFU-CART-15Y"])
        #expect(text.stdout.contains("LTFU-CART-15Y version 2") && text.stdout.contains("year 15") && text.stdout.contains("15 years"), "\(text.stdout)")
        #expect(try cli.run(["protocol", "list", "--code", "LTFU-NONE", "--json"]).errorJSON?["field"] as? String == "code")

        #expect(try cli.run(["institution", "add", "--code", "ARM-001", "--name", "A", "--designation", "D-1", "--designated-on", "2025-02-21"]).status == 0)
        #expect(try cli.run(["product", "add", "--code", "CART-19", "--name", "CAR-T", "--manufacturer", "X", "--modality", "gene-therapy"]).status == 0)
        let plan = try cli.run(["plan", "add", "--institution", "ARM-001", "--product", "CART-19", "--indication", "C91.0", "--risk", "high",
                                "--protocol", "LTFU-CART-15Y", "--json"])
        #expect((plan.json as? [String: Any])?["protocol_version"] as? Int == 2, "\(plan.stderr)")
        try await TestDatabase.drop(url)
    }
}
