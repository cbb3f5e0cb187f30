import Foundation
import RegistryStorage

/// Drives the built `registry` binary, as users and outside checks do.
public struct RegistryBinary: Sendable {
    public let databaseURL: DatabaseURL?
    public let home: URL

    public init(databaseURL: DatabaseURL?, home: URL) {
        self.databaseURL = databaseURL
        self.home = home
    }

    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        public var json: Any? { try? JSONSerialization.jsonObject(with: Data(stdout.utf8)) }
        public var errorJSON: [String: Any]? { (try? JSONSerialization.jsonObject(with: Data(stderr.utf8))) as? [String: Any] }
        public var id: Int? { (json as? [String: Any])?["id"] as? Int }
    }

    /// $REGISTRY_BINARY (scripts/test sets it), else .build/debug/registry in the package.
    public static var path: String {
        ProcessInfo.processInfo.environment["REGISTRY_BINARY"]
            ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent(".build/debug/registry").path
    }

    /// Runs the binary with `arguments` (and the database URL), with `environment` added to this process's.
    public func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.path)
        process.arguments = arguments + (databaseURL.map { ["--database-url", $0.urlString] } ?? [])
        var env = ProcessInfo.processInfo.environment
        env["REGISTRY_HOME"] = home.path
        env.removeValue(forKey: "REGISTRY_DATABASE_URL")
        env.removeValue(forKey: "REGISTRY_INSTITUTION")
        env.removeValue(forKey: "REGISTRY_ACTOR")
        env.merge(environment) { _, new in new }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }
}

/// A loopback port that is bound but never listening: connections to it are refused at once.
public func closedPort() throws -> Int {
    let (fd, port) = boundLoopbackSocket()
    close(fd)
    return port
}

/// A TCP socket bound to a free loopback port, and the port; the caller listens on it (or not) and closes it.
public func boundLoopbackSocket() -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return (fd, Int(UInt16(bigEndian: addr.sin_port)))
}
