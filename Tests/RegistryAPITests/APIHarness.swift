import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import PostgresNIO
@testable import RegistryAPI
import RegistryDomain
import RegistryStorage
import RegistryTestSupport
import Testing

/// A registry with two institutions (A holds a treated patient with a visit and an adverse event),
/// a token of every role, and the API on a live HTTP server in this process.
struct APIHarness {
    let database: Database
    let api: RegistryAPI
    var tokens: [String: String] = [:]
    var grants: [String: TokenGrant] = [:]
    /// A's records.
    var patientA: PatientID = 0, administrationA: AdministrationID = 0, followUpA: FollowUpID = 0, openFollowUpA: FollowUpID = 0
    var visitA: VisitID = 0, adverseEventA: AdverseEventID = 0, proposalA: LostProposalID = 0
    var planA: PlanID = 0, planB: PlanID = 0
    static let today = LocalDate("2026-11-25")!

    /// How requests reach the router: in process (fast: no socket, no HTTP parsing), or over a
    /// live HTTP server on a free port, for what needs a real connection (body limits on the wire,
    /// concurrent clients).
    enum Transport { case router, live }

    /// Runs `body` against a fresh database and the API, in process unless `transport` is `.live`.
    static func run(maxBodyBytes: Int = 64 * 1024, importSyncBytes: Int = 1 << 20, authFailuresPerMinute: Int = 30, transport: Transport = .router,
                    extraRoutes: (@Sendable (Router<APIRequestContext>, RegistryAPI) -> Void)? = nil,
                    _ body: @Sendable (APIHarness, APIClient) async throws -> Void) async throws {
        APIMetrics.bootstrap()
        let url = try await TestDatabase.create()
        let db = try await Database.open(url, logger: TestDatabase.logger, maxConnections: 8, today: { today })
        do {
            let database = db
            var configuration = APIConfiguration()
            configuration.maxBodyBytes = maxBodyBytes
            configuration.importSyncBytes = importSyncBytes
            configuration.authFailuresPerMinute = authFailuresPerMinute
            let api = RegistryAPI(database: database, pseudonymizer: try Pseudonymizer(secret: Data(repeating: 7, count: 32)), configuration: configuration)
            var harness = APIHarness(database: database, api: api)
            try await harness.seed()
            let router = api.buildRouter()
            extraRoutes?(router, api)
            let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: TestDatabase.logger)
            let seeded = harness
            try await app.test(transport == .live ? .ahc(.http) : .router) { client in try await body(seeded, APIClient(client: client)) }
            await db.close()
        } catch {
            print("harness: \(String(reflecting: error))")
            await db.close()
            try? await TestDatabase.drop(url)
            throw error
        }
        try await TestDatabase.drop(url)
    }

    mutating func seed() async throws {
        let actor = "test"
        for (code, name) in [("ARM-001", "A Hospital"), ("ARM-002", "B Hospital")] {
            _ = try await database.transaction(actor: actor) { tx in try await tx.institutions.add(try NewInstitution(code: code, name: name, designationNumber: "D-\(code)", designatedOn: "2025-02-21", today: Self.today)) }
        }
        _ = try await database.transaction(actor: actor) { tx in try await tx.products.add(try NewProduct(code: "GT-01", name: "AAV", manufacturer: "X", modality: "gene-therapy")) }
        for code in ["ARM-001", "ARM-002"] {
            let plan = try await database.transaction(actor: actor) { tx in try await tx.plans.add(institutionCode: code, productCode: "GT-01", indication: "G20", risk: .high) }
            _ = try await database.transaction(actor: actor) { tx in try await tx.plans.decide(id: plan.id, try PlanDecisionRecord(decision: "approved", on: "2025-03-15", reference: "RC-\(plan.id)", today: Self.today)) }
            if code == "ARM-001" { planA = plan.id } else { planB = plan.id }
        }
        let (patient, _) = try await database.transaction(actor: actor) { tx in try await tx.patients.enroll(try NewPatient(institutionCode: "ARM-001", localID: "MRN-A", birthYear: 1961, sex: "female", consentOn: "2025-03-20",
                                                                 consentVersion: "2", pseudonymizer: api.pseudonymizer, today: Self.today)) }
        patientA = patient.id
        let (admin, followUps) = try await database.transaction(actor: actor) { tx in try await tx.administrations.administer(patientID: patient.id, planID: planA,
                                                            try NewAdministration(on: "2025-04-01", lot: "LOT-A", dose: "2e6", feeNotified: 1, feeCollected: 1, today: Self.today)) }
        administrationA = admin.id
        followUpA = followUps[2].id
        openFollowUpA = followUps[10].id
        visitA = try await database.transaction(actor: actor) { tx in try await tx.visits.log(followUpID: followUpA, patientID: nil, try NewVisit(on: "2025-07-10", contact: "examination", vital: "alive", measures: ["ecog=1"], catalogue: try await tx.measures.catalogue(), note: nil, today: Self.today)) }.id
        adverseEventA = try await database.transaction(actor: actor) { tx in try await tx.adverseEvents.report(patientID: patient.id, try NewAdverseEvent(onset: "2025-06-01", aware: "2025-06-03", term: "Fever", meddra: nil, category: "infection", grade: 3, grading: "CTCAE-5.0", serious: true, criteria: ["hospitalization"], related: "possible", outcome: nil, outcomeOn: nil, today: Self.today)).0 }.id
        proposalA = try await database.plainTransaction { c in
            try await c.query("INSERT INTO lost_proposal (patient_id, institution_id, proposed_on, missed_count) SELECT \(patient.id), id, DATE '2026-11-01', 2 FROM institution WHERE code = 'ARM-001' RETURNING id", logger: TestDatabase.logger)
                .decode(LostProposalID.self).first(where: { _ in true })!
        }
        for (name, role, institution) in [("A", "institution", "ARM-001"), ("B", "institution", "ARM-002"), ("admin", "admin", nil), ("regulator", "regulator", nil)] {
            let issued = try await database.transaction(actor: actor) { tx in try await tx.tokens.issue(try NewAccessToken(role: role, institution: institution, label: name)) }
            tokens[name] = issued.secret
            grants[name] = try await database.read { tx in try await tx.tokens.grant(forSecret: issued.secret) }
        }
    }

    /// Row counts of every table that holds registry data or the trail, for "nothing was written".
    func snapshot() async throws -> [String: Int] {
        var out: [String: Int] = [:]
        for t in ["institution", "product", "treatment_plan", "plan_risk_change", "patient", "administration", "follow_up", "visit", "visit_measure",
                  "adverse_event", "patient_status_change", "lost_proposal", "api_idempotency", "audit_log"] {
            out[t] = try await database.count(t)
        }
        // Changes to existing rows count too: any update writes an audit row, and xmin sums move.
        out["versions"] = try await database.plainTransaction { c in
            try await c.query("""
                SELECT ((SELECT coalesce(sum(xmin::text::bigint), 0) FROM follow_up) + (SELECT coalesce(sum(xmin::text::bigint), 0) FROM visit)
                      + (SELECT coalesce(sum(xmin::text::bigint), 0) FROM adverse_event) + (SELECT coalesce(sum(xmin::text::bigint), 0) FROM patient)
                      + (SELECT coalesce(sum(xmin::text::bigint), 0) FROM administration) + (SELECT coalesce(sum(xmin::text::bigint), 0) FROM lost_proposal)
                      + (SELECT coalesce(sum(xmin::text::bigint), 0) FROM patient_status_change))::bigint
                """, logger: TestDatabase.logger).decode(Int.self).first(where: { _ in true })!
        }
        return out
    }
}

