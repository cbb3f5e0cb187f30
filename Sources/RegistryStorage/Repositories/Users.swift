import Foundation
import HummingbirdBcrypt
import NIOCore
import NIOPosix
import PostgresNIO
import RegistryDomain

/// A person's account as the registry shows it: never a password or a second-factor secret.
public struct UserAccount: Sendable, Codable, Equatable {
    public var id: Int
    /// Lower-case (`UserRules.username`).
    public var username: String
    public var role: UserRole
    /// The institution a coordinator works for (nil for regulators and admins).
    public var institutionID: Int?
    public var institutionCode: String?
    /// When the account was disabled; nil while it may sign in.
    public var disabledAt: Date?
    /// Whether the password is a one-time password that must be changed before anything else.
    public var mustChangePassword: Bool
    /// Whether signing in needs a TOTP code too.
    public var totpEnabled: Bool
    public var createdAt: Date

    public init(id: Int, username: String, role: UserRole, institutionID: Int?, institutionCode: String?, disabledAt: Date?,
                mustChangePassword: Bool, totpEnabled: Bool, createdAt: Date) {
        self.id = id; self.username = username; self.role = role; self.institutionID = institutionID
        self.institutionCode = institutionCode; self.disabledAt = disabledAt; self.mustChangePassword = mustChangePassword
        self.totpEnabled = totpEnabled; self.createdAt = createdAt
    }

    /// The name the audit trail records for this person's changes.
    public var actor: String { "user:\(username)" }

    // Times as ISO 8601 text (UTC), as every front end's JSON shows them, whatever its encoder's date
    // strategy; nil fields left out, as synthesized Codable does.
    enum CodingKeys: String, CodingKey {
        case id, username, role, institutionID, institutionCode, disabledAt, mustChangePassword, totpEnabled, createdAt
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(username, forKey: .username)
        try c.encode(role, forKey: .role)
        try c.encodeIfPresent(institutionID, forKey: .institutionID)
        try c.encodeIfPresent(institutionCode, forKey: .institutionCode)
        try c.encodeIfPresent(disabledAt.map(Self.iso8601), forKey: .disabledAt)
        try c.encode(mustChangePassword, forKey: .mustChangePassword)
        try c.encode(totpEnabled, forKey: .totpEnabled)
        try c.encode(Self.iso8601(createdAt), forKey: .createdAt)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func date(_ text: String, _ key: CodingKeys) throws -> Date {
            guard let date = ISO8601DateFormatter().date(from: text) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "not an ISO 8601 time: \(text)")
            }
            return date
        }
        id = try c.decode(Int.self, forKey: .id)
        username = try c.decode(String.self, forKey: .username)
        role = try c.decode(UserRole.self, forKey: .role)
        institutionID = try c.decodeIfPresent(Int.self, forKey: .institutionID)
        institutionCode = try c.decodeIfPresent(String.self, forKey: .institutionCode)
        disabledAt = try c.decodeIfPresent(String.self, forKey: .disabledAt).map { try date($0, .disabledAt) }
        mustChangePassword = try c.decode(Bool.self, forKey: .mustChangePassword)
        totpEnabled = try c.decode(Bool.self, forKey: .totpEnabled)
        createdAt = try date(try c.decode(String.self, forKey: .createdAt), .createdAt)
    }

    static func iso8601(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }
}

/// The answer to a sign-in.
public enum SignInResult: Sendable {
    /// The password (and the code, when the second factor is on) was right: open a session.
    case signedIn(UserAccount)
    /// The password was right and the account has a second factor: ask for the code and sign in
    /// again with both. Nothing was recorded.
    case needsSecondFactor
    /// Refused, and recorded.
    case refused(SignInRefusal)
}

/// Why a sign-in was refused. `badCredentials` never says whether the username exists.
public enum SignInRefusal: Sendable, Equatable {
    /// Wrong username, password or code. Wait `delay` before answering (SignInThrottle), so that
    /// guessing slows down.
    case badCredentials(delay: Duration)
    /// Too many consecutive failures: refused, right password or not, until then.
    case locked(until: Date)
    /// The password was right but the account is disabled.
    case disabled
}

