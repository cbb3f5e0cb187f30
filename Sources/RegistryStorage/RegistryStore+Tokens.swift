import Crypto
import Foundation
import Logging
import NIOCore
import PostgresNIO
import RegistryDomain

/// A token just issued: the record, and the secret, which is shown this once and never stored.
public struct IssuedToken: Sendable {
    public var token: AccessToken
    public var secret: String
}

/// What a valid token grants, as the API checks it on each request.
public struct TokenGrant: Sendable, Equatable {
    public var tokenID: Int
    public var role: TokenRole
    public var institutionID: Int?
    public var institutionCode: String?
    public var label: String?

    /// The name the audit trail records for this token's changes.
    public var actor: String { "api:token-\(tokenID)" + (label.map { " (\($0))" } ?? "") }
    /// The row-level-security scope of this token's transactions.
    public var scope: AccessScope { AccessScope(tokenID: tokenID, institutionID: institutionID) }
}

extension RegistryStore {
    /// Tokens look like `rgt_` and 43 base64url characters: 256 random bits.
    static let tokenPrefix = "rgt_"

    /// SHA-256 of a token: all the database keeps.
    public static func tokenHash(_ secret: String) -> [UInt8] { Array(SHA256.hash(data: Data(secret.utf8))) }

    /// Issues a token. The secret is returned once; the database keeps its hash.
    public func issueToken(_ new: NewAccessToken, actor: String) async throws -> IssuedToken {
        var bytes = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for i in bytes.indices { bytes[i] = generator.next() }
        let secret = Self.tokenPrefix + Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        let prefix = String(secret.prefix(12))
        let token = try await database.transaction(actor: actor, reason: "token issued") { c in
            var institutionID: Int? = nil
            if let code = new.institutionCode {
                let rows = try await c.query("SELECT id FROM institution WHERE code = \(code)", logger: logger)
                guard let id = try await rows.decode(Int.self).first(where: { _ in true }) else { throw Self.unknownInstitution(code) }
                institutionID = id
            }
            let rows = try await c.query("""
                INSERT INTO api_token (token_hash, prefix, role, institution_id, label)
                VALUES (\(ByteBuffer(bytes: Self.tokenHash(secret))), \(prefix), \(new.role.rawValue), \(institutionID), \(new.label)) RETURNING id
                """, logger: logger)
            let id = try await rows.decode(Int.self).first(where: { _ in true })!
            return try await Self.tokens(c, where: "t.id = \(id)", logger: logger).first!
        }
        return IssuedToken(token: token, secret: secret)
    }

    /// Every token, newest first.
    public func tokens() async throws -> [AccessToken] {
        try await database.read { c in try await Self.tokens(c, where: "true", logger: logger) }
    }

    /// Revokes a token: requests with it get 401 from then on.
    public func revokeToken(id: Int, reason: String, actor: String) async throws -> AccessToken {
        let reason = try Rules.reason(reason)
        return try await database.transaction(actor: actor, reason: reason) { c in
            guard let token = try await Self.tokens(c, where: "t.id = \(id)", logger: logger).first else {
                throw RegistryError.notFound("token", "no token has id \(id)", hint: "list them with: registry token list")
            }
            if let revoked = token.revokedAt {
                throw RegistryError.conflict("token", "token \(id) was already revoked at \(revoked)")
            }
            try await c.query("UPDATE api_token SET revoked_at = now() WHERE id = \(id)", logger: logger)
            return try await Self.tokens(c, where: "t.id = \(id)", logger: logger).first!
        }
    }

    /// What a presented secret grants, or nil when it is unknown or revoked.
    public func grant(forSecret secret: String) async throws -> TokenGrant? {
        guard secret.hasPrefix(Self.tokenPrefix), secret.count < 100 else { return nil }
        return try await database.read { c in
            let rows = try await c.query("""
                SELECT t.id, t.role, t.institution_id, i.code, t.label
                FROM api_token t LEFT JOIN institution i ON i.id = t.institution_id
                WHERE t.token_hash = \(ByteBuffer(bytes: Self.tokenHash(secret))) AND t.revoked_at IS NULL
                """, logger: logger)
            for try await (id, role, institutionID, code, label) in rows.decode((Int, String, Int?, String?, String?).self) {
                return TokenGrant(tokenID: id, role: TokenRole(rawValue: role)!, institutionID: institutionID, institutionCode: code, label: label)
            }
            return nil
        }
    }

    /// Tokens matching a condition on `t` built from bound integers only, newest first.
    static func tokens(_ c: PostgresConnection, where condition: String, logger: Logger) async throws -> [AccessToken] {
        var out: [AccessToken] = []
        let rows = try await c.query(PostgresQuery(unsafeSQL: """
            SELECT t.id, t.prefix, t.role, i.code, t.label,
                   to_char(t.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                   to_char(t.revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
            FROM api_token t LEFT JOIN institution i ON i.id = t.institution_id WHERE \(condition) ORDER BY t.id DESC
            """), logger: logger)
        for try await (id, prefix, role, code, label, created, revoked) in rows.decode((Int, String, String, String?, String?, String, String?).self) {
            out.append(AccessToken(id: id, prefix: prefix, role: TokenRole(rawValue: role)!, institutionCode: code, label: label,
                                   createdAt: created, revokedAt: revoked))
        }
        return out
    }
}