/// A response, with its JSON parsed.
struct Got: Sendable {
    var status: Int
    var headers: HTTPFields
    var text: String
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:] }
    var items: [[String: Any]] { json["items"] as? [[String: Any]] ?? [] }
    var problemType: String? { json["type"] as? String }
    var pointers: [String] { (json["errors"] as? [[String: Any]] ?? []).compactMap { $0["pointer"] as? String } }
    var parameters: [String] { (json["errors"] as? [[String: Any]] ?? []).compactMap { $0["parameter"] as? String } }
    var id: Int? { json["id"] as? Int }
}

/// Requests over HTTP to the live server.
struct APIClient: Sendable {
    let client: any TestClientProtocol

    /// The ETag a GET of `uri` answers with (the version a correction or void names in If-Match).
    func etag(_ uri: String, token: String?) async throws -> String {
        let got = try await call(.get, uri, token: token)
        guard got.status == 200, let etag = got.headers[.eTag] else { throw RegistryError.notFound("etag", "no ETag for \(uri): \(got.status) \(got.text)") }
        return etag
    }

    func call(_ method: HTTPRequest.Method, _ uri: String, token: String?, json: String? = nil, headers: HTTPFields = [:]) async throws -> Got {
        var headers = headers
        if let token { headers[.authorization] = "Bearer \(token)" }
        if json != nil, headers[.contentType] == nil { headers[.contentType] = "application/json" }
        return try await client.execute(uri: uri, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) }) { response in
            Got(status: Int(response.status.code), headers: response.headers, text: String(buffer: response.body))
        }
    }
}
