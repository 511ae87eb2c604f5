/// How failed sign-ins slow down further attempts (OWASP Authentication Cheat Sheet, "Account
/// lockout"; NIST SP 800-63B §5.2.2 rate limiting): the first `freeFailures` cost nothing, then
/// each failure doubles the wait, from one second up to `maximumDelay`; a key with a lock
/// threshold is locked after that many failures until an administrator unlocks it.
public struct LoginThrottlePolicy: Sendable, Equatable {
    public var freeFailures: Int64
    public var maximumDelay: Int64
    /// Failures that lock the key; nil never locks (client-address keys: locking those would let
    /// anyone lock out a whole network).
    public var lockAfter: Int64?
    /// A key with no failure for this long starts counting again. Longer than `maximumDelay`, so
    /// that a throttled attacker cannot wait the count away.
    public var forgetAfter: Int64

    public init(freeFailures: Int64 = 4, maximumDelay: Int64 = 900, lockAfter: Int64?, forgetAfter: Int64) {
        self.freeFailures = freeFailures
        self.maximumDelay = maximumDelay
        self.lockAfter = lockAfter
        self.forgetAfter = forgetAfter
    }

    /// Per account (`user:` keys): locks at 20 failures.
    public static let account = LoginThrottlePolicy(lockAfter: 20, forgetAfter: 86_400)
    /// Per client address (`ip:` keys): back-off only.
    public static let clientAddress = LoginThrottlePolicy(lockAfter: nil, forgetAfter: 3_600)

    /// Seconds to wait after the `failures`-th consecutive failure: 0 for the first
    /// `freeFailures`, then 2^(failures − freeFailures − 1), capped.
    public func delay(afterFailures failures: Int64) -> Int64 {
        guard failures > freeFailures else { return 0 }
        let exponent = failures - freeFailures - 1
        guard exponent < 62 else { return maximumDelay }
        return min(Int64(1) << exponent, maximumDelay)
    }
}

/// The outcome of recording a failure.
public struct LoginThrottleState: Sendable, Equatable {
    public var failures: Int64
    /// Seconds before the next attempt is allowed; 0 when allowed now.
    public var retryAfter: Int64
    public var locked: Bool

    public init(failures: Int64, retryAfter: Int64, locked: Bool) {
        self.failures = failures
        self.retryAfter = retryAfter
        self.locked = locked
    }
}

/// Failed sign-in counters, keyed by the SHA-256 of a throttle key (`user:alice`,
/// `ip:203.0.113.7`); the key itself is not stored. Counting is one atomic upsert, so replicas
/// sharing the store count together.
public protocol LoginThrottleStore: Sendable {
    /// Seconds the caller must still wait, or nil when an attempt is allowed now. A locked key
    /// answers `LoginThrottle.lockedRetryAfter`.
    func check(key: String, now: Int64) async throws -> Int64?
    @discardableResult
    func recordFailure(key: String, now: Int64, policy: LoginThrottlePolicy) async throws -> LoginThrottleState
    /// Forgets the failures of an unlocked key (a successful sign-in).
    func reset(key: String) async throws
    /// Forgets the key, locked or not (administrator). Returns false when nothing was stored.
    @discardableResult
    func unlock(key: String) async throws -> Bool
    /// Deletes unlocked counters without a failure since `before`; returns how many.
    func purgeStale(before: Int64) async throws -> Int
}

public enum LoginThrottle {
    /// `Retry-After` given for a locked key: it stays locked, but clients should not hammer.
    public static let lockedRetryAfter: Int64 = 900
}

public struct SQLLoginThrottleStore: LoginThrottleStore {
    let db: any SQLDatabase

    public init(_ db: any SQLDatabase) { self.db = db }

    public static let migrations: [Migration] = [
        Migration(id: "login-throttle-001") { m in
            [
                """
                CREATE TABLE \(m.table("login_throttle")) (
                    key_hash TEXT PRIMARY KEY,
                    failures \(m.integer) NOT NULL,
                    next_allowed_at \(m.integer) NOT NULL,
                    locked \(m.integer) NOT NULL DEFAULT 0,
                    last_failure_at \(m.integer) NOT NULL
                )
                """,
                "CREATE INDEX login_throttle_last_failure ON \(m.table("login_throttle")) (last_failure_at)",
            ]
        }
    ]

    public func check(key: String, now: Int64) async throws -> Int64? {
        let rows = try await db.query(
            "SELECT next_allowed_at, locked FROM \(db.table("login_throttle")) WHERE key_hash = ?",
            [.text(CredentialHash.hex(key))]
        )
        guard let row = rows.first else { return nil }
        if try row.integer("locked") != 0 { return LoginThrottle.lockedRetryAfter }
        let nextAllowed = try row.integer("next_allowed_at")
        return nextAllowed > now ? nextAllowed - now : nil
    }

    public func recordFailure(key: String, now: Int64, policy: LoginThrottlePolicy) async throws -> LoginThrottleState {
        let table = db.table("login_throttle")
        let hash = CredentialHash.hex(key)
        // One statement counts, so concurrent failures on several replicas never lose a count.
        let rows = try await db.query(
            """
            INSERT INTO \(table) (key_hash, failures, next_allowed_at, locked, last_failure_at) VALUES (?, 1, 0, 0, ?)
            ON CONFLICT (key_hash) DO UPDATE SET
                failures = CASE WHEN \(table).locked = 0 AND \(table).last_failure_at < ? THEN 1 ELSE \(table).failures + 1 END,
                last_failure_at = excluded.last_failure_at
            RETURNING failures, locked
            """,
            [.text(hash), .integer(now), .integer(now - policy.forgetAfter)]
        )
        guard let row = rows.first else { throw StorageError.unavailable }
        let failures = try row.integer("failures")
        var locked = try row.integer("locked") != 0
        let delay = policy.delay(afterFailures: failures)
        let lockNow = !locked && policy.lockAfter.map { failures >= $0 } == true
        if lockNow || delay > 0 {
            // Never move an existing deadline earlier: a slower replica may record an older failure last.
            try await db.execute(
                """
                UPDATE \(table) SET
                    next_allowed_at = CASE WHEN next_allowed_at < ? THEN ? ELSE next_allowed_at END,
                    locked = CASE WHEN locked <> 0 OR ? <> 0 THEN 1 ELSE 0 END
                WHERE key_hash = ?
                """,
                [.integer(now + delay), .integer(now + delay), .integer(lockNow ? 1 : 0), .text(hash)]
            )
        }
        locked = locked || lockNow
        return LoginThrottleState(failures: failures, retryAfter: locked ? LoginThrottle.lockedRetryAfter : delay, locked: locked)
    }

    public func reset(key: String) async throws {
        try await db.execute("DELETE FROM \(db.table("login_throttle")) WHERE key_hash = ? AND locked = 0", [.text(CredentialHash.hex(key))])
    }

    public func unlock(key: String) async throws -> Bool {
        !(try await db.query("DELETE FROM \(db.table("login_throttle")) WHERE key_hash = ? RETURNING key_hash", [.text(CredentialHash.hex(key))])
            .isEmpty)
    }

    public func purgeStale(before: Int64) async throws -> Int {
        try await db.query(
            "DELETE FROM \(db.table("login_throttle")) WHERE locked = 0 AND last_failure_at < ? RETURNING key_hash",
            [.integer(before)]
        ).count
    }
}
