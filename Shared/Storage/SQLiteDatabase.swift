public import Foundation
import GRDB

/// SQLite through GRDB, over the system libsqlite3. A `DatabasePool` gives WAL mode, concurrent
/// readers and one serialized writer.
public final class SQLiteDatabase: SQLDatabase {
    public let dialect = SQLDialect.sqlite
    public let isReadOnly: Bool
    private let pool: DatabasePool
    /// Writes go through group commit: one transaction (one fsync) for all writes queued together.
    private let writer: GroupCommit

    /// Opens (and, unless read-only, creates) the database file at `path`.
    public init(path: String, readOnly: Bool = false) throws {
        if !readOnly {
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        var configuration = Configuration()
        configuration.readonly = readOnly
        configuration.busyMode = .timeout(10)
        configuration.label = URL(fileURLWithPath: path).lastPathComponent
        configuration.foreignKeysEnabled = true
        self.isReadOnly = readOnly
        self.pool = try DatabasePool(path: path, configuration: configuration)
        self.writer = GroupCommit(pool: pool)
        if !readOnly {
            // DatabasePool turns WAL on with synchronous=NORMAL, which may lose the last commits on
            // power loss. Committed grants and revocations must survive that: fsync every commit.
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            // The store holds hashes and sealed keys only, but it is still nobody else's business.
            try? FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        }
    }

    public func table(_ name: String) -> String { name }

    public func execute(_ statement: SQLStatement) async throws {
        guard !isReadOnly else { throw StorageError.readOnly }
        try await writer.write { db in
            try Self.prepared(db, statement).execute(arguments: Self.arguments(statement.arguments))
        }
    }

    public func query(_ statement: SQLStatement) async throws -> [SQLRow] {
        let isRead = Self.isReadStatement(statement.sql)
        if isRead {
            return try await pool.read { db in try Self.fetch(db, statement) }
        }
        guard !isReadOnly else { throw StorageError.readOnly }
        return try await writer.write { db in try Self.fetch(db, statement) }
    }

    @discardableResult
    public func transaction(_ statements: [SQLStatement]) async throws -> [[SQLRow]] {
        guard !isReadOnly else { throw StorageError.readOnly }
        // One savepoint of a group transaction: rolled back alone if any statement throws.
        return try await writer.write { db in
            try statements.map { try Self.fetch(db, $0) }
        }
    }

    public func migrate(_ migrations: [Migration]) async throws {
        guard !isReadOnly else { throw StorageError.readOnly }
        try await pool.write { db in
            try db.execute(sql: "CREATE TABLE IF NOT EXISTS neosec_migrations (id TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)")
            let applied = Set(try String.fetchAll(db, sql: "SELECT id FROM neosec_migrations"))
            for migration in migrations where !applied.contains(migration.id) {
                for sql in migration.statements(Migration.Context(dialect: .sqlite, schema: nil)) {
                    try db.execute(sql: sql)
                }
                try db.execute(
                    sql: "INSERT INTO neosec_migrations (id, applied_at) VALUES (?, ?)",
                    arguments: [migration.id, Int64(Date().timeIntervalSince1970)]
                )
            }
        }
    }

    public func ping() async throws {
        _ = try await pool.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

    public func close() async throws {
        try pool.close()
    }

    // MARK: - Conversions

    private static func isReadStatement(_ sql: String) -> Bool {
        let head = sql.drop(while: { $0.isWhitespace }).prefix(6).uppercased()
        return head == "SELECT"
    }

    private static func arguments(_ values: [SQLValue]) -> StatementArguments {
        StatementArguments(values.map { value -> (any DatabaseValueConvertible)? in
            switch value {
            case .null: nil
            case .integer(let int): int
            case .text(let text): text
            case .blob(let bytes): Data(bytes)
            }
        })
    }

    /// Our statements are a fixed set, so each is prepared once per connection and kept; those
    /// with long `IN (?, …)` lists, whose text varies with their length, are not kept.
    private static func prepared(_ db: Database, _ statement: SQLStatement) throws -> Statement {
        statement.arguments.count <= 16 ? try db.cachedStatement(sql: statement.sql) : try db.makeStatement(sql: statement.sql)
    }

    private static func fetch(_ db: Database, _ statement: SQLStatement) throws -> [SQLRow] {
        let rows = try Row.fetchAll(prepared(db, statement), arguments: arguments(statement.arguments))
        return rows.map { row in
            var values: [String: SQLValue] = [:]
            for (column, dbValue) in row {
                switch dbValue.storage {
                case .null: values[column] = .null
                case .int64(let int): values[column] = .integer(int)
                case .double(let double): values[column] = .integer(Int64(double))
                case .string(let string): values[column] = .text(string)
                case .blob(let data): values[column] = .blob(Array(data))
                }
            }
            return SQLRow(values)
        }
    }
}
