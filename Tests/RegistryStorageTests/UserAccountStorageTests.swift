import Foundation
import PostgresNIO
import RegistryDomain
import RegistryStorage
import RegistryTestSupport
import Testing

/// bcrypt at its least cost: the rules are the same, the tests fast.
let testCost = 4

/// Adds an account (coordinator at ARM-001 unless told) and returns it with its one-time password.
func addUser(_ db: Database, _ username: String = "kim.j", role: UserRole = .coordinator, institution: String? = "ARM-001") async throws -> (UserAccount, String) {
    try await db.transaction(actor: "cli:admin") { tx in
        try await tx.users.add(try NewUser(username: username, role: role, institutionCode: institution), bcryptCost: testCost)
    }
}

/// Signs in as the web application does: in its own transaction, whatever the answer.
func signIn(_ db: Database, _ username: String, _ password: String, totp: String? = nil) async throws -> SignInResult {
    try await db.transaction(actor: "web") { tx in try await tx.users.signIn(username: username, password: password, totp: totp) }
}

extension SignInResult {
    var account: UserAccount? { if case .signedIn(let a) = self { return a }; return nil }
    var refusal: SignInRefusal? { if case .refused(let r) = self { return r }; return nil }
    var needsCode: Bool { if case .needsSecondFactor = self { return true }; return false }
}

/// The kinds of a person's sign-in events, oldest first.
func events(_ db: Database, _ username: String) async throws -> [String] {
    try await db.plainTransaction { tx in
        try await tx.connection.query("SELECT kind FROM sign_in_event WHERE username = \(username) ORDER BY id", logger: TestDatabase.logger)
            .decode(String.self).collect()
    }
}

@Suite("People's accounts in PostgreSQL", .serialized)
struct UserAccountStorageTests {
    @Test("an account gets a one-time password that signs in once with mustChangePassword; the change is checked whole and takes effect")
    func addSignInChange() async throws {
        try await TestDatabase.withDatabase { db in
            _ = try await Fixture.make(db)
            let (kim, otp) = try await addUser(db, "Kim.J")
            #expect(kim.username == "kim.j" && kim.role == .coordinator && kim.institutionCode == "ARM-001" && kim.mustChangePassword && !kim.totpEnabled)
            let (lee, _) = try await addUser(db, "lee", role: .regulator, institution: nil)
            #expect(lee.institutionID == nil)
            let listed = try await db.read { tx in try await tx.users.list() }
            #expect(listed.map(\.username) == ["kim.j", "lee"])
            #expect(try await db.read { tx in try await tx.users.user(username: " KIM.J ") } == kim)
            #expect(try await db.read { tx in try await tx.users.user(id: kim.id) } == kim)
            // The account is in the audit trail as the administrator made it; the hash is not.
            #expect(try await db.text("SELECT actor FROM audit_log WHERE entity = 'app_user' AND entity_id = \(kim.id)") == "cli:admin")
            #expect(try await db.count("audit_log", where: "after::text LIKE '%$2b$%'") == 0)

            // A taken username and an unknown institution, both at once.
            await expectRefusal(field: "institution") { _ = try await addUser(db, "kim.j", institution: "ZZZ-999") }
            do { _ = try await addUser(db, "kim.j", institution: "ZZZ-999") } catch let error as RegistryError {
                #expect(error.all.compactMap(\.field) == ["institution", "username"])
            }

            let first = try #require(try await signIn(db, "KIM.J", otp).account)
            #expect(first.mustChangePassword)
            // Wrong current password and a weak new one: every field at fault at once; nothing changes.
            do {
                try await db.transaction(actor: kim.actor) { tx in try await tx.users.changePassword(userID: kim.id, current: "wrong", new: "kim.j-123456", bcryptCost: testCost) }
                Issue.record("a wrong current password was accepted")
            } catch let error as RegistryError {
                #expect(error.all.compactMap(\.field) == ["current_password", "new_password"])
            }
            await expectRefusal(field: "new_password") {
                try await db.transaction(actor: kim.actor) { tx in try await tx.users.changePassword(userID: kim.id, current: otp, new: otp, bcryptCost: testCost) }
            }
            try await db.transaction(actor: kim.actor) { tx in
                try await tx.users.changePassword(userID: kim.id, current: otp, new: "correct horse battery", bcryptCost: testCost)
            }
            #expect(try await signIn(db, "kim.j", otp).refusal == .badCredentials(delay: .zero))
            let again = try #require(try await signIn(db, "kim.j", "correct horse battery").account)
            #expect(!again.mustChangePassword)
            #expect(try await events(db, "kim.j") == ["signed_in", "password_changed", "failed", "signed_in"])
            // Signatures: the password checks without signing in.
            #expect(try await db.read { tx in try await tx.users.verifyPassword(userID: kim.id, password: "correct horse battery") })
            #expect(try await !db.read { tx in try await tx.users.verifyPassword(userID: kim.id, password: otp) })
            #expect(try await !db.read { tx in try await tx.users.verifyPassword(userID: 999, password: otp) })
        }
    }

