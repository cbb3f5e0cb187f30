import Logging
import PostgresNIO

/// Secondary indexes set aside for a bulk load into tables nobody else is using, then built again
/// from their own definitions, as pg_restore does: one sort per index instead of millions of
/// random B-tree insertions (a third of a follow-up row's cost in the demo's load).
///
/// Only plain secondary indexes are set aside; primary keys, unique indexes and the indexes behind
/// constraints stay, so every constraint is checked during the load as always. `restore` builds
/// each index again with the exact statement `pg_get_indexdef` gave for it, under its own name.
public struct DeferredIndexes: Sendable {
    /// The indexes set aside: name and the statement that creates it.
    public let definitions: [(name: String, statement: String)]

    /// Drops the plain secondary indexes of `tables` in one transaction and returns their definitions.
    public static func setAside(tables: [String], database: Database) async throws -> DeferredIndexes {
        try await database.transaction(actor: "registry bulk load") { tx in
            let c = tx.connection
            var definitions: [(name: String, statement: String)] = []
            for try await (name, statement) in try await c.query("""
                SELECT quote_ident(ic.relname), pg_get_indexdef(i.indexrelid)
                FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
                JOIN pg_namespace n ON n.oid = t.relnamespace
                WHERE n.nspname = current_schema() AND t.relname = ANY(\(tables))
                  AND NOT i.indisprimary AND NOT i.indisunique
                  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
                ORDER BY ic.relname
                """, logger: database.logger).decode((String, String).self) {
                definitions.append((name, statement))
            }
            for d in definitions {
                try await c.query(PostgresQuery(unsafeSQL: "DROP INDEX \(d.name)"), logger: database.logger)
            }
            return DeferredIndexes(definitions: definitions)
        }
    }

    /// Builds every index set aside again, on `connections` connections at once, each in its own
    /// transaction with room to sort in memory.
    public func restore(database: Database, connections: Int = 2) async throws {
        let queue = IndexQueue(definitions.map(\.statement))
        let logger = database.logger
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<max(1, min(connections, definitions.count)) {
                group.addTask {
                    while let statement = await queue.next() {
                        try await database.plainTransaction { tx in
                            let c = tx.connection
                            try await c.query("SET LOCAL maintenance_work_mem = '256MB'", logger: logger)
                            try await c.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    private actor IndexQueue {
        var statements: [String]
        init(_ statements: [String]) { self.statements = statements }
        func next() -> String? { statements.isEmpty ? nil : statements.removeFirst() }
    }
}
