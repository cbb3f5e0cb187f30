import Foundation
import PostgresNIO
import RegistryDomain
import RegistryStorage

/// The Bulk Data Access IG's asynchronous exports (`/fhir/$export`): a job per kick-off, run in the
/// background of the process that took it, its state in `fhir_export_job` (schema/0019) and its
/// files under `root/<job>/` (0700, files 0600). The running job writes a heartbeat and its progress
/// every few seconds; a job whose heartbeat stopped (its server went away) is reported failed by the
/// next poll, never left running. Only the token that started a job may poll it, cancel it or
/// download its files. Finished jobs and their files are kept for `retention`, then deleted at the
/// next kick-off.
public struct FhirExportJobs: Sendable {
    public let database: Database
    /// Where each job's folder is made.
    public let root: URL
    /// How long a finished job's manifest and files stay downloadable.
    public static let retentionHours = 24
    /// How often a running job reports that it is alive, and how long a silence makes it lost.
    static let heartbeat: Duration = .seconds(5)
    static let staleSeconds = 60

    public init(database: Database, root: URL) {
        self.database = database
        self.root = root
    }

    /// A job as a poll sees it.
    public enum Status: Sendable {
        case running(progress: String?)
        case completed(FhirExportResult, request: String)
        case failed(String)
    }

    /// Starts a job for `request` (checked already) on behalf of token `tokenID`: records it,
    /// makes its folder, and starts the export in the background. Returns the job's id.
    public func start(_ request: FhirExportRequest, tokenID: Int, today: LocalDate) async throws -> String {
        try await prune()
        var bytes = [UInt8](repeating: 0, count: 16)
        var generator = SystemRandomNumberGenerator()
        for i in bytes.indices { bytes[i] = generator.next() }
        let id = Hex.string(bytes)
        try await database.plainTransaction { tx in
            var institutionID: Int? = nil
            if let code = request.institution { institutionID = try await tx.institutions.id(code: code) }
            try await tx.connection.query("""
                INSERT INTO fhir_export_job (id, token_id, actor, role, institution_id, request, types, since, purpose, recipient, progress)
                VALUES (\(id), \(tokenID), \(String(request.actor.prefix(200))), \(request.role.recorded), \(institutionID), \(request.request),
                        \(request.types.map(\.rawValue)), \(request.since), \(request.purpose), \(request.recipient), 'started: reading the registry')
                """, logger: database.logger)
        }
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let folder = root.appendingPathComponent(id)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let jobs = self
        Task.detached { await jobs.run(id: id, request: request, folder: folder, today: today) }
        return id
    }

    /// The job `id` as the token `tokenID` sees it: nil when there is no such job of this token
    /// (never started, cancelled, expired, or another token's).
    public func status(id: String, tokenID: Int) async throws -> Status? {
        guard Self.isJobID(id) else { return nil }
        let row = try await database.plainTransaction { tx in
            let rows = try await tx.connection.query("""
                SELECT status, progress, error, transaction_time, output::text, request, pull_id,
                       status = 'running' AND heartbeat_at < now() - make_interval(secs => \(Self.staleSeconds)::int)
                FROM fhir_export_job WHERE id = \(id) AND token_id = \(tokenID)
                """, logger: database.logger)
            return try await rows.decode((String, String?, String?, String?, String?, String, Int?, Bool).self).firstElement()
        }
        guard let (status, progress, error, transactionTime, output, request, pull, stale) = row else { return nil }
        if stale {
            let message = "the export stopped without finishing: the server process that ran it went away (restarted or stopped); start a new export"
            try await finish(id: id, failure: message)
            try? FileManager.default.removeItem(at: root.appendingPathComponent(id))
            return .failed(message)
        }
        switch status {
        case "completed":
            let files = try JSONDecoder().decode([FhirExportResult.Output].self, from: Data((output ?? "[]").utf8))
            return .completed(FhirExportResult(transactionTime: transactionTime ?? "", output: files, pull: pull ?? 0, checksum: "", patients: 0), request: request)
        case "failed": return .failed(error ?? "the export failed")
        default: return .running(progress: progress)
        }
    }

    /// Cancels (or, once finished, deletes) the job and its files; false when the token has no such job.
    public func cancel(id: String, tokenID: Int) async throws -> Bool {
        guard Self.isJobID(id) else { return false }
        let deleted = try await database.plainTransaction { tx in
            let rows = try await tx.connection.query("DELETE FROM fhir_export_job WHERE id = \(id) AND token_id = \(tokenID) RETURNING id", logger: database.logger)
            return try await Self.strings(rows)
        }
        guard !deleted.isEmpty else { return false }
        try? FileManager.default.removeItem(at: root.appendingPathComponent(id))
        return true
    }

