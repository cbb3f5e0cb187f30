import Foundation
import PostgresNIO
import RegistryDomain
import RegistryStorage
import RegistryTestSupport
import Testing

@Suite("Web sessions in PostgreSQL", .serialized)
struct WebSessionTests {
    /// Opens a session for `user` and returns its cookie secret.
    static func open(_ db: Database, _ user: UserAccount) async throws -> String {
        try await db.transaction(actor: "web") { tx in try await tx.webSessions.open(userID: user.id) }.secret
    }

    static func sql(_ db: Database, _ text: String) async throws {
        try await db.plainTransaction { tx in try await tx.query(PostgresQuery(unsafeSQL: text), logger: TestDatabase.logger) }
    }

    @Test("a session keeps the secret's hash only, carries a CSRF token, and is kept alive by requests (at most once a minute), not by a look")
    func opened() async throws {
        try await TestDatabase.withDatabase { db in
            _ = try await Fixture.make(db)
            let (kim, _) = try await addUser(db)
            let (secret, session) = try await db.transaction(actor: "web") { tx in try await tx.webSessions.open(userID: kim.id) }
            #expect(secret.count == 43 && session.csrfToken.count == 43 && session.csrfToken != secret)
            #expect(session.user == kim && session.idleTimeout == .seconds(1800))
            #expect(abs(session.expiresAt.timeIntervalSince(session.createdAt) - 12 * 3600) < 1)
            #expect(try await db.count("web_session", where: "secret_hash = sha256(convert_to('\(secret)', 'UTF8'))") == 1)
            #expect(try await db.count("web_session", where: "csrf_token = '\(secret)'") == 0)
            try await Self.sql(db, "UPDATE web_session SET last_seen_at = now() - interval '10 minutes'")
            let looked = try #require(try await db.session(secret: secret))
            #expect(looked.id == session.id && looked.lastSeenAt.timeIntervalSinceNow < -500, "a look does not touch")
            let seen = try await db.transaction(session: secret) { _, s in s }
            #expect(seen.user.username == "kim.j")
            let touched = try #require(try await db.session(secret: secret))
            #expect(touched.lastSeenAt.timeIntervalSinceNow > -60, "a request keeps the session alive")
            // Within a minute of the last touch a request writes nothing (a page load is a read).
            try await Self.sql(db, "UPDATE web_session SET last_seen_at = now() - interval '30 seconds'")
            let before = try #require(try await db.session(secret: secret)).lastSeenAt
            _ = try await db.transaction(session: secret) { _, s in s }
            #expect(try #require(try await db.session(secret: secret)).lastSeenAt == before)
            #expect(try await db.session(secret: "not a session") == nil)
            await expectRefusal(field: "session", code: .unauthenticated) { _ = try await db.transaction(session: "not a session") { _, s in s.id } }
        }
    }

    @Test("a session idle past its time-out, or past its absolute limit, is refused and recorded as expired once")
    func expiry() async throws {
        try await TestDatabase.withDatabase { db in
            _ = try await Fixture.make(db)
            let (kim, _) = try await addUser(db)
            let idle = try await Self.open(db, kim)
            let old = try await Self.open(db, kim)
            // 29 minutes idle is still fine; 31 is not.
            try await Self.sql(db, "UPDATE web_session SET last_seen_at = now() - interval '29 minutes'")
            _ = try await db.transaction(session: idle) { _, s in s.id }
            try await Self.sql(db, "UPDATE web_session SET last_seen_at = now() - interval '31 minutes'")
            for _ in 1...2 {
                await expectRefusal(field: "session", code: .unauthenticated) { _ = try await db.transaction(session: idle) { _, s in s.id } }
            }
            // Busy but past the absolute limit.
            try await Self.sql(db, "UPDATE web_session SET last_seen_at = now(), created_at = now() - interval '13 hours', expires_at = now() - interval '1 hour' WHERE revoked_at IS NULL")
            await expectRefusal(field: "session", code: .unauthenticated) { _ = try await db.transaction(session: old) { _, s in s.id } }
            #expect(try await events(db, "kim.j") == ["expired", "expired"])
            #expect(try await db.text("SELECT string_agg(revoked_reason, ',' ORDER BY id) FROM web_session") == "expired: idle,expired: absolute limit")
            #expect(try await db.text("SELECT DISTINCT actor FROM audit_log WHERE entity = 'sign_in_event'") == "registry:sessions")
        }
    }