/// People's accounts: added, listed, disabled and reset by an administrator; signed in with a
/// bcrypt-hashed password and an optional TOTP code; throttled and locked after failures (the
/// domain's SignInThrottle). Every event at the door is a `sign_in_event` row, in the audit trail
/// as the person (schema/0014). Run in the owner's transactions (`transaction(actor:)`,
/// `plainTransaction`), except `verifyPassword`, which a session transaction may call too.
public struct Users: Repository {
    let tx: Transaction

    /// bcrypt's cost (log2 of its rounds) for new hashes: about a quarter of a second on this
    /// project's machines. Tests use 4, the least bcrypt allows.
    public static let defaultBcryptCost = 12

    static let columns = """
        u.id, u.username, u.role, u.institution_id, i.code, u.disabled_at, c.must_change_password, c.totp_secret IS NOT NULL, u.created_at
        """
    static let tables = """
        app_user u JOIN app_user_credential c ON c.user_id = u.id LEFT JOIN institution i ON i.id = u.institution_id
        """

    static func decode(_ row: PostgresRandomAccessRow, from start: Int = 0) throws -> UserAccount {
        UserAccount(id: try row[start].decode(Int.self), username: try row[start + 1].decode(String.self),
                    role: try row[start + 2].decode(UserRole.self), institutionID: try row[start + 3].decode(Int?.self),
                    institutionCode: try row[start + 4].decode(String?.self), disabledAt: try row[start + 5].decode(Date?.self),
                    mustChangePassword: try row[start + 6].decode(Bool.self), totpEnabled: try row[start + 7].decode(Bool.self),
                    createdAt: try row[start + 8].decode(Date.self))
    }

    /// Adds an account with a one-time password, returned this once; it must be changed at the
    /// first sign-in. An unknown institution and a taken username are refused together.
    public func add(_ user: NewUser, bcryptCost: Int = Users.defaultBcryptCost) async throws -> (UserAccount, initialPassword: String) {
        var checks = FieldChecks()
        var institutionID: Int?
        if let code = user.institutionCode {
            do { institutionID = try await tx.institutions.id(code: code) } catch let error as RegistryError { checks.refuse(error) }
        }
        if try await self.user(username: user.username) != nil {
            checks.refuse(.conflict("username", "the username '\(user.username)' is taken; choose another"))
        }
        try checks.finish()
        let password = OneTimePassword.generate()
        let hash = try await PasswordHashing.hash(password, cost: bcryptCost)
        try await tx.because("account added")
        let id = try await c.query("""
            WITH u AS (INSERT INTO app_user (username, role, institution_id) VALUES (\(user.username), \(user.role), \(institutionID)) RETURNING id)
            INSERT INTO app_user_credential (user_id, password_hash) SELECT id, \(hash) FROM u RETURNING user_id
            """, logger: logger).decode(Int.self).one("the new account")
        return (try await account(id: id), password)
    }

    /// Every account, by username.
    public func list() async throws -> [UserAccount] {
        try await accounts(PostgresQuery(unsafeSQL: "SELECT \(Self.columns) FROM \(Self.tables) ORDER BY u.username"))
    }

    /// The account with this username (any case), or nil.
    public func user(username: String) async throws -> UserAccount? {
        let name = username.trimmingCharactersInWhitespace().lowercased()
        var query = PostgresQuery(unsafeSQL: "SELECT \(Self.columns) FROM \(Self.tables) WHERE u.username = $1")
        query.binds.append(name)
        return try await accounts(query).first
    }

    /// The account with this id, or nil.
    public func user(id: Int) async throws -> UserAccount? {
        var query = PostgresQuery(unsafeSQL: "SELECT \(Self.columns) FROM \(Self.tables) WHERE u.id = $1")
        query.binds.append(id)
        return try await accounts(query).first
    }

    /// Disables an account: it can no longer sign in, and its open sessions end now.
    @discardableResult
    public func disable(username: String, reason: String) async throws -> UserAccount {
        let reason = try Rules.reason(reason)
        let account = try await existing(username: username)
        if let at = account.disabledAt {
            throw RegistryError.conflict("username", "\(account.username)'s account was already disabled at \(UserAccount.iso8601(at))")
        }
        try await tx.because(reason)
        try await c.query("UPDATE app_user SET disabled_at = now(), disabled_reason = \(reason) WHERE id = \(account.id)", logger: logger)
        try await tx.webSessions.revokeAll(userID: account.id, reason: "account disabled", recorded: false)
        try await record(account, .disabled, reason)
        return try await self.account(id: account.id)
    }

