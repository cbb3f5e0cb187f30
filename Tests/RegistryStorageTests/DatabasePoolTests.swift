import Foundation
import NIOCore
import NIOPosix
import PostgresNIO
import RegistryStorage
import RegistryTestSupport
import Testing

/// Runs a task's jobs on one event loop, as `registry serve` runs its tasks on NIO's loops.
@available(macOS 15, *)
private final class LoopExecutor: TaskExecutor {
    let loop: any EventLoop
    init(_ loop: any EventLoop) { self.loop = loop }
    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

@Suite("Connection pools")
struct DatabasePoolTests {
    @Test("a server's pool is split over its event loops, and a task gets a connection on the loop it runs on")
    func perLoopPools() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let loops = Array(group.makeIterator())
        let db = try await Database.open(try TestDatabase.serverURL(), logger: TestDatabase.logger, maxConnections: 5, perLoop: group)
        #expect(db.clients.count == 2)
        for _ in 0..<3 {
            for loop in loops {
                let connectionLoop = try await withTaskExecutorPreference(LoopExecutor(loop)) {
                    try await db.plainTransaction { c in
                        // The work itself runs: the connection answers.
                        let one = try await c.query("SELECT 1", logger: TestDatabase.logger).decode(Int.self).first(where: { _ in true })
                        #expect(one == 1)
                        return ObjectIdentifier(c.connection.eventLoop)
                    }
                }
                #expect(connectionLoop == ObjectIdentifier(loop))
            }
        }
        // From a thread that is none of the loops: any pool serves.
        let answered = try await db.plainTransaction { c in try await c.query("SELECT 2", logger: TestDatabase.logger).decode(Int.self).first(where: { _ in true }) }
        #expect(answered == 2)
        await db.close()
        try await group.shutdownGracefully()
    }

    @Test("with fewer than two connections per loop, a server keeps one pool, and a task holding a connection gets a second one")
    func smallPoolStaysWhole() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let db = try await Database.open(try TestDatabase.serverURL(), logger: TestDatabase.logger, maxConnections: 3, perLoop: group)
        #expect(db.clients.count == 1)
        var seen = Set<ObjectIdentifier>()
        for loop in Array(group.makeIterator()) {
            let (outer, inner, connectionLoop) = try await withTaskExecutorPreference(LoopExecutor(loop)) {
                // As the nightly digest does: a second connection while the first is held (a pool
                // of one connection per loop would wait on itself here for ever).
                try await db.plainTransaction { c in
                    async let second = db.plainTransaction { d in try await d.query("SELECT pg_backend_pid()", logger: TestDatabase.logger).decode(Int32.self).first(where: { _ in true }) }
                    let first = try await c.query("SELECT pg_backend_pid()", logger: TestDatabase.logger).decode(Int32.self).first(where: { _ in true })
                    return (first, try await second, ObjectIdentifier(c.connection.eventLoop))
                }
            }
            #expect(outer != nil && inner != nil && outer != inner)
            seen.insert(connectionLoop)
        }
        #expect(seen.count == 1)
        await db.close()
        try await group.shutdownGracefully()
    }
}