    @Test("failures slow down and the fifth locks for 15 minutes; a lock refuses the right password; all recorded as the person")
    func lockOut() async throws {
        try await TestDatabase.withDatabase { db in
            _ = try await Fixture.make(db)
            let (kim, otp) = try await addUser(db)
            var answers: [SignInRefusal?] = []
            for _ in 1...5 { answers.append(try await signIn(db, "kim.j", "not the password").refusal) }
            #expect(Array(answers.prefix(4)) == [.badCredentials(delay: .zero), .badCredentials(delay: .seconds(1)),
                                                 .badCredentials(delay: .seconds(2)), .badCredentials(delay: .seconds(4))])
            guard case .locked(let until)? = answers[4] else { Issue.record("the fifth failure did not lock: \(String(describing: answers[4]))"); return }
            #expect(abs(until.timeIntervalSinceNow - 900) < 60)
            // The right password while locked: still refused, and recorded.
            #expect(try await signIn(db, "kim.j", otp).refusal == .locked(until: until))
            #expect(try await events(db, "kim.j") == ["failed", "failed", "failed", "failed", "failed", "locked", "failed"])
            // Each event is in the audit trail as the person, though the web's transaction acted as "web".
            #expect(try await db.ints("SELECT count(*) FROM audit_log WHERE entity = 'sign_in_event' AND actor = 'user:kim.j'") == [7])
            #expect(try await db.ints("SELECT count(*) FROM audit_log WHERE entity = 'sign_in_event' AND actor <> 'user:kim.j'") == [0])

            // Once the lock has run out, the right password signs in and the count starts again.
            try await db.plainTransaction { tx in
                try await tx.query("UPDATE app_user_credential SET locked_until = now() - interval '1 second' WHERE user_id = \(kim.id)", logger: TestDatabase.logger)
            }
            #expect(try await signIn(db, "kim.j", otp).account?.id == kim.id)
            #expect(try await db.ints("SELECT failed_count FROM app_user_credential WHERE user_id = \(kim.id)") == [0])
            #expect(try await signIn(db, "kim.j", "wrong").refusal == .badCredentials(delay: .zero))

