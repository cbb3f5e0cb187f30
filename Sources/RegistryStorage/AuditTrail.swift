import Crypto
import Foundation
import Logging
import NIOCore
import PostgresNIO
import RegistryDomain

/// The audit trail's hash chain: sealing new audit rows into it, and verifying the whole trail.
///
/// Each audit row carries `content_hash`, computed in SQL by `audit_content_hash()`. The chain
/// links the rows in id order: `chain(i) = SHA-256(chain(i-1) ‖ id(i) as int8 big-endian ‖
/// content_hash(i))` from 32 zero bytes, stored in `audit_chain`, with the head and how far it
/// reaches in the one-row `audit_seal`. Rewriting a row and its content hash breaks the chain at
/// that row; removing a row breaks it at the next one. Hashing runs here, in Swift, in bulk: a
/// per-row trigger would serialise every writer on the chain head.
public enum AuditTrail {
    /// Taken shared by `audit_changes()` in every audit-writing transaction (schema/0001), and
    /// exclusively by the sealer for a moment. "AUDITWRT" as an int8.
    static let writersLockKey: Int64 = 0x4155_4449_5457_5254
    /// Serialises sealers. "AUDITSEL" as an int8.
    static let sealerLockKey: Int64 = 0x4155_4449_5453_454C
    /// Who the audit trail records for the seal's own writes.
    static let sealActor = "registry audit seal"
    /// The chain's start: the "previous hash" of the first row.
    public static let genesis = [UInt8](repeating: 0, count: 32)

    /// How far a seal has got, for progress lines on long runs.
    public struct SealProgress: Sendable {
        /// Rows sealed so far in this run.
        public var sealed: Int
        /// Audit ids this run covers (an upper bound on the rows: ids of rolled-back rows are gaps).
        public var idsToSeal: Int
    }

    /// Extends the chain over every audit row whose id is final, and returns how many rows it
    /// sealed. Safe to run at any time, from any number of processes at once.
    ///
    /// First, in a short transaction, it takes the writers' lock exclusively: once granted, no
    /// transaction that drew audit ids is still running, so every id up to the sequence's last
    /// value (the horizon) is committed or rolled back for good. Then it seals up to the horizon in
    /// batches of `batchSize` rows, each one transaction that adds the links with COPY and advances
    /// `audit_seal`, under the sealers' own lock. `lockTimeout` bounds the wait for long-running
    /// writers (nil: wait as long as it takes); when it runs out nothing is sealed and a
    /// `conflict` error says so.
    @discardableResult
    public static func seal(_ database: Database, batchSize: Int = 100_000, lockTimeout: Duration? = nil,
                            progress: (@Sendable (SealProgress) -> Void)? = nil) async throws -> Int {
        let logger = database.logger
        let horizon: Int = try await lockWaitMapped {
            try await database.transaction(actor: sealActor) { tx in
                let c = tx.connection
                if let lockTimeout {
                    let ms = max(1, Int(lockTimeout.components.seconds * 1000 + lockTimeout.components.attoseconds / 1_000_000_000_000_000))
                    try await c.query("SELECT set_config('lock_timeout', \(String(ms)), true)", logger: logger)
                }
                try await c.query("SELECT pg_advisory_xact_lock(\(writersLockKey))", logger: logger)
                // NULL before the first audit row was ever drawn.
                return try await c.query("""
                    SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence('audit_log', 'id')::regclass), 0)
                    """, logger: logger).decode(Int.self).one("the audit id horizon")
            }
        }
        var sealed = 0
        var idsToSeal: Int?
        while true {
            let batch = try await database.transaction(actor: sealActor) { tx in
                try await sealBatch(upTo: horizon, limit: batchSize, connection: tx.connection, logger: logger)
            }
            if idsToSeal == nil { idsToSeal = max(0, horizon - batch.floor) }
            sealed += batch.rows
            if batch.rows > 0 { progress?(SealProgress(sealed: sealed, idsToSeal: idsToSeal ?? 0)) }
            if batch.reachedHorizon { return sealed }
        }
    }

    /// How far the chain reaches: the highest sealed audit id and the chain head, hex.
    public struct SealState: Sendable, Codable, Equatable {
        public var sealedThrough: Int
        public var head: String
    }

    /// Reads the seal as it stands.
    public static func sealState(_ database: Database) async throws -> SealState {
        try await database.read { tx in
            guard let (through, head) = try await tx.connection.query("SELECT sealed_through, head FROM audit_seal", logger: database.logger)
                .decode((Int, ByteBuffer).self).firstElement() else {
                throw RegistryError(.configuration, "the audit seal row is missing", remedy: .migrate)
            }
            return SealState(sealedThrough: through, head: hex(head.readableBytesView))
        }
    }

