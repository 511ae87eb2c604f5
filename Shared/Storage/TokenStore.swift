/// A token issued by the Token Service, keyed by the SHA-256 of its opaque value (or of its
/// `jti` for a JWT). The token itself is never stored.
public struct IssuedToken: Sendable, Equatable {
    public enum Kind: String, Sendable { case access, refresh }

    public var hash: String
    public var kind: Kind
    public var clientID: String
    /// Subject: the user, or the client itself for client credentials.
    public var subject: String
    public var scope: String
    /// Space-separated audiences (resource indicators).
    public var audience: String
    public var issuedAt: Int64
    public var expiresAt: Int64
    public var revoked: Bool
    /// Refresh-token family, so that reuse of a rotated token revokes every member.
    public var familyID: String?
    /// The token (hash) this one was issued from: a code, a refresh token, a subject token.
    public var parentHash: String?
    /// The Authentication Service session the token was issued under (the ID token's `sid`).
    public var sessionID: String?
    /// Extra claims as JSON (`cnf`, `act`, `permissions`, `auth_time`, `acr` …) for introspection.
    public var claimsJSON: String?

    public init(
        hash: String, kind: Kind, clientID: String, subject: String, scope: String, audience: String,
        issuedAt: Int64, expiresAt: Int64, revoked: Bool = false, familyID: String? = nil, parentHash: String? = nil, claimsJSON: String? = nil,
        sessionID: String? = nil
    ) {
        self.sessionID = sessionID
        self.hash = hash
        self.kind = kind
        self.clientID = clientID
        self.subject = subject
        self.scope = scope
        self.audience = audience
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.revoked = revoked
        self.familyID = familyID
        self.parentHash = parentHash
        self.claimsJSON = claimsJSON
    }
}

/// Issued access and refresh tokens.
public protocol TokenStore: Sendable {
    func insert(_ token: IssuedToken) async throws
    func find(hash: String) async throws -> IssuedToken?
    /// Marks the token revoked if it belongs to `clientID`; false when unknown or another client's.
    func revoke(hash: String, clientID: String) async throws -> Bool
    /// Records a revoked JWT, keyed by `CredentialHash.hex("jti:" + jti)`; idempotent.
    func recordRevokedJWT(_ token: IssuedToken) async throws
    /// Deletes tokens expired before `now`; returns how many.
    func purgeExpired(now: Int64) async throws -> Int
    /// Atomically retires a live refresh token (rotation): the one caller that gets the row
    /// back may issue its successor; everyone else sees nil.
    func retireRefreshToken(hash: String) async throws -> IssuedToken?
    /// Revokes every token of a refresh family and everything exchanged from them; returns how
    /// many changed.
    @discardableResult
    func revokeFamily(_ familyID: String) async throws -> Int
    /// Revokes every token issued from `parentHash` (a code, a refresh token, a subject token of a
    /// token exchange), directly or down a chain of exchanges, and the families of its children.
    @discardableResult
    func revokeIssued(from parentHash: String) async throws -> Int
    /// Revokes every token whose chain of parents reaches one of `hashes` (RFC 8693: revoking a
    /// token revokes everything exchanged from it, hop after hop).
    @discardableResult
    func revokeDescendants(of hashes: [String]) async throws -> Int
    /// Revokes the tokens issued under session `sessionID` of `subject`, except refresh tokens
    /// whose scope holds `offline_access`; returns how many changed.
    @discardableResult
    func revokeSession(subject: String, sessionID: String) async throws -> Int
    /// Revokes every token of `clientID` (the client was deleted) and what was exchanged from them.
    @discardableResult
    func revokeClient(_ clientID: String) async throws -> Int
    /// Revokes every token `clientID` holds for `subject`.
    @discardableResult
    func revokeAll(subject: String, clientID: String) async throws -> Int
}

public struct SQLTokenStore: TokenStore {
    let db: any SQLDatabase

    public init(_ db: any SQLDatabase) { self.db = db }

