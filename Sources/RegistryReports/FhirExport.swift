import Crypto
import Foundation
import PostgresNIO
import RegistryDomain
import RegistryStorage

/// Who asks for a FHIR export: an administrator (any institution's patients or all of them, with a
/// stated purpose and recipient), or an institution (the patients it holds, nobody else's).
public enum FhirExportRole: Sendable, Equatable {
    case admin
    /// An institution, by code: its export is always its own patients.
    case institution(String)

    var recorded: String { if case .admin = self { "admin" } else { "institution" } }
}

/// What a FHIR export is asked for, checked: the Bulk Data kick-off's `_type` and `_since`, whose
/// patients, and why and for whom (recorded with the pull).
public struct FhirExportRequest: Sendable {
    /// The resource types, in the export's order.
    public var types: [FhirResourceType]
    /// Only patients with a change in the audit trail after this instant (`_since`).
    public var since: Date?
    /// `_since` as given, for the record.
    public var sinceText: String?
    /// Only the patients this institution holds (code); nil: every patient (administrators only).
    public var institution: String?
    public var purpose: String
    public var recipient: String?
    public var role: FhirExportRole
    /// Who, as the audit trail names them (`cli:alice`, `api:token-7 (label)`).
    public var actor: String
    /// The manifest's `request`: the kick-off URL, or the command line.
    public var request: String

    /// Checks every value and refuses once, naming each field at fault: `type` (an unknown type
    /// named), `since` (not a FHIR instant), `purpose` and `recipient` (an administrator must give
    /// both), `institution` (an institution exports its own patients only: another code is forbidden).
    public init(types: String?, since: String?, institution: String?, purpose: String?, recipient: String?,
                role: FhirExportRole, actor: String, request: String) throws(RegistryError) {
        var checks = FieldChecks()
        let types = checks.check { () throws(RegistryError) in try Self.types(types) } ?? []
        let since = since.flatMap { text in checks.check { () throws(RegistryError) in try Self.instant(text) } }
        var institution = institution.flatMap { code in checks.check { () throws(RegistryError) in try Rules.institutionCode(code) } }
        var purpose = purpose.flatMap { text in checks.check { () throws(RegistryError) in try Rules.name(text, field: "purpose", maxLength: 500) } }
        let recipient = recipient.flatMap { text in checks.check { () throws(RegistryError) in try Rules.name(text, field: "recipient", maxLength: 200) } }
        switch role {
        case .admin:
            if purpose == nil && !checks.errors.contains(where: { $0.field == "purpose" }) {
                checks.refuse(.invalid("purpose", "an administrator's export needs a purpose: why the data leave the registry, recorded in the audit trail"))
            }
            if recipient == nil && !checks.errors.contains(where: { $0.field == "recipient" }) {
                checks.refuse(.invalid("recipient", "an administrator's export needs a recipient: who receives the data, recorded in the audit trail"))
            }
        case .institution(let own):
            if let asked = institution, asked != own {
                checks.refuse(RegistryError(.forbidden, field: "institution", "an institution exports the patients it holds only: \(own)'s, not \(asked)'s"))
            }
            institution = own
            purpose = purpose ?? "FHIR Bulk Data export of \(own)'s own patients"
        }
        try checks.finish()
        self.types = types
        self.since = since
        self.sinceText = sinceTextOf(since)
        self.institution = institution
        self.purpose = purpose!
        self.recipient = recipient
        self.role = role
        self.actor = actor
        self.request = request
    }