    /// One batch: the next `limit` rows after the seal's floor, up to `horizon`. Returns the floor
    /// it started from, the rows it sealed, and whether the seal now reaches the horizon.
    private static func sealBatch(upTo horizon: Int, limit: Int, connection c: PostgresConnection,
                                  logger: Logger) async throws -> (floor: Int, rows: Int, reachedHorizon: Bool) {
        try await c.query("SELECT pg_advisory_xact_lock(\(sealerLockKey))", logger: logger)
        guard let (floor, headBuffer) = try await c.query("SELECT sealed_through, head FROM audit_seal FOR UPDATE", logger: logger)
            .decode((Int, ByteBuffer).self).firstElement() else {
            throw RegistryError(.configuration, "the audit seal row is missing", remedy: .migrate)
        }
        // Another sealer got here first and went at least as far.
        guard floor < horizon else { return (floor, 0, true) }
        var head = Array(headBuffer.readableBytesView)
        var links = CopyBuffer(capacity: limit * 80)
        var lastID = floor
        for try await row in try await c.query("""
            SELECT id, content_hash FROM audit_log WHERE id > \(floor) AND id <= \(horizon) ORDER BY id LIMIT \(limit)
            """, logger: logger) {
            let (id, contentHash) = try row.decode((Int, ByteBuffer).self)
            head = link(previous: head, id: id, contentHash: contentHash)
            links.add(id)
            links.add(bytea: head)
            links.endRow()
            lastID = id
        }
        // Fewer rows than asked for: everything up to the horizon is sealed, gaps included.
        let reached = links.rows < limit
        let through = reached ? horizon : lastID
        if links.rows > 0 {
            try await links.copy(into: "audit_chain", columns: ["audit_id", "chain_hash"], on: c, logger: logger)
        }
        try await c.query("UPDATE audit_seal SET sealed_through = \(through), head = \(ByteBuffer(bytes: head)), sealed_at = now()", logger: logger)
        return (floor, links.rows, reached)
    }

