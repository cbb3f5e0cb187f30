import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import PostgresNIO
import RegistryDomain
import RegistryStorage
import RegistryTestSupport
import Testing

/// The built `registry serve`, as an operator runs it.
@Suite("registry serve")
struct ServeTests {
    static var binary: String { RegistryBinary.path }

    /// Starts the binary with output to `log`; returns its pid.
    static func spawn(_ arguments: [String], log: String, environment: [String: String]) throws -> pid_t {
        let argv = (["/bin/sh", "-c", "exec \"$0\" \"$@\" >\"$LOGFILE\" 2>&1", binary] + arguments).map { strdup($0) } + [nil]
        let envp = environment.merging(["LOGFILE": log]) { $1 }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/bin/sh", nil, nil, argv, envp)
        guard spawned == 0 else { throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .ENOENT) }
        return pid
    }

    /// The exit status, or nil if still running after `seconds`.
    static func wait(_ pid: pid_t, seconds: Double) async throws -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid { return (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F) }
            try await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    @Test("SIGTERM lets the requests in flight finish, seals the audit trail and exits 0 (alone, and with the nightly worker and its own pool)",
          arguments: [false, true])
    func gracefulShutdown(withWorker: Bool) async throws {
        let url = try await TestDatabase.create()
        let home = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("registry-serve-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: home) }
        let database = try await Database.open(url, logger: TestDatabase.logger)
        _ = try await database.transaction(actor: "test") { tx in try await tx.institutions.add(try NewInstitution(code: "ARM-001", name: "A", designationNumber: "D-1", designatedOn: "2025-02-21", today: database.today())) }
        let token = try await database.transaction(actor: "test") { tx in try await tx.tokens.issue(try NewAccessToken(role: "institution", institution: "ARM-001", label: nil)) }.secret

        let log = home.appendingPathComponent("serve.log").path
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "REGISTRY_DATABASE_URL")
        let pid = try Self.spawn(["serve", "--port", "0", "--database-url", url.urlString, "--home", home.path, "--drain-seconds", "3"] + (withWorker ? ["--with-worker"] : []),
                                 log: log, environment: environment)
        var port: Int? = nil
        for _ in 0..<200 where port == nil {
            try await Task.sleep(for: .milliseconds(50))
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            for line in text.split(separator: "\n") where line.contains("registry API listening") {
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                port = (object?["port"] as? String).flatMap(Int.init)
            }
        }
        guard let port else {
            kill(pid, SIGKILL)
            Issue.record("serve did not start: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
            return
        }

        // Ten clients connect, then enrol at once; SIGTERM goes out as soon as the first is answered,
        // so the other nine are in flight: the server must finish each of them, not cut it off.
        let clients = (0..<10).map { _ in TestClient(host: "127.0.0.1", port: port) }
        let probe = TestClient(host: "127.0.0.1", port: port)
        do {
            probe.connect()
            _ = try await probe.getChannel()
            for client in clients { client.connect() }
            for client in clients { _ = try await client.getChannel() }
        } catch {
            kill(pid, SIGKILL)
            for client in clients { try? await client.shutdown() }
            try? await probe.shutdown()
            throw error
        }
        let requests = clients.count
        let answered = await withTaskGroup(of: (Int, Result<Int, any Error>).self) { group in
            for (i, client) in clients.enumerated() {
                group.addTask {
                    let body = #"{"local_id":"MRN-\#(i)","birth_year":1970,"sex":"male","consent_on":"2025-05-01","consent_version":"1"}"#
                    do {
                        let response = try await client.post("/patients", headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
                                                             body: ByteBuffer(string: body))
                        return (i, .success(Int(response.head.status.code)))
                    } catch {
                        return (i, .failure(error))
                    }
                }
            }
            var statuses: [Int: Result<Int, any Error>] = [:]
            var signalled = false
            for await (i, status) in group {
                statuses[i] = status
                if !signalled { kill(pid, SIGTERM); signalled = true }
            }
            return statuses
        }
        // While it drains, the server tells load balancers it is not ready, and still answers.
        var readiness: [Int] = [], retryAfter: String? = nil
        for _ in 0..<20 where readiness.last != 503 {
            if let response = try? await probe.get("/ready") {
                readiness.append(Int(response.head.status.code))
                retryAfter = response.head.headerFields[.retryAfter]
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(readiness.last == 503 && retryAfter == "2", "/ready while draining: \(readiness), Retry-After \(retryAfter ?? "none")")
        try? await probe.shutdown()
        for client in clients { try? await client.shutdown() }
        let status = try await Self.wait(pid, seconds: 20)
        if status == nil { kill(pid, SIGKILL) }
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(status == 0, "serve did not exit cleanly: \(output)")
        #expect(output.contains("registry API stopped"))
        // Every request sent was answered, every answer was a success, and every success is in the
        // database: no request was cut off half-done and none failed with a server error.
        #expect(answered.count == requests)
        for (i, result) in answered.sorted(by: { $0.key < $1.key }) {
            if case .failure(let error) = result { Issue.record("request \(i) got no answer: \(String(reflecting: error))") }
        }
        let created = answered.values.compactMap { try? $0.get() }
        #expect(created.count == requests, "\(answered)")
        #expect(!created.isEmpty && created.allSatisfy { $0 == 201 }, "\(answered)")
        #expect(try await database.count("patient") == created.count)
        // The server sealed what it wrote before it stopped.
        let (sealed, last) = try await database.plainTransaction { c in
            try await c.query("SELECT (SELECT sealed_through FROM audit_seal), (SELECT max(id) FROM audit_log)", logger: TestDatabase.logger)
                .decode((Int, Int).self).first(where: { _ in true })!
        }
        #expect(sealed == last)
        await database.close()
        try await TestDatabase.drop(url)
    }
}