    /// Gives an account a new one-time password, returned this once: it must be changed at the next
    /// sign-in, a lock is lifted, the second factor is removed (to be set up again: the person may
    /// have lost the phone), and open sessions end.
    public func reset(username: String, bcryptCost: Int = Users.defaultBcryptCost) async throws -> String {
        let account = try await existing(username: username)
        let password = OneTimePassword.generate()
        let hash = try await PasswordHashing.hash(password, cost: bcryptCost)
        try await c.query("""
            UPDATE app_user_credential SET password_hash = \(hash), must_change_password = true, password_changed_at = now(),
                   failed_count = 0, last_failure_at = NULL, locked_until = NULL,
                   totp_secret = NULL, totp_pending_secret = NULL, totp_last_step = NULL
            WHERE user_id = \(account.id)
            """, logger: logger)
        try await tx.webSessions.revokeAll(userID: account.id, reason: "password reset", recorded: false)
        try await record(account, .reset, nil)
        return password
    }

    /// Checks a sign-in and records it. An unknown username costs the same bcrypt check as a known
    /// one and gets the same answer as a wrong password. Failures count (the account's row is
    /// locked, so attempts at once count one by one); the fifth in a row locks the account, and a
    /// locked account is refused, right password or not, until the lock ends. A correct sign-in
    /// clears the count.
    public func signIn(username: String, password: String, totp: String?) async throws -> SignInResult {
        let name = username.trimmingCharactersInWhitespace().lowercased()
        let found = try await c.query("""
            SELECT u.id, c.password_hash, c.failed_count, c.locked_until, u.disabled_at IS NOT NULL, c.totp_secret, c.totp_last_step, now()
            FROM app_user u JOIN app_user_credential c ON c.user_id = u.id WHERE u.username = \(name) FOR UPDATE OF c
            """, logger: logger).decode((Int, String, Int, Date?, Bool, ByteBuffer?, Int64?, Date).self).firstElement()
        guard let (id, hash, failedCount, lockedUntil, disabled, totpSecret, lastStep, now) = found else {
            // A name no account has is answered exactly as an account would be: its failures are
            // consecutive (none ever succeeds), slowed, and the fifth "locks" it for as long, so
            // the answers tell nobody which usernames exist.
            try await PasswordHashing.verifyAgainstNothing(password)
            let lockSeconds = Int(SignInThrottle.lockDuration.components.seconds)
            let (recent, lockedAt, now) = try await c.query("""
                SELECT count(*) FILTER (WHERE kind = 'failed')::int8,
                       max(at) FILTER (WHERE kind = 'locked' AND at > now() - make_interval(secs => \(lockSeconds))), now()
                FROM sign_in_event WHERE username = \(String(name.prefix(64))) AND user_id IS NULL
                """, logger: logger).decode((Int, Date?, Date).self).one("a count")
            try await record(userID: nil, username: name.isEmpty ? "-" : name, .failed, "no account has this username")
            if let lockedAt {
                return .refused(.locked(until: lockedAt.addingTimeInterval(TimeInterval(lockSeconds))))
            }
            if let until = SignInThrottle.lockedUntil(failures: recent + 1, lastFailure: now) {
                try await record(userID: nil, username: name.isEmpty ? "-" : name, .locked,
                                 "no account has this username; answered as locked after \(recent + 1) failures, as an account would be")
                return .refused(.locked(until: until))
            }
            return .refused(.badCredentials(delay: SignInThrottle.delay(afterFailures: recent + 1)))
        }
        if let until = lockedUntil, until > now {
            try await PasswordHashing.verifyAgainstNothing(password)
            try await record(userID: id, username: name, .failed, "account locked")
            return .refused(.locked(until: until))
        }
        let passwordRight = try await PasswordHashing.verify(password, hash: hash)
        if passwordRight && disabled {
            try await record(userID: id, username: name, .failed, "account disabled")
            return .refused(.disabled)
        }
        var matchedStep: Int64? = nil
        if passwordRight, let secret = totpSecret {
            guard let totp else { return .needsSecondFactor }
            matchedStep = TOTP.matchingStep(totp, secret: Array(buffer: secret), at: now).flatMap { $0 > (lastStep ?? .min) ? $0 : nil }
        }
        if passwordRight && (totpSecret == nil || matchedStep != nil) {
            try await c.query("""
                UPDATE app_user_credential SET failed_count = 0, last_failure_at = NULL, locked_until = NULL,
                       totp_last_step = coalesce(\(matchedStep), totp_last_step)
                WHERE user_id = \(id)
                """, logger: logger)
            try await record(userID: id, username: name, .signedIn, totpSecret == nil ? nil : "with a second-factor code")
            return .signedIn(try await account(id: id))
        }
        let failures = failedCount + 1
        let until = SignInThrottle.lockedUntil(failures: failures, lastFailure: now)
        try await c.query("""
            UPDATE app_user_credential SET failed_count = \(failures), last_failure_at = \(now), locked_until = \(until) WHERE user_id = \(id)
            """, logger: logger)
        try await record(userID: id, username: name, .failed, passwordRight ? "wrong second-factor code" : "wrong password")
        if let until {
            try await record(userID: id, username: name, .locked, "after \(failures) failed sign-ins in a row, until \(UserAccount.iso8601(until))")
            return .refused(.locked(until: until))
        }
        return .refused(.badCredentials(delay: SignInThrottle.delay(afterFailures: failures)))
    }

