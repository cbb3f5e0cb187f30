import Foundation
import RegistryDomain

/// The private PostgreSQL cluster that every command uses when no `--database-url` is given.
///
/// It lives under the registry home (`$REGISTRY_HOME`, default `./.registry`), is created with
/// Debian's server binaries on first use, listens on a free loopback port and a socket inside its
/// own folder, and needs a password kept in a file only its owner can read. PostgreSQL refuses to
/// run as root, so as root the server runs as the `postgres` OS user.
public struct EmbeddedCluster: Sendable {
    /// The registry home.
    public let home: URL
    /// The superuser the registry connects as.
    public static let user = "registry"

    public init(home: URL) { self.home = home.standardizedFileURL }

    var dataDirectory: URL { home.appendingPathComponent("pgdata") }
    var passwordFile: URL { home.appendingPathComponent("db.password") }
    var portFile: URL { home.appendingPathComponent("db.port") }
    var logFile: URL { dataDirectory.appendingPathComponent("server.log") }

    /// What the cluster is doing.
    public enum State: Equatable, Sendable {
        case notCreated
        case stopped
        case running(port: Int)
    }

    /// Looks at the data directory and the postmaster's pid file.
    public func state() throws -> State {
        guard FileManager.default.fileExists(atPath: dataDirectory.appendingPathComponent("PG_VERSION").path) else { return .notCreated }
        let status = try run(binary("pg_ctl"), ["-D", dataDirectory.path, "status"], asServerUser: true)
        guard status.code == 0 else { return .stopped }
        return .running(port: try runningPort())
    }

    /// Creates the cluster if needed, starts it if stopped, makes sure `database` exists, and
    /// returns its URL. Safe to call from several processes at once.
    @discardableResult
    public func start(database: String = "registry") throws -> DatabaseURL {
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        return try withLock {
            if try state() == .notCreated { try create() }
            if case .running = try state() {} else { try launch() }
            let url = try self.url(database: database)
            try ensureDatabase(database, url: url)
            return url
        }
    }

    /// Stops the cluster (fast shutdown: open transactions roll back, nothing committed is lost).
    public func stop() throws {
        try withLock {
            guard case .running = try state() else { return }
            let result = try run(binary("pg_ctl"), ["-D", dataDirectory.path, "-m", "fast", "-w", "-t", "60", "stop"], asServerUser: true)
            guard result.code == 0 else {
                throw RegistryError(.unavailable, "pg_ctl stop failed: \(result.output.trimmingCharactersInWhitespace())")
            }
        }
    }

    /// The URL of a database in the running cluster.
    public func url(database: String = "registry") throws -> DatabaseURL {
        guard case .running(let port) = try state() else {
            throw RegistryError(.unavailable, "the embedded database is not running", remedy: .startEmbeddedDatabase)
        }
        let password = try String(contentsOf: passwordFile, encoding: .utf8).trimmingCharactersInWhitespace()
        // The cluster's unix socket when it has one (see create()): a round trip through it costs
        // both sides less CPU than loopback TCP (about a tenth of an API visit's, measured).
        let socket = FileManager.default.fileExists(atPath: dataDirectory.appendingPathComponent(".s.PGSQL.\(port)").path) ? dataDirectory.path : nil
        return DatabaseURL(host: "127.0.0.1", port: port, user: Self.user, password: password, database: database, socketDirectory: socket)
    }

    // MARK: creating and starting

    private func create() throws {
        let fm = FileManager.default
        try? fm.removeItem(at: dataDirectory)  // a half-made cluster from an interrupted first run
        try fm.createDirectory(at: dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let password = randomHex(bytes: 24)
        try writePrivate(password + "\n", to: passwordFile)
        // initdb reads the password from a file the server user can read; it is removed at once.
        let pwfile = dataDirectory.deletingLastPathComponent().appendingPathComponent(".initdb-pw-\(getpid())")
        try writePrivate(password + "\n", to: pwfile)
        defer { try? fm.removeItem(at: pwfile) }
        if isRoot {
            try chownToServerUser(dataDirectory)
            try chownToServerUser(pwfile)
        }
        let result = try run(binary("initdb"), ["-D", dataDirectory.path, "-U", Self.user, "--pwfile", pwfile.path,
                                                "-A", "scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"], asServerUser: true)
        guard result.code == 0 else {
            try? fm.removeItem(at: dataDirectory)
            throw RegistryError(.unavailable, "initdb failed: \(lastLines(result.output))",
                                hint: isRoot ? "the postgres OS user must be able to reach \(home.path)" : nil)
        }
        // The socket lives in the cluster's own folder when the path fits a socket address
        // (107 bytes); otherwise the cluster listens on loopback TCP only.
        let socketPath = dataDirectory.path + "/.s.PGSQL.65535"
        let socketDirs = socketPath.utf8.count < 100 ? dataDirectory.path : ""
        let settings = """

            # registry embedded cluster
            listen_addresses = '127.0.0.1'
            unix_socket_directories = '\(socketDirs)'
            # A checkpoint makes the next change to every page write the whole page to WAL: bulk
            # loads of millions of rows keep checkpoints apart by time, not by WAL volume.
            max_wal_size = '16GB'
            checkpoint_timeout = '15min'
            # Bulk loads and nightly sweeps touch millions of rows: room to keep dirty pages and
            # WAL in memory instead of evicting them one by one (defaults are 128MB and 4MB).
            shared_buffers = '512MB'
            wal_buffers = '64MB'
            timezone = 'Asia/Seoul'

            """
        let conf = dataDirectory.appendingPathComponent("postgresql.conf")
        let handle = try FileHandle(forWritingTo: conf)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(settings.utf8))
        try handle.close()
    }