    public static let migrations: [Migration] = [
        Migration(id: "tokens-001") { m in
            [
                """
                CREATE TABLE \(m.table("issued_tokens")) (
                    hash TEXT PRIMARY KEY,
                    kind TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
                    client_id TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    scope TEXT NOT NULL,
                    audience TEXT NOT NULL,
                    issued_at \(m.integer) NOT NULL,
                    expires_at \(m.integer) NOT NULL,
                    revoked \(m.integer) NOT NULL DEFAULT 0,
                    family_id TEXT,
                    parent_hash TEXT,
                    claims TEXT
                )
                """,
                "CREATE INDEX issued_tokens_expiry ON \(m.table("issued_tokens")) (expires_at)",
                "CREATE INDEX issued_tokens_family ON \(m.table("issued_tokens")) (family_id)",
                "CREATE INDEX issued_tokens_parent ON \(m.table("issued_tokens")) (parent_hash)",
                "CREATE INDEX issued_tokens_subject ON \(m.table("issued_tokens")) (subject, client_id)",
            ]
        },
        Migration(id: "tokens-002") { m in
            [
                "ALTER TABLE \(m.table("issued_tokens")) ADD COLUMN session_id TEXT",
                "CREATE INDEX issued_tokens_session ON \(m.table("issued_tokens")) (subject, session_id)",
            ]
        }
    ]