    /// `_type`: a comma list of resource types; none given (or empty) means every type.
    public static func types(_ text: String?) throws(RegistryError) -> [FhirResourceType] {
        guard let text, !text.trimmingCharacters(in: .whitespaces).isEmpty else { return FhirResourceType.allCases }
        var asked = Set<FhirResourceType>()
        for name in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !name.isEmpty {
            guard let type = FhirResourceType(rawValue: name) else {
                throw .invalid("type", "'\(name)' is not a resource type this registry exports; allowed: \(FhirResourceType.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            asked.insert(type)
        }
        return FhirResourceType.allCases.filter(asked.contains)
    }

    /// A FHIR instant (`2026-01-01T00:00:00Z`, `2026-01-01T09:00:00.000+09:00`): seconds and a time zone required.
    public static func instant(_ text: String) throws(RegistryError) -> Date {
        let shape = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = text.contains(".") ? [.withInternetDateTime, .withFractionalSeconds] : [.withInternetDateTime]
        guard text.wholeMatch(of: shape) != nil, let date = formatter.date(from: text) else {
            throw .invalid("since", "'\(text)' is not a FHIR instant; give a date and time with seconds and a time zone, e.g. 2026-01-01T00:00:00Z or 2026-01-01T09:00:00+09:00")
        }
        return date
    }
}

/// `_since` as the record shows it: UTC, to the millisecond.
private func sinceTextOf(_ date: Date?) -> String? {
    date.map { d in
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: d)
    }
}

/// How far an export has come, for a progress line or `X-Progress`.
public struct FhirExportProgress: Sendable {
    public var type: FhirResourceType
    /// 1-based position of `type` among the export's types, and how many there are.
    public var step: Int
    public var steps: Int
    /// Resources of `type` written so far, and of every type.
    public var written: Int
    public var total: Int
    /// Patients in the export.
    public var patients: Int

    /// One line: "Observation (7 of 9): 1,204 written, 5,310 in all, 300 patients".
    public var text: String {
        "\(type.rawValue) (\(step) of \(steps)): \(written) written, \(total) resources in all, \(patients) patients"
    }
}

/// What an export wrote.
public struct FhirExportResult: Sendable, Codable {
    /// One NDJSON file.
    public struct Output: Sendable, Codable, Equatable {
        public var type: String
        public var file: String
        public var count: Int
    }
    /// The snapshot the export read, as a FHIR instant (UTC): nothing changed after it is in the files.
    public var transactionTime: String
    /// The non-empty files, in the export's type order.
    public var output: [Output]
    /// The `report_pull` row recording the export.
    public var pull: Int
    /// SHA-256 of every file's bytes, in `output`'s order.
    public var checksum: String
    public var patients: Int
    public var resources: Int { output.reduce(0) { $0 + $1.count } }
}

/// The Bulk Data manifest (Bulk Data Access IG v2, "Response - Complete Status").
public struct FhirManifest: Encodable, Sendable {
    public struct File: Encodable, Sendable { public var type: String; public var url: String; public var count: Int }
    public var transactionTime: String
    public var request: String
    public var requiresAccessToken: Bool
    public var output: [File]
    public var error: [File]

    /// The manifest of `result`, each file's URL from `url` (given the file's name).
    public init(_ result: FhirExportResult, request: String, requiresAccessToken: Bool, url: (String) -> String) {
        transactionTime = result.transactionTime
        self.request = request
        self.requiresAccessToken = requiresAccessToken
        output = result.output.map { File(type: $0.type, url: url($0.file), count: $0.count) }
        error = []
    }

    /// As JSON, keys sorted, slashes unescaped.
    public func json() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
        return (try? encoder.encode(self)) ?? Data()
    }
}

