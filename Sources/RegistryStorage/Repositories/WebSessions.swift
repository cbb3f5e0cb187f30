import Crypto
import Foundation
import NIOCore
import PostgresNIO
import RegistryDomain

/// A signed-in browser's session, as a request sees it.
public struct WebSession: Sendable {
    public var id: Int
    /// Who is signed in (as of this request: a disabled account has no valid session).
    public var user: UserAccount
    /// The token every form of this session carries back (the cookie alone does not authorise a write).
    public var csrfToken: String
    public var createdAt: Date
    /// The absolute limit: the session ends then, however busy.
    public var expiresAt: Date
    /// The last request (this one, in a session transaction).
    public var lastSeenAt: Date
    /// How long without a request ends the session.
    public var idleTimeout: Duration

    public init(id: Int, user: UserAccount, csrfToken: String, createdAt: Date, expiresAt: Date, lastSeenAt: Date, idleTimeout: Duration) {
        self.id = id; self.user = user; self.csrfToken = csrfToken; self.createdAt = createdAt
        self.expiresAt = expiresAt; self.lastSeenAt = lastSeenAt; self.idleTimeout = idleTimeout
    }

    /// The session's columns, from `web_session s` joined to `Users.tables`.
    static let columns = "s.id, s.csrf_token, s.created_at, s.expires_at, s.last_seen_at, extract(epoch FROM s.idle_timeout)::float8, " + Users.columns

    static func decode(_ row: PostgresRandomAccessRow) throws -> WebSession {
        WebSession(id: try row[0].decode(Int.self), user: try Users.decode(row, from: 6), csrfToken: try row[1].decode(String.self),
                   createdAt: try row[2].decode(Date.self), expiresAt: try row[3].decode(Date.self), lastSeenAt: try row[4].decode(Date.self),
                   idleTimeout: .milliseconds(Int64((try row[5].decode(Double.self) * 1000).rounded())))
    }

    /// Whether a session is valid now, as SQL over `s` and `u`: the one definition, used by the
    /// session transaction and the check without touching.
    static let validNow = "s.revoked_at IS NULL AND now() < s.expires_at AND now() < s.last_seen_at + s.idle_timeout AND u.disabled_at IS NULL"

    /// How often a session in use is kept alive: a request within this of the last one that did
    /// writes nothing (a page load is a read), so a session may end up to this much earlier than
    /// its idle time-out after the last request.
    static let touchEvery = "interval '1 minute'"
}

/// Web sessions: opened at sign-in, checked (and kept alive) by every request through
/// `Database.transaction(session:)`, revoked at sign-out, when the account is disabled or reset.
/// The browser holds a random secret; the database only its SHA-256.
public struct WebSessions: Repository {
    let tx: Transaction

    /// The default idle time-out: 30 minutes without a request.
    public static let defaultIdleTimeout: Duration = .seconds(1800)
    /// The default absolute limit: 12 hours after sign-in.
    public static let defaultAbsoluteLimit: Duration = .seconds(12 * 3600)

    /// SHA-256 of a session secret: all the database keeps.
    public static func hash(_ secret: String) -> [UInt8] { Array(SHA256.hash(data: Data(secret.utf8))) }

    /// Opens a session for a signed-in person. The secret (for the cookie) is returned this once.
    public func open(userID: Int, idleTimeout: Duration = WebSessions.defaultIdleTimeout,
                     absoluteLimit: Duration = WebSessions.defaultAbsoluteLimit) async throws -> (secret: String, session: WebSession) {
        guard idleTimeout > .zero, absoluteLimit > .zero else {
            throw RegistryError.invalid("idle-timeout", "a session's idle time-out and absolute limit must be longer than zero")
        }
        guard let account = try await tx.users.user(id: userID), account.disabledAt == nil else {
            throw RegistryError(.unauthenticated, field: "username", "this account cannot sign in")
        }
        let secret = Self.randomToken(), csrf = Self.randomToken()
        let id = try await c.query("""
            INSERT INTO web_session (user_id, secret_hash, csrf_token, expires_at, idle_timeout)
            VALUES (\(userID), \(ByteBuffer(bytes: Self.hash(secret))), \(csrf),
                    now() + make_interval(secs => \(Self.seconds(absoluteLimit))), make_interval(secs => \(Self.seconds(idleTimeout))))
            RETURNING id
            """, logger: logger).decode(Int.self).one("the new session")
        let rows = try await c.query(PostgresQuery(unsafeSQL: """
            SELECT \(WebSession.columns) FROM web_session s JOIN (\(Users.tables)) ON u.id = s.user_id WHERE s.id = $1
            """, binds: { var b = PostgresBindings(); b.append(id); return b }()), logger: logger)
        guard let row = try await rows.firstElement() else { throw MissingRow(expected: "the new session") }
        return (secret, try WebSession.decode(row.makeRandomAccess()))
    }

