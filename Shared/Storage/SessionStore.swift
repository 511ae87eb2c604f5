/// A browser session of the Authentication Service, keyed by the SHA-256 of its cookie value
/// (`CredentialHash.hex`); the cookie itself is never stored. `sid` is the public session id
/// carried in ID tokens (OpenID Connect Front-/Back-Channel Logout `sid`).
public struct StoredSession: Sendable, Equatable {
    public var idHash: String
    public var sid: String
    public var accountID: String
    /// When the user last actively authenticated (OpenID Connect Core §2 `auth_time`).
    public var authTime: Int64
    public var acr: String?
    /// RFC 8176 authentication method references.
    public var amr: [String]
    public var createdAt: Int64
    public var expiresAt: Int64

    public init(idHash: String, sid: String, accountID: String, authTime: Int64, acr: String?, amr: [String], createdAt: Int64, expiresAt: Int64) {
        self.idHash = idHash
        self.sid = sid
        self.accountID = accountID
        self.authTime = authTime
        self.acr = acr
        self.amr = amr
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}

/// Browser sessions.
public protocol SessionStore: Sendable {
    func create(_ session: StoredSession) async throws
    /// The session, unless unknown or expired at `now`.
    func find(idHash: String, now: Int64) async throws -> StoredSession?
    /// Deletes the session; returns it when it existed.
    @discardableResult
    func delete(idHash: String) async throws -> StoredSession?
    /// Ends every session of an account (disable, password change); returns how many.
    @discardableResult
    func deleteAll(accountID: String) async throws -> Int
    /// Deletes sessions expired before `now`; returns how many.
    func purgeExpired(now: Int64) async throws -> Int
}

public struct SQLSessionStore: SessionStore {
    let db: any SQLDatabase

    public init(_ db: any SQLDatabase) { self.db = db }

    public static let migrations: [Migration] = [
        Migration(id: "sessions-001") { m in
            [
                """
                CREATE TABLE \(m.table("sessions")) (
                    id_hash TEXT PRIMARY KEY,
                    sid TEXT NOT NULL UNIQUE,
                    account_id TEXT NOT NULL,
                    auth_time \(m.integer) NOT NULL,
                    acr TEXT,
                    amr TEXT NOT NULL,
                    created_at \(m.integer) NOT NULL,
                    expires_at \(m.integer) NOT NULL
                )
                """,
                "CREATE INDEX sessions_account ON \(m.table("sessions")) (account_id)",
                "CREATE INDEX sessions_expiry ON \(m.table("sessions")) (expires_at)",
            ]
        }
    ]

    static let columns = "id_hash, sid, account_id, auth_time, acr, amr, created_at, expires_at"

    public func create(_ session: StoredSession) async throws {
        try await db.execute(
            "INSERT INTO \(db.table("sessions")) (\(Self.columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                .text(session.idHash), .text(session.sid), .text(session.accountID), .integer(session.authTime), .optionalText(session.acr),
                .text(session.amr.joined(separator: " ")), .integer(session.createdAt), .integer(session.expiresAt),
            ]
        )
    }

    public func find(idHash: String, now: Int64) async throws -> StoredSession? {
        try await db.query(
            "SELECT \(Self.columns) FROM \(db.table("sessions")) WHERE id_hash = ? AND expires_at > ?",
            [.text(idHash), .integer(now)]
        ).first.map(Self.decode)
    }

    public func delete(idHash: String) async throws -> StoredSession? {
        try await db.query("DELETE FROM \(db.table("sessions")) WHERE id_hash = ? RETURNING \(Self.columns)", [.text(idHash)])
            .first.map(Self.decode)
    }

    public func deleteAll(accountID: String) async throws -> Int {
        try await db.query("DELETE FROM \(db.table("sessions")) WHERE account_id = ? RETURNING id_hash", [.text(accountID)]).count
    }

    public func purgeExpired(now: Int64) async throws -> Int {
        try await db.query("DELETE FROM \(db.table("sessions")) WHERE expires_at <= ? RETURNING id_hash", [.integer(now)]).count
    }

    static func decode(_ row: SQLRow) throws -> StoredSession {
        StoredSession(
            idHash: try row.text("id_hash"),
            sid: try row.text("sid"),
            accountID: try row.text("account_id"),
            authTime: try row.integer("auth_time"),
            acr: try row.optionalText("acr"),
            amr: try row.text("amr").split(separator: " ").map(String.init),
            createdAt: try row.integer("created_at"),
            expiresAt: try row.integer("expires_at")
        )
    }
}
