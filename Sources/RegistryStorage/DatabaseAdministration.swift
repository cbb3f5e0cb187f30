import PostgresNIO

extension Database {
    /// Drops the database `name` on this server (ending its sessions) and creates it anew, empty.
    /// For the demo's synthetic registry only; a name, not a value, so it is quoted, not bound.
    public func recreateDatabase(named name: String) async throws {
        let quoted = "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        try await withConnection { c in
            try await c.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(quoted) WITH (FORCE)"), logger: logger)
            try await c.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(quoted)"), logger: logger)
        }
    }
}
