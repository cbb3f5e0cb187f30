import Foundation
import RegistryDomain

/// How an import treats a file with rejected rows.
public enum ImportMode: String, Codable, Sendable {
    /// A file with any rejected row writes nothing (the default).
    case allOrNothing = "all-or-nothing"
    /// The valid rows are written and the rejected ones reported.
    case acceptValid = "accept-valid"
}

/// What an import is asked to do.
public struct ImportOptions: Sendable {
    public var kind: ImportKind
    /// The institution the file is for: rows without an institution column take it, rows naming
    /// another are refused. An institution's own import (a token, `--as-institution`) is always scoped.
    public var institution: String?
    public var mode: ImportMode
    /// Check everything and report what would be written; write nothing.
    public var dryRun: Bool
    /// The file's name as the user gave it, recorded with the import.
    public var fileName: String

    public init(kind: ImportKind, institution: String? = nil, mode: ImportMode = .allOrNothing, dryRun: Bool = false, fileName: String) {
        self.kind = kind; self.institution = institution; self.mode = mode; self.dryRun = dryRun; self.fileName = fileName
    }
}

/// One problem with one row: where (line and column), the value, and the message a single entry
/// of the same record would get.
public struct ImportReject: Codable, Sendable, Equatable {
    /// The line of the file (the header is line 1).
    public var line: Int
    /// The column as the file's header names it (nil: the row as a whole).
    public var column: String?
    /// The value in that column.
    public var value: String?
    /// The refusal's code (invalid, conflict, not-found...).
    public var code: String
    public var message: String
    public var hint: String?

    public init(line: Int, column: String?, value: String?, code: String, message: String, hint: String?) {
        self.line = line; self.column = column; self.value = value; self.code = code; self.message = message; self.hint = hint
    }
}

/// What an import did (or, in a dry run or a refused all-or-nothing import, would have done).
public struct ImportResult: Codable, Sendable {
    public var kind: ImportKind
    public var file: String
    /// SHA-256 of the file's bytes.
    public var sha256: String
    public var mode: ImportMode
    public var dryRun: Bool
    /// Data rows read (the header aside).
    public var rows: Int
    /// Rows that were written (in a dry run or a refused import: that would have been written).
    public var written: Int
    /// Rows already in the registry (the same natural key): nothing to write.
    public var unchanged: Int
    /// Rows with at least one problem.
    public var rejectedRows: Int
    /// Whether anything was written: false for a dry run, and for an all-or-nothing import with rejected rows.
    public var committed: Bool
    /// The recorded import (`import_batch`), when committed.
    public var batch: Int?
    /// Every problem, in line order (at most `ImportResult.maxListed`; `rejects` says how many in all).
    public var rejects: [ImportReject]
    public var problems: Int
    public var seconds: Double

    /// The most problems listed in one result; the count goes on.
    public static let maxListed = 100_000

    /// The one-line summary for people.
    public var summary: String {
        let what = "\(rows) row\(rows == 1 ? "" : "s") of \(kind.rawValue) in \(file)"
        let counts = "\(written) new, \(unchanged) already in the registry, \(rejectedRows) rejected"
        if dryRun { return "dry run, nothing written: \(what): \(counts)" }
        if !committed { return "nothing written: \(what): \(counts); fix the rejected rows, or import with --accept-valid to write the valid ones" }
        return "imported \(what): \(counts) (import \(batch.map(String.init) ?? "-"))"
    }

    /// The rejects as CSV (UTF-8 with BOM, CRLF): line, column, value, code, message, hint.
    public func rejectsCSV() -> String {
        var out = "\u{FEFF}line,column,value,code,message,hint\r\n"
        for r in rejects {
            out += [String(r.line), r.column ?? "", r.value ?? "", r.code, r.message, r.hint ?? ""].map(Self.csvField).joined(separator: ",") + "\r\n"
        }
        return out
    }

    static func csvField(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

/// An import refused as a whole (an all-or-nothing import with rejected rows, or a dry run): the
/// transaction is rolled back and the result carried out.
struct ImportRolledBack: Error {
    var result: ImportResult
}
