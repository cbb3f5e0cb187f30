import Foundation
import NIOCore
import PostgresNIO
import RegistryDomain

/// Export formats for the audit trail.
public enum AuditExportFormat: String, CaseIterable, Sendable {
    /// RFC 4180 CSV with a header row; NULL is an empty field.
    case csv
    /// One JSON object per line; NULL is null, before/after are embedded as JSON.
    case jsonl

    /// Parses a format name, naming `field` and the allowed values when it is not one.
    public init(_ text: String, field: String = "format") throws(RegistryError) {
        guard let format = Self(rawValue: text.lowercased()) else {
            throw .invalid(field, "'\(text)' is not an export format; allowed: \(Self.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self = format
    }
}

/// Which audit rows to export; every filter given must hold.
public struct AuditExportFilter: Sendable {
    /// Rows about this institution's records (its own row, its plans, patients, administrations, follow-ups).
    public var institutionCode: String?
    /// Rows about this patient's records.
    public var patientID: PatientID?
    /// Rows written on or after this date, Asia/Seoul calendar.
    public var since: LocalDate?

    public init(institutionCode: String? = nil, patientID: PatientID? = nil, since: LocalDate? = nil) {
        self.institutionCode = institutionCode; self.patientID = patientID; self.since = since
    }
}

/// A checked export: the filter resolved against the registry, ready to stream. Made in two steps
/// so that a refused filter (unknown institution) is reported before any output file is created.
public struct AuditExport: Sendable {
    /// The columns, in order, of both formats.
    public static let columns = ["id", "at", "actor", "action", "entity", "entity_id", "institution_id", "patient_id",
                                 "before", "after", "reason", "content_hash", "chain_hash"]

    let database: Database
    let query: PostgresQuery

    /// Resolves the filter: an unknown institution code or patient id is refused, naming its option.
    public static func prepare(_ database: Database, filter: AuditExportFilter) async throws -> AuditExport {
        var conditions: [String] = []
        var binds = PostgresBindings()
        if let code = filter.institutionCode {
            let id = try await database.read { tx in try await tx.institutions.id(code: code) }
            binds.append(id)
            conditions.append("a.institution_id = $\(binds.count)")
        }
        if let patient = filter.patientID {
            do {
                _ = try await database.read { tx in try await tx.patients.patient(id: patient) }
            } catch var error as RegistryError where error.code == .notFound {
                error.remedy = .enrolment
                throw error
            }
            binds.append(patient)
            conditions.append("a.patient_id = $\(binds.count)")
        }
        if let since = filter.since {
            binds.append(since)
            conditions.append("a.at >= ($\(binds.count)::date)::timestamp AT TIME ZONE 'Asia/Seoul'")
        }
        // The column list is fixed here and in bench-audit's COPY; only values are bound.
        let sql = """
            SELECT a.id, a.at, a.actor, a.action, a.entity, a.entity_id, a.institution_id, a.patient_id,
                   a.before, a.after, a.reason, a.content_hash, c.chain_hash
            FROM audit_log a LEFT JOIN audit_chain c ON c.audit_id = a.id
            \(conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "))
            ORDER BY a.id
            """
        return AuditExport(database: database, query: PostgresQuery(unsafeSQL: sql, binds: binds))
    }

    /// Streams the rows to `fileDescriptor` in `format` and returns how many it wrote. Memory stays
    /// flat whatever the size: rows are rendered straight from the wire into one reusable buffer,
    /// written out every 256 KiB.
    public func write(_ format: AuditExportFormat, to fileDescriptor: Int32) async throws -> Int {
        var out = AuditRecordWriter(format: format, fileDescriptor: fileDescriptor)
        try out.header()
        let count = try await database.read { tx in
            let c = tx.connection
            var count = 0
            for try await row in try await c.query(query, logger: database.logger) {
                try out.row(row)
                count += 1
            }
            return count
        }
        try out.flush()
        return count
    }
}

/// Renders audit rows as CSV or JSON Lines, bytes in, bytes out: text columns are copied from the
/// row's binary cells as they are (PostgreSQL sends text as UTF-8), with only the quoting each
/// format needs, and times are formatted by arithmetic rather than a formatter.
struct AuditRecordWriter {
    let format: AuditExportFormat
    let fileDescriptor: Int32
    private var bytes: [UInt8] = []
    private var dayCache: (day: Int64, text: [UInt8]) = (Int64.min, [])
    static let flushAt = 256 << 10

    init(format: AuditExportFormat, fileDescriptor: Int32) {
        self.format = format
        self.fileDescriptor = fileDescriptor
        bytes.reserveCapacity(Self.flushAt + (64 << 10))
    }

    mutating func header() throws {
        if format == .csv {
            bytes.append(contentsOf: AuditExport.columns.joined(separator: ",").utf8)
            bytes.append(UInt8(ascii: "\n"))
        }
    }

    // Column indexes in AuditExport's query.
    private enum Kind { case int, time, text, json, hash }
    private static let kinds: [Kind] = [.int, .time, .text, .text, .text, .int, .int, .int, .json, .json, .text, .hash, .hash]
    private static let jsonKeys: [[UInt8]] = AuditExport.columns.enumerated().map { i, name in
        Array(((i == 0 ? "{\"" : ",\"") + name + "\":").utf8)
    }

    mutating func row(_ row: PostgresRow) throws {
        var index = 0
        for cell in row {
            guard index < Self.kinds.count else { break }
            let kind = Self.kinds[index]
            if format == .csv {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
            } else {
                bytes.append(contentsOf: Self.jsonKeys[index])
            }
            if var value = cell.bytes {
                switch kind {
                case .int:
                    appendInteger(value.readInteger(as: Int64.self) ?? 0)
                case .time:
                    appendTime(value.readInteger(as: Int64.self) ?? 0)
                case .text:
                    appendText(value)
                case .json:
                    // jsonb in binary is a version byte, then the JSON text.
                    if cell.dataType == .jsonb && cell.format == .binary { value.moveReaderIndex(forwardBy: 1) }
                    if format == .csv { appendCSV(value, alwaysQuote: true) } else { append(value) }
                case .hash:
                    if format == .jsonl { bytes.append(UInt8(ascii: "\"")) }
                    appendHex(value)
                    if format == .jsonl { bytes.append(UInt8(ascii: "\"")) }
                }
            } else if format == .jsonl {
                bytes.append(contentsOf: Self.null)
            }
            index += 1
        }
        bytes.append(contentsOf: format == .csv ? Self.csvEnd : Self.jsonEnd)
        if bytes.count >= Self.flushAt { try flush() }
    }
    private static let null = Array("null".utf8), csvEnd: [UInt8] = [UInt8(ascii: "\n")], jsonEnd = Array("}\n".utf8)

    /// Writes what is buffered, all of it, retrying short writes and interruptions.
    mutating func flush() throws {
        let fd = fileDescriptor
        try bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw RegistryError.invalid("out", "cannot write the export: \(String(cString: strerror(errno)))")
                }
                offset += n
            }
        }
        bytes.removeAll(keepingCapacity: true)
    }

    private mutating func append(_ value: ByteBuffer) {
        value.withUnsafeReadableBytes { bytes.append(contentsOf: $0) }
    }

    private mutating func appendText(_ value: ByteBuffer) {
        if format == .csv { appendCSV(value, alwaysQuote: false) } else { appendJSONString(value) }
    }

    /// RFC 4180: a field with a comma, quote or line break is quoted, with quotes doubled.
    private mutating func appendCSV(_ value: ByteBuffer, alwaysQuote: Bool) {
        value.withUnsafeReadableBytes { raw in
            let needsQuotes = alwaysQuote || raw.contains { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") }
            guard needsQuotes else { bytes.append(contentsOf: raw); return }
            bytes.append(UInt8(ascii: "\""))
            var start = 0
            for (i, byte) in raw.enumerated() where byte == UInt8(ascii: "\"") {
                bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[start...i]))
                bytes.append(UInt8(ascii: "\""))
                start = i + 1
            }
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[start...]))
            bytes.append(UInt8(ascii: "\""))
        }
    }

    /// A JSON string: quote, backslash and control characters escaped; UTF-8 passes through.
    private mutating func appendJSONString(_ value: ByteBuffer) {
        bytes.append(UInt8(ascii: "\""))
        value.withUnsafeReadableBytes { raw in
            var start = 0
            for (i, byte) in raw.enumerated() where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[start..<i]))
                switch byte {
                case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
                case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
                case UInt8(ascii: "\n"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
                case UInt8(ascii: "\r"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
                case UInt8(ascii: "\t"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
                default:
                    bytes.append(contentsOf: Array("\\u00".utf8))
                    bytes.append(Self.hexDigits[Int(byte >> 4)]); bytes.append(Self.hexDigits[Int(byte & 0xF)])
                }
                start = i + 1
            }
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[start...]))
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    private mutating func appendHex(_ value: ByteBuffer) {
        value.withUnsafeReadableBytes { raw in
            for byte in raw {
                bytes.append(Self.hexDigits[Int(byte >> 4)])
                bytes.append(Self.hexDigits[Int(byte & 0xF)])
            }
        }
    }

    private mutating func appendInteger(_ value: Int64) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var v = value.magnitude
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = 0
        withUnsafeMutableBytes(of: &digits) { d in
            repeat { d[19 - n] = UInt8(48 + v % 10); v /= 10; n += 1 } while v > 0
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: d[(20 - n)...]))
        }
    }

    /// timestamptz in binary is microseconds since 2000-01-01 00:00 UTC. Printed in Seoul time,
    /// ISO 8601 with its offset: Korea has kept +09:00 without summer time since 1988, and the
    /// registry holds nothing older than 2020.
    private mutating func appendTime(_ micros: Int64) {
        let local = micros + Int64(LocalDate.seoulOffsetSeconds) * 1_000_000
        let perDay: Int64 = 86_400_000_000
        var day = local / perDay, rest = local % perDay
        if rest < 0 { day -= 1; rest += perDay }
        if dayCache.day != day {
            let c = LocalDate(dayNumber: Int(day)).components
            var text: [UInt8] = []
            Self.digits(&text, c.year, 4); text.append(UInt8(ascii: "-")); Self.digits(&text, c.month, 2); text.append(UInt8(ascii: "-")); Self.digits(&text, c.day, 2)
            text.append(UInt8(ascii: "T"))
            dayCache = (day, text)
        }
        if format == .jsonl { bytes.append(UInt8(ascii: "\"")) }
        bytes.append(contentsOf: dayCache.text)
        let seconds = Int(rest / 1_000_000), fraction = Int(rest % 1_000_000)
        Self.digits(&bytes, seconds / 3600, 2); bytes.append(UInt8(ascii: ":"))
        Self.digits(&bytes, seconds / 60 % 60, 2); bytes.append(UInt8(ascii: ":"))
        Self.digits(&bytes, seconds % 60, 2); bytes.append(UInt8(ascii: "."))
        Self.digits(&bytes, fraction, 6)
        bytes.append(contentsOf: Self.seoulOffset)
        if format == .jsonl { bytes.append(UInt8(ascii: "\"")) }
    }
    private static let seoulOffset = Array("+09:00".utf8)

    private static func digits(_ out: inout [UInt8], _ value: Int, _ width: Int) {
        var divisor = 1
        for _ in 1..<width { divisor *= 10 }
        var v = value
        while divisor > 0 { out.append(UInt8(48 + v / divisor % 10)); v %= divisor; divisor /= 10 }
    }
}
