/// Dynamic client registration state (RFC 7591, RFC 7592): initial access tokens issued by the
/// admin API, and each dynamically registered client's registration access token. Only SHA-256
/// hashes of both tokens are stored, with the registration policy they carry (JSON).
public protocol RegistrationStore: Sendable {
    func insertInitialAccessToken(hash: String, policyJSON: String, expiresAt: Int64, uses: Int) async throws
    /// Spends one use of a live initial access token; its policy, or nil when unknown, expired or used up.
    func spendInitialAccessToken(hash: String, now: Int64) async throws -> String?
    /// Gives back the use of a registration that failed validation.
    func refundInitialAccessToken(hash: String) async throws
    /// Records (or replaces: rotation) the registration access token of `clientID`.
    func putRegistration(clientID: String, tokenHash: String, policyJSON: String, issuedAt: Int64) async throws
    /// The token hash and policy of a dynamically registered client.
    func registration(clientID: String) async throws -> (tokenHash: String, policyJSON: String)?
    /// Replaces the token hash only if it is still `expected` (one winner per rotation).
    func rotateRegistrationToken(clientID: String, expected: String, next: String) async throws -> Bool
    func deleteRegistration(clientID: String) async throws
    func purgeExpired(now: Int64) async throws -> Int
}

public struct SQLRegistrationStore: RegistrationStore {
    let db: any SQLDatabase

    public init(_ db: any SQLDatabase) { self.db = db }

    public static let migrations: [Migration] = [
        Migration(id: "registration-001") { m in
            [
                """
                CREATE TABLE \(m.table("initial_access_tokens")) (
                    hash TEXT PRIMARY KEY,
                    policy TEXT NOT NULL,
                    expires_at \(m.integer) NOT NULL,
                    uses_left \(m.integer) NOT NULL
                )
                """,
                """
                CREATE TABLE \(m.table("client_registrations")) (
                    client_id TEXT PRIMARY KEY,
                    token_hash TEXT NOT NULL,
                    policy TEXT NOT NULL,
                    issued_at \(m.integer) NOT NULL
                )
                """,
            ]
        }
    ]

    public func insertInitialAccessToken(hash: String, policyJSON: String, expiresAt: Int64, uses: Int) async throws {
        try await db.execute(
            "INSERT INTO \(db.table("initial_access_tokens")) (hash, policy, expires_at, uses_left) VALUES (?, ?, ?, ?)",
            [.text(hash), .text(policyJSON), .integer(expiresAt), .integer(Int64(uses))]
        )
    }

    public func spendInitialAccessToken(hash: String, now: Int64) async throws -> String? {
        try await db.query(
            """
            UPDATE \(db.table("initial_access_tokens")) SET uses_left = uses_left - 1
            WHERE hash = ? AND expires_at > ? AND uses_left > 0
            RETURNING policy
            """,
            [.text(hash), .integer(now)]
        ).first.map { try $0.text("policy") }
    }

    public func refundInitialAccessToken(hash: String) async throws {
        try await db.execute("UPDATE \(db.table("initial_access_tokens")) SET uses_left = uses_left + 1 WHERE hash = ?", [.text(hash)])
    }

    public func putRegistration(clientID: String, tokenHash: String, policyJSON: String, issuedAt: Int64) async throws {
        try await db.execute(
            """
            INSERT INTO \(db.table("client_registrations")) (client_id, token_hash, policy, issued_at) VALUES (?, ?, ?, ?)
            ON CONFLICT (client_id) DO UPDATE SET token_hash = excluded.token_hash, policy = excluded.policy, issued_at = excluded.issued_at
            """,
            [.text(clientID), .text(tokenHash), .text(policyJSON), .integer(issuedAt)]
        )
    }

    public func registration(clientID: String) async throws -> (tokenHash: String, policyJSON: String)? {
        try await db.query(
            "SELECT token_hash, policy FROM \(db.table("client_registrations")) WHERE client_id = ?", [.text(clientID)]
        ).first.map { (try $0.text("token_hash"), try $0.text("policy")) }
    }

    public func rotateRegistrationToken(clientID: String, expected: String, next: String) async throws -> Bool {
        !(try await db.query(
            "UPDATE \(db.table("client_registrations")) SET token_hash = ? WHERE client_id = ? AND token_hash = ? RETURNING client_id",
            [.text(next), .text(clientID), .text(expected)]
        ).isEmpty)
    }

    public func deleteRegistration(clientID: String) async throws {
        try await db.execute("DELETE FROM \(db.table("client_registrations")) WHERE client_id = ?", [.text(clientID)])
    }

    public func purgeExpired(now: Int64) async throws -> Int {
        try await db.query(
            // Expired ones only: a used-up token may still get a use back from a registration
            // that is being refused (see `refundInitialAccessToken`); it expires soon enough.
            "DELETE FROM \(db.table("initial_access_tokens")) WHERE expires_at < ? RETURNING hash", [.integer(now)]
        ).count
    }
}