    /// The chain hash of a row: SHA-256 of the previous row's chain hash, the row's id as int8
    /// big-endian, and its content hash.
    public static func link(previous: [UInt8], id: Int, contentHash: ByteBuffer) -> [UInt8] {
        var hasher = SHA256()
        previous.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        withUnsafeBytes(of: Int64(id).bigEndian) { hasher.update(bufferPointer: $0) }
        contentHash.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
        return Array(hasher.finalize())
    }

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        var out = ""
        out.reserveCapacity(64)
        for byte in bytes {
            out.unicodeScalars.append(hexDigits[Int(byte >> 4)])
            out.unicodeScalars.append(hexDigits[Int(byte & 0xF)])
        }
        return out
    }
    private static let hexDigits: [Unicode.Scalar] = Array("0123456789abcdef".unicodeScalars)

    /// Turns a lock wait that ran out into a refusal a user can act on.
    private static func lockWaitMapped<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "55P03" {
            throw RegistryError.conflict(nil, "audit rows are being written by a transaction that is still running, so the trail cannot be sealed yet",
                                         remedy: .sealAgain)
        }
    }

    // MARK: verification

    /// The first audit row found altered, and how.
    public struct Break: Sendable, Codable, Equatable, CustomStringConvertible {
        /// How the row fails its check.
        public enum Kind: String, Sendable, Codable {
            /// Its content no longer hashes to its content_hash.
            case content
            /// Its chain hash does not follow from the row before and its content hash: it, or a
            /// row sealed before it, was changed, inserted or removed.
            case chain
            /// It lies within the sealed range but has no link: it was inserted afterwards, or its
            /// link was removed.
            case missingLink = "missing-link"
            /// The chain ends at this row, but the seal records a later head: rows sealed after it
            /// were removed.
            case removedAfter = "removed-after"
        }
        /// The audit row's id.
        public var id: Int
        /// The table of the record the audit row is about.
        public var entity: String
        /// That record's id.
        public var entityID: Int
        /// What failed.
        public var kind: Kind

        public init(id: Int, entity: String, entityID: Int, kind: Kind) {
            self.id = id; self.entity = entity; self.entityID = entityID; self.kind = kind
        }

        public var description: String {
            switch kind {
            case .content:
                "audit row \(id) (\(entity) \(entityID)) was altered: its content no longer matches its hash"
            case .chain:
                "audit row \(id) (\(entity) \(entityID)) was altered: its link in the hash chain is broken (this row, or one sealed before it, was changed or removed)"
            case .missingLink:
                "audit row \(id) (\(entity) \(entityID)) was altered: it lies in the sealed part of the trail but has no link in the hash chain"
            case .removedAfter:
                id == 0 ? "every sealed audit row was removed: the seal records a chain head but no rows remain"
                    : "audit rows sealed after row \(id) (\(entity) \(entityID)) were removed: the chain ends there but the seal records a later head"
            }
        }
    }

    /// What `verify` found.
    public struct Verification: Sendable, Codable, Equatable {
        /// Audit rows checked (all of them when the trail is intact).
        public var checked: Int
        /// Rows checked that are not sealed yet: their content was checked, not their place in the chain.
        public var unsealed: Int
        /// The highest sealed audit id.
        public var sealedThrough: Int
        /// The chain head the seal records, hex: publish it elsewhere to anchor the trail.
        public var head: String
        /// The first altered row, or nil when the trail is intact.
        public var firstBreak: Break?
        /// Whether every row checked out.
        public var intact: Bool { firstBreak == nil }
    }

    /// Walks every audit row in id order, in one snapshot and constant memory: recomputes its
    /// content hash in SQL with the same `audit_content_hash()` the trigger used, and its chain
    /// hash here. Stops at the first altered row.
    public static func verify(_ database: Database) async throws -> Verification {
        let logger = database.logger
        // One snapshot for the seal and the rows, so a seal running meanwhile cannot confuse it.
        return try await database.read(isolation: .repeatableRead) { tx in
            try await verify(connection: tx.connection, logger: logger)
        }
    }

    private static func verify(connection c: PostgresConnection, logger: Logger) async throws -> Verification {
        guard let (floor, sealedHead) = try await c.query("SELECT sealed_through, head FROM audit_seal", logger: logger)
            .decode((Int, ByteBuffer).self).firstElement() else {
            throw RegistryError(.configuration, "the audit seal row is missing", remedy: .migrate)
        }
        var result = Verification(checked: 0, unsealed: 0, sealedThrough: floor, head: hex(sealedHead.readableBytesView), firstBreak: nil)
        var head = genesis
        // The last sealed row seen, kept (a reference, no copy) only to name it if rows after it are gone.
        var lastSealed: PostgresRow?
        let rows = try await c.query("""
            SELECT a.id, a.content_hash,
                   audit_content_hash(a.at, a.tx, a.actor, a.action, a.entity, a.entity_id, a.institution_id,
                                      a.patient_id, a.before, a.after, a.reason),
                   c.chain_hash, a.entity, a.entity_id
            FROM audit_log a LEFT JOIN audit_chain c ON c.audit_id = a.id
            ORDER BY a.id
            """, logger: logger)
        func named(_ row: PostgresRow, _ kind: Break.Kind) throws -> Break {
            let cells = row.makeRandomAccess()
            return Break(id: try cells[0].decode(Int.self), entity: try cells[4].decode(String.self),
                         entityID: try cells[5].decode(Int.self), kind: kind)
        }
        for try await row in rows {
            // Raw cells: no decoding on the path every row takes.
            var cells = row.makeIterator()
            guard let idBytes = cells.next()?.bytes, let stored = cells.next()?.bytes,
                  let id = idBytes.getInteger(at: idBytes.readerIndex, as: Int64.self).map(Int.init) else {
                throw RegistryError(.configuration, "an audit row without id or content hash; the schema is not what this build expects")
            }
            let recomputed = cells.next()?.bytes
            let chain = cells.next()?.bytes
            result.checked += 1
            if recomputed != stored {
                result.firstBreak = try named(row, .content)
                return result
            }
            guard id <= floor else {
                result.unsealed += 1
                continue
            }
            guard let chain else {
                result.firstBreak = try named(row, .missingLink)
                return result
            }
            head = link(previous: head, id: id, contentHash: stored)
            guard chain.readableBytesView.elementsEqual(head) else {
                result.firstBreak = try named(row, .chain)
                return result
            }
            lastSealed = row
        }
        // The walk ended on an intact chain; it must end where the seal says it does.
        if !sealedHead.readableBytesView.elementsEqual(head) {
            result.firstBreak = try lastSealed.map { try named($0, .removedAfter) } ?? Break(id: 0, entity: "", entityID: 0, kind: .removedAfter)
        }
        return result
    }
}