    /// The file `name` of a completed job of the token's, or nil.
    public func file(id: String, tokenID: Int, name: String) async throws -> URL? {
        guard case .completed(let result, _)? = try await status(id: id, tokenID: tokenID),
              result.output.contains(where: { $0.file == name }) else { return nil }
        let url = root.appendingPathComponent(id).appendingPathComponent(name)
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }

    /// Every row's one text column.
    static func strings(_ rows: PostgresRowSequence) async throws -> [String] {
        var out: [String] = []
        for try await s in rows.decode(String.self) { out.append(s) }
        return out
    }

    static func isJobID(_ id: String) -> Bool { id.count == 32 && id.allSatisfy { $0.isHexDigit && !$0.isUppercase } }

    /// Runs the export, with a heartbeat beside it, and records how it ended.
    func run(id: String, request: FhirExportRequest, folder: URL, today: LocalDate) async {
        let progress = ProgressText()
        do {
            let result = try await withThrowingTaskGroup(of: FhirExportResult?.self) { group in
                group.addTask {
                    try await FhirExport.write(database: database, request: request, to: folder, today: today) { step in
                        try Task.checkCancellation()
                        progress.set(step.text)
                    }
                }
                group.addTask {
                    while true {
                        try await Task.sleep(for: Self.heartbeat)
                        guard try await beat(id: id, progress: progress.get()) else { throw JobGone() }
                    }
                }
                defer { group.cancelAll() }
                return try await group.next()!!
            }
            let output = String(decoding: try JSONEncoder().encode(result.output), as: UTF8.self)
            let kept = try await database.plainTransaction { tx in
                let rows = try await tx.connection.query("""
                    UPDATE fhir_export_job SET status = 'completed', progress = NULL, transaction_time = \(result.transactionTime),
                           output = \(output)::jsonb, pull_id = \(result.pull), finished_at = now(), heartbeat_at = now()
                    WHERE id = \(id) AND status = 'running' RETURNING id
                    """, logger: database.logger)
                return try await Self.strings(rows)
            }
            if kept.isEmpty { try? FileManager.default.removeItem(at: folder) }
        } catch is JobGone {
            try? FileManager.default.removeItem(at: folder)
        } catch {
            database.logger.error("fhir export failed", metadata: ["job": "\(id)", "error": "\(String(reflecting: error))"])
            let message = (error as? RegistryError)?.message ?? "the export failed: \(DatabaseErrors.summary(error))"
            try? await finish(id: id, failure: message)
            try? FileManager.default.removeItem(at: folder)
        }
    }

    /// Records the heartbeat and progress; false when the job is no longer running here (cancelled).
    func beat(id: String, progress: String?) async throws -> Bool {
        try await database.plainTransaction { tx in
            let rows = try await tx.connection.query("""
                UPDATE fhir_export_job SET heartbeat_at = now(), progress = coalesce(\(progress), progress)
                WHERE id = \(id) AND status = 'running' RETURNING id
                """, logger: database.logger)
            return try await Self.strings(rows)
        }.count == 1
    }

    func finish(id: String, failure: String) async throws {
        _ = try await database.plainTransaction { tx in
            try await tx.connection.query("""
                UPDATE fhir_export_job SET status = 'failed', error = \(failure), progress = NULL, finished_at = now()
                WHERE id = \(id) AND status = 'running'
                """, logger: database.logger)
        }
    }

    /// Deletes finished jobs past their retention, and their files.
    func prune() async throws {
        let expired = try await database.plainTransaction { tx in
            let rows = try await tx.connection.query("""
                DELETE FROM fhir_export_job WHERE finished_at < now() - make_interval(hours => \(Self.retentionHours)::int) RETURNING id
                """, logger: database.logger)
            return try await Self.strings(rows)
        }
        for id in expired { try? FileManager.default.removeItem(at: root.appendingPathComponent(id)) }
    }

    /// The job was cancelled while it ran.
    struct JobGone: Error {}
}

/// The latest progress line, shared between the export and its heartbeat.
final class ProgressText: @unchecked Sendable {
    private let lock = NSLock()
    private var text: String?
    func set(_ value: String) { lock.withLock { text = value } }
    func get() -> String? { lock.withLock { text } }
}