    /// Ends the session whose cookie holds `secret` (signing out): recorded as the person's
    /// `signed_out`. False when there was no open session with it.
    @discardableResult
    public func revoke(secret: String, reason: String) async throws -> Bool {
        let revoked = try await c.query("""
            WITH s AS (UPDATE web_session SET revoked_at = now(), revoked_reason = \(Self.reason(reason))
                       WHERE secret_hash = \(ByteBuffer(bytes: Self.hash(secret))) AND revoked_at IS NULL RETURNING user_id)
            SELECT u.id, u.username FROM s JOIN app_user u ON u.id = s.user_id
            """, logger: logger).decode((Int, String).self).firstElement()
        guard let (id, username) = revoked else { return false }
        try await tx.users.record(userID: id, username: username, .signedOut, Self.reason(reason))
        return true
    }

    /// Ends every open session of a person (signing out everywhere); how many there were.
    @discardableResult
    public func revokeAll(userID: Int, reason: String) async throws -> Int {
        try await revokeAll(userID: userID, reason: reason, recorded: true)
    }

    /// Ends every other open session of a person, keeping `sessionID` (a password change ends
    /// the sessions that whoever knew the old password may hold); how many there were.
    @discardableResult
    public func revokeOthers(userID: Int, keeping sessionID: Int, reason: String) async throws -> Int {
        try await revokeAll(userID: userID, reason: reason, recorded: true, keeping: sessionID)
    }

    /// `revokeAll`, recorded as the person's `signed_out` when `recorded` (a reset or disabling
    /// records its own event instead), all but session `keeping`.
    func revokeAll(userID: Int, reason: String, recorded: Bool, keeping: Int? = nil) async throws -> Int {
        let n = try await c.query("""
            UPDATE web_session SET revoked_at = now(), revoked_reason = \(Self.reason(reason))
            WHERE user_id = \(userID) AND revoked_at IS NULL AND id IS DISTINCT FROM \(keeping) RETURNING 1
            """, logger: logger).count()
        if recorded, n > 0, let account = try await tx.users.user(id: userID) {
            try await tx.users.record(account, .signedOut, "\(n) session\(n == 1 ? "" : "s"): \(reason)")
        }
        return n
    }

    /// Ends the session with `secret` if it has run out (idle or past its limit) and records it
    /// once as `expired`: a request that finds its session gone tells the trail why.
    func expire(secret: String) async throws {
        try await c.query("""
            WITH e AS (UPDATE web_session s SET revoked_at = now(),
                              revoked_reason = CASE WHEN now() >= s.expires_at THEN 'expired: absolute limit' ELSE 'expired: idle' END
                       FROM app_user u
                       WHERE s.secret_hash = \(ByteBuffer(bytes: Self.hash(secret))) AND u.id = s.user_id AND s.revoked_at IS NULL
                         AND (now() >= s.expires_at OR now() >= s.last_seen_at + s.idle_timeout)
                       RETURNING s.user_id, u.username, s.revoked_reason)
            SELECT registry_sign_in_event(user_id, username, 'expired', revoked_reason) FROM e
            """, logger: logger)
    }

    static func reason(_ text: String) -> String {
        let trimmed = text.trimmingCharactersInWhitespace()
        return trimmed.isEmpty ? "signed out" : String(trimmed.prefix(500))
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// 32 random bytes, base64url without padding (43 characters).
    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}

/// The statement that opens a session transaction (prepared: it runs on every request of the web
/// application): only if the session is valid now, it keeps it alive (last_seen_at, at most once
/// a minute: a page load that changes nothing writes nothing, and the idle time-out is kept to
/// the minute), points the
/// audit trail at the person, and switches to `registry_api` acting for a coordinator's institution
/// (none for regulators and admins: no patient rows), as EnterScope does for a token. One row, the
/// session and the person (and the transaction id when asked for), or none.
struct EnterSession: PostgresPreparedStatement {
    static let name = "registry_enter_session"
    static let sql = """
        WITH s AS (
            SELECT s.* FROM web_session s JOIN app_user u ON u.id = s.user_id
            WHERE s.secret_hash = $1 AND \(WebSession.validNow)
        ), touched AS (
            UPDATE web_session t SET last_seen_at = now() FROM s
            WHERE t.id = s.id AND s.last_seen_at < now() - \(WebSession.touchEvery)
        )
        SELECT \(WebSession.columns),
               set_config('registry.actor', 'user:' || u.username, true), set_config('registry.reason', '', true),
               set_config('registry.institution', coalesce(u.institution_id::text, ''), true), set_config('registry.token', '', true),
               set_config('registry.user', u.id::text, true), set_config('role', 'registry_api', true),
               CASE WHEN $2 THEN pg_current_xact_id()::xid::text END, set_config('jit', 'off', true)
        FROM s JOIN (\(Users.tables)) ON u.id = s.user_id
        """
    typealias Row = (WebSession, String?)
    var secret: String
    var writes: Bool

    func makeBindings() throws -> PostgresBindings {
        var b = PostgresBindings(capacity: 2)
        b.append(ByteBuffer(bytes: WebSessions.hash(secret))); b.append(writes)
        return b
    }

    func decodeRow(_ row: PostgresRow) throws -> (WebSession, String?) {
        let r = row.makeRandomAccess()
        return (try WebSession.decode(r), try r[21].decode(String?.self))
    }
}
