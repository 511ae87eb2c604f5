/// The demo resource server's documents: each belongs to one user (the token's `sub`).
public protocol DocumentStore: Sendable {
    func insert(_ document: StoredDocument) async throws
    func list(owner: String) async throws -> [StoredDocument]
    func find(id: String, owner: String) async throws -> StoredDocument?
    func delete(id: String, owner: String) async throws -> Bool
    /// Any owner's document: for a request authorized by an UMA RPT.
    func find(id: String) async throws -> StoredDocument?
    /// Records the UMA resource id the document is registered under.
    func setUMAResource(documentID: String, resourceID: String) async throws
}

public struct StoredDocument: Sendable, Equatable {
    public var id: String
    public var owner: String
    public var title: String
    public var content: String
    public var createdAt: Int64
    /// The UMA resource the document is registered as (nil until registration succeeded).
    public var umaResourceID: String?

    public init(id: String, owner: String, title: String, content: String, createdAt: Int64, umaResourceID: String? = nil) {
        self.umaResourceID = umaResourceID
        self.id = id
        self.owner = owner
        self.title = title
        self.content = content
        self.createdAt = createdAt
    }
}

public struct SQLDocumentStore: DocumentStore {
    let db: any SQLDatabase

    public init(_ db: any SQLDatabase) { self.db = db }

    public static let migrations: [Migration] = [
        Migration(id: "documents-001") { m in
            [
                """
                CREATE TABLE \(m.table("documents")) (
                    id TEXT PRIMARY KEY,
                    owner TEXT NOT NULL,
                    title TEXT NOT NULL,
                    content TEXT NOT NULL,
                    created_at \(m.integer) NOT NULL
                )
                """,
                "CREATE INDEX documents_owner ON \(m.table("documents")) (owner, created_at)",
            ]
        },
        Migration(id: "documents-002-uma") { m in
            ["ALTER TABLE \(m.table("documents")) ADD COLUMN uma_resource_id TEXT"]
        },
    ]

    public func insert(_ document: StoredDocument) async throws {
        try await db.execute(
            "INSERT INTO \(db.table("documents")) (id, owner, title, content, created_at) VALUES (?, ?, ?, ?, ?)",
            [.text(document.id), .text(document.owner), .text(document.title), .text(document.content), .integer(document.createdAt)]
        )
    }

    public func list(owner: String) async throws -> [StoredDocument] {
        try await db.query(
            "SELECT id, owner, title, content, created_at, uma_resource_id FROM \(db.table("documents")) WHERE owner = ? ORDER BY created_at, id", [.text(owner)]
        ).map(Self.decode)
    }

    public func find(id: String, owner: String) async throws -> StoredDocument? {
        try await db.query(
            "SELECT id, owner, title, content, created_at, uma_resource_id FROM \(db.table("documents")) WHERE id = ? AND owner = ?", [.text(id), .text(owner)]
        ).first.map(Self.decode)
    }

    public func delete(id: String, owner: String) async throws -> Bool {
        !(try await db.query("DELETE FROM \(db.table("documents")) WHERE id = ? AND owner = ? RETURNING id", [.text(id), .text(owner)]).isEmpty)
    }

    public func find(id: String) async throws -> StoredDocument? {
        try await db.query(
            "SELECT id, owner, title, content, created_at, uma_resource_id FROM \(db.table("documents")) WHERE id = ?", [.text(id)]
        ).first.map(Self.decode)
    }

    public func setUMAResource(documentID: String, resourceID: String) async throws {
        try await db.execute("UPDATE \(db.table("documents")) SET uma_resource_id = ? WHERE id = ?", [.text(resourceID), .text(documentID)])
    }

    static func decode(_ row: SQLRow) throws -> StoredDocument {
        StoredDocument(
            id: try row.text("id"), owner: try row.text("owner"), title: try row.text("title"), content: try row.text("content"),
            createdAt: try row.integer("created_at"), umaResourceID: try row.optionalText("uma_resource_id")
        )
    }
}
