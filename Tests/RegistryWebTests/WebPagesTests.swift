import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import RegistryDomain
import RegistryStorage
import RegistryTestSupport
import Testing
@testable import RegistryWeb

/// The web application over HTTP against a real database, without a browser: what its headers,
/// cookies and refusals guarantee (the browser checks in Tests/browser cover the pages as used).
@Suite struct WebPagesTests {
    static let today = LocalDate("2026-11-25")!
    static let password = "a long enough 2026 password"

    /// A browser's cookie jar and the last page's CSRF token.
    final class Browser: @unchecked Sendable {
        let client: any TestClientProtocol
        var cookies: [String: String] = [:]
        var language = "ko-KR"
        init(_ client: any TestClientProtocol) { self.client = client }

        @discardableResult
        func request(_ method: HTTPRequest.Method, _ uri: String, form: [(String, String)]? = nil) async throws -> TestResponse {
            var headers: HTTPFields = [.acceptLanguage: language]
            if !cookies.isEmpty { headers[.cookie] = cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }
            var body: ByteBuffer? = nil
            if let form {
                headers[.contentType] = "application/x-www-form-urlencoded"
                var allowed = CharacterSet.alphanumerics
                allowed.insert(charactersIn: "-._~")
                body = ByteBuffer(string: form.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed)!)" }.joined(separator: "&"))
            }
            let response = try await client.execute(uri: uri, method: method, headers: headers, body: body)
            for field in response.headers[values: .setCookie] {
                let pair = field.split(separator: ";")[0].split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                if pair.count == 2 { cookies[pair[0]] = pair[1].isEmpty ? nil : pair[1] }
            }
            return response
        }

        /// The CSRF token of the last page's first form in <main>.
        static func csrf(_ response: TestResponse) -> String? {
            let html = String(buffer: response.body)
            guard let main = html.range(of: "<main") else { return nil }
            let rest = html[main.upperBound...]
            guard let input = rest.range(of: "name=\"_csrf\" value=\"") else { return nil }
            return String(rest[input.upperBound...].prefix { $0 != "\"" })
        }

        /// The CSRF token of the header's sign-out form.
        static func signOutToken(_ response: TestResponse) -> String? {
            let html = String(buffer: response.body)
            guard let input = html.range(of: "name=\"_csrf\" value=\"") else { return nil }
            return String(html[input.upperBound...].prefix { $0 != "\"" })
        }