    /// Replaces the password: the current one must be right and the new one must meet
    /// `PasswordPolicy` and differ from it; every field at fault is named at once
    /// (`current_password`, `new_password`). Clears `mustChangePassword`.
    public func changePassword(userID: Int, current: String, new: String, bcryptCost: Int = Users.defaultBcryptCost) async throws {
        let account = try await account(id: userID)
        let hash = try await c.query("SELECT password_hash FROM app_user_credential WHERE user_id = \(userID)", logger: logger)
            .decode(String.self).one("the account's password")
        var checks = FieldChecks()
        if !(try await PasswordHashing.verify(current, hash: hash)) {
            checks.refuse(.invalid("current_password", "the current password is not right"))
        }
        checks.check { () throws(RegistryError) in try PasswordPolicy.check(new, username: account.username) }
        if new == current {
            checks.refuse(.invalid("new_password", "the new password must differ from the current one"))
        }
        try checks.finish()
        let newHash = try await PasswordHashing.hash(new, cost: bcryptCost)
        try await c.query("""
            UPDATE app_user_credential SET password_hash = \(newHash), must_change_password = false, password_changed_at = now() WHERE user_id = \(userID)
            """, logger: logger)
        try await record(account, .passwordChanged, nil)
    }

    /// Whether `password` is the person's: the signature on a correction or a void. In a session
    /// transaction, only for the session's own person (false for anyone else); false for a
    /// disabled account.
    public func verifyPassword(userID: Int, password: String) async throws -> Bool {
        let hash = try await c.query("SELECT registry_password_hash(\(userID))", logger: logger).decode(String?.self).firstElement() ?? nil
        guard let hash else {
            try await PasswordHashing.verifyAgainstNothing(password)
            return false
        }
        return try await PasswordHashing.verify(password, hash: hash)
    }

    /// Starts setting up the second factor: a new secret, in base32 for typing and as an
    /// `otpauth://` URI for a QR code. It takes effect once `confirmTOTP` gets a code made from it;
    /// until then an existing second factor stays as it is.
    public func beginTOTP(userID: Int) async throws -> (secret: String, otpauthURI: String) {
        let account = try await account(id: userID)
        let secret = TOTP.newSecret()
        try await c.query("UPDATE app_user_credential SET totp_pending_secret = \(ByteBuffer(bytes: secret)) WHERE user_id = \(userID)", logger: logger)
        return (Base32.encode(secret), TOTP.uri(secret: secret, account: account.username))
    }

