/// A local account of the Authentication Service. `id` is the OpenID Connect `sub` (random, never
/// reassigned); `username` is stored lower-cased; the password only as an scrypt string; the
/// OpenID Connect claims (Core §5.1) as a JSON object.
public struct StoredAccount: Sendable, Equatable {
    public var id: String
    public var username: String
    public var passwordHash: String
    public var claimsJSON: String
    public var disabled: Bool
    public var createdAt: Int64
    public var updatedAt: Int64

    public init(id: String, username: String, passwordHash: String, claimsJSON: String, disabled: Bool = false, createdAt: Int64, updatedAt: Int64) {
        self.id = id
        self.username = username
        self.passwordHash = passwordHash
        self.claimsJSON = claimsJSON
        self.disabled = disabled
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// The Authentication Service's accounts.
public protocol AccountStore: Sendable {
    /// Inserts an account; returns false when the id or the username is taken.
    func insert(_ account: StoredAccount) async throws -> Bool
    func find(id: String) async throws -> StoredAccount?
    /// Looks the username up case-insensitively (usernames are stored lower-cased).
    func find(username: String) async throws -> StoredAccount?
    func list() async throws -> [StoredAccount]
    /// Each update returns false for an unknown id.
    func setDisabled(id: String, disabled: Bool, at: Int64) async throws -> Bool
    func setPasswordHash(id: String, passwordHash: String, at: Int64) async throws -> Bool
    func updateClaims(id: String, claimsJSON: String, at: Int64) async throws -> Bool
}

public struct SQLAccountStore: AccountStore {
    let db: any SQLDatabase

    public init(_ db: any SQLDatabase) { self.db = db }

    public static let migrations: [Migration] = [
        Migration(id: "accounts-001") { m in
            [
                """
                CREATE TABLE \(m.table("accounts")) (
                    id TEXT PRIMARY KEY,
                    username TEXT NOT NULL UNIQUE,
                    password_hash TEXT NOT NULL,
                    claims TEXT NOT NULL,
                    disabled \(m.integer) NOT NULL DEFAULT 0,
                    created_at \(m.integer) NOT NULL,
                    updated_at \(m.integer) NOT NULL
                )
                """
            ]
        }
    ]

    static let columns = "id, username, password_hash, claims, disabled, created_at, updated_at"

    public func insert(_ account: StoredAccount) async throws -> Bool {
        let rows = try await db.query(
            """
            INSERT INTO \(db.table("accounts")) (\(Self.columns)) VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT DO NOTHING RETURNING id
            """,
            [
                .text(account.id), .text(account.username.lowercased()), .text(account.passwordHash), .text(account.claimsJSON),
                .integer(account.disabled ? 1 : 0), .integer(account.createdAt), .integer(account.updatedAt),
            ]
        )
        return !rows.isEmpty
    }

    public func find(id: String) async throws -> StoredAccount? {
        try await db.query("SELECT \(Self.columns) FROM \(db.table("accounts")) WHERE id = ?", [.text(id)]).first.map(Self.decode)
    }

    public func find(username: String) async throws -> StoredAccount? {
        try await db.query("SELECT \(Self.columns) FROM \(db.table("accounts")) WHERE username = ?", [.text(username.lowercased())])
            .first.map(Self.decode)
    }

    public func list() async throws -> [StoredAccount] {
        try await db.query("SELECT \(Self.columns) FROM \(db.table("accounts")) ORDER BY username").map(Self.decode)
    }

    public func setDisabled(id: String, disabled: Bool, at: Int64) async throws -> Bool {
        try await update(id: id, set: "disabled = ?", .integer(disabled ? 1 : 0), at: at)
    }

    public func setPasswordHash(id: String, passwordHash: String, at: Int64) async throws -> Bool {
        try await update(id: id, set: "password_hash = ?", .text(passwordHash), at: at)
    }

    public func updateClaims(id: String, claimsJSON: String, at: Int64) async throws -> Bool {
        try await update(id: id, set: "claims = ?", .text(claimsJSON), at: at)
    }

    /// `assignment` is one of the fixed strings above, never input.
    private func update(id: String, set assignment: String, _ value: SQLValue, at: Int64) async throws -> Bool {
        !(try await db.query(
            "UPDATE \(db.table("accounts")) SET \(assignment), updated_at = ? WHERE id = ? RETURNING id",
            [value, .integer(at), .text(id)]
        ).isEmpty)
    }

    static func decode(_ row: SQLRow) throws -> StoredAccount {
        StoredAccount(
            id: try row.text("id"),
            username: try row.text("username"),
            passwordHash: try row.text("password_hash"),
            claimsJSON: try row.text("claims"),
            disabled: try row.integer("disabled") != 0,
            createdAt: try row.integer("created_at"),
            updatedAt: try row.integer("updated_at")
        )
    }
}
