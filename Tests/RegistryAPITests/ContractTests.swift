import Foundation
import HTTPTypes
import Hummingbird
@testable import RegistryAPI
import RegistryDomain
import RegistryStorage
import RegistryTestSupport
import Testing

@Suite("API contract: problem documents, OpenAPI, operations")
struct ContractTests {
    @Test("each kind of bad input gets a problem document naming what is wrong and where")
    func problems() async throws {
        try await APIHarness.run(maxBodyBytes: 1024, transport: .live) { h, api in
            let a = h.tokens["A"]!
            func check(_ got: Got, _ status: Int, _ kind: String, pointers: [String] = [], parameters: [String] = [], _ note: String) {
                #expect(got.status == status, "\(note): \(got.status) \(got.text)")
                #expect(got.headers[.contentType] == "application/problem+json", "\(note)")
                #expect(got.problemType == "urn:registry:problem:\(kind)", "\(note): \(got.text)")
                #expect((got.json["title"] as? String)?.isEmpty == false && (got.json["detail"] as? String)?.isEmpty == false, "\(note)")
                #expect(got.json["status"] as? Int == status, "\(note)")
                #expect(got.headers[RequestLogMiddleware.requestIDHeader] != nil, "\(note): no X-Request-Id")
                if !pointers.isEmpty { #expect(got.pointers == pointers, "\(note): \(got.text)") }
                if !parameters.isEmpty { #expect(got.parameters == parameters, "\(note): \(got.text)") }
            }
            let enrol = "/patients"
            check(try await api.call(.post, enrol, token: a, json: #"{"local_id": "MRN-1", "birth_year": 1961,"#), 400, "malformed-json", "malformed JSON")
            check(try await api.call(.post, enrol, token: a, json: ""), 400, "malformed-json", "empty body")
            check(try await api.call(.post, enrol, token: a, json: "[1, 2]"), 422, "invalid-body", pointers: [""], "not an object")
            check(try await api.call(.post, enrol, token: a, json: #"{"local_id":"MRN-1","birth_year":1961,"sex":"female","consent_on":"2025-03-20","consent_version":"2","name":"Kim"}"#),
                  422, "unknown-field", pointers: ["/name"], "unknown field")
            check(try await api.call(.post, enrol, token: a, json: #"{"local_id":"MRN-1","birth_year":"nineteen","sex":"female","consent_on":"2025-03-20","consent_version":"2"}"#),
                  422, "invalid-body", pointers: ["/birth_year"], "wrong type")
            check(try await api.call(.post, enrol, token: a, json: #"{"birth_year":1961,"sex":"female","consent_on":"2025-03-20","consent_version":"2"}"#),
                  422, "invalid-body", pointers: ["/local_id"], "missing field")
            check(try await api.call(.post, enrol, token: a, json: #"{"local_id":"MRN-1","birth_year":1850,"sex":"female","consent_on":"2025-03-20","consent_version":"2"}"#),
                  422, "invalid", pointers: ["/birth_year"], "value out of range")
            check(try await api.call(.post, enrol, token: a, json: #"{"local_id":"MRN-1","birth_year":1961,"sex":"female","consent_on":"2025-02-30","consent_version":"2"}"#),
                  422, "invalid", pointers: ["/consent_on"], "impossible date")
            check(try await api.call(.post, "/follow-ups/\(h.openFollowUpA)/visits", token: a,
                                     json: #"{"on":"2026-11-20","contact":"phone","vital":"alive","measures":[{"key":"ecog","value":1},{"key":"ecog-x","value":1}]}"#),
                  422, "invalid", pointers: ["/measures/1"], "invalid nested value")
            check(try await api.call(.post, "/follow-ups/\(h.openFollowUpA)/visits", token: a,
                                     json: #"{"on":"2026-11-20","contact":"phone","vital":"alive","measures":[{"key":"ecog","value":1,"units":"x"}]}"#),
                  422, "unknown-field", pointers: ["/measures/0/units"], "unknown nested field")
            check(try await api.call(.post, "/patients/\(h.patientA)/administrations", token: a,
                                     json: #"{"plan_id":\#(h.planA),"on":"2025-04-05","lot":"L","dose":"1","fee_notified_krw":-5,"fee_collected_krw":1}"#),
                  422, "invalid", pointers: ["/fee_notified_krw"], "mapped field name")
            check(try await api.call(.post, "/patients/\(h.patientA)/status-changes", token: a, json: #"{"kind":"death","on":"2026-11-20","reason":" "}"#),
                  422, "invalid", pointers: ["/reason"], "death cause is the reason field")
            check(try await api.call(.post, enrol, token: a, json: #"{"local_id":"\#(String(repeating: "x", count: 2000))"}"#), 413, "body-too-large", "oversized body")
            check(try await api.call(.post, enrol, token: a, json: "local_id=MRN-1", headers: [.contentType: "application/x-www-form-urlencoded"]), 415, "unsupported-media-type", "form body")
            check(try await api.call(.get, "/patients/abc", token: a), 400, "invalid-parameter", parameters: ["id"], "bad id")
            check(try await api.call(.get, "/patients?pseudonim=abc", token: a), 400, "invalid-parameter", parameters: ["pseudonim"], "unknown query parameter")
            check(try await api.call(.get, "/patients/999999", token: a), 404, "not-found", "unknown patient")
            check(try await api.call(.get, "/no-such-thing", token: a), 404, "route-not-found", "unknown route")
            check(try await api.call(.post, "/follow-ups/\(h.followUpA)/visits", token: a, json: #"{"on":"2026-11-20","contact":"phone","vital":"alive"}"#),
                  409, "conflict", "completed follow-up")
            check(try await api.call(.post, "/products", token: h.tokens["admin"], json: #"{"code":"CB-01","name":"Cord blood","manufacturer":"X","modality":"minimally-manipulated"}"#),
                  422, "out-of-scope", pointers: ["/modality"], "outside the Act")
            // Nothing above was written.
            #expect(try await h.database.count("patient") == 1)
        }
    }

    @Test("docs/openapi.yaml lists exactly the router's routes, and /openapi.yaml serves it")
    func openAPIMatchesRoutes() async throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/openapi.yaml")
        let text = try String(contentsOf: docs, encoding: .utf8)
        #expect(text == OpenAPIDocument.text, "the build's copy differs from docs/openapi.yaml: rebuild")
        var documented = Set<String>(), path: String? = nil, inPaths = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line == "paths:" { inPaths = true; continue }
            if inPaths, let first = line.first, first != " ", first != "#" { inPaths = false }
            guard inPaths else { continue }
            if line.hasPrefix("  /"), line.hasSuffix(":"), !line.hasPrefix("   ") { path = String(line.dropFirst(2).dropLast()) }
            for method in ["get", "post", "put", "patch", "delete"] where line == "    \(method):" {
                documented.insert("\(method.uppercased()) \(path!)")
            }
        }
        let api = RegistryAPI(database: try await Database.open(try TestDatabase.serverURL(), logger: TestDatabase.logger),
                              pseudonymizer: try Pseudonymizer(secret: Data(repeating: 1, count: 32)))
        let routed = Set(api.buildRouter().routes.map { route in
            "\(route.method.rawValue) " + route.path.description.split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }
                .reduce("") { $0 + "/" + $1 }
        })
        await api.database.close()
        #expect(routed.subtracting(documented).sorted() == [], "routes missing from docs/openapi.yaml")
        #expect(documented.subtracting(routed).sorted() == [], "documented routes that do not exist")
        #expect(routed.count > 40)
    }

    @Test("health, readiness, metrics and the contract are served without a token; every response has a request id")
    func operations() async throws {
        try await APIHarness.run { h, api in
            #expect(try await api.call(.get, "/health", token: nil).json["status"] as? String == "up")
            #expect(try await api.call(.get, "/ready", token: nil).json["status"] as? String == "ready")
            _ = try await api.call(.get, "/patients/\(h.patientA)", token: h.tokens["A"])
            _ = try await api.call(.get, "/patients/\(h.patientA)", token: h.tokens["B"])
            let metrics = try await api.call(.get, "/metrics", token: nil)
            #expect(metrics.status == 200)
            #expect(metrics.text.contains(#"hb_requests{http_route="/patients/{id}",http_request_method="GET",http_response_status_code="200"}"#)
                    || metrics.text.contains(#"http_route="/patients/:id""#), "\(metrics.text.prefix(2000))")
            #expect(metrics.text.contains("http_response_status_code=\"404\""))
            #expect(metrics.text.contains("http_server_request_duration_bucket"))
            #expect(metrics.text.contains("registry_db_connections_in_use"))
            let spec = try await api.call(.get, "/openapi.yaml", token: nil)
            #expect(spec.status == 200 && spec.text.hasPrefix("openapi: 3.1"))
            let first = try await api.call(.get, "/health", token: nil).headers[RequestLogMiddleware.requestIDHeader]
            let second = try await api.call(.get, "/health", token: nil).headers[RequestLogMiddleware.requestIDHeader]
            #expect(first != nil && second != nil && first != second)
        }
    }
}
