import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import PostgresNIO
import RegistryDomain
import RegistryStorage
import Testing

/// The built `registry serve`, as an operator runs it.
@Suite("registry serve")
struct ServeTests {
    static var binary: String {
        ProcessInfo.processInfo.environment["REGISTRY_BINARY"]
            ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent(".build/debug/registry").path
    }

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
        let db = try await Database.open(url, logger: TestDatabase.logger)
        let store = RegistryStore(database: db)
        _ = try await store.addInstitution(try NewInstitution(code: "ARM-001", name: "A", designationNumber: "D-1", designatedOn: "2025-02-21", today: store.today()), actor: "test")
        let token = try await store.issueToken(try NewAccessToken(role: "institution", institution: "ARM-001", label: nil), actor: "test").secret

        let log = home.appendingPathComponent("serve.log").path
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "REGISTRY_DATABASE_URL")
        let pid = try Self.spawn(["serve", "--port", "0", "--database-url", url.urlString, "--home", home.path] + (withWorker ? ["--with-worker"] : []),
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

        // Ten clients enrol at once; SIGTERM goes out as soon as the first is answered.
        let answered = try await withThrowingTaskGroup(of: Int?.self) { group in
            for i in 0..<10 {
                group.addTask {
                    try? await TestClient.withClient(host: "127.0.0.1", port: port) { client in
                        let body = #"{"local_id":"MRN-\#(i)","birth_year":1970,"sex":"male","consent_on":"2025-05-01","consent_version":"1"}"#
                        let response = try await client.post("/patients", headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
                                                             body: ByteBuffer(string: body))
                        return Int(response.head.status.code)
                    }
                }
            }
            var statuses: [Int?] = []
            var signalled = false
            for try await status in group {
                statuses.append(status)
                if !signalled { kill(pid, SIGTERM); signalled = true }
            }
            return statuses
        }
        let status = try await Self.wait(pid, seconds: 20)
        if status == nil { kill(pid, SIGKILL) }
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(status == 0, "serve did not exit cleanly: \(output)")
        #expect(output.contains("registry API stopped"))
        // Every answer was a success, and every success is in the database: no request was cut off
        // half-done and none failed with a server error.
        let created = answered.compactMap { $0 }
        #expect(created.allSatisfy { $0 == 201 }, "\(answered)")
        #expect(try await store.count("patient") == created.count)
        // The server sealed what it wrote before it stopped.
        let (sealed, last) = try await db.read { c in
            try await c.query("SELECT (SELECT sealed_through FROM audit_seal), (SELECT max(id) FROM audit_log)", logger: TestDatabase.logger)
                .decode((Int, Int).self).first(where: { _ in true })!
        }
        #expect(sealed == last)
        await db.close()
        try await TestDatabase.drop(url)
    }
}
