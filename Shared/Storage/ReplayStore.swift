/// Single-use identifiers: `jti` of service tokens, client assertions and DPoP proofs. Only a
/// hash of the identifier is stored.
public protocol ReplayStore: Sendable {
    /// Records `id` under `scope` until `expiresAt`. Returns false when it was already recorded —
    /// the caller must then refuse the request. Atomic across replicas sharing the store.
    func claim(scope: String, id: String, expiresAt: Int64, now: Int64) async throws -> Bool
    /// Whether `id` is recorded under `scope` and not expired (a mark left by another request).
    func isClaimed(scope: String, id: String, now: Int64) async throws -> Bool
    /// Forgets identifiers whose tokens have expired; returns how many.
    func purgeExpired(now: Int64) async throws -> Int
}

public struct SQLReplayStore: ReplayStore {
    let db: any SQLDatabase

    public init(_ db: any SQLDatabase) { self.db = db }

    public static let migrations: [Migration] = [
        Migration(id: "replay-001") { m in
            [
                """
                CREATE TABLE \(m.table("used_identifiers")) (
                    scope TEXT NOT NULL,
                    id_hash TEXT NOT NULL,
                    expires_at \(m.integer) NOT NULL,
                    PRIMARY KEY (scope, id_hash)
                )
                """,
                "CREATE INDEX used_identifiers_expiry ON \(m.table("used_identifiers")) (expires_at)",
            ]
        }
    ]

    public func claim(scope: String, id: String, expiresAt: Int64, now: Int64) async throws -> Bool {
        let table = db.table("used_identifiers")
        let hash = CredentialHash.hex(id)
        // An expired row for the same id may be reclaimed: the token it belonged to is dead anyway,
        // and its own `exp` check refuses it before it gets here.
        let results = try await db.transaction([
            SQLStatement("DELETE FROM \(table) WHERE expires_at <= ?", [.integer(now)]),
            SQLStatement(
                "INSERT INTO \(table) (scope, id_hash, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING RETURNING id_hash",
                [.text(scope), .text(hash), .integer(expiresAt)]
            ),
        ])
        return results.last?.isEmpty == false
    }

    public func isClaimed(scope: String, id: String, now: Int64) async throws -> Bool {
        try await !db.query(
            "SELECT 1 AS found FROM \(db.table("used_identifiers")) WHERE scope = ? AND id_hash = ? AND expires_at > ?",
            [.text(scope), .text(CredentialHash.hex(id)), .integer(now)]
        ).isEmpty
    }

    public func purgeExpired(now: Int64) async throws -> Int {
        try await db.query("DELETE FROM \(db.table("used_identifiers")) WHERE expires_at <= ? RETURNING id_hash", [.integer(now)]).count
    }
}
