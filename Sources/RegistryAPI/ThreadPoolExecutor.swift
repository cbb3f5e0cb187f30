import NIOPosix

/// Runs tasks on NIO's thread pool for blocking work. `registry serve` runs Swift concurrency on
/// NIO's event loops, where the sockets and database connections live; seconds of CPU work there
/// (an outcome report's tables and renderings) would hold up every request on that loop.
@available(macOS 15, *)
final class ThreadPoolExecutor: TaskExecutor {
    static let shared = ThreadPoolExecutor(pool: .singleton)
    let pool: NIOThreadPool

    init(pool: NIOThreadPool) { self.pool = pool }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        // The singleton pool is never shut down, so every job runs.
        pool.submit { _ in job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }

    /// Runs `body` (and the tasks it starts) on the pool; its awaits on the database still hop to
    /// the connection's event loop and back.
    static func run<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        try await withTaskExecutorPreference(shared, operation: body)
    }
}
