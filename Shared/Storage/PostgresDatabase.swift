public import Foundation
public import Logging
import NIOCore
import NIOSSL
import PostgresNIO

/// PostgreSQL through postgres-nio's pooled `PostgresClient`. Each owner's tables live in their
/// own schema (`neosec_<owner>`), so the five services can share one database or use five.
public final class PostgresDatabase: SQLDatabase {
    public let dialect = SQLDialect.postgres
    public let isReadOnly: Bool
    public let schema: String
    private let client: PostgresClient
    private let runTask: Task<Void, Never>
    private let logger: Logger

    /// - Parameters:
    ///   - schema: the owner's schema; only `[a-z0-9_]` so it can be spliced into SQL safely.
    ///   - maximumConnections: pool size per replica.
    public init(url: PostgresURL, schema: String, readOnly: Bool = false, maximumConnections: Int = 16, logger: Logger) throws {
        guard !schema.isEmpty, schema.utf8.allSatisfy({ ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 }) else {
            throw StorageError.invalidURL("schema name must be [a-z0-9_]")
        }
        let tls: PostgresClient.Configuration.TLS =
            url.requireTLS ? .require(TLSConfiguration.makeClientConfiguration()) : .disable
        var configuration = PostgresClient.Configuration(
            host: url.host,
            port: url.port,
            username: url.username,
            password: url.password,
            database: url.database,
            tls: tls
        )
        configuration.options.maximumConnections = maximumConnections
        configuration.options.minimumConnections = 0
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.schema = schema
        self.isReadOnly = readOnly
        self.logger = logger
        self.runTask = Task { await client.run() }
    }

    public func table(_ name: String) -> String { "\(schema).\(name)" }

    public func execute(_ statement: SQLStatement) async throws {
        guard !isReadOnly else { throw StorageError.readOnly }
        _ = try await query(statement)
    }

    public func query(_ statement: SQLStatement) async throws -> [SQLRow] {
        if isReadOnly, !statement.sql.drop(while: { $0.isWhitespace }).uppercased().hasPrefix("SELECT") {
            throw StorageError.readOnly
        }
        let rows = try await client.query(Self.postgresQuery(statement), logger: logger)
        return try await Self.collect(rows)
    }

    @discardableResult
    public func transaction(_ statements: [SQLStatement]) async throws -> [[SQLRow]] {
        guard !isReadOnly else { throw StorageError.readOnly }
        return try await client.withTransaction(logger: logger) { connection in
            var results: [[SQLRow]] = []
            for statement in statements {
                let rows = try await connection.query(Self.postgresQuery(statement), logger: self.logger)
                results.append(try await Self.collect(rows))
            }
            return results
        }
    }

    public func migrate(_ migrations: [Migration]) async throws {
        guard !isReadOnly else { throw StorageError.readOnly }
        let lockKey = Int64(bitPattern: Self.fnv1a(schema))
        try await client.withTransaction(logger: logger) { connection in
            // Replicas starting together queue here; the second one finds everything applied.
            try await connection.query(Self.postgresQuery(SQLStatement("SELECT pg_advisory_xact_lock(?)", [.integer(lockKey)])), logger: self.logger)
            for sql in [
                "CREATE SCHEMA IF NOT EXISTS \(self.schema)",
                "CREATE TABLE IF NOT EXISTS \(self.schema).neosec_migrations (id TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)",
            ] {
                try await connection.query(PostgresQuery(unsafeSQL: sql), logger: self.logger)
            }
            let appliedRows = try await Self.collect(
                connection.query(PostgresQuery(unsafeSQL: "SELECT id FROM \(self.schema).neosec_migrations"), logger: self.logger)
            )
            let applied = Set(try appliedRows.map { try $0.text("id") })
            for migration in migrations where !applied.contains(migration.id) {
                for sql in migration.statements(Migration.Context(dialect: .postgres, schema: self.schema)) {
                    try await connection.query(PostgresQuery(unsafeSQL: sql), logger: self.logger)
                }
                try await connection.query(
                    Self.postgresQuery(
                        SQLStatement(
                            "INSERT INTO \(self.schema).neosec_migrations (id, applied_at) VALUES (?, ?)",
                            [.text(migration.id), .integer(Int64(Date().timeIntervalSince1970))]
                        )
                    ),
                    logger: self.logger
                )
            }
        }
    }

    public func ping() async throws {
        _ = try await query(SQLStatement("SELECT 1 AS one"))
    }

    public func close() async throws {
        runTask.cancel()
    }

    /// Drops this owner's schema. Used by the test suite to clean up its throwaway schemas.
    public func dropSchema() async throws {
        _ = try await client.query(PostgresQuery(unsafeSQL: "DROP SCHEMA IF EXISTS \(schema) CASCADE"), logger: logger)
    }

    // MARK: - Roles

