/// RFC 8628 device authorizations: keyed by the SHA-256 of the device code, found by the SHA-256
/// of the normalized user code while pending. `grant` is the approved login and scopes (JSON),
/// written once by the user's decision.
public struct DeviceAuthorization: Sendable, Equatable {
    public enum Status: String, Sendable { case pending, approved, denied }

    public var deviceCodeHash: String
    public var userCodeHash: String
    public var clientID: String
    /// The request (scopes, resources) as JSON.
    public var requestJSON: String
    public var status: Status
    public var grantJSON: String?
    public var interval: Int64
    public var lastPolledAt: Int64?
    public var expiresAt: Int64

    public init(
        deviceCodeHash: String, userCodeHash: String, clientID: String, requestJSON: String, status: Status = .pending, grantJSON: String? = nil,
        interval: Int64, lastPolledAt: Int64? = nil, expiresAt: Int64
    ) {
        self.deviceCodeHash = deviceCodeHash
        self.userCodeHash = userCodeHash
        self.clientID = clientID
        self.requestJSON = requestJSON
        self.status = status
        self.grantJSON = grantJSON
        self.interval = interval
        self.lastPolledAt = lastPolledAt
        self.expiresAt = expiresAt
    }
}

public protocol DeviceAuthorizationStore: Sendable {
    /// False when the user code is already taken by a live authorization (draw another).
    func insert(_ authorization: DeviceAuthorization, now: Int64) async throws -> Bool
    func find(deviceCodeHash: String) async throws -> DeviceAuthorization?
    /// The live, pending authorization with this user code.
    func pending(userCodeHash: String, now: Int64) async throws -> DeviceAuthorization?
    /// Records the user's decision once; false when it was no longer pending.
    func decide(deviceCodeHash: String, status: DeviceAuthorization.Status, grantJSON: String?, now: Int64) async throws -> Bool
    /// RFC 8628 §3.5: records a poll. Returns the row as it was before, with `slowDown` true when
    /// the client polled faster than `interval` (which then grows by 5 s).
    func poll(deviceCodeHash: String, now: Int64) async throws -> (DeviceAuthorization, slowDown: Bool)?
    /// Deletes an approved (or denied) authorization when its outcome is handed out: one winner.
    func consume(deviceCodeHash: String) async throws -> Bool
    func purgeExpired(now: Int64) async throws -> Int
}

public struct SQLDeviceAuthorizationStore: DeviceAuthorizationStore {
    let db: any SQLDatabase

    public init(_ db: any SQLDatabase) { self.db = db }

    public static let migrations: [Migration] = [
        Migration(id: "device-001") { m in
            [
                """
                CREATE TABLE \(m.table("device_authorizations")) (
                    device_code_hash TEXT PRIMARY KEY,
                    user_code_hash TEXT NOT NULL UNIQUE,
                    client_id TEXT NOT NULL,
                    request TEXT NOT NULL,
                    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied')),
                    grant_json TEXT,
                    poll_interval \(m.integer) NOT NULL,
                    last_polled_at \(m.integer),
                    expires_at \(m.integer) NOT NULL
                )
                """,
                "CREATE INDEX device_authorizations_expiry ON \(m.table("device_authorizations")) (expires_at)",
            ]
        }
    ]

    static let columns = "device_code_hash, user_code_hash, client_id, request, status, grant_json, poll_interval, last_polled_at, expires_at"

    public func insert(_ a: DeviceAuthorization, now: Int64) async throws -> Bool {
        let table = db.table("device_authorizations")
        // A user code held by an expired authorization is freed first.
        try await db.execute("DELETE FROM \(table) WHERE user_code_hash = ? AND expires_at <= ?", [.text(a.userCodeHash), .integer(now)])
        let rows = try await db.query(
            """
            INSERT INTO \(table) (\(Self.columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (user_code_hash) DO NOTHING RETURNING device_code_hash
            """,
            [
                .text(a.deviceCodeHash), .text(a.userCodeHash), .text(a.clientID), .text(a.requestJSON), .text(a.status.rawValue),
                .optionalText(a.grantJSON), .integer(a.interval), a.lastPolledAt.map { .integer($0) } ?? .null, .integer(a.expiresAt),
            ]
        )
        return !rows.isEmpty
    }

    public func find(deviceCodeHash: String) async throws -> DeviceAuthorization? {
        try await db.query("SELECT \(Self.columns) FROM \(db.table("device_authorizations")) WHERE device_code_hash = ?", [.text(deviceCodeHash)])
            .first.map(Self.decode)
    }

    public func pending(userCodeHash: String, now: Int64) async throws -> DeviceAuthorization? {
        try await db.query(
            "SELECT \(Self.columns) FROM \(db.table("device_authorizations")) WHERE user_code_hash = ? AND status = 'pending' AND expires_at > ?",
            [.text(userCodeHash), .integer(now)]
        ).first.map(Self.decode)
    }

    public func decide(deviceCodeHash: String, status: DeviceAuthorization.Status, grantJSON: String?, now: Int64) async throws -> Bool {
        !(try await db.query(
            """
            UPDATE \(db.table("device_authorizations")) SET status = ?, grant_json = ?
            WHERE device_code_hash = ? AND status = 'pending' AND expires_at > ? RETURNING device_code_hash
            """,
            [.text(status.rawValue), .optionalText(grantJSON), .text(deviceCodeHash), .integer(now)]
        ).isEmpty)
    }

    public func poll(deviceCodeHash: String, now: Int64) async throws -> (DeviceAuthorization, slowDown: Bool)? {
        guard let before = try await find(deviceCodeHash: deviceCodeHash) else { return nil }
        let slowDown = try await db.recordPoll(
            table: db.table("device_authorizations"), keyColumn: "device_code_hash", key: deviceCodeHash, lastPolledAt: before.lastPolledAt,
            interval: before.interval, now: now
        )
        return (before, slowDown)
    }

    public func consume(deviceCodeHash: String) async throws -> Bool {
        !(try await db.query(
            "DELETE FROM \(db.table("device_authorizations")) WHERE device_code_hash = ? AND status <> 'pending' RETURNING device_code_hash",
            [.text(deviceCodeHash)]
        ).isEmpty)
    }

    public func purgeExpired(now: Int64) async throws -> Int {
        try await db.query("DELETE FROM \(db.table("device_authorizations")) WHERE expires_at < ? RETURNING device_code_hash", [.integer(now)]).count
    }

    static func decode(_ row: SQLRow) throws -> DeviceAuthorization {
        guard let status = DeviceAuthorization.Status(rawValue: try row.text("status")) else { throw StorageError.corrupt("status") }
        return DeviceAuthorization(
            deviceCodeHash: try row.text("device_code_hash"), userCodeHash: try row.text("user_code_hash"), clientID: try row.text("client_id"),
            requestJSON: try row.text("request"), status: status, grantJSON: try row.optionalText("grant_json"), interval: try row.integer("poll_interval"),
            lastPolledAt: try row.optionalInteger("last_polled_at"), expiresAt: try row.integer("expires_at")
        )
    }
}
