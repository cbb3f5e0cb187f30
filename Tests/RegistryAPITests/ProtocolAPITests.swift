import Foundation
import HTTPTypes
@testable import RegistryAPI
import RegistryDomain
import RegistryStorage
import RegistryTestSupport
import Testing

@Suite("API: follow-up protocols")
struct ProtocolAPITests {
    static let body = #"""
        {"code":"LTFU-CART-15Y","follow_up_class":"gene","reason":"committee amendment RC-2026-03","time_points":[
         {"label":"day 28","offset_amount":28,"offset_unit":"days","window_before":7,"window_after":7,"contact_type":"examination"},
         {"label":"month 6","offset_amount":6,"offset_unit":"months","window_before":30,"window_after":30,"contact_type":"examination"},
         {"label":"year 1","offset_amount":1,"offset_unit":"year","window_before":60,"window_after":60,"contact_type":"phone"},
         {"label":"year 15","offset_amount":15,"offset_unit":"years","window_before":60,"window_after":60,"contact_type":"questionnaire"}]}
        """#

    /// `body` with one piece replaced (which must be there, once).
    static func replacing(_ old: String, _ new: String) -> String {
        precondition(body.components(separatedBy: old).count == 2, "\(old) is not in the body exactly once")
        return body.replacingOccurrences(of: old, with: new)
    }

    static func plan(_ api: APIClient, _ admin: String) async throws -> Got {
        try await api.call(.post, "/plans", token: admin, json: #"{"institution":"ARM-002","product":"GT-01","indication":"C91.0","risk":"high","protocol":"LTFU-CART-15Y"}"#)
    }

    @Test("an admin adds a protocol and then a new version of it; plans submitted after follow the new one; every row is audited")
    func addAndVersion() async throws {
        try await APIHarness.run { h, api in
            let admin = h.tokens["admin"]!
            let first = try await api.call(.post, "/protocols", token: admin, json: Self.body)
            #expect(first.status == 201, "\(first.text)")
            #expect(first.json["code"] as? String == "LTFU-CART-15Y" && first.json["version"] as? Int == 1 && first.json["follow_up_class"] as? String == "gene")
            let points = first.json["time_points"] as? [[String: Any]] ?? []
            #expect(points.map { $0["label"] as? String } == ["day 28", "month 6", "year 1", "year 15"])
            #expect(points.count == 4 && points[1]["offset_unit"] as? String == "month" && points[1]["offset_amount"] as? Int == 6
                    && points[1]["window_before"] as? Int == 30 && points[3]["contact_type"] as? String == "questionnaire")
            let listed = try await api.call(.get, "/protocols", token: h.tokens["A"]).items.filter { $0["code"] as? String == "LTFU-CART-15Y" }
            #expect(listed.count == 1 && listed.first?["id"] as? Int == first.id)
            let planOnV1 = try await Self.plan(api, admin)
            #expect(planOnV1.status == 201 && planOnV1.json["protocol_version"] as? Int == 1, "\(planOnV1.text)")

            // The same code with a call at month 3 added: version 2, which plans submitted from now on follow.
            let amended = Self.replacing(#"{"label":"month 6""#,
                                         #"{"label":"month 3","offset_amount":3,"offset_unit":"months","window_before":14,"window_after":14,"contact_type":"phone"},{"label":"month 6""#)
            let second = try await api.call(.post, "/protocols", token: admin, json: amended)
            #expect(second.status == 201 && second.json["version"] as? Int == 2, "\(second.text)")
            #expect((second.json["time_points"] as? [[String: Any]])?.map { $0["label"] as? String } == ["day 28", "month 3", "month 6", "year 1", "year 15"])
            #expect(try await Self.plan(api, admin).json["protocol_version"] as? Int == 2)
            #expect(try await api.call(.get, "/plans/\(planOnV1.id ?? 0)", token: admin).json["protocol_version"] as? Int == 1, "a submitted plan keeps its version")

            // The latest version again, or the code for another class: refused, nothing written.
            let rows = try await h.snapshot(), protocols = try await h.database.count("follow_up_protocol")
            let again = try await api.call(.post, "/protocols", token: admin, json: amended)
            #expect(again.status == 409 && again.problemType == "urn:registry:problem:conflict", "\(again.text)")
            let otherClass = try await api.call(.post, "/protocols", token: admin, json: #"""
                {"code":"LTFU-CART-15Y","follow_up_class":"cell","time_points":[{"label":"day 28","offset_amount":28,"offset_unit":"days","window_before":7,"window_after":7,"contact_type":"examination"}]}
                """#)
            #expect(otherClass.status == 409 && otherClass.pointers == ["/follow_up_class"], "\(otherClass.text)")
            #expect(try await h.snapshot() == rows)
            #expect(try await h.database.count("follow_up_protocol") == protocols)

            // Both versions and their nine time points are in the audit trail, with the admin's token and reason.
            let actor = h.grants["admin"]!.actor
            #expect(try await h.database.count("audit_log", where: "entity = 'follow_up_protocol' AND actor = '\(actor)' AND reason = 'committee amendment RC-2026-03'") == 2)
            #expect(try await h.database.count("audit_log", where: "entity = 'protocol_time_point' AND actor = '\(actor)'") == 9)
        }
    }

    @Test("bad time points are refused with their JSON path and nothing is written; only admin tokens add protocols")
    func refusals() async throws {
        try await APIHarness.run { h, api in
            let admin = h.tokens["admin"]!
            func rows() async throws -> [Int] {
                [try await h.database.count("follow_up_protocol"), try await h.database.count("protocol_time_point"), try await h.database.count("audit_log")]
            }
            let before = try await rows()
            for (body, status, kind, pointer) in [
                (Self.replacing(#""window_before":60,"window_after":60,"contact_type":"questionnaire""#,
                                #""window_before":400,"window_after":60,"contact_type":"questionnaire""#), 422, "invalid", "/time_points/3/window_before"),
                (Self.replacing(#""window_before":7"#, #""window_before":28"#), 422, "invalid", "/time_points/0/window_before"),
                (Self.replacing(#""offset_unit":"months""#, #""offset_unit":"weeks""#), 422, "invalid", "/time_points/1/offset_unit"),
                (Self.replacing(#""label":"year 1""#, #""label":"Month 6""#), 422, "invalid", "/time_points/2/label"),
                (Self.replacing(#""offset_amount":15"#, #""offset_amount":16"#), 422, "invalid", "/time_points/3/offset_amount"),
                (Self.replacing(#""offset_amount":28"#, #""offset_amount":400"#), 422, "invalid", "/time_points/1/offset_amount"),
                (Self.replacing(#""contact_type":"phone""#, #""contact_type":"visit""#), 422, "invalid", "/time_points/2/contact_type"),
                (Self.replacing(#""code":"LTFU-CART-15Y""#, #""code":"ltfu cart""#), 422, "invalid", "/code"),
                (Self.replacing(#""follow_up_class":"gene""#, #""follow_up_class":"viral""#), 422, "invalid", "/follow_up_class"),
                (Self.replacing(#""offset_unit":"year","#, #""offset_unit":"year","offset":1,"#), 422, "unknown-field", "/time_points/2/offset"),
                (Self.replacing(#""window_after":30"#, #""window_after":"30""#), 422, "invalid-body", "/time_points/1/window_after"),
                (#"{"code":"LTFU-X","follow_up_class":"cell","time_points":[]}"#, 422, "invalid", "/time_points"),
            ] {
                let got = try await api.call(.post, "/protocols", token: admin, json: body)
                #expect(got.status == status && got.problemType == "urn:registry:problem:\(kind)", "\(pointer): \(got.status) \(got.text)")
                #expect(got.pointers == [pointer], "\(got.text)")
            }
            for name in ["A", "regulator"] {
                let got = try await api.call(.post, "/protocols", token: h.tokens[name], json: Self.body)
                #expect(got.status == 403 && got.problemType == "urn:registry:problem:forbidden", "\(name): \(got.text)")
            }
            #expect(try await rows() == before)
        }
    }
}
