import PostgresNIO
import RegistryDomain

/// Which stored row version a record is at (its ETag), for corrections that must not overwrite a
/// change they have not seen.
public enum VersionedRecord: String, Sendable {
    case visit, adverseEvent = "adverse_event", administration, patient, statusChange = "patient_status_change"
}

/// Which stored version records are at.
public struct RecordVersions: Repository {
    let tx: Transaction

    /// The stored version of a record (its row's transaction id, which every update changes), or
    /// nil when there is no such record. With `lock`, the row stays locked until the transaction
    /// ends, so a version compared now is still the version when the correction writes.
    public func version<Record>(of record: VersionedRecord, id: Tagged<Record, Int>, lock: Bool = false) async throws -> String? {
        try await c.query("""
            SELECT xmin::text FROM \(unescaped: record.rawValue) WHERE id = \(id) \(unescaped: lock ? "FOR UPDATE" : "")
            """, logger: logger).decode(String.self).firstElement()
    }
}
