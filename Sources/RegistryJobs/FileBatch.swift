import Foundation
#if canImport(Glibc)
import Glibc
private let systemWrite = Glibc.write
#elseif canImport(Darwin)
import Darwin
private let systemWrite = Darwin.write
#endif

/// Writes a set of files into one folder so that each appears whole (written to a hidden temporary
/// file, then renamed over the old one) and all of them are on disk when `write` returns.
///
/// Foundation's `.atomic` write flushes each file before the next is written: one journal commit
/// after another, about 10 ms each here, which was seconds a night for 282 worklist files. Here
/// the files are renamed into place first and then flushed from several threads at once, so the
/// file system folds the flushes into a few commits; the folder itself is flushed last. A crash
/// before the end can leave a file old or empty: the nightly job rewrites every file when it
/// resumes the digest step, and the outbox rows that point at them commit only after `write`.
enum FileBatch {
    /// Threads flushing at once.
    static let flushers = 16

    static func write(_ files: [(name: String, contents: String)], into directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var targets: [String] = []
        for file in files {
            let target = directory.appendingPathComponent(file.name).path
            let temporary = directory.appendingPathComponent(".\(file.name).\(getpid()).tmp").path
            try writeWhole(file.contents, to: temporary)
            if rename(temporary, target) != 0 {
                let error = errno
                unlink(temporary)
                throw posixError(error)
            }
            targets.append(target)
        }
        try flush(targets + [directory.path])
    }

    /// Creates or truncates `path` and writes `contents` to it, without flushing.
    private static func writeWhole(_ contents: String, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw posixError(errno) }
        defer { close(fd) }
        var bytes = contents
        try bytes.withUTF8 { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = systemWrite(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 { if errno == EINTR { continue }; throw posixError(errno) }
                offset += n
            }
        }
    }

    /// fsync of every path, from up to `flushers` threads; the first failure is thrown.
    static func flush(_ paths: [String]) throws {
        let failure = Failure()
        let group = DispatchGroup()
        let lanes = max(1, min(flushers, paths.count))
        for lane in 0..<lanes {
            let mine = stride(from: lane, to: paths.count, by: lanes).map { paths[$0] }
            group.enter()
            Thread.detachNewThread {
                for path in mine {
                    let fd = open(path, O_RDONLY)
                    if fd < 0 || fsync(fd) != 0 { failure.record(errno) }
                    if fd >= 0 { close(fd) }
                }
                group.leave()
            }
        }
        group.wait()
        if let error = failure.first { throw posixError(error) }
    }

    private final class Failure: @unchecked Sendable {
        private let lock = NSLock()
        private var value: Int32?
        func record(_ error: Int32) { lock.lock(); if value == nil { value = error }; lock.unlock() }
        var first: Int32? { lock.lock(); defer { lock.unlock() }; return value }
    }

    private static func posixError(_ code: Int32) -> POSIXError { POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO) }
}
