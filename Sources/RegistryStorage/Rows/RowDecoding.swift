import NIOCore
import PostgresNIO
import RegistryDomain

// The domain's coded values are text columns. Each decodes through `StoredCode`, which throws a
// decoding error naming the column for a value the enum does not know: a bad row is an error the
// caller sees, never a crash. (postgres-nio's RawRepresentable support would do the same, but these
// enums are also Codable, which its JSON support claims as jsonb; `StoredCode` refines both, so its
// members win.)
extension Sex: StoredCode {}
extension PatientStatus: StoredCode {}
extension StatusChangeKind: StoredCode {}
extension RiskClass: StoredCode {}
extension PlanDecision: StoredCode {}
extension ProposalDecision: StoredCode {}
extension TokenRole: StoredCode {}
extension ContactType: StoredCode {}
extension FollowUpStatus: StoredCode {}
extension Modality: StoredCode {}
extension FollowUpClass: StoredCode {}
extension VitalStatus: StoredCode {}
extension VisitTiming: StoredCode {}
extension NotDoneReason: StoredCode {}
extension AdverseEventCategory: StoredCode {}
extension Relatedness: StoredCode {}
extension AdverseEventOutcome: StoredCode {}
extension InstitutionStatus: StoredCode {}
extension UserRole: StoredCode {}

/// A coded value stored as its raw text.
protocol StoredCode: PostgresNonThrowingEncodable, PostgresDecodable, RawRepresentable, Codable where RawValue == String {}

extension StoredCode {
    public static var psqlType: PostgresDataType { .text }
    public static var psqlFormat: PostgresFormat { .binary }

    public func encode<E: PostgresJSONEncoder>(into byteBuffer: inout ByteBuffer, context: PostgresEncodingContext<E>) {
        byteBuffer.writeString(rawValue)
    }

    public init<D: PostgresJSONDecoder>(from buffer: inout ByteBuffer, type: PostgresDataType, format: PostgresFormat,
                                        context: PostgresDecodingContext<D>) throws {
        let raw = try String(from: &buffer, type: type, format: format, context: context)
        guard let value = Self(rawValue: raw) else { throw PostgresDecodingError.Code.failure }
        self = value
    }
}

/// A stored value the domain refuses (a coded value it does not know, an impossible offset):
/// the database holds something the registry never writes.
public struct StoredValueError: Error, CustomStringConvertible, Sendable {
    /// The table and column, e.g. `protocol_time_point.offset_unit`.
    public var column: String
    /// The value as stored.
    public var value: String
    public var description: String { "\(column) holds '\(value)', which this version of the registry does not know" }
}

extension RawRepresentable where RawValue == String {
    /// The value stored in `column`, or a `StoredValueError` naming it.
    public static func stored(_ raw: String, column: String) throws -> Self {
        guard let value = Self(rawValue: raw) else { throw StoredValueError(column: column, value: raw) }
        return value
    }
}

/// A statement that always returns a row (an INSERT ... RETURNING, a row just locked) returned none.
public struct MissingRow: Error, CustomStringConvertible, Sendable {
    /// What was expected, e.g. `the inserted visit`.
    public var expected: String
    public var description: String { "the database returned no row for \(expected)" }
}

extension Array {
    /// The first element of a result that always has one, or `MissingRow`.
    func one(_ expected: String) throws -> Element {
        guard let first else { throw MissingRow(expected: expected) }
        return first
    }
}

extension AsyncSequence {
    /// The first element of a result that always has one, or `MissingRow`.
    public func one(_ expected: String) async throws -> Element {
        guard let element = try await firstElement() else { throw MissingRow(expected: expected) }
        return element
    }

    /// The first element, or nil for an empty sequence (a query's only row, or none).
    public func firstElement() async throws -> Element? {
        for try await element in self { return element }
        return nil
    }

    /// How many elements there are (an `UPDATE ... RETURNING 1`'s row count).
    public func count() async throws -> Int {
        var n = 0
        for try await _ in self { n += 1 }
        return n
    }
}