    /// Turns the second factor on with the secret `beginTOTP` gave, once `code` shows the person's
    /// app makes the same codes.
    public func confirmTOTP(userID: Int, code: String) async throws {
        let account = try await account(id: userID)
        let (pending, now) = try await c.query("""
            SELECT totp_pending_secret, now() FROM app_user_credential WHERE user_id = \(userID) FOR UPDATE
            """, logger: logger).decode((ByteBuffer?, Date).self).one("the account's credential")
        guard let pending else {
            throw RegistryError.conflict("code", "no second factor is being set up; start again")
        }
        guard let step = TOTP.matchingStep(code, secret: Array(buffer: pending), at: now) else {
            throw RegistryError.invalid("code", "this is not the app's current \(TOTP.digits)-digit code; check the phone's clock and type the code shown now")
        }
        try await c.query("""
            UPDATE app_user_credential SET totp_secret = totp_pending_secret, totp_pending_secret = NULL, totp_last_step = \(step) WHERE user_id = \(userID)
            """, logger: logger)
        try await record(account, .secondFactorOn, nil)
    }

    /// Turns the second factor off (signing in needs the password only).
    public func disableTOTP(userID: Int) async throws {
        let account = try await account(id: userID)
        guard account.totpEnabled else { return }
        try await c.query("""
            UPDATE app_user_credential SET totp_secret = NULL, totp_pending_secret = NULL, totp_last_step = NULL WHERE user_id = \(userID)
            """, logger: logger)
        try await record(account, .secondFactorOff, nil)
    }

    /// The kinds of `sign_in_event` (schema/0014).
    enum EventKind: String {
        case signedIn = "signed_in", signedOut = "signed_out", failed, locked, passwordChanged = "password_changed"
        case expired, reset, disabled, secondFactorOn = "second_factor_on", secondFactorOff = "second_factor_off"
    }

    func record(_ account: UserAccount, _ kind: EventKind, _ detail: String?) async throws {
        try await record(userID: account.id, username: account.username, kind, detail)
    }

    /// Records one event through registry_sign_in_event(), which puts it in the audit trail as the person where they did it.
    func record(userID: Int?, username: String, _ kind: EventKind, _ detail: String?) async throws {
        try await c.query("SELECT registry_sign_in_event(\(userID), \(username), \(kind.rawValue), \(detail))", logger: logger)
    }

    private func account(id: Int) async throws -> UserAccount {
        guard let account = try await user(id: id) else { throw RegistryError.notFound("user", "no account has id \(id)") }
        return account
    }

    private func existing(username: String) async throws -> UserAccount {
        guard let account = try await user(username: username) else {
            throw RegistryError.notFound("username", "no account has the username '\(username)'", hint: "list accounts with: registry user list")
        }
        return account
    }

    private func accounts(_ query: PostgresQuery) async throws -> [UserAccount] {
        var out: [UserAccount] = []
        for try await row in try await c.query(query, logger: logger) { out.append(try Self.decode(row.makeRandomAccess())) }
        return out
    }
}

/// bcrypt, off the caller's thread: a hash at cost 12 takes a quarter of a second of CPU, which on
/// an event loop would stall every request and query sharing it.
enum PasswordHashing {
    static func hash(_ password: String, cost: Int) async throws -> String {
        guard (4...31).contains(cost) else {
            throw RegistryError(.configuration, field: "bcrypt-cost", "bcrypt's cost is 4–31; \(cost) was asked for")
        }
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: UInt8(cost)) }
    }

    /// Whether `password` hashes to `hash`. Input far longer than any allowed password is refused,
    /// after the same work as any other, so that its length tells nothing.
    static func verify(_ password: String, hash: String) async throws -> Bool {
        let tooLong = password.utf8.count > 4 * PasswordPolicy.maximumLength
        let typed = tooLong ? "" : password
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(typed, hash: hash) && !tooLong }
    }

    /// Checks `password` against a hash of nothing anyone knows, at the default cost: where there
    /// is no real hash to check (an unknown username, a locked account), so that the answer takes
    /// as long as a real check. Always false.
    static func verifyAgainstNothing(_ password: String) async throws {
        _ = try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: dummyHash) }
    }
    /// Made on first use (on the pool, by `verifyAgainstNothing`).
    private static let dummyHash = Bcrypt.hash(OneTimePassword.generate(), cost: UInt8(Users.defaultBcryptCost))
}
