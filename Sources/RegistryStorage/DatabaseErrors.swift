import PostgresNIO
import RegistryDomain

/// Turns PostgreSQL's refusals into registry errors a user can act on.
public enum DatabaseErrors {
    /// Maps an error from a query; registry errors pass through unchanged.
    public static func map(_ error: any Error) -> any Error {
        if error is RegistryError { return error }
        // The first error is the one to report; a failed ROLLBACK after it was logged where it happened.
        if let failed = error as? TransactionError { return map(failed.error) }
        guard let psql = error as? PSQLError else { return error }
        let state = psql.serverInfo?[.sqlState]
        let message = psql.serverInfo?[.message] ?? summary(error)
        let constraint = psql.serverInfo?[.constraintName]
        switch state {
        case "23505":
            return RegistryError(.conflict, field: constraint.map(field(ofConstraint:)), "already exists: \(psql.serverInfo?[.detail] ?? message)")
        case "23514", "23502", "22001", "22007", "22008", "22P02":
            return RegistryError(.invalid, field: constraint.map(field(ofConstraint:)), "refused by the database: \(message)")
        case "23503":
            return RegistryError(.notFound, field: constraint.map(field(ofConstraint:)), "refers to a record that does not exist: \(psql.serverInfo?[.detail] ?? message)")
        case "42501":
            return RegistryError(.conflict, field: nil, message)
        case "42P01", "42703":
            return RegistryError(.configuration, field: nil, "the database schema is missing or out of date: \(message)", remedy: .migrate)
        default:
            if state == nil {
                return RegistryError(.unavailable, field: "database-url", "lost the connection to PostgreSQL: \(summary(error))")
            }
            return error
        }
    }

    /// One line describing a connection or server error, never a dump of internals.
    public static func summary(_ error: any Error) -> String {
        if let failed = error as? TransactionError { return summary(failed.error) }
        if let psql = error as? PSQLError {
            if let message = psql.serverInfo?[.message] { return message }
            if let underlying = psql.underlying { return "\(underlying)" }
            return "\(psql.code)"
        }
        return "\(error)"
    }

    static func field(ofConstraint name: String) -> String {
        if name.hasSuffix("_pseudonym_key") { return "local-id" }
        if name.hasSuffix("_code_key") { return "code" }
        if name.hasSuffix("_designation_number_key") { return "designation" }
        return name
    }
}
