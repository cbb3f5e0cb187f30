import Logging
import NIOCore
import PostgresNIO
import RegistryDomain

/// Rows in PostgreSQL's COPY text format, written straight into a byte buffer: the bulk path for
/// imports and the demo (PostgresNIO's copyFrom takes text format only).
public struct CopyBuffer: Sendable {
    /// The encoded rows so far.
    public private(set) var buffer: ByteBuffer
    /// How many rows were ended.
    public private(set) var rows = 0
    private var fieldsInRow = 0

    public init(capacity: Int = 1 << 20) { buffer = ByteBufferAllocator().buffer(capacity: capacity) }

    private mutating func separator() {
        if fieldsInRow > 0 { buffer.writeInteger(UInt8(ascii: "\t")) }
        fieldsInRow += 1
    }

    /// Appends an integer field.
    public mutating func add(_ value: Int) {
        separator()
        buffer.writeString(String(value))
    }

    /// Appends a text field, escaping what COPY's text format needs escaped.
    public mutating func add(_ value: String) {
        separator()
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
            case UInt8(ascii: "\t"): buffer.writeStaticString("\\t")
            case UInt8(ascii: "\n"): buffer.writeStaticString("\\n")
            case UInt8(ascii: "\r"): buffer.writeStaticString("\\r")
            default: buffer.writeInteger(byte)
            }
        }
    }

    /// Appends a date field as YYYY-MM-DD without going through a formatter.
    public mutating func add(_ date: LocalDate) {
        separator()
        let c = date.components
        func digits(_ v: Int, _ n: Int) {
            var d = 1
            for _ in 1..<n { d *= 10 }
            var v = v
            while d > 0 { buffer.writeInteger(UInt8(48 + v / d)); v %= d; d /= 10 }
        }
        digits(c.year, 4); buffer.writeInteger(UInt8(ascii: "-")); digits(c.month, 2); buffer.writeInteger(UInt8(ascii: "-")); digits(c.day, 2)
    }

    /// Appends an optional date (NULL when absent).
    public mutating func add(_ date: LocalDate?) {
        if let date { add(date) } else { addNull() }
    }

    /// Appends a NULL field.
    public mutating func addNull() {
        separator()
        buffer.writeStaticString("\\N")
    }

    /// Ends the current row.
    public mutating func endRow() {
        buffer.writeInteger(UInt8(ascii: "\n"))
        fieldsInRow = 0
        rows += 1
    }

    /// Sends the rows with `COPY table (columns) FROM STDIN` on an open connection.
    public func copy(into table: String, columns: [String], on connection: PostgresConnection, logger: Logger) async throws {
        let data = buffer
        try await connection.copyFrom(table: table, columns: columns, logger: logger) { writer in
            // Chunks of 1 MiB keep each CopyData message a reasonable size.
            var rest = data
            while rest.readableBytes > 0, let slice = rest.readSlice(length: min(rest.readableBytes, 1 << 20)) {
                try await writer.write(slice)
            }
        }
    }
}
