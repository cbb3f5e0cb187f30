import ArgumentParser
import Dispatch
import Foundation
import RegistryDomain
import RegistryJobs
import RegistryStorage

struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "jobs", abstract: "The nightly job: run it, its history, lost-to-follow-up proposals.",
                                                    subcommands: [Run.self, History.self, Show.self, ProposalCommand.self])

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run the nightly job once for a date (for cron); exit 0 if it ran or had already run.", discussion: """
            Flags overdue follow-ups, escalates them past 30 and 90 days, marks them missed after 365,
            proposes lost to follow-up, flags late expedited reports, writes each institution's
            worklist (CSV and JSON) into --out, and prunes old history (settings: registry config list).
            Each night runs exactly once: a second invocation reports that the night already ran or
            that another runner holds it, and exits 0; a night whose runner died or failed is taken
            over and resumed at its first unfinished step. Exit status is non-zero only on failure.

            Examples:
              registry jobs run nightly
              registry jobs run nightly --as-of 2026-11-20 --dry-run
              registry jobs run nightly --out /var/lib/registry/worklists/today
            """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The job: nightly.") var job: String
        @Option(name: .customLong("as-of"), help: "The night to run, YYYY-MM-DD (default: today in Seoul).") var asOf: String?
        @Flag(name: .customLong("dry-run"), help: "Print what each step would change, then roll everything back.") var dryRun = false
        @Option(help: "Folder for the worklist digests (default: $REGISTRY_HOME/worklists/DATE).") var out: String?
        @Option(name: .customLong("stale-after"), help: "Seconds without a heartbeat after which a running night is taken over.") var staleAfter: Int = 120

        func run() async throws {
            try await CommandContext.run(global) { ctx in
                guard job == NightlyJob.name else { throw RegistryError.invalid("job", "'\(job)' is not a job; allowed: nightly") }
                guard (10...86_400).contains(staleAfter) else {
                    throw RegistryError.invalid("stale-after", "\(staleAfter) is out of range; allowed: 10 to 86400 seconds")
                }
                let date = try asOf.map { t throws(RegistryError) in try Rules.date(t, field: "as-of") } ?? ctx.today
                var options = NightlyJob.Options(asOf: date, dryRun: dryRun)
                options.outputDirectory = out.map { URL(fileURLWithPath: $0) }
                    ?? ctx.options.homeURL.appendingPathComponent("worklists").appendingPathComponent(date.description)
                options.staleAfter = .seconds(staleAfter)
                let outcome = try await NightlyJob(database: ctx.database).run(options)
                try ctx.emit(RunReport(outcome, asOf: date, out: dryRun ? nil : options.outputDirectory?.path)) { RunReport.human(outcome, asOf: date, out: options.outputDirectory?.path) }
            }
        }
    }

    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List recent runs, newest first.", discussion: """
            Example:
              registry jobs history --limit 10
            """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "How many runs (1 to 1000).") var limit: Int = 20

        func run() async throws {
            try await CommandContext.run(global) { ctx in
                guard (1...1_000).contains(limit) else { throw RegistryError.invalid("limit", "\(limit) is out of range; allowed: 1 to 1000") }
                let runs = try await JobRuns.history(ctx.database, limit: limit)
                try ctx.emit(runs) {
                    table(["RUN", "JOB", "AS OF", "STATUS", "STARTED", "FINISHED", "ATTEMPTS", "FAILED STEP"],
                          runs.map { ["\($0.id)", $0.job, $0.asOf.description, $0.status.rawValue, $0.startedAt, $0.finishedAt ?? "-", "\($0.attempts)", $0.failedStep ?? ""] })
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one run: times, heartbeat, counts per step, error.", discussion: """
            Example:
              registry jobs show 12
            """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Run id (from registry jobs history).") var run: String

        func run() async throws {
            try await CommandContext.run(global) { ctx in
                let r = try await JobRuns.run(ctx.database, id: try Parse.id(run, field: "run"))
                try ctx.emit(r) {
                    var lines = ["run \(r.id): \(r.job) for \(r.asOf), \(r.status.rawValue) (attempt \(r.attempts))",
                                 "  started    \(r.startedAt)", "  heartbeat  \(r.heartbeatAt) (\(Int(r.secondsSinceHeartbeat)) s ago)",
                                 "  finished   \(r.finishedAt ?? "-")", "  owner      \(r.owner)"]
                    for step in NightlyStep.allCases {
                        let count = r.stepCounts[step.rawValue].map { "\($0)" } ?? (r.failedStep == step.rawValue ? "FAILED" : "-")
                        let time = r.stepMillis[step.rawValue].map { String(format: "  (%.2f s)", Double($0) / 1000) } ?? ""
                        lines.append("  \(step.rawValue.padding(toLength: 13, withPad: " ", startingAt: 0))\(count)\(time)")
                    }
                    if let error = r.error { lines.append("  error      \(error)") }
                    return lines.joined(separator: "\n")
                }
            }
        }
    }
}

/// What `jobs run` prints with --json.
struct RunReport: Encodable {
    var outcome: String
    var asOf: LocalDate
    var run: JobRun?
    var counts: [String: Int]?
    var out: String?

    init(_ outcome: NightlyJob.Outcome, asOf: LocalDate, out: String?) {
        self.asOf = asOf
        switch outcome {
        case .ran(let r, let resumed): self.outcome = resumed ? "resumed" : "ran"; run = r; counts = r.stepCounts; self.out = out
        case .alreadySucceeded(let r): self.outcome = "already-ran"; run = r
        case .heldElsewhere(let r): self.outcome = "running-elsewhere"; run = r
        case .dryRun(let c): self.outcome = "dry-run"; counts = c
        case .simulatedCrash: self.outcome = "stopped"
        }
    }

    static func counts(_ c: [String: Int], millis: [String: Int] = [:]) -> String {
        NightlyStep.allCases.compactMap { s in
            c[s.rawValue].map { n in "\(s.rawValue) \(n)" + (millis[s.rawValue].map { String(format: " (%.2f s)", Double($0) / 1000) } ?? "") }
        }.joined(separator: ", ")
    }

    static func human(_ outcome: NightlyJob.Outcome, asOf: LocalDate, out: String?) -> String {
        switch outcome {
        case .ran(let r, let resumed):
            return "nightly \(asOf): \(resumed ? "resumed (attempt \(r.attempts)) and " : "")succeeded, run \(r.id)\n  \(counts(r.stepCounts, millis: r.stepMillis))\n  worklists in \(out ?? "-")"
        case .alreadySucceeded(let r):
            return "nightly \(asOf): already ran (run \(r.id), finished \(r.finishedAt ?? "?")); nothing to do"
        case .heldElsewhere(let r):
            return "nightly \(asOf): run \(r.id) is being run by \(r.owner) (heartbeat \(Int(r.secondsSinceHeartbeat)) s ago); nothing to do"
        case .dryRun(let c):
            return "nightly \(asOf), dry run (rolled back): \(counts(c))"
        case .simulatedCrash(let id):
            return "nightly \(asOf): run \(id) stopped"
        }
    }
}

struct ProposalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "proposal", abstract: "Lost-to-follow-up proposals: list, confirm, reject.",
                                                    subcommands: [List.self, Confirm.self, Reject.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List proposals (pending by default), oldest first.", discussion: """
            Example:
              registry jobs proposal list --institution ARM-001
            """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "Only this institution's.") var institution: String?
        @Option(help: "pending, confirmed, rejected or all.") var decision: String = "pending"

        func run() async throws {
            try await CommandContext.run(global, reach: .site) { ctx in
                let which: ProposalDecision?
                if decision == "all" { which = nil } else {
                    guard let d = ProposalDecision(rawValue: decision) else {
                        throw RegistryError.invalid("decision", "'\(decision)' is not a decision; allowed: pending, confirmed, rejected, all")
                    }
                    which = d
                }
                let code = try ctx.institution(institution)
                let list = try await ctx.read { tx in try await tx.lostProposals.list(institutionCode: code, decision: which) }
                try ctx.emit(list) {
                    table(["PROPOSAL", "PATIENT", "INSTITUTION", "PROPOSED", "MISSED", "DECISION", "DECIDED", "BY"],
                          list.map { ["\($0.id)", "\($0.patientID)", $0.institutionCode, $0.proposedOn.description, "\($0.missedCount)",
                                      $0.decision.rawValue, $0.decidedOn?.description ?? "", $0.decidedBy ?? ""] })
                }
            }
        }
    }

    struct Confirm: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Confirm a proposal: the patient becomes lost to follow-up (reversible with `patient found`).", discussion: """
            Records the loss exactly as `registry patient lost` does (open follow-ups due later stop),
            and the decision, in one audited transaction.

            Example:
              registry jobs proposal confirm 7 --reason "no answer to 3 letters and 5 calls since May"
            """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Proposal id.") var proposal: String
        @Option(help: "Date the loss takes effect, YYYY-MM-DD (default: today in Seoul).") var on: String?
        @Option(help: "Why (required).") var reason: String?

        func run() async throws {
            try await CommandContext.run(global, reach: .site) { ctx in
                let date = try on.map { t throws(RegistryError) in try Rules.date(t, field: "on") } ?? ctx.today
                let decided = try await ctx.write { tx in try await tx.lostProposals.confirm(id: try Parse.id(proposal, field: "proposal"), on: date, reason: try Rules.reason(reason)) }
                try ctx.emit(decided) { "proposal \(decided.id) confirmed: patient \(decided.patientID) is lost to follow-up from \(date)" }
            }
        }
    }

    struct Reject: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Reject a proposal: the patient stays active; proposed again only after a further miss.", discussion: """
            Example:
              registry jobs proposal reject 7 --reason "patient phoned on 2026-11-20, visit booked"
            """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Proposal id.") var proposal: String
        @Option(help: "Why (required).") var reason: String?

        func run() async throws {
            try await CommandContext.run(global, reach: .site) { ctx in
                let decided = try await ctx.write { tx in try await tx.lostProposals.reject(id: try Parse.id(proposal, field: "proposal"), reason: try Rules.reason(reason)) }
                try ctx.emit(decided) { "proposal \(decided.id) rejected: patient \(decided.patientID) stays active" }
            }
        }
    }
}

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "worker", abstract: "Run the nightly job every night at the configured Seoul time, until stopped.", discussion: """
        Runs at jobs.nightly-at (default 02:00 Asia/Seoul); on start it first catches up the nights
        missed since the last succeeded run (at most 31). Cron and the worker can both be set up:
        each night still runs once. SIGTERM or SIGINT stops it between steps; the night resumes at
        the next start. Progress goes to stderr.

        Example:
          registry worker --out /var/lib/registry/worklists
        """)
    @OptionGroup var global: GlobalOptions
    @Option(help: "Folder under which each night's worklists go, by date (default: $REGISTRY_HOME/worklists).") var out: String?

    func run() async throws {
        try await CommandContext.run(global) { ctx in
            let root = out.map { URL(fileURLWithPath: $0) } ?? ctx.options.homeURL.appendingPathComponent("worklists")
            let worker = NightlyWorker(database: ctx.database, worklistRoot: root) { line in Output.printError("worker: \(line)") }
            let task = Task { await worker.run() }
            // Signals cancel the worker's task; the default handlers would kill it mid-step.
            let sources = [SIGTERM, SIGINT].map { number -> any DispatchSourceSignal in
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler { task.cancel() }
                source.resume()
                return source
            }
            await task.value
            sources.forEach { $0.cancel() }
        }
    }
}