        func signIn(_ username: String, _ password: String) async throws -> TestResponse {
            let page = try await request(.get, "/app/sign-in")
            let token = try #require(Self.csrf(page))
            return try await request(.post, "/app/sign-in", form: [("_csrf", token), ("next", "/app/"), ("username", username), ("password", password)])
        }
    }

    /// Two sites (a treated patient at each), a coordinator of each and a regulator, passwords set.
    struct Registry {
        var patientA: PatientID, patientB: PatientID, openFollowUpA: FollowUpID
    }

    static func seed(_ db: Database, pseudonymizer: Pseudonymizer) async throws -> Registry {
        var patients: [PatientID] = []
        var open: FollowUpID = 0
        for code in ["ARM-001", "ARM-002"] {
            _ = try await db.transaction(actor: "test") { tx in try await tx.institutions.add(try NewInstitution(code: code, name: code, designationNumber: "D-\(code)", designatedOn: "2025-02-21", today: today)) }
            if code == "ARM-001" {
                _ = try await db.transaction(actor: "test") { tx in try await tx.products.add(try NewProduct(code: "GT-01", name: "AAV", manufacturer: "X", modality: "gene-therapy")) }
            }
            let plan = try await db.transaction(actor: "test") { tx in try await tx.plans.add(institutionCode: code, productCode: "GT-01", indication: "G20", risk: .high) }
            _ = try await db.transaction(actor: "test") { tx in try await tx.plans.decide(id: plan.id, try PlanDecisionRecord(decision: "approved", on: "2025-03-15", reference: "RC-\(plan.id)", today: today)) }
            let (patient, _) = try await db.transaction(actor: "test") { tx in
                try await tx.patients.enroll(try NewPatient(institutionCode: code, localID: "MRN-\(code)", birthYear: 1961, sex: "female", consentOn: "2025-03-20",
                                                            consentVersion: "2", pseudonymizer: pseudonymizer, today: today))
            }
            let (_, followUps) = try await db.transaction(actor: "test") { tx in
                try await tx.administrations.administer(patientID: patient.id, planID: plan.id, try NewAdministration(on: "2025-04-01", lot: "LOT-\(code)", dose: "2e6", feeNotified: 1, feeCollected: 1, today: today))
            }
            patients.append(patient.id)
            if code == "ARM-001" { open = followUps[3].id }
        }
        for (name, role, code) in [("kim.a", "coordinator", "ARM-001"), ("lee.b", "coordinator", "ARM-002"), ("reg", "regulator", nil)] as [(String, String, String?)] {
            try await db.transaction(actor: "test") { tx in
                let (user, initial) = try await tx.users.add(try NewUser(username: name, role: role, institutionCode: code), bcryptCost: 4)
                try await tx.users.changePassword(userID: user.id, current: initial, new: password, bcryptCost: 4)
            }
        }
        return Registry(patientA: patients[0], patientB: patients[1], openFollowUpA: open)
    }

    static func run(tls: Bool = false, _ body: @Sendable (Database, Registry, Browser) async throws -> Void) async throws {
        try await TestDatabase.withDatabase(today: today) { db in
            let pseudonymizer = try Pseudonymizer(secret: Data(repeating: 7, count: 32))
            let registry = try await seed(db, pseudonymizer: pseudonymizer)
            var configuration = WebConfiguration()
            configuration.bcryptCost = 4
            configuration.tls = tls
            let web = try RegistryWeb(database: db, pseudonymizer: pseudonymizer, configuration: configuration)
            let app = Application(router: web.buildRouter(), configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: TestDatabase.logger)
            try await app.test(.router) { client in try await body(db, registry, Browser(client)) }
        }
    }

    @Test("every page sends the strict Content-Security-Policy and the other security headers; the language follows Accept-Language, then the switch's cookie")
    func headersAndLanguage() async throws {
        try await Self.run { _, _, browser in
            let page = try await browser.request(.get, "/app/sign-in")
            #expect(page.status == .ok)
            #expect(page.headers[.contentSecurityPolicy] == SecurityHeaders.policy)
            #expect(SecurityHeaders.policy.contains("default-src 'none'") && !SecurityHeaders.policy.contains("unsafe-inline"))
            #expect(page.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
            #expect(page.headers[HTTPField.Name("X-Frame-Options")!] == "DENY")
            #expect(page.headers[.contentLanguage] == "ko")
            #expect(String(buffer: page.body).contains("<html lang=\"ko\">"))
            browser.language = "en-GB,en;q=0.9"
            let english = try await browser.request(.get, "/app/sign-in")
            #expect(english.headers[.contentLanguage] == "en" && String(buffer: english.body).contains("Sign in"))
            let switched = try await browser.request(.get, "/app/language?to=ko&back=//evil.example/")
            #expect(switched.status == .seeOther && switched.headers[.location] == "/app/")
            #expect(try await browser.request(.get, "/app/sign-in").headers[.contentLanguage] == "ko")
        }
    }

    @Test("the session cookie is HttpOnly and SameSite=Strict (Secure under --tls); sign-in without the form's token opens no session")
    func sessionCookie() async throws {
        try await Self.run(tls: true) { db, _, browser in
            let forged = try await browser.request(.post, "/app/sign-in", form: [("_csrf", "guess"), ("username", "kim.a"), ("password", Self.password)])
            #expect(forged.status == .ok && browser.cookies[WebSignIn.cookieName] == nil)
            #expect(try await db.count("web_session") == 0)
            let page = try await browser.request(.get, "/app/sign-in")
            let token = try #require(Browser.csrf(page))
            let signedIn = try await browser.request(.post, "/app/sign-in", form: [("_csrf", token), ("next", "/app/worklist"), ("username", "kim.a"), ("password", Self.password)])
            #expect(signedIn.status == .seeOther && signedIn.headers[.location] == "/app/worklist")
            let cookie = try #require(signedIn.headers[values: .setCookie].first { $0.hasPrefix("\(WebSignIn.cookieName)=") })
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Secure") && cookie.contains("Path=/"))
            #expect(signedIn.headers[.strictTransportSecurity] != nil)
            #expect(try await db.count("web_session") == 1)
        }
    }

    @Test("a form without the session's CSRF token is refused with 403 and writes nothing")
    func csrf() async throws {
        try await Self.run { db, registry, browser in
            _ = try await browser.signIn("kim.a", Self.password)
            let before = try await db.snapshot()
            let refused = try await browser.request(.post, "/app/follow-ups/\(registry.openFollowUpA)/not-done", form: [("reason", "unreachable")])
            #expect(refused.status == .forbidden)
            let wrong = try await browser.request(.post, "/app/follow-ups/\(registry.openFollowUpA)/not-done", form: [("_csrf", "not-it"), ("reason", "unreachable")])
            #expect(wrong.status == .forbidden)
            #expect(try await db.snapshot() == before)
            #expect(try await db.count("follow_up", where: "id = \(registry.openFollowUpA) AND status = 'scheduled'") == 1)
            let page = try await browser.request(.get, "/app/follow-ups/\(registry.openFollowUpA)/not-done")
            let closed = try await browser.request(.post, "/app/follow-ups/\(registry.openFollowUpA)/not-done",
                                                   form: [("_csrf", try #require(Browser.csrf(page))), ("reason", "unreachable")])
            #expect(closed.status == .seeOther)
            #expect(try await db.count("follow_up", where: "id = \(registry.openFollowUpA) AND status = 'not-done'") == 1)
            #expect(try await db.count("audit_log", where: "entity = 'follow_up' AND actor = 'user:kim.a'") == 1)
        }
    }

    @Test("another site's patient is not found; a regulator may not open a coordinator's page; an ended session goes back to sign-in")
    func scope() async throws {
        try await Self.run { db, registry, browser in
            _ = try await browser.signIn("kim.a", Self.password)
            #expect(try await browser.request(.get, "/app/patients/\(registry.patientA)").status == .ok)
            let other = try await browser.request(.get, "/app/patients/\(registry.patientB)")
            #expect(other.status == .notFound && !String(buffer: other.body).contains("MRN"))
            let page = try await browser.request(.get, "/app/worklist")
            let token = try #require(Browser.signOutToken(page))
            let secret = try #require(browser.cookies[WebSignIn.cookieName])
            let out = try await browser.request(.post, "/app/sign-out", form: [("_csrf", token)])
            #expect(out.status == .seeOther && browser.cookies[WebSignIn.cookieName] == nil)
            #expect(try await db.count("web_session", where: "revoked_at IS NOT NULL") == 1)
            // The old cookie, replayed after sign-out, opens nothing.
            browser.cookies[WebSignIn.cookieName] = secret
            let ended = try await browser.request(.get, "/app/worklist")
            #expect(ended.status == .seeOther && ended.headers[.location]?.hasPrefix("/app/sign-in?next=") == true)

            let regulator = Browser(browser.client)
            _ = try await regulator.signIn("reg", Self.password)
            #expect(try await regulator.request(.get, "/app/worklist").status == .forbidden)
            #expect(try await regulator.request(.get, "/app/reports").status == .ok)
        }
    }

    @Test("changing the password ends the person's other sessions and keeps this one; a refused change ends none")
    func passwordChangeEndsOtherSessions() async throws {
        try await Self.run { db, _, browser in
            let phone = Browser(browser.client)
            _ = try await phone.signIn("kim.a", Self.password)
            _ = try await browser.signIn("kim.a", Self.password)
            let other = Browser(browser.client)
            _ = try await other.signIn("lee.b", Self.password)
            let form = try await browser.request(.get, "/app/password")
            let token = try #require(Browser.csrf(form))
            // A refused change (the repeat differs) writes nothing: every session stays.
            let refused = try await browser.request(.post, "/app/password", form: [("_csrf", token), ("current_password", Self.password),
                                                                                   ("new_password", "another long 2026 password"), ("repeat_password", "typo")])
            #expect(refused.status == .unprocessableContent)
            #expect(try await phone.request(.get, "/app/worklist").status == .ok)
            let changed = try await browser.request(.post, "/app/password", form: [("_csrf", token), ("current_password", Self.password),
                                                                                   ("new_password", "another long 2026 password"), ("repeat_password", "another long 2026 password")])
            #expect(changed.status == .seeOther)
            #expect(try await browser.request(.get, "/app/worklist").status == .ok)
            let ended = try await phone.request(.get, "/app/worklist")
            #expect(ended.status == .seeOther && ended.headers[.location]?.hasPrefix("/app/sign-in") == true)
            #expect(try await other.request(.get, "/app/worklist").status == .ok)
            #expect(try await db.count("web_session", where: "revoked_reason = 'password changed'") == 1)
        }
    }

    @Test("a lost-to-follow-up proposal is decided from its page: a refusal names the field and writes nothing; reject keeps the patient, confirm records the loss; another site's is not found")
    func lostProposals() async throws {
        try await Self.run { db, registry, browser in
            func propose(_ patient: PatientID) async throws {
                try await db.plainTransaction { tx in
                    try await tx.query("""
                        INSERT INTO lost_proposal (patient_id, institution_id, proposed_on, missed_count)
                        SELECT id, institution_id, DATE '2026-11-20', 3 FROM patient WHERE id = \(patient)
                        """, logger: TestDatabase.logger)
                }
            }
            try await propose(registry.patientA)
            try await propose(registry.patientB)
            let ids = try await db.ints("SELECT id FROM lost_proposal ORDER BY id")
            _ = try await browser.signIn("kim.a", Self.password)
            let worklist = String(buffer: try await browser.request(.get, "/app/worklist").body)
            #expect(worklist.contains("href=\"/app/lost-proposals\""), "the worklist points to the pending proposal")
            let list = String(buffer: try await browser.request(.get, "/app/lost-proposals").body)
            #expect(list.contains("data-proposal=\"\(ids[0])\"") && !list.contains("data-proposal=\"\(ids[1])\""))
            #expect(try await browser.request(.get, "/app/lost-proposals/\(ids[1])").status == .notFound)
            let page = try await browser.request(.get, "/app/lost-proposals/\(ids[0])")
            let token = try #require(Browser.csrf(page))
            // No reason and a date in the future: both named, nothing written.
            let refused = try await browser.request(.post, "/app/lost-proposals/\(ids[0])/confirm", form: [("_csrf", token), ("on", "2099-01-01"), ("reason", "")])
            #expect(refused.status == .unprocessableContent)
            let html = String(buffer: refused.body)
            #expect(html.contains("id=\"e-on\"") && html.contains("id=\"e-reason\""))
            #expect(try await db.count("lost_proposal", where: "decision = 'pending'") == 2)
            let rejected = try await browser.request(.post, "/app/lost-proposals/\(ids[0])/reject", form: [("_csrf", token), ("reason", "reached by phone")])
            #expect(rejected.status == .seeOther)
            #expect(try await db.text("SELECT decision || ' ' || decided_by FROM lost_proposal WHERE id = \(ids[0])") == "rejected user:kim.a")
            #expect(try await db.text("SELECT status FROM patient WHERE id = \(registry.patientA)") == "active")
            // Decided: the page says so and offers no form; a second decision is refused.
            let again = try await browser.request(.post, "/app/lost-proposals/\(ids[0])/confirm", form: [("_csrf", token), ("on", "2026-11-21"), ("reason", "x")])
            #expect(again.status == .unprocessableContent || again.status == .conflict)
            try await propose(registry.patientA)
            let second = try #require(try await db.ints("SELECT max(id) FROM lost_proposal").first)
            let confirmed = try await browser.request(.post, "/app/lost-proposals/\(second)/confirm", form: [("_csrf", token), ("on", "2026-11-21"), ("reason", "no answer to five calls")])
            #expect(confirmed.status == .seeOther)
            #expect(try await db.text("SELECT status FROM patient WHERE id = \(registry.patientA)") == "lost-to-follow-up")
        }
    }

    @Test("the safety listing page: a regulator downloads the listing (recorded as the person); a refused form names each field in Korean; coordinators may not")
    func safetyListing() async throws {
        try await Self.run { db, _, browser in
            _ = try await browser.signIn("reg", Self.password)
            let page = try await browser.request(.get, "/app/safety-listing")
            #expect(page.status == .ok && String(buffer: page.body).contains("안전성 증례 목록"))
            let refused = try await browser.request(.get, "/app/safety-listing/download?purpose=&from=2026-11-01&to=2026-10-01&format=csv")
            let html = String(buffer: refused.body)
            #expect(refused.status == .unprocessableContent && html.contains("id=\"e-purpose\"") && html.contains("id=\"e-from\"") && html.contains("목적을 입력해야 합니다"))
            let csv = try await browser.request(.get, "/app/safety-listing/download?purpose=signal+review&from=2025-01-01&to=2026-11-25&format=csv")
            #expect(csv.status == .ok && String(buffer: csv.body).hasPrefix("case_id,event_id,") && csv.headers[.contentDisposition]?.contains("safety-listing-2025-01-01-2026-11-25.csv") == true)
            #expect(try await db.text("SELECT pulled_by || '|' || role || '|' || purpose FROM report_pull WHERE report = 'safety-listing'") == "user:reg|regulator|signal review")
            let coordinator = Browser(browser.client)
            _ = try await coordinator.signIn("kim.a", Self.password)
            #expect(try await coordinator.request(.get, "/app/safety-listing").status == .forbidden)
            #expect(try await coordinator.request(.get, "/app/safety-listing/download?purpose=x&format=csv").status == .forbidden)
        }
    }

    @Test("a visit form with three mistakes answers 422 naming each beside its field, keeps what was typed, and writes nothing")
    func threeMistakes() async throws {
        try await Self.run { db, registry, browser in
            _ = try await browser.signIn("kim.a", Self.password)
            let form = try await browser.request(.get, "/app/follow-ups/\(registry.openFollowUpA)/visit")
            let before = try await db.snapshot()
            let visits = try await db.count("visit")
            let refused = try await browser.request(.post, "/app/follow-ups/\(registry.openFollowUpA)/visit",
                                                    form: [("_csrf", try #require(Browser.csrf(form))), ("on", "2026-13-40"), ("contact", "examination"),
                                                           ("vital", "sleeping"), ("m.ecog", "9")])
            #expect(refused.status == .unprocessableContent)
            let html = String(buffer: refused.body)
            #expect(html.components(separatedBy: "class=\"field-error\"").count - 1 == 3)
            for id in ["e-on", "e-vital", "e-m.ecog"] { #expect(html.contains("id=\"\(id)\""), "\(id)") }
            #expect(html.contains("value=\"9\""))
            #expect(try await db.snapshot() == before)
            #expect(try await db.count("visit") == visits)
        }
    }
}
