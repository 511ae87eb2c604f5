/// A registered OAuth client as stored: the secret only as a SHA-256 hash, the RFC 7591
/// metadata as JSON text.
public struct StoredClient: Sendable, Equatable {
    public var clientID: String
    public var secretHash: String?
    public var metadataJSON: String
    public var createdAt: Int64
    public var updatedAt: Int64

    public init(clientID: String, secretHash: String?, metadataJSON: String, createdAt: Int64, updatedAt: Int64) {
        self.clientID = clientID
        self.secretHash = secretHash
        self.metadataJSON = metadataJSON
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// The Token Service's clients.
public protocol ClientStore: Sendable {
    /// Inserts a client; returns false if the id is taken.
    func insert(_ client: StoredClient) async throws -> Bool
    func find(clientID: String) async throws -> StoredClient?
    func list() async throws -> [StoredClient]
    /// Replaces metadata (and the secret hash when given); returns false for an unknown id.
    func update(clientID: String, metadataJSON: String, secretHash: String??, at: Int64) async throws -> Bool
    func delete(clientID: String) async throws -> Bool
}

public struct SQLClientStore: ClientStore {
    let db: any SQLDatabase

    public init(_ db: any SQLDatabase) { self.db = db }

    public static let migrations: [Migration] = [
        Migration(id: "clients-001") { m in
            [
                """
                CREATE TABLE \(m.table("clients")) (
                    client_id TEXT PRIMARY KEY,
                    secret_hash TEXT,
                    metadata TEXT NOT NULL,
                    created_at \(m.integer) NOT NULL,
                    updated_at \(m.integer) NOT NULL
                )
                """
            ]
        }
    ]

    public func insert(_ client: StoredClient) async throws -> Bool {
        let rows = try await db.query(
            """
            INSERT INTO \(db.table("clients")) (client_id, secret_hash, metadata, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT DO NOTHING RETURNING client_id
            """,
            [.text(client.clientID), .optionalText(client.secretHash), .text(client.metadataJSON), .integer(client.createdAt), .integer(client.updatedAt)]
        )
        return !rows.isEmpty
    }

    public func find(clientID: String) async throws -> StoredClient? {
        try await db.query(
            "SELECT client_id, secret_hash, metadata, created_at, updated_at FROM \(db.table("clients")) WHERE client_id = ?",
            [.text(clientID)]
        ).first.map(Self.decode)
    }

    public func list() async throws -> [StoredClient] {
        try await db.query("SELECT client_id, secret_hash, metadata, created_at, updated_at FROM \(db.table("clients")) ORDER BY created_at, client_id")
            .map(Self.decode)
    }

    public func update(clientID: String, metadataJSON: String, secretHash: String??, at: Int64) async throws -> Bool {
        let table = db.table("clients")
        let rows: [SQLRow]
        if let secretHash {
            rows = try await db.query(
                "UPDATE \(table) SET metadata = ?, secret_hash = ?, updated_at = ? WHERE client_id = ? RETURNING client_id",
                [.text(metadataJSON), .optionalText(secretHash), .integer(at), .text(clientID)]
            )
        } else {
            rows = try await db.query(
                "UPDATE \(table) SET metadata = ?, updated_at = ? WHERE client_id = ? RETURNING client_id",
                [.text(metadataJSON), .integer(at), .text(clientID)]
            )
        }
        return !rows.isEmpty
    }

    public func delete(clientID: String) async throws -> Bool {
        !(try await db.query("DELETE FROM \(db.table("clients")) WHERE client_id = ? RETURNING client_id", [.text(clientID)]).isEmpty)
    }

    static func decode(_ row: SQLRow) throws -> StoredClient {
        StoredClient(
            clientID: try row.text("client_id"),
            secretHash: try row.optionalText("secret_hash"),
            metadataJSON: try row.text("metadata"),
            createdAt: try row.integer("created_at"),
            updatedAt: try row.integer("updated_at")
        )
    }
}
