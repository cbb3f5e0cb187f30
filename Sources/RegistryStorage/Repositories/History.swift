import Foundation
import PostgresNIO
import RegistryDomain

/// One change made with a reason to a patient's records (a correction, a void, a status change and
/// what followed from it), as the audit trail holds it: when, by whom, which kinds of record, why.
public struct RecordChange: Sendable, Equatable {
    public var at: Date
    public var actor: String
    /// The kinds of record the change wrote (`visit`, `follow_up`, ...), in the order first written.
    public var entities: [String]
    public var rows: Int
    public var reason: String
}

/// A patient's history of reasoned changes, read from the audit trail. The audit trail is outside
/// row-level security: callers check first that the patient is theirs to see.
public struct History: Repository {
    let tx: Transaction

    /// The changes with a reason to `patientID`'s records, newest first, one per transaction.
    public func changes(patientID: PatientID, limit: Int = 100) async throws -> [RecordChange] {
        let rows = try await c.query("""
            SELECT min(at), actor, reason, count(*)::int,
                   array_to_string(array_agg(entity ORDER BY id) FILTER (WHERE entity IS NOT NULL), ',')
            FROM audit_log
            WHERE patient_id = \(patientID.rawValue) AND coalesce(reason, '') <> ''
            GROUP BY tx, actor, reason
            ORDER BY min(id) DESC LIMIT \(limit)
            """, logger: logger)
        var out: [RecordChange] = []
        for try await (at, actor, reason, count, entities) in rows.decode((Date, String, String, Int, String).self) {
            var seen: [String] = []
            for e in entities.split(separator: ",").map(String.init) where !seen.contains(e) { seen.append(e) }
            out.append(RecordChange(at: at, actor: actor, entities: seen, rows: count, reason: reason))
        }
        return out
    }
}

extension Transaction {
    /// A patient's history of reasoned changes (the audit trail; outside row-level security).
    public var history: History { History(tx: self) }
}