    /// Whether `name` may be spliced into SQL as a role name: `[a-z_][a-z0-9_]*`, at most 63
    /// bytes (PostgreSQL's identifier limit), so no quoting is needed and none can be escaped;
    /// not `public` (every role) nor another reserved role name.
    public static func isSafeIdentifier(_ name: String) -> Bool {
        guard isPlainIdentifier(name) else { return false }
        return !["public", "none", "current_user", "current_role", "session_user", "user"].contains(name) && !name.hasPrefix("pg_")
    }

    static func isPlainIdentifier(_ name: String) -> Bool {
        guard let first = name.utf8.first, name.utf8.count <= 63, first == 95 || (first >= 97 && first <= 122) else { return false }
        return name.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 }
    }

    /// Lets `role` read `tables` of this schema, and nothing more: `USAGE` on the schema and
    /// `SELECT` on each table (idempotent; run after migrations so that new tables are covered;
    /// under the migrations' advisory lock, so replicas starting together do not collide).
    /// The role must exist; creating it is the operator's business (it needs `CREATEROLE`).
    public func grantRead(_ tables: [String], to role: String) async throws {
        guard !isReadOnly else { throw StorageError.readOnly }
        guard Self.isSafeIdentifier(role) else { throw StorageError(description: "role name must be [a-z_][a-z0-9_]* and not a reserved name") }
        guard tables.allSatisfy(Self.isPlainIdentifier) else { throw StorageError(description: "table names must be [a-z_][a-z0-9_]*") }
        let lockKey = Int64(bitPattern: Self.fnv1a(schema))
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query(Self.postgresQuery(SQLStatement("SELECT pg_advisory_xact_lock(?)", [.integer(lockKey)])), logger: self.logger)
            try await connection.query(PostgresQuery(unsafeSQL: "GRANT USAGE ON SCHEMA \(self.schema) TO \(role)"), logger: self.logger)
            let list = tables.map { "\(self.schema).\($0)" }.joined(separator: ", ")
            try await connection.query(PostgresQuery(unsafeSQL: "GRANT SELECT ON \(list) TO \(role)"), logger: self.logger)
        }
    }

    /// What the connecting role may do with the tables of this schema: those it can read, and
    /// those it could change in any way — a table or column privilege to insert, update, delete,
    /// truncate, reference or add triggers (a trigger runs as the owner), or membership in the
    /// owning role (`SET ROLE` would give everything). A superuser may change all of them.
    public func privileges() async throws -> (readable: Set<String>, writable: Set<String>) {
        let rows = try await query(
            SQLStatement(
                """
                SELECT c.relname AS t,
                    has_table_privilege(c.oid, 'SELECT') AS r,
                    (has_table_privilege(c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
                        OR has_any_column_privilege(c.oid, 'INSERT, UPDATE, REFERENCES')
                        OR pg_has_role(c.relowner, 'MEMBER')
                        OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)) AS w
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = ? AND c.relkind IN ('r', 'p')
                """,
                [.text(schema)]
            )
        )
        var readable: Set<String> = []
        var writable: Set<String> = []
        for row in rows {
            let table = try row.text("t")
            if try row.integer("r") == 1 { readable.insert(table) }
            if try row.integer("w") == 1 { writable.insert(table) }
        }
        return (readable, writable)
    }

    // MARK: - Conversions

    /// Rewrites `?` placeholders as `$1, $2, …`. Statements are written by us and never contain
    /// `?` inside literals.
    static func postgresQuery(_ statement: SQLStatement) -> PostgresQuery {
        var sql = ""
        sql.reserveCapacity(statement.sql.utf8.count + 8)
        var index = 0
        for character in statement.sql {
            if character == "?" {
                index += 1
                sql += "$\(index)"
            } else {
                sql.append(character)
            }
        }
        var bindings = PostgresBindings(capacity: statement.arguments.count)
        for argument in statement.arguments {
            switch argument {
            case .null: bindings.appendNull()
            case .integer(let int): bindings.append(int)
            case .text(let text): bindings.append(text)
            case .blob(let bytes): bindings.append(ByteBuffer(bytes: bytes))
            }
        }
        return PostgresQuery(unsafeSQL: sql, binds: bindings)
    }

    private static func collect(_ rows: PostgresRowSequence) async throws -> [SQLRow] {
        var result: [SQLRow] = []
        for try await row in rows {
            var values: [String: SQLValue] = [:]
            for cell in row {
                guard cell.bytes != nil else {
                    values[cell.columnName] = .null
                    continue
                }
                switch cell.dataType {
                case .int2, .int4, .int8:
                    values[cell.columnName] = .integer(try cell.decode(Int64.self))
                case .bytea:
                    let buffer = try cell.decode(ByteBuffer.self)
                    values[cell.columnName] = .blob(Array(buffer.readableBytesView))
                case .bool:
                    values[cell.columnName] = .integer(try cell.decode(Bool.self) ? 1 : 0)
                case .void:
                    values[cell.columnName] = .null
                default:
                    values[cell.columnName] = .text(try cell.decode(String.self))
                }
            }
            result.append(SQLRow(values))
        }
        return result
    }

    private static func fnv1a(_ string: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in string.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }
}
