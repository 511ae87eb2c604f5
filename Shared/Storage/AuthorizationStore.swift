/// The Token Service's short-lived authorization state: login, consent and logout challenges,
/// authorization codes, and the consents users remembered. Every one-time value is keyed by
/// the SHA-256 of the credential and taken with an atomic `consume`.
public protocol AuthorizationStore: Sendable {
    /// Stores a challenge (`kind`: `login`, `consent`, `logout`) with its JSON payload.
    func insertChallenge(hash: String, kind: String, payload: String, expiresAt: Int64) async throws
    /// The payload of a live challenge, without using it up.
    func findChallenge(hash: String, kind: String, now: Int64) async throws -> String?
    /// Removes and returns a live challenge: exactly one caller ever gets it.
    func consumeChallenge(hash: String, kind: String, now: Int64) async throws -> String?

    func insertCode(_ code: StoredCode) async throws
    func findCode(hash: String) async throws -> StoredCode?
    /// Marks the code used if it was unused; true for the one caller that did so.
    func consumeCode(hash: String) async throws -> Bool

    /// Records (or widens) what `subject` allowed `clientID`.
    func rememberConsent(subject: String, clientID: String, scopes: [String], at: Int64) async throws
    func consent(subject: String, clientID: String) async throws -> StoredConsent?
    func consents(subject: String) async throws -> [StoredConsent]
    /// True when a consent was forgotten.
    func forgetConsent(subject: String, clientID: String) async throws -> Bool

    /// Deletes expired challenges and codes; returns how many rows went.
    func purgeExpired(now: Int64) async throws -> Int
}

/// An authorization code as stored: its hash, the client, and the grant it carries (JSON).
public struct StoredCode: Sendable, Equatable {
    public var hash: String
    public var clientID: String
    public var payload: String
    public var expiresAt: Int64
    public var used: Bool

    public init(hash: String, clientID: String, payload: String, expiresAt: Int64, used: Bool = false) {
        self.hash = hash
        self.clientID = clientID
        self.payload = payload
        self.expiresAt = expiresAt
        self.used = used
    }
}

public struct StoredConsent: Sendable, Equatable {
    public var subject: String
    public var clientID: String
    public var scopes: [String]
    public var grantedAt: Int64
}

public struct SQLAuthorizationStore: AuthorizationStore {
    let db: any SQLDatabase

    public init(_ db: any SQLDatabase) { self.db = db }

    public static let migrations: [Migration] = [
        Migration(id: "authorization-001") { m in
            [
                """
                CREATE TABLE \(m.table("challenges")) (
                    hash TEXT PRIMARY KEY,
                    kind TEXT NOT NULL,
                    payload TEXT NOT NULL,
                    expires_at \(m.integer) NOT NULL
                )
                """,
                "CREATE INDEX challenges_expiry ON \(m.table("challenges")) (expires_at)",
                """
                CREATE TABLE \(m.table("authorization_codes")) (
                    hash TEXT PRIMARY KEY,
                    client_id TEXT NOT NULL,
                    payload TEXT NOT NULL,
                    expires_at \(m.integer) NOT NULL,
                    used \(m.integer) NOT NULL DEFAULT 0
                )
                """,
                "CREATE INDEX authorization_codes_expiry ON \(m.table("authorization_codes")) (expires_at)",
                """
                CREATE TABLE \(m.table("consents")) (
                    subject TEXT NOT NULL,
                    client_id TEXT NOT NULL,
                    scopes TEXT NOT NULL,
                    granted_at \(m.integer) NOT NULL,
                    PRIMARY KEY (subject, client_id)
                )
                """,
            ]
        }
    ]

    public func insertChallenge(hash: String, kind: String, payload: String, expiresAt: Int64) async throws {
        try await db.execute(
            "INSERT INTO \(db.table("challenges")) (hash, kind, payload, expires_at) VALUES (?, ?, ?, ?)",
            [.text(hash), .text(kind), .text(payload), .integer(expiresAt)]
        )
    }