    private func launch() throws {
        // Keep the port the cluster had if it is still free, so saved URLs keep working.
        var port = (try? String(contentsOf: portFile, encoding: .utf8)).flatMap { Int($0.trimmingCharactersInWhitespace()) } ?? 0
        if port == 0 || !Self.portIsFree(port) { port = try Self.freePort() }
        try "\(port)\n".write(to: portFile, atomically: true, encoding: .utf8)
        let result = try run(binary("pg_ctl"), ["-D", dataDirectory.path, "-l", logFile.path, "-o", "-p \(port)",
                                                "-w", "-t", "60", "start"], asServerUser: true)
        guard result.code == 0 else {
            let log = (try? String(contentsOf: logFile, encoding: .utf8)).map(lastLines) ?? ""
            throw RegistryError(.unavailable, "the embedded PostgreSQL did not start: \(lastLines(result.output)) \(log)",
                                hint: "see \(logFile.path)")
        }
    }

    private func ensureDatabase(_ name: String, url: DatabaseURL) throws {
        guard name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }), !name.isEmpty else {
            throw RegistryError.invalid("database", "'\(name)' is not a database name; use letters, digits and _")
        }
        let psql = try binary("psql")
        let env = ["PGPASSWORD": url.password ?? ""]
        let check = try run(psql, ["-h", "127.0.0.1", "-p", "\(url.port)", "-U", Self.user, "-d", "postgres", "-Atqc",
                                   "SELECT 1 FROM pg_database WHERE datname = '\(name)'"], asServerUser: false, environment: env)
        guard check.code == 0 else { throw RegistryError(.unavailable, "cannot query the embedded cluster: \(lastLines(check.output))") }
        if check.output.trimmingCharactersInWhitespace() != "1" {
            let made = try run(psql, ["-h", "127.0.0.1", "-p", "\(url.port)", "-U", Self.user, "-d", "postgres", "-qc",
                                      "CREATE DATABASE \(name)"], asServerUser: false, environment: env)
            if made.code != 0 && !made.output.contains("already exists") {
                throw RegistryError(.unavailable, "cannot create database \(name): \(lastLines(made.output))")
            }
        }
    }

    private func runningPort() throws -> Int {
        // postmaster.pid: line 4 is the port (PostgreSQL's documented layout).
        let text = try String(contentsOf: dataDirectory.appendingPathComponent("postmaster.pid"), encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count > 3, let port = Int(lines[3]) else {
            throw RegistryError(.unavailable, "cannot read the embedded cluster's port from postmaster.pid")
        }
        return port
    }

    // MARK: processes, files, ports

    private var isRoot: Bool { geteuid() == 0 }

    /// Finds a PostgreSQL program: the server's folder as `pg_config --bindir` reports it, then
    /// Debian's versioned folders, then PATH.
    func binary(_ name: String) throws -> String {
        var dirs: [String] = []
        if let bindir = try? run("/usr/bin/env", ["pg_config", "--bindir"], asServerUser: false), bindir.code == 0 {
            dirs.append(bindir.output.trimmingCharactersInWhitespace())
        }
        if let versions = try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql") {
            dirs += versions.compactMap(Int.init).sorted(by: >).map { "/usr/lib/postgresql/\($0)/bin" }
        }
        dirs += (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        for dir in dirs where FileManager.default.isExecutableFile(atPath: dir + "/" + name) {
            return dir + "/" + name
        }
        throw RegistryError(.unavailable, field: "database-url",
            "PostgreSQL's \(name) was not found; the embedded database needs the PostgreSQL 15 server",
            remedy: .installPostgreSQL)
    }

    func run(_ program: String, _ arguments: [String], asServerUser: Bool, environment: [String: String] = [:]) throws -> ChildProcess.Output {
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }
        env["LC_ALL"] = "C.UTF-8"
        if asServerUser && isRoot {
            return try ChildProcess.run("/usr/sbin/runuser", ["-u", "postgres", "--", program] + arguments, environment: env)
        }
        return try ChildProcess.run(program, arguments, environment: env)
    }

    private func withLock<T>(_ body: () throws -> T) throws -> T {
        let path = home.appendingPathComponent("cluster.lock").path
        let fd = open(path, O_RDWR | O_CREAT, 0o600)
        guard fd >= 0 else { throw RegistryError(.configuration, "cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        flock(fd, LOCK_EX)
        defer { flock(fd, LOCK_UN) }
        return try body()
    }

    private func chownToServerUser(_ url: URL) throws {
        guard let pw = getpwnam("postgres") else {
            throw RegistryError(.unavailable, "running as root, but there is no postgres OS user to run the server as",
                                hint: "install the server with: apt-get install -y postgresql")
        }
        guard chown(url.path, pw.pointee.pw_uid, pw.pointee.pw_gid) == 0 else {
            throw RegistryError(.configuration, "cannot hand \(url.path) to the postgres user: \(String(cString: strerror(errno)))")
        }
    }

    private func writePrivate(_ text: String, to url: URL) throws {
        _ = FileManager.default.createFile(atPath: url.path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
    }

    private func lastLines(_ text: String) -> String {
        text.split(separator: "\n").suffix(3).joined(separator: " | ")
    }

    private func randomHex(bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return Hex.string((0..<bytes).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    /// A loopback port nobody listens on now.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RegistryError(.unavailable, "cannot open a socket to find a free port") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { ptr -> Bool in
                bind(fd, ptr, len) == 0 && getsockname(fd, ptr, &len) == 0
            }
        }
        guard bound else { throw RegistryError(.unavailable, "cannot find a free loopback port") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    static func portIsFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
