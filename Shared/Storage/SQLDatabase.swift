public import Foundation

/// A value bound to, or read from, a SQL statement. Only the four types the stores need.
public enum SQLValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case text(String)
    case blob([UInt8])
}

extension SQLValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    public init(stringLiteral value: String) { self = .text(value) }
    public init(integerLiteral value: Int64) { self = .integer(value) }

    public static func optionalText(_ value: String?) -> SQLValue { value.map(SQLValue.text) ?? .null }
    public static func optionalInteger(_ value: Int64?) -> SQLValue { value.map(SQLValue.integer) ?? .null }
}

/// One result row, keyed by column name. Typed accessors throw `StorageError.corrupt` rather
/// than crash when a column holds something unexpected.
public struct SQLRow: Sendable {
    public let values: [String: SQLValue]

    public init(_ values: [String: SQLValue]) { self.values = values }

    public func text(_ column: String) throws -> String {
        guard case .text(let value) = values[column] else { throw StorageError.corrupt(column) }
        return value
    }

    public func optionalText(_ column: String) throws -> String? {
        switch values[column] {
        case .text(let value): value
        case .null, nil: nil
        default: throw StorageError.corrupt(column)
        }
    }

    public func integer(_ column: String) throws -> Int64 {
        guard case .integer(let value) = values[column] else { throw StorageError.corrupt(column) }
        return value
    }

    public func optionalInteger(_ column: String) throws -> Int64? {
        switch values[column] {
        case .integer(let value): value
        case .null, nil: nil
        default: throw StorageError.corrupt(column)
        }
    }

    public func blob(_ column: String) throws -> [UInt8] {
        guard case .blob(let value) = values[column] else { throw StorageError.corrupt(column) }
        return value
    }
}

/// A statement and its arguments, written with `?` placeholders in both dialects.
public struct SQLStatement: Sendable {
    public var sql: String
    public var arguments: [SQLValue]

    public init(_ sql: String, _ arguments: [SQLValue] = []) {
        self.sql = sql
        self.arguments = arguments
    }
}

/// The two SQL engines NeoSec runs on.
public enum SQLDialect: String, Sendable {
    case sqlite
    case postgres
}

/// A schema change, written per dialect. Applied once per owner, in order, inside a transaction.
public struct Migration: Sendable {
    /// What a migration needs to write its DDL: the dialect and how to name a table.
    public struct Context: Sendable {
        public let dialect: SQLDialect
        let schema: String?
        public func table(_ name: String) -> String { schema.map { "\($0).\(name)" } ?? name }
        /// `BLOB` on SQLite, `BYTEA` on PostgreSQL.
        public var blob: String { dialect == .sqlite ? "BLOB" : "BYTEA" }
        /// 64-bit integer column type.
        public var integer: String { dialect == .sqlite ? "INTEGER" : "BIGINT" }
    }

    public var id: String
    public var statements: @Sendable (Context) -> [String]

    public init(id: String, statements: @escaping @Sendable (Context) -> [String]) {
        self.id = id
        self.statements = statements
    }
}

/// The narrow database interface every store is written against. Both implementations are real
/// drivers: GRDB over the system SQLite, and postgres-nio's pooled `PostgresClient`.
///
/// Atomicity is expressed without long-lived transactions: single statements that decide and act
/// (`DELETE … RETURNING`, `INSERT … ON CONFLICT DO NOTHING RETURNING`, conditional `UPDATE …
/// RETURNING`), and `transaction(_:)` for a fixed batch that must commit together.
public protocol SQLDatabase: Sendable {
    var dialect: SQLDialect { get }
    /// True when the connection was opened read-only (the Introspection Service's view of the token store).
    var isReadOnly: Bool { get }

    /// Qualifies a table name with the owner's namespace (a PostgreSQL schema; nothing on SQLite,
    /// where each owner has its own file).
    func table(_ name: String) -> String

    func execute(_ statement: SQLStatement) async throws
    func query(_ statement: SQLStatement) async throws -> [SQLRow]
    /// Runs the statements in one transaction and returns each one's rows.
    @discardableResult
    func transaction(_ statements: [SQLStatement]) async throws -> [[SQLRow]]
    /// Applies the migrations not yet applied, each in its own transaction, safe against
    /// several replicas starting at once.
    func migrate(_ migrations: [Migration]) async throws
    /// A cheap round trip, for readiness checks.
    func ping() async throws
    func close() async throws
}

extension SQLDatabase {
    public func execute(_ sql: String, _ arguments: [SQLValue] = []) async throws {
        try await execute(SQLStatement(sql, arguments))
    }

    public func query(_ sql: String, _ arguments: [SQLValue] = []) async throws -> [SQLRow] {
        try await query(SQLStatement(sql, arguments))
    }
}

/// Storage failures. Messages are fixed strings: never a value, a credential or a SQL text.
public struct StorageError: Error, Sendable, CustomStringConvertible {
    public let description: String

    public init(description: String) { self.description = description }

    public static func corrupt(_ column: String) -> StorageError { StorageError(description: "unexpected value in column \(column)") }
    public static let readOnly = StorageError(description: "store is read-only")
    public static func invalidURL(_ why: String) -> StorageError { StorageError(description: "invalid database URL: \(why)") }
    public static let unavailable = StorageError(description: "database unavailable")
}

extension SQLDatabase {
    /// RFC 8628 §3.5 and CIBA §11 polling, for a row of `table` with `poll_interval` and
    /// `last_polled_at` columns: records this poll and answers whether it came sooner than the
    /// interval, which then grows by 5 s for this and every later poll. Only the poll that still
    /// sees `lastPolledAt` updates the row, so concurrent polls count once.
    func recordPoll(table: String, keyColumn: String, key: String, lastPolledAt: Int64?, interval: Int64, now: Int64) async throws -> Bool {
        let tooSoon = lastPolledAt.map { now - $0 < interval } ?? false
        _ = try await query(
            """
            UPDATE \(table) SET last_polled_at = ?, poll_interval = poll_interval + ?
            WHERE \(keyColumn) = ? AND (last_polled_at IS NULL OR last_polled_at = ?) RETURNING \(keyColumn)
            """,
            [.integer(now), .integer(tooSoon ? 5 : 0), .text(key), lastPolledAt.map { .integer($0) } ?? .null]
        )
        return tooSoon
    }
}
