import NIOCore
import PostgresNIO
import RegistryDomain
import Tagged

// A typed id (`PatientID`, `FollowUpID`, ...) is stored, bound and read as the bigint it wraps, alone
// or in an array. The members are written out because Tagged is also Codable and RawRepresentable,
// for which postgres-nio has defaults (jsonb, and a throwing encode) that must not apply.
extension Tagged: @retroactive PostgresThrowingDynamicTypeEncodable, @retroactive PostgresDynamicTypeEncodable,
    @retroactive PostgresEncodable, @retroactive PostgresNonThrowingEncodable where RawValue == Int {
    public static var psqlType: PostgresDataType { Int.psqlType }
    public static var psqlFormat: PostgresFormat { Int.psqlFormat }

    public func encode<E: PostgresJSONEncoder>(into byteBuffer: inout ByteBuffer, context: PostgresEncodingContext<E>) {
        rawValue.encode(into: &byteBuffer, context: context)
    }
}

extension Tagged: @retroactive PostgresDecodable where RawValue == Int {
    public init<D: PostgresJSONDecoder>(from buffer: inout ByteBuffer, type: PostgresDataType, format: PostgresFormat,
                                        context: PostgresDecodingContext<D>) throws {
        self.init(rawValue: try Int(from: &buffer, type: type, format: format, context: context))
    }
}

extension Tagged: @retroactive PostgresArrayEncodable where RawValue == Int {
    public static var psqlArrayType: PostgresDataType { Int.psqlArrayType }
}

extension Tagged: @retroactive PostgresArrayDecodable where RawValue == Int {}