    public func findChallenge(hash: String, kind: String, now: Int64) async throws -> String? {
        try await db.query(
            "SELECT payload FROM \(db.table("challenges")) WHERE hash = ? AND kind = ? AND expires_at > ?",
            [.text(hash), .text(kind), .integer(now)]
        ).first.map { try $0.text("payload") }
    }

    public func consumeChallenge(hash: String, kind: String, now: Int64) async throws -> String? {
        try await db.query(
            "DELETE FROM \(db.table("challenges")) WHERE hash = ? AND kind = ? AND expires_at > ? RETURNING payload",
            [.text(hash), .text(kind), .integer(now)]
        ).first.map { try $0.text("payload") }
    }

    public func insertCode(_ code: StoredCode) async throws {
        try await db.execute(
            "INSERT INTO \(db.table("authorization_codes")) (hash, client_id, payload, expires_at, used) VALUES (?, ?, ?, ?, 0)",
            [.text(code.hash), .text(code.clientID), .text(code.payload), .integer(code.expiresAt)]
        )
    }

    public func findCode(hash: String) async throws -> StoredCode? {
        try await db.query(
            "SELECT hash, client_id, payload, expires_at, used FROM \(db.table("authorization_codes")) WHERE hash = ?",
            [.text(hash)]
        ).first.map { row in
            StoredCode(
                hash: try row.text("hash"), clientID: try row.text("client_id"), payload: try row.text("payload"),
                expiresAt: try row.integer("expires_at"), used: try row.integer("used") != 0
            )
        }
    }

    public func consumeCode(hash: String) async throws -> Bool {
        !(try await db.query(
            "UPDATE \(db.table("authorization_codes")) SET used = 1 WHERE hash = ? AND used = 0 RETURNING hash",
            [.text(hash)]
        ).isEmpty)
    }

    public func rememberConsent(subject: String, clientID: String, scopes: [String], at: Int64) async throws {
        // Remembered scopes accumulate: a later, narrower consent does not forget earlier grants.
        var merged = try await consent(subject: subject, clientID: clientID)?.scopes ?? []
        for scope in scopes where !merged.contains(scope) { merged.append(scope) }
        try await db.execute(
            """
            INSERT INTO \(db.table("consents")) (subject, client_id, scopes, granted_at) VALUES (?, ?, ?, ?)
            ON CONFLICT (subject, client_id) DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at
            """,
            [.text(subject), .text(clientID), .text(merged.joined(separator: " ")), .integer(at)]
        )
    }

    public func consent(subject: String, clientID: String) async throws -> StoredConsent? {
        try await db.query(
            "SELECT subject, client_id, scopes, granted_at FROM \(db.table("consents")) WHERE subject = ? AND client_id = ?",
            [.text(subject), .text(clientID)]
        ).first.map(Self.decodeConsent)
    }

    public func consents(subject: String) async throws -> [StoredConsent] {
        try await db.query(
            "SELECT subject, client_id, scopes, granted_at FROM \(db.table("consents")) WHERE subject = ? ORDER BY granted_at, client_id",
            [.text(subject)]
        ).map(Self.decodeConsent)
    }

    public func forgetConsent(subject: String, clientID: String) async throws -> Bool {
        !(try await db.query(
            "DELETE FROM \(db.table("consents")) WHERE subject = ? AND client_id = ? RETURNING subject",
            [.text(subject), .text(clientID)]
        ).isEmpty)
    }

    public func purgeExpired(now: Int64) async throws -> Int {
        let challenges = try await db.query("DELETE FROM \(db.table("challenges")) WHERE expires_at <= ? RETURNING hash", [.integer(now)]).count
        // Codes outlive their 60 s by an hour so that a late replay is still recognised as one
        // (and revokes what the code produced) rather than looking like an unknown code.
        let codes = try await db.query(
            "DELETE FROM \(db.table("authorization_codes")) WHERE expires_at <= ? RETURNING hash", [.integer(now - 3600)]
        ).count
        return challenges + codes
    }

    static func decodeConsent(_ row: SQLRow) throws -> StoredConsent {
        StoredConsent(
            subject: try row.text("subject"), clientID: try row.text("client_id"),
            scopes: try row.text("scopes").split(separator: " ").map(String.init), grantedAt: try row.integer("granted_at")
        )
    }
}