            // A reset lifts a lock and gives a new one-time password.
            for _ in 1...4 { _ = try await signIn(db, "kim.j", "wrong") }
            let reset = try await db.transaction(actor: "cli:admin") { tx in try await tx.users.reset(username: "kim.j", bcryptCost: testCost) }
            #expect(reset != otp)
            #expect(try await signIn(db, "kim.j", otp).refusal == .badCredentials(delay: .zero))
            #expect(try await signIn(db, "kim.j", reset).account?.mustChangePassword == true)
            #expect(try await db.text("SELECT a.actor FROM audit_log a JOIN sign_in_event e ON e.id = a.entity_id WHERE a.entity = 'sign_in_event' AND e.kind = 'reset'") == "cli:admin")
        }
    }

    @Test("an unknown username is refused like a wrong password, recorded under the name typed")
    func unknownUser() async throws {
        try await TestDatabase.withDatabase { db in
            var answers: [SignInRefusal?] = []
            for name in ["Nobody", "nobody", "nobody"] { answers.append(try await signIn(db, name, "whatever it is").refusal) }
            // Unknown names slow down as known ones do.
            #expect(answers == [.badCredentials(delay: .zero), .badCredentials(delay: .seconds(1)), .badCredentials(delay: .seconds(2))])
            #expect(try await events(db, "nobody") == ["failed", "failed", "failed"])
            #expect(try await db.ints("SELECT count(*) FROM sign_in_event WHERE user_id IS NULL") == [3])
            #expect(try await db.text("SELECT DISTINCT actor FROM audit_log WHERE entity = 'sign_in_event'") == "unknown-user:nobody")

            // And they "lock" as an account would (the locked answer must not tell that the name
            // exists): the fifth failure in a row, and every try during the lock, with the same end.
            answers = []
            for _ in 1...2 { answers.append(try await signIn(db, "nobody", "whatever it is").refusal) }
            #expect(answers.first == .badCredentials(delay: .seconds(4)))
            guard case .locked(let until)? = answers.last else { Issue.record("the fifth failure did not lock: \(String(describing: answers.last))"); return }
            #expect(abs(until.timeIntervalSinceNow - 900) < 60)
            #expect(try await signIn(db, "nobody", "whatever it is").refusal == .locked(until: until))
            #expect(try await events(db, "nobody") == ["failed", "failed", "failed", "failed", "failed", "locked", "failed"])
        }
    }

    @Test("a disabled account cannot sign in and its open session stops working at once")
    func disabled() async throws {
        try await TestDatabase.withDatabase { db in
            _ = try await Fixture.make(db)
            let (kim, otp) = try await addUser(db)
            let (secret, _) = try await db.transaction(actor: "web") { tx in try await tx.webSessions.open(userID: kim.id) }
            _ = try await db.transaction(session: secret) { _, session in session.id }
            let disabled = try await db.transaction(actor: "cli:admin") { tx in try await tx.users.disable(username: "kim.j", reason: "left the hospital") }
            #expect(disabled.disabledAt != nil)
            await expectRefusal(field: "session", code: .unauthenticated) { _ = try await db.transaction(session: secret) { _, s in s.id } }
            #expect(try await db.session(secret: secret) == nil)
            #expect(try await signIn(db, "kim.j", otp).refusal == .disabled)
            #expect(try await signIn(db, "kim.j", "wrong").refusal == .badCredentials(delay: .zero))
            await expectRefusal(field: "username", code: .conflict) {
                _ = try await db.transaction(actor: "cli:admin") { tx in try await tx.users.disable(username: "kim.j", reason: "again") }
            }
            await expectRefusal(field: "username", code: .notFound) {
                _ = try await db.transaction(actor: "cli:admin") { tx in try await tx.users.disable(username: "nobody", reason: "x") }
            }
            await expectRefusal(field: "username", code: .unauthenticated) {
                _ = try await db.transaction(actor: "web") { tx in try await tx.webSessions.open(userID: kim.id) }
            }
            #expect(try await events(db, "kim.j") == ["disabled", "failed", "failed"])
            #expect(try await db.text("SELECT revoked_reason FROM web_session") == "account disabled")
            #expect(!(try await db.read { tx in try await tx.users.verifyPassword(userID: kim.id, password: otp) }), "a disabled account signs nothing")
        }
    }

    @Test("the second factor: set up with a code, then asked for at sign-in; a code is not accepted twice; turned off again")
    func secondFactor() async throws {
        try await TestDatabase.withDatabase { db in
            _ = try await Fixture.make(db)
            let (kim, otp) = try await addUser(db)
            let (text, uri) = try await db.transaction(actor: kim.actor) { tx in try await tx.users.beginTOTP(userID: kim.id) }
            let secret = try #require(Base32.decode(text))
            #expect(uri.hasPrefix("otpauth://totp/") && uri.contains("secret=\(text)") && uri.contains("kim.j"))
            await expectRefusal(field: "code", code: .invalid) {
                try await db.transaction(actor: kim.actor) { tx in try await tx.users.confirmTOTP(userID: kim.id, code: "000000x") }
            }
            // Until confirmed, sign-in needs the password only.
            #expect(try await signIn(db, "kim.j", otp).account != nil)
            let step = TOTP.step(at: Date())
            try await db.transaction(actor: kim.actor) { tx in
                try await tx.users.confirmTOTP(userID: kim.id, code: TOTP.code(secret: secret, step: step))
            }
            #expect(try await db.read { tx in try await tx.users.user(id: kim.id) }?.totpEnabled == true)
            #expect(try await signIn(db, "kim.j", otp).needsCode)
            #expect(try await signIn(db, "kim.j", "wrong", totp: TOTP.code(secret: secret, step: step + 1)).refusal == .badCredentials(delay: .zero))
            // The code the set-up used is spent.
            #expect(try await signIn(db, "kim.j", otp, totp: TOTP.code(secret: secret, step: step)).refusal == .badCredentials(delay: .seconds(1)))
            #expect(try await signIn(db, "kim.j", otp, totp: TOTP.code(secret: secret, step: step + 1)).account != nil)
            #expect(try await signIn(db, "kim.j", otp, totp: TOTP.code(secret: secret, step: step + 1)).refusal == .badCredentials(delay: .zero), "replayed")
            try await db.transaction(actor: kim.actor) { tx in try await tx.users.disableTOTP(userID: kim.id) }
            #expect(try await signIn(db, "kim.j", otp).account?.totpEnabled == false)
            #expect(try await events(db, "kim.j") == ["signed_in", "second_factor_on", "failed", "failed", "signed_in", "failed", "second_factor_off", "signed_in"])
        }
    }
}
