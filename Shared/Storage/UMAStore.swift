import Foundation

/// The UMA service's state (UMA 2.0 Federated Authorization): resources registered by resource
/// servers for their owners, permission tickets, owners' grants to requesting parties, pending
/// requests awaiting an owner's decision, and persisted claims tokens (PCTs).
///
/// Tickets and PCTs are stored only as the SHA-256 of their value; a ticket is consumed by the
/// single `DELETE … RETURNING` that reads it, so it can be redeemed once.
public protocol UMAStore: Sendable {
    func insertResource(_ resource: UMAResource) async throws
    func resource(id: String) async throws -> UMAResource?
    func resources(resourceServer: String) async throws -> [UMAResource]
    func resources(owner: String) async throws -> [UMAResource]
    /// Replaces the description of a resource the resource server owns; false when none matched.
    func updateResource(_ resource: UMAResource) async throws -> Bool
    /// Deletes a resource with its grants and requests; false when the server had no such resource.
    func deleteResource(id: String, resourceServer: String) async throws -> Bool

    func insertTicket(_ ticket: UMATicket) async throws
    /// The ticket, deleted in the same statement; nil when unknown, used or expired.
    func consumeTicket(hash: String, now: Int64) async throws -> UMATicket?

    func grants(owner: String) async throws -> [UMAGrantRecord]
    func grants(requestingParty: String, resourceIDs: [String]) async throws -> [UMAGrantRecord]
    /// One grant per resource and requesting party: a new one replaces the old.
    func upsertGrant(_ grant: UMAGrantRecord) async throws
    func deleteGrant(id: String, owner: String) async throws -> UMAGrantRecord?

    func requests(owner: String) async throws -> [UMARequestRecord]
    func request(resourceID: String, requestingParty: String) async throws -> UMARequestRecord?
    /// Records a pending request (or widens the scopes of the one already pending).
    func upsertRequest(_ request: UMARequestRecord) async throws
    func setRequestStatus(resourceID: String, requestingParty: String, status: UMARequestRecord.Status) async throws
    func deleteRequest(id: String, owner: String) async throws -> UMARequestRecord?
    func clearRequest(resourceID: String, requestingParty: String) async throws

    func insertPCT(hash: String, clientID: String, subject: String, expiresAt: Int64) async throws
    /// The subject a PCT stands for, when it was issued to `clientID` and has not expired.
    func pctSubject(hash: String, clientID: String, now: Int64) async throws -> String?

    func purgeExpired(now: Int64) async throws -> Int
}

public struct UMAResource: Sendable, Equatable {
    public var id: String
    /// The client id of the resource server that registered it.
    public var resourceServer: String
    /// The resource owner's `sub`.
    public var owner: String
    public var name: String?
    public var type: String?
    public var iconURI: String?
    public var description: String?
    public var scopes: [String]
    public var createdAt: Int64

    public init(
        id: String, resourceServer: String, owner: String, name: String?, type: String?, iconURI: String?, description: String?, scopes: [String],
        createdAt: Int64
    ) {
        self.id = id
        self.resourceServer = resourceServer
        self.owner = owner
        self.name = name
        self.type = type
        self.iconURI = iconURI
        self.description = description
        self.scopes = scopes
        self.createdAt = createdAt
    }
}

public struct UMATicket: Sendable, Equatable {
    public struct Permission: Codable, Sendable, Equatable {
        public var resourceID: String
        public var scopes: [String]
        public init(resourceID: String, scopes: [String]) {
            self.resourceID = resourceID
            self.scopes = scopes
        }
        enum CodingKeys: String, CodingKey {
            case resourceID = "resource_id"
            case scopes = "resource_scopes"
        }
    }

    public var hash: String
    public var resourceServer: String
    public var permissions: [Permission]
    /// Set when the ticket was issued after claims interaction: who the requesting party is,
    /// and the client the interaction was for.
    public var requestingParty: String?
    public var clientID: String?
    public var expiresAt: Int64

