import Foundation
import Logging
import PostgresNIO
import RegistryDomain
import RegistryStorage

/// The nightly job, exactly once per as-of date.
///
/// A run is the `job_run` row keyed by (job, as-of date), inserted with `ON CONFLICT DO NOTHING`
/// in the transaction that starts it, so of two runners started together one gets the row and the
/// other learns the run exists. While it works the holder refreshes `heartbeat_at` from a separate
/// task; a run whose holder died (stale heartbeat, by the database's clock) or failed is taken over
/// by one conditional UPDATE, which only one taker can win, and resumes at its first step not
/// completed. Each step commits its writes and its count in one transaction, and only while the
/// runner still owns the run, so a runner that lost the run cannot commit over its successor.
public struct NightlyJob: Sendable {
    /// The job's name in `job_run`.
    public static let name = "nightly"
    /// Who the audit trail says made the nightly changes.
    public static let actor = "registry jobs nightly"

    public struct Options: Sendable {
        /// The night to run: the Seoul date the run is for (follow-ups whose windows closed before it are overdue).
        public var asOf: LocalDate
        /// Compute every step's count in a transaction that is rolled back; writes no run, no files.
        public var dryRun = false
        /// Where the worklist digests go (required unless a dry run).
        public var outputDirectory: URL?
        /// A running run whose heartbeat is older than this is taken to be dead and is taken over.
        public var staleAfter: Duration = .seconds(120)
        /// How often a running run refreshes its heartbeat.
        public var heartbeatEvery: Duration = .seconds(10)
        /// Crash drills: stop after this step has committed, leaving the run `running` with its
        /// heartbeat stopped, exactly as a process killed at that point would.
        public var simulateCrashAfter: NightlyStep?

        public init(asOf: LocalDate, dryRun: Bool = false, outputDirectory: URL? = nil) {
            self.asOf = asOf; self.dryRun = dryRun; self.outputDirectory = outputDirectory
        }
    }

    /// How an invocation ended.
    public enum Outcome: Sendable {
        /// This invocation ran the night (possibly resuming an earlier attempt).
        case ran(JobRun, resumed: Bool)
        /// The night had already succeeded: nothing was done.
        case alreadySucceeded(JobRun)
        /// Another runner holds the night and is alive: nothing was done.
        case heldElsewhere(JobRun)
        /// A dry run: the counts each step would have had.
        case dryRun(counts: [String: Int])
        /// `simulateCrashAfter` stopped the run.
        case simulatedCrash(runID: Int)
    }

    /// The database the job runs on.
    public let database: Database
    /// host:pid:token, unique per job object, so two runners in one process are told apart.
    public let owner: String

