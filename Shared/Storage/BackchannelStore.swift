/// Backchannel permission requests (OpenID CIBA-shaped, seed 004): a client asks for a user's
/// consent without a redirect; the user decides on the account page. Keyed by the SHA-256 of
/// `auth_req_id`; `id` is the random public id the account page's forms carry. `subject` is nil
/// when the login hint named nobody: such a request looks the same to the client and simply
/// expires.
public struct BackchannelRequest: Sendable, Equatable {
    public enum Status: String, Sendable { case pending, approved, denied }

    public var authReqHash: String
    public var id: String
    public var clientID: String
    public var subject: String?
    /// Scopes, binding message, resources and the ping notification target, as JSON.
    public var requestJSON: String
    public var status: Status
    public var grantJSON: String?
    public var interval: Int64
    public var lastPolledAt: Int64?
    public var expiresAt: Int64

    public init(
        authReqHash: String, id: String, clientID: String, subject: String?, requestJSON: String, status: Status = .pending, grantJSON: String? = nil,
        interval: Int64, lastPolledAt: Int64? = nil, expiresAt: Int64
    ) {
        self.authReqHash = authReqHash
        self.id = id
        self.clientID = clientID
        self.subject = subject
        self.requestJSON = requestJSON
        self.status = status
        self.grantJSON = grantJSON
        self.interval = interval
        self.lastPolledAt = lastPolledAt
        self.expiresAt = expiresAt
    }
}

public protocol BackchannelStore: Sendable {
    func insert(_ request: BackchannelRequest) async throws
    /// Records a poll; the row as it was, and whether it came faster than `interval` (which then grows by 5 s).
    func poll(authReqHash: String, now: Int64) async throws -> (BackchannelRequest, slowDown: Bool)?
    /// The live pending requests for `subject`, oldest first.
    func pending(subject: String, now: Int64) async throws -> [BackchannelRequest]
    /// Records the decision of `subject` on its pending request `id`; the updated row, or nil.
    func decide(id: String, subject: String, status: BackchannelRequest.Status, grantJSON: String?, now: Int64) async throws -> BackchannelRequest?
    /// Deletes a decided request as its outcome is handed out: one winner.
    func consume(authReqHash: String) async throws -> Bool
    func purgeExpired(now: Int64) async throws -> Int
}

public struct SQLBackchannelStore: BackchannelStore {
    let db: any SQLDatabase

    public init(_ db: any SQLDatabase) { self.db = db }

    public static let migrations: [Migration] = [
        Migration(id: "backchannel-001") { m in
            [
                """
                CREATE TABLE \(m.table("backchannel_requests")) (
                    auth_req_hash TEXT PRIMARY KEY,
                    id TEXT NOT NULL UNIQUE,
                    client_id TEXT NOT NULL,
                    subject TEXT,
                    request TEXT NOT NULL,
                    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied')),
                    grant_json TEXT,
                    poll_interval \(m.integer) NOT NULL,
                    last_polled_at \(m.integer),
                    expires_at \(m.integer) NOT NULL
                )
                """,
                "CREATE INDEX backchannel_requests_subject ON \(m.table("backchannel_requests")) (subject, status)",
                "CREATE INDEX backchannel_requests_expiry ON \(m.table("backchannel_requests")) (expires_at)",
            ]
        }
    ]

    static let columns = "auth_req_hash, id, client_id, subject, request, status, grant_json, poll_interval, last_polled_at, expires_at"

    public func insert(_ r: BackchannelRequest) async throws {
        try await db.execute(
            "INSERT INTO \(db.table("backchannel_requests")) (\(Self.columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                .text(r.authReqHash), .text(r.id), .text(r.clientID), .optionalText(r.subject), .text(r.requestJSON), .text(r.status.rawValue),
                .optionalText(r.grantJSON), .integer(r.interval), r.lastPolledAt.map { .integer($0) } ?? .null, .integer(r.expiresAt),
            ]
        )
    }

    public func poll(authReqHash: String, now: Int64) async throws -> (BackchannelRequest, slowDown: Bool)? {
        let table = db.table("backchannel_requests")
        guard let before = try await db.query("SELECT \(Self.columns) FROM \(table) WHERE auth_req_hash = ?", [.text(authReqHash)]).first.map(Self.decode)
        else { return nil }
        let slowDown = try await db.recordPoll(
            table: table, keyColumn: "auth_req_hash", key: authReqHash, lastPolledAt: before.lastPolledAt, interval: before.interval, now: now
        )
        return (before, slowDown)
    }

    public func pending(subject: String, now: Int64) async throws -> [BackchannelRequest] {
        try await db.query(
            """
            SELECT \(Self.columns) FROM \(db.table("backchannel_requests"))
            WHERE subject = ? AND status = 'pending' AND expires_at > ? ORDER BY expires_at LIMIT 50
            """,
            [.text(subject), .integer(now)]
        ).map(Self.decode)
    }

    public func decide(id: String, subject: String, status: BackchannelRequest.Status, grantJSON: String?, now: Int64) async throws -> BackchannelRequest? {
        try await db.query(
            """
            UPDATE \(db.table("backchannel_requests")) SET status = ?, grant_json = ?
            WHERE id = ? AND subject = ? AND status = 'pending' AND expires_at > ?
            RETURNING \(Self.columns)
            """,
            [.text(status.rawValue), .optionalText(grantJSON), .text(id), .text(subject), .integer(now)]
        ).first.map(Self.decode)
    }

    public func consume(authReqHash: String) async throws -> Bool {
        !(try await db.query(
            "DELETE FROM \(db.table("backchannel_requests")) WHERE auth_req_hash = ? AND status <> 'pending' RETURNING auth_req_hash",
            [.text(authReqHash)]
        ).isEmpty)
    }

    public func purgeExpired(now: Int64) async throws -> Int {
        try await db.query("DELETE FROM \(db.table("backchannel_requests")) WHERE expires_at < ? RETURNING auth_req_hash", [.integer(now)]).count
    }

    static func decode(_ row: SQLRow) throws -> BackchannelRequest {
        guard let status = BackchannelRequest.Status(rawValue: try row.text("status")) else { throw StorageError.corrupt("status") }
        return BackchannelRequest(
            authReqHash: try row.text("auth_req_hash"), id: try row.text("id"), clientID: try row.text("client_id"), subject: try row.optionalText("subject"),
            requestJSON: try row.text("request"), status: status, grantJSON: try row.optionalText("grant_json"), interval: try row.integer("poll_interval"),
            lastPolledAt: try row.optionalInteger("last_polled_at"), expiresAt: try row.integer("expires_at")
        )
    }
}
