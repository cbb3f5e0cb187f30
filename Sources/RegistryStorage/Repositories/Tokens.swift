import Crypto
import Foundation
import NIOCore
import PostgresNIO
import RegistryDomain

/// API tokens: issued, listed, revoked, and checked on each request.
public struct Tokens: Repository {
    let tx: Transaction

    /// Tokens look like `rgt_` and 43 base64url characters: 256 random bits.
    static let prefix = "rgt_"

    /// SHA-256 of a token: all the database keeps.
    public static func hash(_ secret: String) -> [UInt8] { Array(SHA256.hash(data: Data(secret.utf8))) }

    /// Issues a token. The secret is returned once; the database keeps its hash.
    public func issue(_ new: NewAccessToken) async throws -> IssuedToken {
        var bytes = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for i in bytes.indices { bytes[i] = generator.next() }
        let secret = Self.prefix + Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        try await tx.because("token issued")
        let institutionID = try await new.institutionCode.asyncMap { try await tx.institutions.id(code: $0) }
        let id = try await c.query("""
            INSERT INTO api_token (token_hash, prefix, role, institution_id, label)
            VALUES (\(ByteBuffer(bytes: Self.hash(secret))), \(String(secret.prefix(12))), \(new.role), \(institutionID), \(new.label)) RETURNING id
            """, logger: logger).decode(Int.self).one("the new token")
        return IssuedToken(token: try await token(id: id), secret: secret)
    }

    /// Every token, newest first.
    public func all() async throws -> [AccessToken] {
        try await tokens(where: "true")
    }

    /// Revokes a token: requests with it get 401 from then on.
    public func revoke(id: Int, reason: String) async throws -> AccessToken {
        let reason = try Rules.reason(reason)
        try await tx.because(reason)
        let token = try await token(id: id)
        if let revoked = token.revokedAt {
            throw RegistryError.conflict("token", "token \(id) was already revoked at \(revoked)")
        }
        try await c.query("UPDATE api_token SET revoked_at = now() WHERE id = \(id)", logger: logger)
        return try await self.token(id: id)
    }

    /// What a presented secret grants, or nil when it is unknown or revoked.
    /// The hashes of every token not revoked (a few hundred at most): what a client held back for
    /// too many unknown tokens may still use.
    public func activeHashes() async throws -> Set<[UInt8]> {
        var out = Set<[UInt8]>()
        for try await hash in try await c.query("SELECT token_hash FROM api_token WHERE revoked_at IS NULL", logger: logger).decode(ByteBuffer.self) {
            out.insert(Array(hash.readableBytesView))
        }
        return out
    }

    public func grant(forSecret secret: String) async throws -> TokenGrant? {
        guard secret.hasPrefix(Self.prefix), secret.count < 100 else { return nil }
        let rows = try await c.query("""
            SELECT t.id, t.role, t.institution_id, i.code, t.label
            FROM api_token t LEFT JOIN institution i ON i.id = t.institution_id
            WHERE t.token_hash = \(ByteBuffer(bytes: Self.hash(secret))) AND t.revoked_at IS NULL
            """, logger: logger)
        guard let (id, role, institutionID, code, label) = try await rows.decode((Int, TokenRole, Int?, String?, String?).self).firstElement() else {
            return nil
        }
        return TokenGrant(tokenID: id, role: role, institutionID: institutionID, institutionCode: code, label: label)
    }

    private func token(id: Int) async throws -> AccessToken {
        guard let token = try await tokens(where: "t.id = \(id)").first else {
            throw RegistryError.notFound("token", "no token has id \(id)", remedy: .list(.tokens))
        }
        return token
    }

    /// Tokens matching a condition on `t`, newest first. The condition is SQL text, so it is built
    /// here from record ids (integers) only, never from user text.
    private func tokens(where condition: String) async throws -> [AccessToken] {
        var out: [AccessToken] = []
        let rows = try await c.query(PostgresQuery(unsafeSQL: """
            SELECT t.id, t.prefix, t.role, i.code, t.label,
                   to_char(t.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                   to_char(t.revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
            FROM api_token t LEFT JOIN institution i ON i.id = t.institution_id WHERE \(condition) ORDER BY t.id DESC
            """), logger: logger)
        for try await (id, prefix, role, code, label, created, revoked) in rows.decode((Int, String, TokenRole, String?, String?, String, String?).self) {
            out.append(AccessToken(id: id, prefix: prefix, role: role, institutionCode: code, label: label, createdAt: created, revokedAt: revoked))
        }
        return out
    }
}

extension Optional {
    /// `map` with an async, throwing transform.
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let self else { return nil }
        return try await transform(self)
    }
}