    public init(hash: String, resourceServer: String, permissions: [Permission], requestingParty: String? = nil, clientID: String? = nil, expiresAt: Int64) {
        self.hash = hash
        self.resourceServer = resourceServer
        self.permissions = permissions
        self.requestingParty = requestingParty
        self.clientID = clientID
        self.expiresAt = expiresAt
    }
}

public struct UMAGrantRecord: Sendable, Equatable {
    public var id: String
    public var owner: String
    public var resourceID: String
    public var requestingParty: String
    public var scopes: [String]
    public var expiresAt: Int64?
    public var createdAt: Int64

    public init(id: String, owner: String, resourceID: String, requestingParty: String, scopes: [String], expiresAt: Int64?, createdAt: Int64) {
        self.id = id
        self.owner = owner
        self.resourceID = resourceID
        self.requestingParty = requestingParty
        self.scopes = scopes
        self.expiresAt = expiresAt
        self.createdAt = createdAt
    }
}

public struct UMARequestRecord: Sendable, Equatable {
    public enum Status: String, Sendable {
        case pending, denied
    }

    public var id: String
    public var owner: String
    public var resourceID: String
    public var requestingParty: String
    public var clientID: String
    public var scopes: [String]
    public var status: Status
    public var createdAt: Int64

    public init(id: String, owner: String, resourceID: String, requestingParty: String, clientID: String, scopes: [String], status: Status, createdAt: Int64) {
        self.id = id
        self.owner = owner
        self.resourceID = resourceID
        self.requestingParty = requestingParty
        self.clientID = clientID
        self.scopes = scopes
        self.status = status
        self.createdAt = createdAt
    }
}

public struct SQLUMAStore: UMAStore {
    let db: any SQLDatabase

    public init(_ db: any SQLDatabase) { self.db = db }

    public static let migrations: [Migration] = [
        Migration(id: "uma-001") { m in
            [
                """
                CREATE TABLE \(m.table("uma_resources")) (
                    id TEXT PRIMARY KEY,
                    resource_server TEXT NOT NULL,
                    owner TEXT NOT NULL,
                    name TEXT,
                    type TEXT,
                    icon_uri TEXT,
                    description TEXT,
                    scopes TEXT NOT NULL,
                    created_at \(m.integer) NOT NULL
                )
                """,
                "CREATE INDEX uma_resources_server ON \(m.table("uma_resources")) (resource_server, created_at)",
                "CREATE INDEX uma_resources_owner ON \(m.table("uma_resources")) (owner, created_at)",
                """
                CREATE TABLE \(m.table("uma_tickets")) (
                    hash TEXT PRIMARY KEY,
                    resource_server TEXT NOT NULL,
                    permissions TEXT NOT NULL,
                    requesting_party TEXT,
                    client_id TEXT,
                    expires_at \(m.integer) NOT NULL
                )
                """,
                """
                CREATE TABLE \(m.table("uma_grants")) (
                    id TEXT PRIMARY KEY,
                    owner TEXT NOT NULL,
                    resource_id TEXT NOT NULL,
                    requesting_party TEXT NOT NULL,
                    scopes TEXT NOT NULL,
                    expires_at \(m.integer),
                    created_at \(m.integer) NOT NULL,
                    UNIQUE (resource_id, requesting_party)
                )
                """,
                "CREATE INDEX uma_grants_owner ON \(m.table("uma_grants")) (owner, created_at)",
                """
                CREATE TABLE \(m.table("uma_requests")) (
                    id TEXT PRIMARY KEY,
                    owner TEXT NOT NULL,
                    resource_id TEXT NOT NULL,
                    requesting_party TEXT NOT NULL,
                    client_id TEXT NOT NULL,
                    scopes TEXT NOT NULL,
                    status TEXT NOT NULL,
                    created_at \(m.integer) NOT NULL,
                    UNIQUE (resource_id, requesting_party)
                )
                """,
                "CREATE INDEX uma_requests_owner ON \(m.table("uma_requests")) (owner, created_at)",
                """
                CREATE TABLE \(m.table("uma_pcts")) (
                    hash TEXT PRIMARY KEY,
                    client_id TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    expires_at \(m.integer) NOT NULL
                )
                """,
            ]
        }
    ]