    @Test("a revoked session is refused; signing out is recorded as the person; revoking all ends every session")
    func revoked() async throws {
        try await TestDatabase.withDatabase { db in
            _ = try await Fixture.make(db)
            let (kim, _) = try await addUser(db)
            let a = try await Self.open(db, kim), b = try await Self.open(db, kim), c = try await Self.open(db, kim)
            #expect(try await db.transaction(actor: "web") { tx in try await tx.webSessions.revoke(secret: a, reason: "signed out") })
            #expect(!(try await db.transaction(actor: "web") { tx in try await tx.webSessions.revoke(secret: a, reason: "signed out") }))
            await expectRefusal(field: "session", code: .unauthenticated) { _ = try await db.transaction(session: a) { _, s in s.id } }
            _ = try await db.transaction(session: b) { _, s in s.id }
            #expect(try await db.transaction(actor: "web") { tx in try await tx.webSessions.revokeAll(userID: kim.id, reason: "signed out everywhere") } == 2)
            for secret in [b, c] {
                await expectRefusal(field: "session", code: .unauthenticated) { _ = try await db.transaction(session: secret) { _, s in s.id } }
            }
            #expect(try await events(db, "kim.j") == ["signed_out", "signed_out"])
            #expect(try await db.text("SELECT DISTINCT actor FROM audit_log WHERE entity = 'sign_in_event'") == "user:kim.j")
        }
    }

    @Test("a coordinator's session sees only its institution's patients and writes as the person; a regulator's sees no patient rows")
    func rowLevelSecurity() async throws {
        try await TestDatabase.withDatabase { db in
            let arm1 = try await Fixture.make(db)
            let arm2 = try await Fixture.make(db, code: "ARM-002")
            let (kim, otp) = try await addUser(db)
            let (lee, _) = try await addUser(db, "lee", role: .regulator, institution: nil)
            let kimSession = try await Self.open(db, kim), leeSession = try await Self.open(db, lee)

            try await db.transaction(session: kimSession) { tx, session in
                #expect(session.user.institutionCode == "ARM-001")
                #expect(try await tx.patients.patient(id: arm1.patient.id).id == arm1.patient.id)
                await expectRefusal(field: "patient", code: .notFound) { _ = try await tx.patients.patient(id: arm2.patient.id) }
                let visible = try await tx.query("SELECT count(*) FROM patient", logger: TestDatabase.logger).decode(Int.self).collect()
                #expect(visible == [1])
            }
            try await db.transaction(session: leeSession) { tx, _ in
                let visible = try await tx.query("SELECT count(*) FROM patient", logger: TestDatabase.logger).decode(Int.self).collect()
                #expect(visible == [0])
            }
            // The secrets stay the owner's: the web role cannot read them, even in a session.
            await #expect(throws: (any Error).self) {
                try await db.transaction(session: kimSession) { tx, _ in
                    _ = try await tx.query("SELECT count(*) FROM app_user_credential", logger: TestDatabase.logger).collect()
                }
            }

            // A write in the session is the person's in the audit trail, and a signature checks their own password only.
            let enrolled = try await db.transaction(session: kimSession, writes: true) { tx, session in
                #expect(tx.actor == "user:kim.j" && tx.writtenVersion != nil)
                #expect(try await tx.users.verifyPassword(userID: session.user.id, password: otp))
                #expect(!(try await tx.users.verifyPassword(userID: lee.id, password: otp)))
                return try await tx.patients.enroll(try NewPatient(institutionCode: "ARM-001", localID: "MRN-777", birthYear: 1970, sex: "male",
                                                                   consentOn: "2025-04-01", consentVersion: "2", pseudonymizer: Fixture.key, today: db.today())).patient
            }
            #expect(try await db.text("SELECT actor FROM audit_log WHERE entity = 'patient' AND entity_id = \(enrolled.id)") == "user:kim.j")
            // Enrolling at another site is refused by row-level security.
            await #expect(throws: (any Error).self) {
                _ = try await db.transaction(session: kimSession) { tx, _ in
                    try await tx.patients.enroll(try NewPatient(institutionCode: "ARM-002", localID: "MRN-778", birthYear: 1970, sex: "male",
                                                                consentOn: "2025-04-01", consentVersion: "2", pseudonymizer: Fixture.key, today: db.today()))
                }
            }
        }
    }
}