    public init(database: Database) {
        self.database = database
        self.owner = "\(Self.hostName()):\(getpid()):\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// The host's own name, without the DNS lookup `ProcessInfo.hostName` may make (a cron job
    /// should not wait on a resolver to say who it is).
    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown-host" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    var logger: Logger { database.logger }

    /// Runs (or resumes, or declines to run) the night. Throws when a step fails, after recording
    /// the failure and the step's name on the run so the next invocation resumes there.
    public func run(_ options: Options) async throws -> Outcome {
        try Rules.nightAsOf(options.asOf, today: database.today())
        let settings = try NightlySettings(try await database.read { tx in try await tx.settings.all() })
        if options.dryRun { return .dryRun(counts: try await dryRun(options, settings: settings)) }
        guard let directory = options.outputDirectory else {
            throw RegistryError.invalid("out", "the nightly job needs a folder for the worklist digests")
        }
        let claim = try await claim(options)
        let run: JobRun, resumed: Bool
        switch claim {
        case .mine(let r, let wasResumed): run = r; resumed = wasResumed
        case .succeeded(let r): return .alreadySucceeded(r)
        case .held(let r): return .heldElsewhere(r)
        }
        let context = StepContext(asOf: options.asOf, settings: settings, runID: run.id, outputDirectory: directory, database: database, logger: logger)
        let crashed = try await withThrowingTaskGroup(of: Void.self) { group -> Bool in
            group.addTask { try await heartbeat(runID: run.id, every: options.heartbeatEvery) }
            defer { group.cancelAll() }
            return try await runSteps(run, context: context, crashAfter: options.simulateCrashAfter)
        }
        if crashed { return .simulatedCrash(runID: run.id) }
        let finished = try await database.transaction(actor: Self.actor) { tx in
            let c = tx.connection
            let rows = try await c.query("""
                UPDATE job_run SET status = 'succeeded', finished_at = clock_timestamp(), heartbeat_at = clock_timestamp()
                WHERE id = \(run.id) AND owner = \(owner) AND status = 'running' RETURNING id
                """, logger: logger)
            guard try await rows.decode(Int.self).firstElement() != nil else { throw lostRun(run.id) }
            return try await JobRuns.run(c, id: run.id, logger: logger)
        }
        return .ran(finished, resumed: resumed)
    }

    // MARK: claiming

    enum Claim { case mine(JobRun, resumed: Bool), succeeded(JobRun), held(JobRun) }

    /// Inserts the run, or takes over a failed or abandoned one, or reports who has it.
    func claim(_ options: Options) async throws -> Claim {
        let staleSeconds = Double(options.staleAfter.components.seconds) + Double(options.staleAfter.components.attoseconds) / 1e18
        return try await database.transaction(actor: Self.actor) { tx in
            let c = tx.connection
            let inserted = try await c.query("""
                INSERT INTO job_run (job, as_of, owner) VALUES (\(Self.name), \(options.asOf), \(owner))
                ON CONFLICT (job, as_of) DO NOTHING RETURNING id
                """, logger: logger)
            if let id = try await inserted.decode(Int.self).firstElement() {
                return .mine(try await JobRuns.run(c, id: id, logger: logger), resumed: false)
            }
            // The row exists. Taking it over is one UPDATE whose condition is re-checked on the
            // latest row version if a concurrent taker got there first: only one of them wins.
            let taken = try await c.query("""
                UPDATE job_run SET owner = \(owner), status = 'running', heartbeat_at = clock_timestamp(), finished_at = NULL,
                       failed_step = NULL, error = NULL, attempts = attempts + 1
                WHERE job = \(Self.name) AND as_of = \(options.asOf)
                  AND (status = 'failed' OR (status = 'running' AND heartbeat_at < clock_timestamp() - make_interval(secs => \(staleSeconds))))
                RETURNING id
                """, logger: logger)
            if let id = try await taken.decode(Int.self).firstElement() {
                return .mine(try await JobRuns.run(c, id: id, logger: logger), resumed: true)
            }
            guard let existing = try await JobRuns.run(c, job: Self.name, asOf: options.asOf, logger: logger) else {
                throw RegistryError.conflict("as-of", "the run for \(options.asOf) was pruned while starting; try again")
            }
            return existing.status == .succeeded ? .succeeded(existing) : .held(existing)
        }
    }

    // MARK: steps

    /// Runs the steps not yet completed, in order, each in its own transaction with its count.
    /// Returns true when `crashAfter` stopped it.
    func runSteps(_ run: JobRun, context: StepContext, crashAfter: NightlyStep?) async throws -> Bool {
        for step in NightlyStep.allCases where run.stepCounts[step.rawValue] == nil {
            do {
                // A stop request (SIGTERM) is honoured between steps: the one under way finishes.
                try Task.checkCancellation()
                let started = ContinuousClock.now
                try await database.transaction(actor: Self.actor, reason: "nightly job for \(context.asOf) (run \(run.id)): \(step.rawValue)") { tx in
                    let c = tx.connection
                    let n = try await NightlySQL.run(step, context, on: c)
                    let elapsed = ContinuousClock.now - started
                    let millis = Int(elapsed.components.seconds) * 1000 + Int(elapsed.components.attoseconds / 1_000_000_000_000_000)
                    let recorded = try await c.query("""
                        UPDATE job_run SET step_counts = step_counts || jsonb_build_object(\(step.rawValue)::text, \(n)::bigint),
                               step_millis = step_millis || jsonb_build_object(\(step.rawValue)::text, \(millis)::bigint),
                               heartbeat_at = clock_timestamp()
                        WHERE id = \(run.id) AND owner = \(owner) AND status = 'running' RETURNING id
                        """, logger: logger)
                    guard try await recorded.decode(Int.self).firstElement() != nil else { throw lostRun(run.id) }
                }
            } catch {
                await recordFailure(run.id, step: step, error: error)
                if error is CancellationError { throw error }
                if let registryError = error as? RegistryError, registryError.field == "run" { throw error }
                throw RegistryError(.unavailable, field: "step",
                    "the nightly run for \(context.asOf) (run \(run.id)) failed at step \(step.rawValue): \(DatabaseErrors.summary(DatabaseErrors.map(error)))",
                    hint: "fix the cause, then run the night again: it resumes at that step", remedy: .resumeNightly(asOf: context.asOf))
            }
            if step == crashAfter { return true }
        }
        return false
    }

    /// Marks the run failed at `step`, if this runner still holds it; the next invocation resumes.
    func recordFailure(_ runID: Int, step: NightlyStep, error: any Error) async {
        let message: String
        if error is CancellationError {
            message = "stopped before step \(step.rawValue) (the process was asked to stop); the next run resumes here"
        } else if let registryError = DatabaseErrors.map(error) as? RegistryError {
            message = registryError.description
        } else {
            message = DatabaseErrors.summary(error)
        }
        // Runs on its own even if this task is being cancelled: the record is what lets the next run resume.
        let database = self.database, owner = self.owner, logger = self.logger
        await Task {
            do {
                try await database.transaction(actor: Self.actor) { tx in
                    try await tx.connection.query("""
                    UPDATE job_run SET status = 'failed', failed_step = \(step.rawValue), error = \(String(message.prefix(2000))),
                           finished_at = clock_timestamp()
                    WHERE id = \(runID) AND owner = \(owner) AND status = 'running'
                    """, logger: logger)
                }
            } catch {
                // Nothing more to do here: the step's own error is what the caller reports, and a
                // run left 'running' is taken over once its heartbeat goes stale.
                logger.warning("recording the failed step failed", metadata: ["run": "\(runID)", "error": "\(DatabaseErrors.summary(error))"])
            }
        }.value
    }

    /// Refreshes the heartbeat until cancelled. A failed refresh is not fatal: the step commit's
    /// ownership check is what keeps a runner that lost the run from writing.
    func heartbeat(runID: Int, every interval: Duration) async throws {
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { return }
            do {
                try await database.plainTransaction { tx in
                    try await tx.connection.query("""
                        UPDATE job_run SET heartbeat_at = clock_timestamp() WHERE id = \(runID) AND owner = \(owner) AND status = 'running'
                        """, logger: logger)
                }
            } catch {
                logger.notice("heartbeat failed; retrying at the next beat", metadata: ["run": "\(runID)", "error": "\(DatabaseErrors.summary(error))"])
            }
        }
    }

    func lostRun(_ id: Int) -> RegistryError {
        RegistryError.conflict("run", "run \(id) was taken over by another runner (this one's heartbeat went stale); its step was rolled back",
                               remedy: .showJobRun(id: id))
    }

    // MARK: dry run

    /// Every step in one transaction that is rolled back: the counts, nothing kept.
    func dryRun(_ options: Options, settings: NightlySettings) async throws -> [String: Int] {
        let context = StepContext(asOf: options.asOf, settings: settings, runID: nil, outputDirectory: nil, database: database, logger: logger)
        return try await database.rehearsal(actor: Self.actor) { tx in
            var counts: [String: Int] = [:]
            for step in NightlyStep.allCases { counts[step.rawValue] = try await NightlySQL.run(step, context, on: tx.connection) }
            return counts
        }
    }
}
