import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import RegistryDomain
import RegistryImport
import RegistryStorage

/// Imports that outlive their request: a large file is checked and written in the background while
/// the client polls its status URL. Kept in the server's memory (a restart forgets them; the
/// import itself is one transaction, so a restart mid-import writes nothing).
actor ImportJobs {
    enum State: Sendable {
        case running(lines: Int)
        case done(ImportResult)
        case failed(Problem)
    }
    struct Job: Sendable {
        var tokenID: Int
        var state: State
        var startedAt: Date
    }
    private var jobs: [String: Job] = [:]

    func start(tokenID: Int) -> String {
        let id = UUID().uuidString.lowercased()
        // Finished jobs are kept for a day, so their results can be fetched again.
        let cutoff = Date().addingTimeInterval(-86_400)
        jobs = jobs.filter { $0.value.startedAt > cutoff }
        jobs[id] = Job(tokenID: tokenID, state: .running(lines: 0), startedAt: Date())
        return id
    }

    func update(_ id: String, _ state: State) { jobs[id]?.state = state }

    /// The job, only for the token that started it.
    func job(_ id: String, tokenID: Int) -> Job? {
        guard let job = jobs[id], job.tokenID == tokenID else { return nil }
        return job
    }
}

extension RegistryAPI {
    /// `POST /imports/{kind}` with a `text/csv` body: the file is streamed to a temporary file,
    /// then imported by `Importer` as `registry import KIND` does, in the token's scope (an
    /// institution imports its own patients' records; an administrator names the institution or
    /// gives it per row). A small file is answered at once: 200 with what was written, or 422 when
    /// an all-or-nothing import was refused for its rejected rows (nothing written); a file larger
    /// than `importSyncBytes` gets 202 and a status URL to poll.
    func addImportRoutes(_ routes: RouterGroup<Context>) {
        routes.get("/imports/{kind}/template") { request, context in
            let kind = try Self.importKind(context)
            let q = try query(request, allowed: ["lang"])
            let lang = q["lang"] ?? "en"
            guard lang == "en" || lang == "ko" else { throw Problem(parameter: "lang", .invalid("lang", "'\(lang)' is not a language; allowed: en, ko")) }
            let keys = kind == .visits ? try await database.read { tx in try await tx.measures.catalogue() }.definitions.map(\.key) : []
            return Response(status: .ok, headers: [.contentType: "text/csv; charset=utf-8",
                                                   .contentDisposition: "attachment; filename=\"\(kind.rawValue)-\(lang).csv\""],
                            body: .init(byteBuffer: ByteBuffer(string: ImportLayout.template(kind, korean: lang == "ko", measureKeys: keys))))
        }

        routes.post("/imports/{kind}") { request, context in
            let grant = try context.requireGrant()
            let kind = try Self.importKind(context)
            let q = try query(request, allowed: ["institution", "mode", "dry_run"])
            var checks = FieldChecks()
            let mode = checks.check { () throws(RegistryError) -> ImportMode in
                guard let mode = ImportMode(rawValue: q["mode"] ?? ImportMode.allOrNothing.rawValue) else {
                    throw .invalid("mode", "'\(q["mode"]!)' is not an import mode; allowed: all-or-nothing, accept-valid")
                }
                return mode
            }
            let dryRun = checks.check { () throws(RegistryError) -> Bool in
                switch q["dry_run"] ?? "false" {
                case "true": return true
                case "false": return false
                case let other: throw .invalid("dry_run", "'\(other)' is not true or false")
                }
            }
            let institution = checks.check { () throws(RegistryError) in try q["institution"].map { c throws(RegistryError) in try Rules.institutionCode(c) } } ?? nil
            do { try checks.finish() } catch let error as RegistryError { throw Problem(error, fields: FieldMap(bodyKeys: [], pointers: [:], parameters: ["mode": "mode", "dry_run": "dry_run", "institution": "institution"])) }
            let mediaType = request.headers[.contentType]?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard mediaType == "text/csv" else {
                throw Problem(.unsupportedMediaType, detail: "an import's body is the CSV file itself: send Content-Type: text/csv (UTF-8)")
            }
            if grant.role == .institution, let institution, institution != grant.institutionCode {
                throw Problem(.forbidden, detail: "this token imports for \(grant.institutionCode ?? "its institution") only",
                              errors: [.parameter("institution", "only \(grant.institutionCode ?? "the token's institution") is allowed")])
            }
            let (file, bytes) = try await Self.spool(request, limit: configuration.maxImportBytes)
            let options = ImportOptions(kind: kind, institution: institution, mode: mode!, dryRun: dryRun!, fileName: "\(kind.rawValue).csv (\(grant.actor))")
            let run: @Sendable (@escaping @Sendable (Int) -> Void) async throws -> ImportResult = { [database, pseudonymizer] progress in
                defer { try? FileManager.default.removeItem(at: file) }
                // An institution's import runs in its token's scope (row-level security); an
                // administrator's token sees no patient rows there, so it runs on the pool as the token.
                return try await Importer.run(file: file, options: options, scope: grant.role == .institution ? grant.institutionCode : nil,
                                              actor: grant.actor, pseudonymizer: pseudonymizer, transaction: { body in
                    if grant.role == .institution { return try await database.transaction(actor: grant.actor, scope: grant.scope, body) }
                    return try await database.transaction(actor: grant.actor, body)
                }, progress: progress)
            }
            if bytes <= configuration.importSyncBytes {
                do {
                    return try Self.importResponse(try await run { _ in })
                } catch let error as RegistryError {
                    throw Problem(error)
                }
            }
            let id = await importJobs.start(tokenID: grant.tokenID)
            let jobs = importJobs
            Task {
                do {
                    let result = try await run { lines in Task { await jobs.update(id, .running(lines: lines)) } }
                    await jobs.update(id, .done(result))
                } catch let error as RegistryError {
                    await jobs.update(id, .failed(Problem(error)))
                } catch {
                    await jobs.update(id, .failed(Problem(.unavailable, detail: "the import failed: \(DatabaseErrors.summary(error)); nothing was written")))
                }
            }
            var headers = HTTPFields()
            headers[.contentLocation] = "/import-jobs/\(id)"
            headers[.retryAfter] = "2"
            return try Reply.json(["status": "running", "job": id], status: .accepted, location: "/import-jobs/\(id)").response(adding: headers)
        }

        routes.get("/import-jobs/{job}") { request, context in
            let grant = try context.requireGrant()
            let q = try query(request, allowed: ["format"])
            guard let id = context.parameters.get("job"), let job = await importJobs.job(id, tokenID: grant.tokenID) else {
                throw Problem(.notFound, detail: "no import job with this id was started by this token (jobs are kept a day, and not across a restart)")
            }
            switch job.state {
            case .running(let lines):
                var headers = HTTPFields()
                headers[.retryAfter] = "2"
                headers[HTTPField.Name("X-Progress")!] = "\(lines) lines checked"
                return try Reply.json(["status": "running", "lines_checked": "\(lines)"], status: .accepted).response(adding: headers)
            case .failed(let problem):
                throw problem
            case .done(let result):
                if q["format"] == "csv" {
                    return Response(status: .ok, headers: [.contentType: "text/csv; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: result.rejectsCSV())))
                }
                return try Self.importResponse(result)
            }
        }
    }

    /// 200 with the result when the import was committed or was a dry run; 422 when an
    /// all-or-nothing import was refused for its rejected rows (nothing was written).
    static func importResponse(_ result: ImportResult) throws -> Response {
        let refused = !result.committed && !result.dryRun
        return try Reply.json(result, status: refused ? .unprocessableContent : .ok).response()
    }

    static func importKind(_ context: Context) throws -> ImportKind {
        let text = context.parameters.get("kind") ?? ""
        guard let kind = ImportKind(rawValue: text) else {
            throw Problem(.notFound, detail: "'\(text)' is not an import kind; allowed: \(ImportKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return kind
    }

    /// Streams the body to a temporary file (mode 0600), refusing it past `limit` bytes.
    static func spool(_ request: Request, limit: Int) async throws -> (URL, Int) {
        let file = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("registry-import-\(UUID().uuidString).csv")
        guard FileManager.default.createFile(atPath: file.path, contents: nil, attributes: [.posixPermissions: 0o600]),
              let handle = FileHandle(forWritingAtPath: file.path) else {
            throw Problem(.unavailable, detail: "the server cannot write a temporary file for the import")
        }
        var bytes = 0
        do {
            for try await buffer in request.body {
                bytes += buffer.readableBytes
                guard bytes <= limit else {
                    throw Problem(.bodyTooLarge, detail: "an import file is at most \(limit) bytes; split the file")
                }
                try handle.write(contentsOf: Data(buffer.readableBytesView))
            }
            try handle.close()
        } catch {
            try? handle.close()
            try? FileManager.default.removeItem(at: file)
            throw error
        }
        return (file, bytes)
    }
}

extension Response {
    /// The response with these headers added.
    func adding(_ fields: HTTPFields) -> Response {
        var response = self
        for field in fields { response.headers.append(field) }
        return response
    }
}

extension Reply {
    func response(adding fields: HTTPFields) -> Response { response().adding(fields) }
}
