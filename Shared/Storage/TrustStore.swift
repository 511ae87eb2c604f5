/// An external issuer whose signed JWTs the Token Service accepts as authorization grants
/// (RFC 7523 §2.1) and as token-exchange subject or actor tokens (RFC 8693 `jwt` type),
/// configured by an administrator. The metadata is kept as validated JSON.
public struct StoredTrust: Sendable, Equatable {
    public var issuer: String
    public var metadataJSON: String
    public var createdAt: Int64

    public init(issuer: String, metadataJSON: String, createdAt: Int64) {
        self.issuer = issuer
        self.metadataJSON = metadataJSON
        self.createdAt = createdAt
    }
}

/// Trusted external issuers, keyed by their `iss` value.
public protocol TrustStore: Sendable {
    /// Creates or replaces the trust of `trust.issuer`.
    func put(_ trust: StoredTrust) async throws
    func find(issuer: String) async throws -> StoredTrust?
    func list() async throws -> [StoredTrust]
    /// False when there was no such trust.
    func delete(issuer: String) async throws -> Bool
}

public struct SQLTrustStore: TrustStore {
    let db: any SQLDatabase

    public init(_ db: any SQLDatabase) { self.db = db }

    public static let migrations: [Migration] = [
        Migration(id: "trusts-001") { m in
            [
                """
                CREATE TABLE \(m.table("jwt_trusts")) (
                    issuer TEXT PRIMARY KEY,
                    metadata TEXT NOT NULL,
                    created_at \(m.integer) NOT NULL
                )
                """
            ]
        }
    ]

    public func put(_ trust: StoredTrust) async throws {
        try await db.execute(
            """
            INSERT INTO \(db.table("jwt_trusts")) (issuer, metadata, created_at) VALUES (?, ?, ?)
            ON CONFLICT (issuer) DO UPDATE SET metadata = excluded.metadata
            """,
            [.text(trust.issuer), .text(trust.metadataJSON), .integer(trust.createdAt)]
        )
    }

    public func find(issuer: String) async throws -> StoredTrust? {
        try await db.query("SELECT issuer, metadata, created_at FROM \(db.table("jwt_trusts")) WHERE issuer = ?", [.text(issuer)])
            .first.map(Self.decode)
    }

    public func list() async throws -> [StoredTrust] {
        try await db.query("SELECT issuer, metadata, created_at FROM \(db.table("jwt_trusts")) ORDER BY issuer").map(Self.decode)
    }

    public func delete(issuer: String) async throws -> Bool {
        !(try await db.query("DELETE FROM \(db.table("jwt_trusts")) WHERE issuer = ? RETURNING issuer", [.text(issuer)]).isEmpty)
    }

    static func decode(_ row: SQLRow) throws -> StoredTrust {
        StoredTrust(issuer: try row.text("issuer"), metadataJSON: try row.text("metadata"), createdAt: try row.integer("created_at"))
    }
}
