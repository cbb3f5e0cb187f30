import Foundation
import NIOCore
import PostgresNIO
import RegistryDomain

/// A stored first response of an idempotent API write.
public struct StoredReply: Sendable, Equatable {
    /// What identified the request (method, path and body, hashed).
    public var requestHash: [UInt8]
    public var status: Int
    public var location: String?
    public var etag: String?
    public var body: Data

    public init(requestHash: [UInt8], status: Int, location: String?, etag: String?, body: Data) {
        self.requestHash = requestHash; self.status = status; self.location = location; self.etag = etag; self.body = body
    }
}

/// First responses of idempotent API writes (`api_idempotency`), kept with the write they answer.
public struct IdempotentReplies: Repository {
    let tx: Transaction

    /// Waits until no other transaction holds this token's key, and holds it to the end of this
    /// one: requests with the same key run one after the other, so a retry sees the first's reply.
    public func lock(tokenID: Int, key: String) async throws {
        try await c.query("SELECT pg_advisory_xact_lock(\(Int32(truncatingIfNeeded: tokenID)), hashtext(\(key)))", logger: logger)
    }

    /// The reply stored for this token and key, if any.
    public func stored(tokenID: Int, key: String) async throws -> StoredReply? {
        let rows = try await c.query("""
            SELECT request_hash, status, location, etag, body FROM api_idempotency WHERE token_id = \(tokenID) AND key = \(key)
            """, logger: logger)
        guard let (hash, status, location, etag, body) = try await rows.decode((ByteBuffer, Int16, String?, String?, ByteBuffer).self).firstElement() else {
            return nil
        }
        return StoredReply(requestHash: Array(hash.readableBytesView), status: Int(status), location: location, etag: etag,
                           body: Data(body.readableBytesView))
    }

    /// Stores the first reply under this token and key, in the write's own transaction. A
    /// concurrent request with the same key makes this fail with a conflict on `api_idempotency_pkey`.
    public func store(_ reply: StoredReply, tokenID: Int, key: String) async throws {
        try await c.query("""
            INSERT INTO api_idempotency (token_id, key, request_hash, status, location, etag, body)
            VALUES (\(tokenID), \(key), \(ByteBuffer(bytes: reply.requestHash)), \(Int16(reply.status)), \(reply.location), \(reply.etag),
                    \(ByteBuffer(bytes: reply.body)))
            """, logger: logger)
    }

    /// Deletes replies older than `retention`: a retry comes within minutes, not days.
    public func prune(olderThan retention: Duration) async throws {
        let seconds = Int(retention.components.seconds)
        try await c.query("DELETE FROM api_idempotency WHERE created_at < now() - make_interval(secs => \(seconds))", logger: logger)
    }
}
