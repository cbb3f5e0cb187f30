import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import RegistryDomain
import RegistryStorage

/// Idempotent writes: a POST (or PATCH) with an `Idempotency-Key` stores its first successful
/// response in the same transaction as its write; a retry with the same key and the same request
/// gets that response back (`Idempotent-Replayed: true`) and writes nothing. The same key with a
/// different request is refused. Refusals are not stored: they wrote nothing, so a retry is
/// simply tried again.
enum Idempotency {
    static let header = HTTPField.Name("Idempotency-Key")!

    /// The key of a request, checked: 1–200 visible ASCII characters.
    static func key(of request: Request) throws -> String? {
        guard let key = request.headers[header] else { return nil }
        guard (1...200).contains(key.utf8.count), key.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7e }) else {
            throw Problem(.invalidParameter, detail: "Idempotency-Key must be 1 to 200 visible ASCII characters, e.g. a UUID",
                          errors: [.parameter("Idempotency-Key", "not a usable key")])
        }
        return key
    }

    /// What identifies "the same request": method, path with query, and body.
    static func hash(of request: Request, body: ByteBuffer) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: Data("\(request.method.rawValue) \(request.uri.description)\n".utf8))
        hasher.update(data: Data(body.readableBytesView))
        return Array(hasher.finalize())
    }

    /// Runs `write` in the grant's scoped transaction, once per key.
    static func perform(key: String?, requestHash: [UInt8], grant: TokenGrant, database: Database,
                        _ write: @Sendable (Transaction) async throws -> Reply) async throws -> Reply {
        guard let key else {
            return try await database.transaction(actor: grant.actor, scope: grant.scope, writes: true) { tx in try await write(tx) }
        }
        do {
            return try await database.transaction(actor: grant.actor, scope: grant.scope, writes: true) { tx in
                // Retries with the same key wait here for the first to finish, then replay its
                // reply: without the wait, a retry arriving while the first was still running ran
                // the write again and was refused by what the first had done (409 "already completed").
                try await tx.idempotentReplies.lock(tokenID: grant.tokenID, key: key)
                if let stored = try await stored(tx, tokenID: grant.tokenID, key: key, requestHash: requestHash) { return stored }
                let reply = try await write(tx)
                try await tx.idempotentReplies.store(StoredReply(requestHash: requestHash, status: Int(reply.status.code), location: reply.location,
                                                                 etag: reply.etag, body: reply.body),
                                                     tokenID: grant.tokenID, key: key)
                return reply
            }
        } catch let error as RegistryError where error.code == .conflict && error.field == "api_idempotency_pkey" {
            // A concurrent request with this key committed first; ours rolled back. Answer as it did.
            return try await database.transaction(actor: grant.actor, scope: grant.scope) { tx in
                guard let stored = try await stored(tx, tokenID: grant.tokenID, key: key, requestHash: requestHash) else { throw error }
                return stored
            }
        }
    }

    /// The stored reply for this key, replayed; refused when the key was used for another request.
    static func stored(_ tx: Transaction, tokenID: Int, key: String, requestHash: [UInt8]) async throws -> Reply? {
        guard let stored = try await tx.idempotentReplies.stored(tokenID: tokenID, key: key) else { return nil }
        guard stored.requestHash == requestHash else {
            throw Problem(.idempotencyKeyReused, detail: "Idempotency-Key '\(key)' was already used by this token for a different request",
                          hint: "use a new key for each new record; reuse a key only to retry exactly the same request",
                          errors: [.parameter("Idempotency-Key", "already used for a different request")])
        }
        var reply = Reply(status: .init(code: stored.status), body: stored.body, location: stored.location, etag: stored.etag)
        reply.replayed = true
        return reply
    }
}
