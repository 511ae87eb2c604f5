/// An account's TOTP credential (RFC 6238). The shared secret is stored only sealed
/// (AES-256-GCM, `KeySealer`, bound to the account); `lastStep` is the latest time step accepted,
/// so that no code is accepted twice (RFC 6238 §5.2). A credential with `enabled == false` is an
/// enrolment waiting for its first code.
public struct StoredTOTP: Sendable, Equatable {
    public var accountID: String
    public var sealedSecret: [UInt8]
    public var enabled: Bool
    public var lastStep: Int64?
    public var createdAt: Int64
    public var updatedAt: Int64

    public init(accountID: String, sealedSecret: [UInt8], enabled: Bool, lastStep: Int64?, createdAt: Int64, updatedAt: Int64) {
        self.accountID = accountID
        self.sealedSecret = sealedSecret
        self.enabled = enabled
        self.lastStep = lastStep
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// A sign-in waiting for its second factor: the password was right, the session is not made
/// yet. Keyed by the SHA-256 of the browser's `neosec_mfa` cookie; short-lived and single-use.
public struct PendingSecondFactor: Sendable, Equatable {
    public var idHash: String
    public var accountID: String
    /// The Token Service login challenge the sign-in answers, when there is one.
    public var challenge: String?
    public var createdAt: Int64
    public var expiresAt: Int64

    public init(idHash: String, accountID: String, challenge: String?, createdAt: Int64, expiresAt: Int64) {
        self.idHash = idHash
        self.accountID = accountID
        self.challenge = challenge
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}

/// Second factors of the Authentication Service's accounts: TOTP credentials, recovery codes
/// (stored as hashes only, each usable once), and sign-ins waiting for their second factor.
///
/// Every decision that must hold across replicas is one statement: a time step is recorded only
/// if it is later than the last one (`UPDATE … WHERE last_step < ? RETURNING`), a recovery code
/// is used by deleting it (`DELETE … RETURNING`), an enrolment is enabled only if it is still the
/// one the user confirmed.
public protocol MFAStore: Sendable {
    func totp(accountID: String) async throws -> StoredTOTP?
    /// Stores a new enrolment (not enabled), replacing an earlier unfinished one. False when the
    /// account already has TOTP enabled: that one stays.
    func savePendingTOTP(accountID: String, sealedSecret: [UInt8], at: Int64) async throws -> Bool
    /// Enables the enrolment if it is still the one with `sealedSecret`, recording `step` (the
    /// step of the confirming code) as used. False otherwise.
    func enableTOTP(accountID: String, sealedSecret: [UInt8], step: Int64, at: Int64) async throws -> Bool
    /// Records `step` as used when TOTP is enabled and `step` is later than the last used one;
    /// false otherwise (a replayed or older code).
    func recordTOTPStep(accountID: String, step: Int64, at: Int64) async throws -> Bool
    /// Removes the TOTP credential and every recovery code; false when there was no credential.
    @discardableResult
    func deleteTOTP(accountID: String) async throws -> Bool
    /// Replaces the account's recovery codes (SHA-256 hex of each).
    func replaceRecoveryCodes(accountID: String, codeHashes: [String], at: Int64) async throws
    /// Uses up a recovery code: true exactly once per stored code.
    func consumeRecoveryCode(accountID: String, codeHash: String) async throws -> Bool
    func recoveryCodeCount(accountID: String) async throws -> Int
    func createPendingSecondFactor(_ pending: PendingSecondFactor) async throws
    /// The pending sign-in, unless unknown or expired at `now`.
    func findPendingSecondFactor(idHash: String, now: Int64) async throws -> PendingSecondFactor?
    /// Deletes the pending sign-in; returns it when it existed (expired or not).
    @discardableResult
    func deletePendingSecondFactor(idHash: String) async throws -> PendingSecondFactor?
    /// Deletes pending sign-ins expired at `now`; returns how many.
    func purgeExpired(now: Int64) async throws -> Int
}

public struct SQLMFAStore: MFAStore {
    let db: any SQLDatabase

    public init(_ db: any SQLDatabase) { self.db = db }

    public static let migrations: [Migration] = [
        Migration(id: "mfa-001") { m in
            [
                """
                CREATE TABLE \(m.table("totp_credentials")) (
                    account_id TEXT PRIMARY KEY,
                    sealed_secret \(m.blob) NOT NULL,
                    enabled \(m.integer) NOT NULL DEFAULT 0,
                    last_step \(m.integer),
                    created_at \(m.integer) NOT NULL,
                    updated_at \(m.integer) NOT NULL
                )
                """,
                // Keyed by account and hash together: 50-bit codes of different accounts may collide.
                """
                CREATE TABLE \(m.table("recovery_codes")) (
                    account_id TEXT NOT NULL,
                    code_hash TEXT NOT NULL,
                    created_at \(m.integer) NOT NULL,
                    PRIMARY KEY (account_id, code_hash)
                )
                """,
                """
                CREATE TABLE \(m.table("pending_second_factor")) (
                    id_hash TEXT PRIMARY KEY,
                    account_id TEXT NOT NULL,
                    challenge TEXT,
                    created_at \(m.integer) NOT NULL,
                    expires_at \(m.integer) NOT NULL
                )
                """,
                "CREATE INDEX pending_second_factor_expiry ON \(m.table("pending_second_factor")) (expires_at)",
            ]
        }
    ]

    static let totpColumns = "account_id, sealed_secret, enabled, last_step, created_at, updated_at"
    static let pendingColumns = "id_hash, account_id, challenge, created_at, expires_at"

    public func totp(accountID: String) async throws -> StoredTOTP? {
        try await db.query("SELECT \(Self.totpColumns) FROM \(db.table("totp_credentials")) WHERE account_id = ?", [.text(accountID)])
            .first.map(Self.decodeTOTP)
    }

    public func savePendingTOTP(accountID: String, sealedSecret: [UInt8], at: Int64) async throws -> Bool {
        let table = db.table("totp_credentials")
        // One statement: an enabled credential is never overwritten, even by a concurrent enrolment.
        let rows = try await db.query(
            """
            INSERT INTO \(table) (\(Self.totpColumns)) VALUES (?, ?, 0, NULL, ?, ?)
            ON CONFLICT (account_id) DO UPDATE SET
                sealed_secret = excluded.sealed_secret, last_step = NULL, created_at = excluded.created_at, updated_at = excluded.updated_at
            WHERE \(table).enabled = 0
            RETURNING account_id
            """,
            [.text(accountID), .blob(sealedSecret), .integer(at), .integer(at)]
        )
        return !rows.isEmpty
    }

    public func enableTOTP(accountID: String, sealedSecret: [UInt8], step: Int64, at: Int64) async throws -> Bool {
        !(try await db.query(
            """
            UPDATE \(db.table("totp_credentials")) SET enabled = 1, last_step = ?, updated_at = ?
            WHERE account_id = ? AND enabled = 0 AND sealed_secret = ?
            RETURNING account_id
            """,
            [.integer(step), .integer(at), .text(accountID), .blob(sealedSecret)]
        ).isEmpty)
    }

    public func recordTOTPStep(accountID: String, step: Int64, at: Int64) async throws -> Bool {
        !(try await db.query(
            """
            UPDATE \(db.table("totp_credentials")) SET last_step = ?, updated_at = ?
            WHERE account_id = ? AND enabled = 1 AND (last_step IS NULL OR last_step < ?)
            RETURNING account_id
            """,
            [.integer(step), .integer(at), .text(accountID), .integer(step)]
        ).isEmpty)
    }

    public func deleteTOTP(accountID: String) async throws -> Bool {
        let results = try await db.transaction([
            SQLStatement("DELETE FROM \(db.table("recovery_codes")) WHERE account_id = ?", [.text(accountID)]),
            SQLStatement("DELETE FROM \(db.table("totp_credentials")) WHERE account_id = ? RETURNING account_id", [.text(accountID)]),
        ])
        return !(results.last?.isEmpty ?? true)
    }

    public func replaceRecoveryCodes(accountID: String, codeHashes: [String], at: Int64) async throws {
        let table = db.table("recovery_codes")
        var statements = [SQLStatement("DELETE FROM \(table) WHERE account_id = ?", [.text(accountID)])]
        for hash in Set(codeHashes) {
            statements.append(
                SQLStatement(
                    "INSERT INTO \(table) (account_id, code_hash, created_at) VALUES (?, ?, ?)", [.text(accountID), .text(hash), .integer(at)]
                )
            )
        }
        try await db.transaction(statements)
    }

    public func consumeRecoveryCode(accountID: String, codeHash: String) async throws -> Bool {
        !(try await db.query(
            "DELETE FROM \(db.table("recovery_codes")) WHERE account_id = ? AND code_hash = ? RETURNING code_hash",
            [.text(accountID), .text(codeHash)]
        ).isEmpty)
    }

    public func recoveryCodeCount(accountID: String) async throws -> Int {
        let rows = try await db.query("SELECT COUNT(*) AS n FROM \(db.table("recovery_codes")) WHERE account_id = ?", [.text(accountID)])
        let count = try rows.first?.integer("n") ?? 0
        return Int(count)
    }

    public func createPendingSecondFactor(_ pending: PendingSecondFactor) async throws {
        try await db.execute(
            "INSERT INTO \(db.table("pending_second_factor")) (\(Self.pendingColumns)) VALUES (?, ?, ?, ?, ?)",
            [
                .text(pending.idHash), .text(pending.accountID), .optionalText(pending.challenge), .integer(pending.createdAt),
                .integer(pending.expiresAt),
            ]
        )
    }

    public func findPendingSecondFactor(idHash: String, now: Int64) async throws -> PendingSecondFactor? {
        try await db.query(
            "SELECT \(Self.pendingColumns) FROM \(db.table("pending_second_factor")) WHERE id_hash = ? AND expires_at > ?",
            [.text(idHash), .integer(now)]
        ).first.map(Self.decodePending)
    }

    public func deletePendingSecondFactor(idHash: String) async throws -> PendingSecondFactor? {
        try await db.query("DELETE FROM \(db.table("pending_second_factor")) WHERE id_hash = ? RETURNING \(Self.pendingColumns)", [.text(idHash)])
            .first.map(Self.decodePending)
    }

    public func purgeExpired(now: Int64) async throws -> Int {
        try await db.query("DELETE FROM \(db.table("pending_second_factor")) WHERE expires_at <= ? RETURNING id_hash", [.integer(now)]).count
    }

    static func decodeTOTP(_ row: SQLRow) throws -> StoredTOTP {
        StoredTOTP(
            accountID: try row.text("account_id"),
            sealedSecret: try row.blob("sealed_secret"),
            enabled: try row.integer("enabled") != 0,
            lastStep: try row.optionalInteger("last_step"),
            createdAt: try row.integer("created_at"),
            updatedAt: try row.integer("updated_at")
        )
    }

    static func decodePending(_ row: SQLRow) throws -> PendingSecondFactor {
        PendingSecondFactor(
            idHash: try row.text("id_hash"),
            accountID: try row.text("account_id"),
            challenge: try row.optionalText("challenge"),
            createdAt: try row.integer("created_at"),
            expiresAt: try row.integer("expires_at")
        )
    }
}
