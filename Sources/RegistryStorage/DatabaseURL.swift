import Foundation
import PostgresNIO
import RegistryDomain

/// Where the registry's PostgreSQL is: parsed from a `postgres://user:password@host:port/db` URL.
public struct DatabaseURL: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    /// A unix socket directory (`?host=/path` as libpq spells it), used instead of TCP when set.
    public var socketDirectory: String?

    public init(host: String, port: Int, user: String, password: String?, database: String, socketDirectory: String? = nil) {
        self.host = host; self.port = port; self.user = user; self.password = password
        self.database = database; self.socketDirectory = socketDirectory
    }

    /// Parses a libpq-style URL; the error names what is wrong and shows the expected shape.
    public init(_ text: String, field: String = "database-url") throws(RegistryError) {
        guard let comps = URLComponents(string: text), let scheme = comps.scheme, ["postgres", "postgresql"].contains(scheme) else {
            throw .invalid(field, "'\(DatabaseURL.redact(text))' is not a PostgreSQL URL; expected postgres://USER:PASSWORD@HOST:PORT/DATABASE")
        }
        let socket = comps.queryItems?.first(where: { $0.name == "host" })?.value
        guard let host = comps.host.flatMap({ $0.isEmpty ? nil : $0 }) ?? (socket != nil ? "localhost" : nil) else {
            throw .invalid(field, "the URL names no host; expected postgres://USER:PASSWORD@HOST:PORT/DATABASE")
        }
        let db = String(comps.path.drop(while: { $0 == "/" }))
        self.init(host: host, port: comps.port ?? 5432, user: comps.user ?? "postgres", password: comps.password,
                  database: db.isEmpty ? (comps.user ?? "postgres") : db, socketDirectory: socket)
    }

    /// The same server, another database.
    public func with(database: String) -> DatabaseURL {
        var copy = self; copy.database = database; return copy
    }

    /// The URL with its password (libpq's own format, usable by psql).
    public var urlString: String {
        var c = URLComponents()
        c.scheme = "postgres"; c.host = host; c.port = port; c.user = user; c.password = password; c.path = "/" + database
        if let socketDirectory { c.queryItems = [URLQueryItem(name: "host", value: socketDirectory)] }
        return c.string ?? ""
    }

    /// The URL with the password hidden, for messages and logs.
    public var description: String { DatabaseURL.redact(urlString) }

    static func redact(_ text: String) -> String {
        guard var c = URLComponents(string: text), c.password != nil else { return text }
        c.password = "***"
        return c.string ?? text
    }

    /// The connection settings PostgresNIO needs for the pool.
    var clientConfiguration: PostgresClient.Configuration {
        var config: PostgresClient.Configuration
        if let socketDirectory {
            config = .init(unixSocketPath: socketDirectory + "/.s.PGSQL.\(port)", username: user, password: password, database: database)
        } else {
            config = .init(host: host, port: port, username: user, password: password, database: database, tls: .disable)
        }
        config.options.minimumConnections = 0
        config.options.maximumConnections = 8
        return config
    }

    /// The connection settings for one connection.
    var connectionConfiguration: PostgresConnection.Configuration {
        if let socketDirectory {
            return .init(unixSocketPath: socketDirectory + "/.s.PGSQL.\(port)", username: user, password: password, database: database)
        }
        return .init(host: host, port: port, username: user, password: password, database: database, tls: .disable)
    }
}
