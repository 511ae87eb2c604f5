/// "Not before" revocations: every token issued to a subject (optionally through one client) at
/// or before an instant is no longer accepted. Written on logout, password reset, account
/// disable and per-app revoke; read by introspection and token refresh.
public protocol SubjectRevocationStore: Sendable {
    /// Records the revocation and returns the instant in force (never earlier than one already stored).
    func revoke(subject: String, clientID: String?, at: Int64, reason: String) async throws -> Int64
    /// The latest cut-off applying to tokens of `subject` issued through `clientID`.
    func notBefore(subject: String, clientID: String) async throws -> Int64?
    /// Number of stored revocations (operations and tests).
    func count() async throws -> Int
}

public struct SQLSubjectRevocationStore: SubjectRevocationStore {
    let db: any SQLDatabase

    public init(_ db: any SQLDatabase) { self.db = db }

    public static let migrations: [Migration] = [
        Migration(id: "subject-revocations-001") { m in
            [
                """
                CREATE TABLE \(m.table("subject_revocations")) (
                    subject TEXT NOT NULL,
                    client_id TEXT NOT NULL,
                    not_before \(m.integer) NOT NULL,
                    reason TEXT NOT NULL,
                    PRIMARY KEY (subject, client_id)
                )
                """
            ]
        }
    ]

    public func revoke(subject: String, clientID: String?, at: Int64, reason: String) async throws -> Int64 {
        let table = db.table("subject_revocations")
        // The empty string stands for "every client", so the primary key stays NOT NULL.
        let rows = try await db.query(
            """
            INSERT INTO \(table) (subject, client_id, not_before, reason) VALUES (?, ?, ?, ?)
            ON CONFLICT (subject, client_id) DO UPDATE
                SET not_before = CASE WHEN excluded.not_before > \(table).not_before THEN excluded.not_before ELSE \(table).not_before END,
                    reason = excluded.reason
            RETURNING not_before
            """,
            [.text(subject), .text(clientID ?? ""), .integer(at), .text(reason)]
        )
        guard let row = rows.first else { throw StorageError.unavailable }
        return try row.integer("not_before")
    }

    public func notBefore(subject: String, clientID: String) async throws -> Int64? {
        let rows = try await db.query(
            "SELECT MAX(not_before) AS not_before FROM \(db.table("subject_revocations")) WHERE subject = ? AND client_id IN ('', ?)",
            [.text(subject), .text(clientID)]
        )
        return try rows.first?.optionalInteger("not_before")
    }

    public func count() async throws -> Int {
        let rows = try await db.query("SELECT COUNT(*) AS n FROM \(db.table("subject_revocations"))")
        return Int(try rows.first?.integer("n") ?? 0)
    }
}
