import Foundation
import Logging
import PostgresNIO
import RegistryDomain
import RegistryStorage

/// One run of a job for one as-of date, as `job_run` records it.
public struct JobRun: Codable, Equatable, Sendable {
    public enum Status: String, Codable, Sendable { case running, succeeded, failed }

    public var id: Int
    public var job: String
    public var asOf: LocalDate
    public var status: Status
    /// Times in Seoul local time, ISO 8601 with offset (`2026-11-26T02:00:03+09:00`).
    public var startedAt: String
    public var heartbeatAt: String
    public var finishedAt: String?
    /// The process that holds (or last held) the run: host:pid:token.
    public var owner: String
    /// Rows each completed step changed or wrote, by step name; a step missing has not completed.
    public var stepCounts: [String: Int]
    /// Milliseconds each completed step took.
    public var stepMillis: [String: Int]
    public var failedStep: String?
    public var error: String?
    /// 1, plus one for every takeover of a failed or abandoned run.
    public var attempts: Int
    /// Seconds since the last heartbeat, by the database's clock.
    public var secondsSinceHeartbeat: Double
}

/// Reading the run history.
public enum JobRuns {
    static let columns = """
        id, job, as_of, status,
        to_char(started_at AT TIME ZONE 'Asia/Seoul', 'YYYY-MM-DD"T"HH24:MI:SS"+09:00"'),
        to_char(heartbeat_at AT TIME ZONE 'Asia/Seoul', 'YYYY-MM-DD"T"HH24:MI:SS"+09:00"'),
        to_char(finished_at AT TIME ZONE 'Asia/Seoul', 'YYYY-MM-DD"T"HH24:MI:SS"+09:00"'),
        owner, step_counts::text, step_millis::text, failed_step, error, attempts,
        extract(epoch FROM clock_timestamp() - heartbeat_at)::float8
        """

    /// The latest runs, newest as-of date first.
    public static func history(_ database: Database, job: String? = nil, limit: Int = 20) async throws -> [JobRun] {
        try await database.read { tx in
            try await decode(tx.connection.query("""
                SELECT \(unescaped: columns) FROM job_run WHERE (\(job)::text IS NULL OR job = \(job))
                ORDER BY as_of DESC, id DESC LIMIT \(limit)
                """, logger: database.logger))
        }
    }

    /// One run by id.
    public static func run(_ database: Database, id: Int) async throws -> JobRun {
        try await database.read { tx in try await run(tx.connection, id: id, logger: database.logger) }
    }

    static func run(_ c: PostgresConnection, id: Int, logger: Logger) async throws -> JobRun {
        guard let run = try await decode(c.query("SELECT \(unescaped: columns) FROM job_run WHERE id = \(id)", logger: logger)).first else {
            throw RegistryError.notFound("run", "no job run has id \(id)", remedy: .list(.jobRuns))
        }
        return run
    }

    static func run(_ c: PostgresConnection, job: String, asOf: LocalDate, logger: Logger) async throws -> JobRun? {
        try await decode(c.query("SELECT \(unescaped: columns) FROM job_run WHERE job = \(job) AND as_of = \(asOf)", logger: logger)).first
    }

    /// The latest as-of date a job succeeded for.
    public static func lastSucceeded(_ database: Database, job: String) async throws -> LocalDate? {
        try await database.read { tx in
            try await tx.connection.query("SELECT max(as_of) FROM job_run WHERE job = \(job) AND status = 'succeeded'", logger: database.logger)
                .decode(LocalDate?.self).firstElement() ?? nil
        }
    }

    static func decode(_ rows: PostgresRowSequence) async throws -> [JobRun] {
        var out: [JobRun] = []
        for try await (id, job, asOf, status, started, heartbeat, finished, owner, counts, millis, failedStep, error, attempts, sinceHeartbeat)
            in rows.decode((Int, String, LocalDate, String, String, String, String?, String, String, String, String?, String?, Int32, Double).self) {
            let stepCounts = try JSONDecoder().decode([String: Int].self, from: Data(counts.utf8))
            let stepMillis = try JSONDecoder().decode([String: Int].self, from: Data(millis.utf8))
            out.append(JobRun(id: id, job: job, asOf: asOf, status: try .stored(status, column: "job_run.status"), startedAt: started,
                              heartbeatAt: heartbeat, finishedAt: finished, owner: owner, stepCounts: stepCounts, stepMillis: stepMillis, failedStep: failedStep,
                              error: error, attempts: Int(attempts), secondsSinceHeartbeat: sinceHeartbeat))
        }
        return out
    }
}
