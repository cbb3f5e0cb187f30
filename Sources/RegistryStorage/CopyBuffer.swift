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
        if value < 0 { buffer.writeInteger(UInt8(ascii: "-")) }
        // Digits straight into the buffer: a String per number was a measurable share of a bulk load.
        var rest = value.magnitude
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var n = 20
            repeat {
                n -= 1
                digits[n] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            } while rest > 0
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(digits)[n...]))
        }
    }

    /// Appends a text field, escaping what COPY's text format needs escaped. Text with nothing to
    /// escape (nearly all of it) is copied in one piece: byte by byte cost a bulk load a tenth of
    /// its client time.
    public mutating func add(_ value: String) {
        separator()
        var value = value
        value.withUTF8 { bytes in
            guard bytes.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") }) else {
                buffer.writeBytes(bytes)
                return
            }
            for byte in bytes {
                switch byte {
                case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
                case UInt8(ascii: "\t"): buffer.writeStaticString("\\t")
                case UInt8(ascii: "\n"): buffer.writeStaticString("\\n")
                case UInt8(ascii: "\r"): buffer.writeStaticString("\\r")
                default: buffer.writeInteger(byte)
                }
            }
        }
    }

    /// Appends a bytea field in hex form (`\x` and two hex digits a byte, the backslash escaped
    /// for COPY).
    public mutating func add(bytea bytes: some Sequence<UInt8>) {
        separator()
        buffer.writeStaticString("\\\\x")
        for byte in bytes {
            buffer.writeInteger(Self.hexDigits[Int(byte >> 4)])
            buffer.writeInteger(Self.hexDigits[Int(byte & 0xF)])
        }
    }
    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

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
