/// Federation state of the Authentication Service: identities at upstream OpenID Providers
/// linked to local accounts, and the short-lived state of sign-ins in progress.
public protocol FederationStore: Sendable {
    /// Links (issuer, subject) to `accountID`; false when that identity is already linked.
    func link(_ identity: LinkedIdentity) async throws -> Bool
    func account(issuer: String, subject: String) async throws -> String?
    func identities(accountID: String) async throws -> [LinkedIdentity]
    func unlink(accountID: String, issuer: String, subject: String) async throws -> Bool

    /// A sign-in at an upstream provider in progress, keyed by the hash of its `state`.
    func insertState(hash: String, payload: String, expiresAt: Int64) async throws
    /// Reads it without using it up (to check the browser binding first).
    func findState(hash: String, now: Int64) async throws -> String?
    /// Removes and returns it: a `state` is answered once.
    func consumeState(hash: String, now: Int64) async throws -> String?
    func purgeExpired(now: Int64) async throws -> Int
}

/// An upstream identity linked to a local account.
public struct LinkedIdentity: Sendable, Equatable {
    public var issuer: String
    public var subject: String
    public var accountID: String
    /// The configured provider's id (`corp`), for display.
    public var provider: String
    public var linkedAt: Int64

    public init(issuer: String, subject: String, accountID: String, provider: String, linkedAt: Int64) {
        self.issuer = issuer
        self.subject = subject
        self.accountID = accountID
        self.provider = provider
        self.linkedAt = linkedAt
    }
}

public struct SQLFederationStore: FederationStore {
    let db: any SQLDatabase

    public init(_ db: any SQLDatabase) { self.db = db }

    public static let migrations: [Migration] = [
        Migration(id: "federation-001") { m in
            [
                """
                CREATE TABLE \(m.table("linked_identities")) (
                    issuer TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    account_id TEXT NOT NULL,
                    provider TEXT NOT NULL,
                    linked_at \(m.integer) NOT NULL,
                    PRIMARY KEY (issuer, subject)
                )
                """,
                "CREATE INDEX linked_identities_account ON \(m.table("linked_identities")) (account_id)",
                """
                CREATE TABLE \(m.table("federation_states")) (
                    hash TEXT PRIMARY KEY,
                    payload TEXT NOT NULL,
                    expires_at \(m.integer) NOT NULL
                )
                """,
            ]
        }
    ]

    public func link(_ identity: LinkedIdentity) async throws -> Bool {
        !(try await db.query(
            """
            INSERT INTO \(db.table("linked_identities")) (issuer, subject, account_id, provider, linked_at) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT DO NOTHING RETURNING account_id
            """,
            [.text(identity.issuer), .text(identity.subject), .text(identity.accountID), .text(identity.provider), .integer(identity.linkedAt)]
        ).isEmpty)
    }

    public func account(issuer: String, subject: String) async throws -> String? {
        try await db.query(
            "SELECT account_id FROM \(db.table("linked_identities")) WHERE issuer = ? AND subject = ?", [.text(issuer), .text(subject)]
        ).first.map { try $0.text("account_id") }
    }

    public func identities(accountID: String) async throws -> [LinkedIdentity] {
        try await db.query(
            "SELECT issuer, subject, account_id, provider, linked_at FROM \(db.table("linked_identities")) WHERE account_id = ? ORDER BY linked_at",
            [.text(accountID)]
        ).map { row in
            LinkedIdentity(
                issuer: try row.text("issuer"), subject: try row.text("subject"), accountID: try row.text("account_id"),
                provider: try row.text("provider"), linkedAt: try row.integer("linked_at")
            )
        }
    }

    public func unlink(accountID: String, issuer: String, subject: String) async throws -> Bool {
        !(try await db.query(
            "DELETE FROM \(db.table("linked_identities")) WHERE account_id = ? AND issuer = ? AND subject = ? RETURNING account_id",
            [.text(accountID), .text(issuer), .text(subject)]
        ).isEmpty)
    }

    public func insertState(hash: String, payload: String, expiresAt: Int64) async throws {
        try await db.execute(
            "INSERT INTO \(db.table("federation_states")) (hash, payload, expires_at) VALUES (?, ?, ?)",
            [.text(hash), .text(payload), .integer(expiresAt)]
        )
    }

    public func findState(hash: String, now: Int64) async throws -> String? {
        try await db.query(
            "SELECT payload FROM \(db.table("federation_states")) WHERE hash = ? AND expires_at > ?", [.text(hash), .integer(now)]
        ).first.map { try $0.text("payload") }
    }

    public func consumeState(hash: String, now: Int64) async throws -> String? {
        try await db.query(
            "DELETE FROM \(db.table("federation_states")) WHERE hash = ? AND expires_at > ? RETURNING payload", [.text(hash), .integer(now)]
        ).first.map { try $0.text("payload") }
    }

    public func purgeExpired(now: Int64) async throws -> Int {
        try await db.query("DELETE FROM \(db.table("federation_states")) WHERE expires_at <= ? RETURNING hash", [.integer(now)]).count
    }
}
