import Foundation
import Logging
import RegistryDomain
import RegistryStorage
import ServiceLifecycle

/// The long-running worker: runs the nightly job at the configured Seoul time (`jobs.nightly-at`),
/// and on start-up catches up the nights missed since the last succeeded run. Runs until its task
/// is cancelled (the command line cancels it on SIGTERM or SIGINT); a run under way stops between
/// steps, recorded as failed at the next step, and resumes from there on the next invocation.
public struct NightlyWorker: Sendable {
    /// At most this many missed nights are caught up after downtime; flags are cumulative, so the
    /// latest night sets everything earlier nights would have, and older digests are of no use.
    public static let maximumCatchUp = 31

    public let job: NightlyJob
    /// The folder under which each night's digests go, in a folder named by its date.
    public let worklistRoot: URL
    /// Where progress lines go.
    public let report: @Sendable (String) -> Void
    /// The wall clock; injectable for tests.
    public let now: @Sendable () -> Date

    public init(database: Database, worklistRoot: URL, now: @escaping @Sendable () -> Date = { Date() },
                report: @escaping @Sendable (String) -> Void) {
        self.job = NightlyJob(database: database)
        self.worklistRoot = worklistRoot
        self.now = now
        self.report = report
    }

    /// Runs until cancelled. Failures of a night are reported and retried at the next wake-up;
    /// only cancellation ends the loop.
    public func run() async {
        while !Task.isCancelled {
            do {
                let settings = try NightlySettings(try await job.database.read { tx in try await tx.settings.all() })
                try await catchUp(settings: settings)
                let wake = Self.nextRun(after: now(), atMinutes: settings.nightlyAtMinutes)
                report("next nightly run at \(Self.seoulTimestamp(wake))")
                try await sleep(until: wake)
            } catch is CancellationError {
                break
            } catch {
                report("error: \(DatabaseErrors.summary(DatabaseErrors.map(error)))")
                // Back off before trying again, unless asked to stop.
                do { try await Task.sleep(for: .seconds(60)) } catch { break }
            }
        }
        report("worker stopped")
    }

    /// Runs every night due and not yet succeeded, oldest first.
    public func catchUp(settings: NightlySettings) async throws {
        let last = try await JobRuns.lastSucceeded(job.database, job: NightlyJob.name)
        for date in Self.nightsDue(now: now(), atMinutes: settings.nightlyAtMinutes, lastSucceeded: last) {
            try Task.checkCancellation()
            var options = NightlyJob.Options(asOf: date)
            options.outputDirectory = worklistRoot.appendingPathComponent(date.description)
            do {
                switch try await job.run(options) {
                case .ran(let run, let resumed): report("\(date): \(resumed ? "resumed and " : "")succeeded (run \(run.id))")
                case .alreadySucceeded(let run): report("\(date): already ran (run \(run.id))")
                case .heldElsewhere(let run): report("\(date): run \(run.id) is being run by \(run.owner)")
                case .dryRun, .simulatedCrash: break
                }
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                // Recorded on the run; later nights still run (flags are cumulative) and the
                // failed one is resumed at the next wake-up.
                report("\(date): failed: \(DatabaseErrors.summary(DatabaseErrors.map(error)))")
            }
        }
    }

    /// The nights to run now: from the day after the last success (at most `maximumCatchUp`) to the
    /// latest night whose time has come; just that one when the job never succeeded.
    public static func nightsDue(now: Date, atMinutes: Int, lastSucceeded: LocalDate?) -> [LocalDate] {
        let today = LocalDate.seoulDate(at: now)
        let latest = seoulMinutes(at: now) >= atMinutes ? today : today.adding(days: -1)
        guard let last = lastSucceeded else { return [latest] }
        guard last < latest else { return [] }
        let first = max(last.adding(days: 1), latest.adding(days: -(maximumCatchUp - 1)))
        return (first.dayNumber...latest.dayNumber).map { LocalDate(dayNumber: $0) }
    }

    /// The next instant at the given Seoul time of day strictly after `now`.
    public static func nextRun(after now: Date, atMinutes: Int) -> Date {
        let seconds = now.timeIntervalSince1970 + Double(LocalDate.seoulOffsetSeconds)
        let dayStart = (seconds / 86_400).rounded(.down) * 86_400
        var next = dayStart + Double(atMinutes * 60)
        if next <= seconds { next += 86_400 }
        return Date(timeIntervalSince1970: next - Double(LocalDate.seoulOffsetSeconds))
    }

    static func seoulMinutes(at instant: Date) -> Int {
        let seconds = Int(instant.timeIntervalSince1970.rounded(.down)) + LocalDate.seoulOffsetSeconds
        return ((seconds % 86_400) + 86_400) % 86_400 / 60
    }

    static func seoulTimestamp(_ instant: Date) -> String {
        let minutes = seoulMinutes(at: instant)
        return String(format: "%@ %02d:%02d (Asia/Seoul)", LocalDate.seoulDate(at: instant).description, minutes / 60, minutes % 60)
    }

    /// Sleeps in slices of at most a minute against the wall clock, so a clock change or a
    /// suspended machine does not make it oversleep.
    func sleep(until wake: Date) async throws {
        while true {
            let left = wake.timeIntervalSince(now())
            if left <= 0 { return }
            try await Task.sleep(for: .milliseconds(Int(min(left, 60) * 1000) + 1))
        }
    }
}

/// The nightly worker as a service: stops between steps on shutdown, like `registry worker`.
public struct NightlyWorkerService: Service {
    let worker: NightlyWorker
    public init(worker: NightlyWorker) { self.worker = worker }
    public func run() async throws {
        await cancelWhenGracefulShutdown { await worker.run() }
    }
}