    public func insert(_ token: IssuedToken) async throws {
        try await db.execute(
            """
            INSERT INTO \(db.table("issued_tokens"))
                (hash, kind, client_id, subject, scope, audience, issued_at, expires_at, revoked, family_id, parent_hash, claims, session_id)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .text(token.hash), .text(token.kind.rawValue), .text(token.clientID), .text(token.subject), .text(token.scope),
                .text(token.audience), .integer(token.issuedAt), .integer(token.expiresAt), .integer(token.revoked ? 1 : 0),
                .optionalText(token.familyID), .optionalText(token.parentHash), .optionalText(token.claimsJSON), .optionalText(token.sessionID),
            ]
        )
    }

    public func find(hash: String) async throws -> IssuedToken? {
        let rows = try await db.query(
            """
            SELECT hash, kind, client_id, subject, scope, audience, issued_at, expires_at, revoked, family_id, parent_hash, claims, session_id
            FROM \(db.table("issued_tokens")) WHERE hash = ?
            """,
            [.text(hash)]
        )
        return try rows.first.map(Self.decode)
    }

    static func decode(_ row: SQLRow) throws -> IssuedToken {
        guard let kind = IssuedToken.Kind(rawValue: try row.text("kind")) else { throw StorageError.corrupt("kind") }
        return IssuedToken(
            hash: try row.text("hash"), kind: kind, clientID: try row.text("client_id"), subject: try row.text("subject"),
            scope: try row.text("scope"), audience: try row.text("audience"), issuedAt: try row.integer("issued_at"),
            expiresAt: try row.integer("expires_at"), revoked: try row.integer("revoked") != 0, familyID: try row.optionalText("family_id"),
            parentHash: try row.optionalText("parent_hash"), claimsJSON: try row.optionalText("claims"), sessionID: try row.optionalText("session_id")
        )
    }

    public func revoke(hash: String, clientID: String) async throws -> Bool {
        !(try await db.query(
            "UPDATE \(db.table("issued_tokens")) SET revoked = 1 WHERE hash = ? AND client_id = ? RETURNING hash",
            [.text(hash), .text(clientID)]
        ).isEmpty)
    }

    public func recordRevokedJWT(_ token: IssuedToken) async throws {
        try await db.execute(
            """
            INSERT INTO \(db.table("issued_tokens"))
                (hash, kind, client_id, subject, scope, audience, issued_at, expires_at, revoked)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)
            ON CONFLICT (hash) DO UPDATE SET revoked = 1
            """,
            [
                .text(token.hash), .text(token.kind.rawValue), .text(token.clientID), .text(token.subject), .text(token.scope),
                .text(token.audience), .integer(token.issuedAt), .integer(token.expiresAt),
            ]
        )
    }

    public func retireRefreshToken(hash: String) async throws -> IssuedToken? {
        let rows = try await db.query(
            """
            UPDATE \(db.table("issued_tokens")) SET revoked = 1 WHERE hash = ? AND kind = 'refresh' AND revoked = 0
            RETURNING hash, kind, client_id, subject, scope, audience, issued_at, expires_at, revoked, family_id, parent_hash, claims, session_id
            """,
            [.text(hash)]
        )
        return try rows.first.map(Self.decode)
    }

    public func revokeFamily(_ familyID: String) async throws -> Int {
        let members = try await db.query(
            "UPDATE \(db.table("issued_tokens")) SET revoked = 1 WHERE family_id = ? AND revoked = 0 RETURNING hash", [.text(familyID)]
        ).map { try $0.text("hash") }
        // Everything exchanged from a member of the family goes with it (RFC 8693 parents).
        let all = try await db.query("SELECT hash FROM \(db.table("issued_tokens")) WHERE family_id = ?", [.text(familyID)]).map { try $0.text("hash") }
        return members.count + (try await revokeDescendants(of: all))
    }

    public func revokeIssued(from parentHash: String) async throws -> Int {
        let table = db.table("issued_tokens")
        let results = try await db.transaction([
            SQLStatement(
                """
                UPDATE \(table) SET revoked = 1 WHERE revoked = 0 AND family_id IN
                    (SELECT family_id FROM \(table) WHERE parent_hash = ? AND family_id IS NOT NULL)
                RETURNING hash
                """,
                [.text(parentHash)]
            )
        ])
        return results.reduce(0) { $0 + $1.count } + (try await revokeDescendants(of: [parentHash]))
    }

    /// How many parent hashes one recursive statement starts from.
    static let cascadeBatch = 200

    public func revokeDescendants(of hashes: [String]) async throws -> Int {
        let table = db.table("issued_tokens")
        var count = 0
        var start = 0
        while start < hashes.count {
            let batch = Array(hashes[start..<min(start + Self.cascadeBatch, hashes.count)])
            start += batch.count
            let placeholders = Array(repeating: "?", count: batch.count).joined(separator: ", ")
            // Every token whose chain of parents reaches one of `batch`, through revoked tokens too
            // (UNION, not UNION ALL: a cycle cannot make it loop).
            count += try await db.query(
                """
                UPDATE \(table) SET revoked = 1 WHERE revoked = 0 AND hash IN (
                    WITH RECURSIVE chain(hash) AS (
                        SELECT hash FROM \(table) WHERE parent_hash IN (\(placeholders))
                        UNION
                        SELECT child.hash FROM \(table) child JOIN chain ON child.parent_hash = chain.hash
                    )
                    SELECT hash FROM chain
                )
                RETURNING hash
                """,
                batch.map { .text($0) }
            ).count
        }
        return count
    }

    public func revokeSession(subject: String, sessionID: String) async throws -> Int {
        let revoked = try await db.query(
            """
            UPDATE \(db.table("issued_tokens")) SET revoked = 1
            WHERE subject = ? AND session_id = ? AND revoked = 0
              AND (kind = 'access' OR (' ' || scope || ' ') NOT LIKE '% offline_access %')
            RETURNING hash
            """,
            [.text(subject), .text(sessionID)]
        ).map { try $0.text("hash") }
        return revoked.count + (try await revokeDescendants(of: revoked))
    }

    public func revokeAll(subject: String, clientID: String) async throws -> Int {
        let revoked = try await db.query(
            "UPDATE \(db.table("issued_tokens")) SET revoked = 1 WHERE subject = ? AND client_id = ? AND revoked = 0 RETURNING hash",
            [.text(subject), .text(clientID)]
        ).map { try $0.text("hash") }
        return revoked.count + (try await revokeDescendants(of: revoked))
    }

    public func revokeClient(_ clientID: String) async throws -> Int {
        let revoked = try await db.query(
            "UPDATE \(db.table("issued_tokens")) SET revoked = 1 WHERE client_id = ? AND revoked = 0 RETURNING hash", [.text(clientID)]
        ).map { try $0.text("hash") }
        return revoked.count + (try await revokeDescendants(of: revoked))
    }

    public func purgeExpired(now: Int64) async throws -> Int {
        try await db.query("DELETE FROM \(db.table("issued_tokens")) WHERE expires_at < ? RETURNING hash", [.integer(now)]).count
    }
}