    // Scopes are scope-tokens (RFC 6749 §3.3: no spaces), so a space-joined column is exact.
    static func join(_ scopes: [String]) -> String { scopes.joined(separator: " ") }
    static func split(_ text: String) -> [String] { text.split(separator: " ").map(String.init) }

    // MARK: Resources

    static let resourceColumns = "id, resource_server, owner, name, type, icon_uri, description, scopes, created_at"

    public func insertResource(_ r: UMAResource) async throws {
        try await db.execute(
            "INSERT INTO \(db.table("uma_resources")) (\(Self.resourceColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                .text(r.id), .text(r.resourceServer), .text(r.owner), .optionalText(r.name), .optionalText(r.type), .optionalText(r.iconURI),
                .optionalText(r.description), .text(Self.join(r.scopes)), .integer(r.createdAt),
            ]
        )
    }

    public func resource(id: String) async throws -> UMAResource? {
        try await db.query("SELECT \(Self.resourceColumns) FROM \(db.table("uma_resources")) WHERE id = ?", [.text(id)]).first.map(Self.decodeResource)
    }

    public func resources(resourceServer: String) async throws -> [UMAResource] {
        try await db.query(
            "SELECT \(Self.resourceColumns) FROM \(db.table("uma_resources")) WHERE resource_server = ? ORDER BY created_at, id", [.text(resourceServer)]
        ).map(Self.decodeResource)
    }

    public func resources(owner: String) async throws -> [UMAResource] {
        try await db.query(
            "SELECT \(Self.resourceColumns) FROM \(db.table("uma_resources")) WHERE owner = ? ORDER BY created_at, id", [.text(owner)]
        ).map(Self.decodeResource)
    }

    public func updateResource(_ r: UMAResource) async throws -> Bool {
        !(try await db.query(
            """
            UPDATE \(db.table("uma_resources")) SET name = ?, type = ?, icon_uri = ?, description = ?, scopes = ?
            WHERE id = ? AND resource_server = ? AND owner = ? RETURNING id
            """,
            [
                .optionalText(r.name), .optionalText(r.type), .optionalText(r.iconURI), .optionalText(r.description), .text(Self.join(r.scopes)),
                .text(r.id), .text(r.resourceServer), .text(r.owner),
            ]
        ).isEmpty)
    }

    public func deleteResource(id: String, resourceServer: String) async throws -> Bool {
        let results = try await db.transaction([
            SQLStatement("DELETE FROM \(db.table("uma_resources")) WHERE id = ? AND resource_server = ? RETURNING id", [.text(id), .text(resourceServer)]),
            SQLStatement(
                "DELETE FROM \(db.table("uma_grants")) WHERE resource_id = ? AND NOT EXISTS (SELECT 1 FROM \(db.table("uma_resources")) WHERE id = ?)",
                [.text(id), .text(id)]
            ),
            SQLStatement(
                "DELETE FROM \(db.table("uma_requests")) WHERE resource_id = ? AND NOT EXISTS (SELECT 1 FROM \(db.table("uma_resources")) WHERE id = ?)",
                [.text(id), .text(id)]
            ),
        ])
        return !(results.first?.isEmpty ?? true)
    }

    static func decodeResource(_ row: SQLRow) throws -> UMAResource {
        UMAResource(
            id: try row.text("id"), resourceServer: try row.text("resource_server"), owner: try row.text("owner"), name: try row.optionalText("name"),
            type: try row.optionalText("type"), iconURI: try row.optionalText("icon_uri"), description: try row.optionalText("description"),
            scopes: split(try row.text("scopes")), createdAt: try row.integer("created_at")
        )
    }

    // MARK: Tickets

    public func insertTicket(_ t: UMATicket) async throws {
        let permissions = String(decoding: try JSONEncoder().encode(t.permissions), as: UTF8.self)
        try await db.execute(
            "INSERT INTO \(db.table("uma_tickets")) (hash, resource_server, permissions, requesting_party, client_id, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
            [.text(t.hash), .text(t.resourceServer), .text(permissions), .optionalText(t.requestingParty), .optionalText(t.clientID), .integer(t.expiresAt)]
        )
    }

    public func consumeTicket(hash: String, now: Int64) async throws -> UMATicket? {
        guard
            let row = try await db.query(
                "DELETE FROM \(db.table("uma_tickets")) WHERE hash = ? RETURNING hash, resource_server, permissions, requesting_party, client_id, expires_at",
                [.text(hash)]
            ).first
        else { return nil }
        let expiresAt = try row.integer("expires_at")
        guard expiresAt > now else { return nil }
        guard let permissions = try? JSONDecoder().decode([UMATicket.Permission].self, from: Data(try row.text("permissions").utf8)) else {
            throw StorageError.corrupt("permissions")
        }
        return UMATicket(
            hash: hash, resourceServer: try row.text("resource_server"), permissions: permissions, requestingParty: try row.optionalText("requesting_party"),
            clientID: try row.optionalText("client_id"), expiresAt: expiresAt
        )
    }

    // MARK: Grants

    static let grantColumns = "id, owner, resource_id, requesting_party, scopes, expires_at, created_at"

    public func grants(owner: String) async throws -> [UMAGrantRecord] {
        try await db.query("SELECT \(Self.grantColumns) FROM \(db.table("uma_grants")) WHERE owner = ? ORDER BY created_at, id", [.text(owner)])
            .map(Self.decodeGrant)
    }

    public func grants(requestingParty: String, resourceIDs: [String]) async throws -> [UMAGrantRecord] {
        guard !resourceIDs.isEmpty else { return [] }
        let marks = Array(repeating: "?", count: resourceIDs.count).joined(separator: ", ")
        return try await db.query(
            "SELECT \(Self.grantColumns) FROM \(db.table("uma_grants")) WHERE requesting_party = ? AND resource_id IN (\(marks))",
            [.text(requestingParty)] + resourceIDs.map(SQLValue.text)
        ).map(Self.decodeGrant)
    }

    public func upsertGrant(_ g: UMAGrantRecord) async throws {
        try await db.execute(
            """
            INSERT INTO \(db.table("uma_grants")) (\(Self.grantColumns)) VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (resource_id, requesting_party) DO UPDATE SET id = excluded.id, scopes = excluded.scopes,
                expires_at = excluded.expires_at, created_at = excluded.created_at
            """,
            [
                .text(g.id), .text(g.owner), .text(g.resourceID), .text(g.requestingParty), .text(Self.join(g.scopes)), .optionalInteger(g.expiresAt),
                .integer(g.createdAt),
            ]
        )
    }

    public func deleteGrant(id: String, owner: String) async throws -> UMAGrantRecord? {
        try await db.query(
            "DELETE FROM \(db.table("uma_grants")) WHERE id = ? AND owner = ? RETURNING \(Self.grantColumns)", [.text(id), .text(owner)]
        ).first.map(Self.decodeGrant)
    }

    static func decodeGrant(_ row: SQLRow) throws -> UMAGrantRecord {
        UMAGrantRecord(
            id: try row.text("id"), owner: try row.text("owner"), resourceID: try row.text("resource_id"), requestingParty: try row.text("requesting_party"),
            scopes: split(try row.text("scopes")), expiresAt: try row.optionalInteger("expires_at"), createdAt: try row.integer("created_at")
        )
    }

    // MARK: Requests

    static let requestColumns = "id, owner, resource_id, requesting_party, client_id, scopes, status, created_at"

    public func requests(owner: String) async throws -> [UMARequestRecord] {
        try await db.query("SELECT \(Self.requestColumns) FROM \(db.table("uma_requests")) WHERE owner = ? ORDER BY created_at, id", [.text(owner)])
            .map(Self.decodeRequest)
    }

    public func request(resourceID: String, requestingParty: String) async throws -> UMARequestRecord? {
        try await db.query(
            "SELECT \(Self.requestColumns) FROM \(db.table("uma_requests")) WHERE resource_id = ? AND requesting_party = ?",
            [.text(resourceID), .text(requestingParty)]
        ).first.map(Self.decodeRequest)
    }

    public func upsertRequest(_ r: UMARequestRecord) async throws {
        try await db.execute(
            """
            INSERT INTO \(db.table("uma_requests")) (\(Self.requestColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (resource_id, requesting_party) DO UPDATE SET scopes = excluded.scopes, client_id = excluded.client_id
            """,
            [
                .text(r.id), .text(r.owner), .text(r.resourceID), .text(r.requestingParty), .text(r.clientID), .text(Self.join(r.scopes)),
                .text(r.status.rawValue), .integer(r.createdAt),
            ]
        )
    }

    public func setRequestStatus(resourceID: String, requestingParty: String, status: UMARequestRecord.Status) async throws {
        try await db.execute(
            "UPDATE \(db.table("uma_requests")) SET status = ? WHERE resource_id = ? AND requesting_party = ?",
            [.text(status.rawValue), .text(resourceID), .text(requestingParty)]
        )
    }

    public func deleteRequest(id: String, owner: String) async throws -> UMARequestRecord? {
        try await db.query(
            "DELETE FROM \(db.table("uma_requests")) WHERE id = ? AND owner = ? RETURNING \(Self.requestColumns)", [.text(id), .text(owner)]
        ).first.map(Self.decodeRequest)
    }

    public func clearRequest(resourceID: String, requestingParty: String) async throws {
        try await db.execute(
            "DELETE FROM \(db.table("uma_requests")) WHERE resource_id = ? AND requesting_party = ?", [.text(resourceID), .text(requestingParty)]
        )
    }

    static func decodeRequest(_ row: SQLRow) throws -> UMARequestRecord {
        guard let status = UMARequestRecord.Status(rawValue: try row.text("status")) else { throw StorageError.corrupt("status") }
        return UMARequestRecord(
            id: try row.text("id"), owner: try row.text("owner"), resourceID: try row.text("resource_id"), requestingParty: try row.text("requesting_party"),
            clientID: try row.text("client_id"), scopes: split(try row.text("scopes")), status: status, createdAt: try row.integer("created_at")
        )
    }

    // MARK: PCTs

    public func insertPCT(hash: String, clientID: String, subject: String, expiresAt: Int64) async throws {
        try await db.execute(
            "INSERT INTO \(db.table("uma_pcts")) (hash, client_id, subject, expires_at) VALUES (?, ?, ?, ?)",
            [.text(hash), .text(clientID), .text(subject), .integer(expiresAt)]
        )
    }

    public func pctSubject(hash: String, clientID: String, now: Int64) async throws -> String? {
        try await db.query(
            "SELECT subject FROM \(db.table("uma_pcts")) WHERE hash = ? AND client_id = ? AND expires_at > ?", [.text(hash), .text(clientID), .integer(now)]
        ).first.map { try $0.text("subject") }
    }

    public func purgeExpired(now: Int64) async throws -> Int {
        let results = try await db.transaction([
            SQLStatement("DELETE FROM \(db.table("uma_tickets")) WHERE expires_at <= ? RETURNING hash", [.integer(now)]),
            SQLStatement("DELETE FROM \(db.table("uma_pcts")) WHERE expires_at <= ? RETURNING hash", [.integer(now)]),
            SQLStatement("DELETE FROM \(db.table("uma_grants")) WHERE expires_at IS NOT NULL AND expires_at <= ? RETURNING id", [.integer(now)]),
        ])
        return results.reduce(0) { $0 + $1.count }
    }
}
