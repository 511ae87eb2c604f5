public import Foundation

/// Where a service keeps its data: a SQLite file under the data directory, or a PostgreSQL URL.
public enum StoreLocation: Sendable, Equatable {
    case sqlite(path: String)
    case postgres(PostgresURL)

    /// The location for `owner` given the data directory and an optional `postgres://` URL.
    public static func resolve(owner: String, dataDirectory: String, databaseURL: String?) throws -> StoreLocation {
        if let databaseURL, !databaseURL.isEmpty {
            return .postgres(try PostgresURL(parsing: databaseURL))
        }
        return .sqlite(path: URL(fileURLWithPath: dataDirectory).appendingPathComponent("\(owner).sqlite").path)
    }
}

/// A parsed `postgres://user:password@host:port/database?sslmode=…` URL. `description` never
/// shows the password.
public struct PostgresURL: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    public var requireTLS: Bool

    public init(parsing string: String) throws {
        guard let components = URLComponents(string: string), let scheme = components.scheme,
            scheme == "postgres" || scheme == "postgresql"
        else { throw StorageError.invalidURL("scheme must be postgres://") }
        guard let host = components.host, !host.isEmpty else { throw StorageError.invalidURL("missing host") }
        guard let user = components.user, !user.isEmpty else { throw StorageError.invalidURL("missing user") }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty else { throw StorageError.invalidURL("missing database name") }
        self.host = host
        self.port = components.port ?? 5432
        self.username = user.removingPercentEncoding ?? user
        self.password = components.password.map { $0.removingPercentEncoding ?? $0 }
        self.database = database
        let sslmode = components.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "prefer"
        switch sslmode {
        case "disable", "prefer", "allow": self.requireTLS = false
        case "require", "verify-ca", "verify-full": self.requireTLS = true
        default: throw StorageError.invalidURL("unsupported sslmode")
        }
    }

    public var description: String { "postgres://\(username)@\(host):\(port)/\(database)" }
}