/// The registry as FHIR R4 resources (docs/fhir.md): one NDJSON file per resource type, written as
/// PostgreSQL builds each resource (one statement per type in one REPEATABLE READ snapshot, rows
/// streamed and written in 64 KiB chunks, so memory does not grow with the registry), then the
/// export recorded in `report_pull` (report `fhir`, with its purpose, recipient and checksum).
/// The command line (`registry export fhir`) and the HTTP Bulk Data jobs (`FhirExportJobs`) both call it.
public enum FhirExport {
    /// Writes `request`'s resources into `directory` (created 0700 if missing; files 0600,
    /// `<Type>.ndjson`, an empty type's file removed), calling `progress` every 1,000 resources and
    /// at each type's start; records the pull. `progress` may throw to stop the export.
    public static func write(database: Database, request: FhirExportRequest, to directory: URL, today: LocalDate,
                             progress: (FhirExportProgress) async throws -> Void = { _ in }) async throws -> FhirExportResult {
        var hasher = SHA256()
        var outputs: [FhirExportResult.Output] = []
        var transactionTime = "", patients = 0, institutionID: Int? = nil
        try await database.read(isolation: .repeatableRead) { tx in
            let c = tx.connection
            if let code = request.institution { institutionID = try await tx.institutions.id(code: code) }
            // Made once the request is known to be answerable: a refusal leaves no folder behind.
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            transactionTime = try await c.query("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')", logger: database.logger)
                .decode(String.self).one("the transaction time")
            var binds = PostgresBindings()
            binds.append(institutionID)
            binds.append(request.since)
            patients = try await c.query(PostgresQuery(unsafeSQL: "SELECT count(*)::int FROM patient p WHERE \(FhirResources.scope)", binds: binds),
                                         logger: database.logger).decode(Int.self).one("the export's patients")
            var total = 0
            for (i, type) in request.types.enumerated() {
                let url = directory.appendingPathComponent(type.fileName)
                guard FileManager.default.createFile(atPath: url.path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                    throw RegistryError.invalid("out", "cannot write \(url.path)")
                }
                let handle = try FileHandle(forWritingTo: url)
                defer { try? handle.close() }
                var step = FhirExportProgress(type: type, step: i + 1, steps: request.types.count, written: 0, total: total, patients: patients)
                try await progress(step)
                var buffer = Data()
                buffer.reserveCapacity(1 << 17)
                func flush() throws {
                    hasher.update(data: buffer)
                    try handle.write(contentsOf: buffer)
                    buffer.removeAll(keepingCapacity: true)
                }
                let rows = try await c.query(PostgresQuery(unsafeSQL: FhirResources.sql(type), binds: binds), logger: database.logger)
                for try await line in rows.decode(String.self) {
                    buffer.append(contentsOf: line.utf8)
                    buffer.append(0x0A)
                    step.written += 1
                    step.total += 1
                    if buffer.count >= 1 << 16 { try flush() }
                    if step.written % 1000 == 0 { try await progress(step) }
                }
                if !buffer.isEmpty { try flush() }
                total = step.total
                if step.written == 0 {
                    try? FileManager.default.removeItem(at: url)
                } else {
                    outputs.append(.init(type: type.rawValue, file: type.fileName, count: step.written))
                }
            }
        }
        let checksum = Hex.string(hasher.finalize())
        let pull = try await record(database: database, request: request, institutionID: institutionID, outputs: outputs, checksum: checksum, today: today)
        return FhirExportResult(transactionTime: transactionTime, output: outputs, pull: pull, checksum: "sha256:\(checksum)", patients: patients)
    }

    /// Records the export in `report_pull`, audited as the actor with the purpose and recipient as the reason.
    static func record(database: Database, request: FhirExportRequest, institutionID: Int?, outputs: [FhirExportResult.Output],
                       checksum: String, today: LocalDate) async throws -> Int {
        struct Parameters: Encodable {
            var types: [String]
            var since: String?
            var institution: String?
            var counts: [String: Int]
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let parameters = String(decoding: try encoder.encode(Parameters(types: request.types.map(\.rawValue), since: request.sinceText,
                                                                        institution: request.institution,
                                                                        counts: Dictionary(uniqueKeysWithValues: outputs.map { ($0.type, $0.count) }))), as: UTF8.self)
        let role = request.role.recorded
        // An institution's pull names the institution (its own patients); an administrator's names
        // the institution, if any, in its parameters.
        let pullInstitution = role == "institution" ? institutionID : nil
        let reason = "fhir export: \(request.purpose)" + (request.recipient.map { " (for \($0))" } ?? "")
        return try await database.transaction(actor: String(request.actor.prefix(200)), reason: reason) { tx in
            try await tx.connection.query("""
                INSERT INTO report_pull (report, pulled_by, role, purpose, parameters, as_of, min_cell, suppression, registry_version, content_sha256,
                                         recipient, institution_id)
                VALUES ('fhir', \(String(request.actor.prefix(200))), \(role), \(request.purpose), \(parameters)::jsonb, \(today), 1, false,
                        \(RegistryVersion.software), \(checksum), \(request.recipient), \(pullInstitution))
                RETURNING id
                """, logger: database.logger).decode(Int.self).one("the recorded export")
        }
    }
}
