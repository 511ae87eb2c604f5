public import Foundation

/// A signing key as stored: the private key is sealed (AES-GCM under the master key) before it
/// reaches this type; the store never sees key material in the clear.
public struct StoredKey: Sendable, Equatable {
    public enum Status: String, Sendable { case active, retired }

    public var kid: String
    /// `token` for the Token Service's token-signing keys, `internal` for service-call keys.
    public var purpose: String
    public var algorithm: String
    public var sealedPrivateKey: [UInt8]
    public var createdAt: Int64
    public var status: Status
    /// Retired keys stay published (and accepted) until this instant, so that tokens signed
    /// before a rotation keep verifying until they expire.
    public var publishUntil: Int64?

    public init(kid: String, purpose: String, algorithm: String, sealedPrivateKey: [UInt8], createdAt: Int64, status: Status, publishUntil: Int64?) {
        self.kid = kid
        self.purpose = purpose
        self.algorithm = algorithm
        self.sealedPrivateKey = sealedPrivateKey
        self.createdAt = createdAt
        self.status = status
        self.publishUntil = publishUntil
    }
}

/// Signing keys of one owner.
public protocol KeyStore: Sendable {
    /// Keys of `purpose` that are active or still published at `now`.
    func keys(purpose: String, now: Int64) async throws -> [StoredKey]
    /// Inserts first keys. A key whose (purpose, algorithm) already has an active key is skipped,
    /// so replicas starting together end up with one active key per algorithm.
    func insertInitial(_ keys: [StoredKey]) async throws
    /// Atomically retires every active key of `purpose` (published until `publishUntil`) and
    /// activates `newKeys`.
    func rotate(purpose: String, newKeys: [StoredKey], publishUntil: Int64) async throws
    /// Deletes retired keys no longer published at `now`.
    func pruneExpired(now: Int64) async throws
}

public struct SQLKeyStore: KeyStore {
    let db: any SQLDatabase

    public init(_ db: any SQLDatabase) { self.db = db }

    public static let migrations: [Migration] = [
        Migration(id: "keys-001") { m in
            [
                """
                CREATE TABLE \(m.table("signing_keys")) (
                    kid TEXT PRIMARY KEY,
                    purpose TEXT NOT NULL,
                    algorithm TEXT NOT NULL,
                    sealed_private_key \(m.blob) NOT NULL,
                    created_at \(m.integer) NOT NULL,
                    status TEXT NOT NULL CHECK (status IN ('active', 'retired')),
                    publish_until \(m.integer)
                )
                """,
                "CREATE UNIQUE INDEX signing_keys_one_active ON \(m.table("signing_keys")) (purpose, algorithm) WHERE status = 'active'",
            ]
        }
    ]

    public func keys(purpose: String, now: Int64) async throws -> [StoredKey] {
        let rows = try await db.query(
            """
            SELECT kid, purpose, algorithm, sealed_private_key, created_at, status, publish_until
            FROM \(db.table("signing_keys"))
            WHERE purpose = ? AND (status = 'active' OR publish_until > ?)
            ORDER BY created_at DESC, kid
            """,
            [.text(purpose), .integer(now)]
        )
        return try rows.map { row in
            guard let status = StoredKey.Status(rawValue: try row.text("status")) else { throw StorageError.corrupt("status") }
            return StoredKey(
                kid: try row.text("kid"),
                purpose: try row.text("purpose"),
                algorithm: try row.text("algorithm"),
                sealedPrivateKey: try row.blob("sealed_private_key"),
                createdAt: try row.integer("created_at"),
                status: status,
                publishUntil: try row.optionalInteger("publish_until")
            )
        }
    }

    public func insertInitial(_ keys: [StoredKey]) async throws {
        try await db.transaction(keys.map { key in
            SQLStatement(
                """
                INSERT INTO \(db.table("signing_keys")) (kid, purpose, algorithm, sealed_private_key, created_at, status, publish_until)
                VALUES (?, ?, ?, ?, ?, 'active', NULL)
                ON CONFLICT DO NOTHING
                """,
                [.text(key.kid), .text(key.purpose), .text(key.algorithm), .blob(key.sealedPrivateKey), .integer(key.createdAt)]
            )
        })
    }

    public func rotate(purpose: String, newKeys: [StoredKey], publishUntil: Int64) async throws {
        var statements = [
            SQLStatement(
                "UPDATE \(db.table("signing_keys")) SET status = 'retired', publish_until = ? WHERE purpose = ? AND status = 'active'",
                [.integer(publishUntil), .text(purpose)]
            )
        ]
        statements += newKeys.map { key in
            SQLStatement(
                """
                INSERT INTO \(db.table("signing_keys")) (kid, purpose, algorithm, sealed_private_key, created_at, status, publish_until)
                VALUES (?, ?, ?, ?, ?, 'active', NULL)
                """,
                [.text(key.kid), .text(purpose), .text(key.algorithm), .blob(key.sealedPrivateKey), .integer(key.createdAt)]
            )
        }
        try await db.transaction(statements)
    }

    public func pruneExpired(now: Int64) async throws {
        try await db.execute(
            "DELETE FROM \(db.table("signing_keys")) WHERE status = 'retired' AND publish_until <= ?",
            [.integer(now)]
        )
    }
}
