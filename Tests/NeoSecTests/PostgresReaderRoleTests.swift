import Foundation
import Logging
import NeoSecTesting
import ServiceKit
import Storage
import Testing
import TokenService

/// The Introspection Service's PostgreSQL role (`NEOSEC_TOKEN_STORE_READER_ROLE` at the Token
/// Service, `NEOSEC_INTROSPECT_TOKEN_STORE_URL` at the Introspection Service): the server itself,
/// not our process, refuses its writes and its reads beyond the three tables it needs.
@Suite("PostgreSQL reader role", .enabled(if: TestBackend.postgresReaderURL != nil))
struct PostgresReaderRoleTests {
    static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// A fresh schema with the Token Service's tables, owned by the test server's main role.
    func withTokenSchema(_ body: (PostgresDatabase) async throws -> Void) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let owner = try #require(try TestBackend.postgres.openFresh(in: directory) as? PostgresDatabase)
        do {
            try await owner.migrate(ServiceRuntime.kitMigrations + TokenService.migrations)
            try await body(owner)
        } catch {
            try? await owner.dropSchema()
            try? await owner.close()
            throw error
        }
        try await owner.dropSchema()
        try await owner.close()
    }

    @Test func theReaderRoleReadsTheIntrospectionTablesAndWritesNothing() async throws {
        try await withTokenSchema { owner in
            let readerURL = try PostgresURL(parsing: try #require(TestBackend.postgresReaderURL))
            // Not readOnly: what is refused here is refused by PostgreSQL.
            let reader = try PostgresDatabase(url: readerURL, schema: owner.schema, maximumConnections: 2, logger: Self.logger)
            defer { Task { try? await reader.close() } }
            try await check(owner: owner, reader: reader, role: readerURL.username)
        }
    }

    func check(owner: PostgresDatabase, reader: PostgresDatabase, role: String) async throws {
        let tables = TokenIntrospector.readTables

        // Before the grant the role may do nothing (the catalog says so; the tables say no).
        let before = try await reader.privileges()
        #expect(before.readable.isEmpty && before.writable.isEmpty)
        await #expect(throws: (any Error).self) { _ = try await SQLTokenStore(reader).find(hash: "h1") }

        try await owner.grantRead(tables, to: role)
        try await owner.grantRead(tables, to: role)  // idempotent, as at every start
        let token = IssuedToken(
            hash: "h1", kind: .access, clientID: "app", subject: "alice", scope: "openid", audience: "https://api.example", issuedAt: 100, expiresAt: 1000
        )
        try await SQLTokenStore(owner).insert(token)

        let after = try await reader.privileges()
        #expect(after.readable == Set(tables))
        #expect(after.writable.isEmpty)
        let ownerView = try await owner.privileges()
        #expect(ownerView.writable.isSuperset(of: tables) && ownerView.writable.contains("signing_keys"))
        #expect(try await SQLTokenStore(reader).find(hash: "h1")?.subject == "alice")
        #expect(try await SQLSubjectRevocationStore(reader).notBefore(subject: "alice", clientID: "app") == nil)

        // Every write is refused by the server, whatever the statement.
        let other = IssuedToken(
            hash: "h2", kind: .access, clientID: "app", subject: "mallory", scope: "openid", audience: "https://api.example", issuedAt: 100, expiresAt: 1000
        )
        await #expect(throws: (any Error).self) { try await SQLTokenStore(reader).insert(other) }
        await #expect(throws: (any Error).self) { _ = try await SQLTokenStore(reader).revoke(hash: "h1", clientID: "app") }
        await #expect(throws: (any Error).self) { _ = try await reader.query("DELETE FROM \(reader.table("issued_tokens")) RETURNING hash") }
        await #expect(throws: (any Error).self) { _ = try await reader.query("TRUNCATE \(reader.table("clients"))") }
        await #expect(throws: (any Error).self) {
            _ = try await SQLSubjectRevocationStore(reader).revoke(subject: "alice", clientID: nil, at: 1, reason: "logout")
        }
        // Tables outside the three stay unreadable: signing keys, codes, consents.
        for table in ["signing_keys", "authorization_codes", "consents"] {
            await #expect(throws: (any Error).self) { _ = try await reader.query("SELECT COUNT(*) AS n FROM \(reader.table(table))") }
        }
        #expect(try await SQLTokenStore(owner).find(hash: "h1")?.revoked == false)
        #expect(try await SQLTokenStore(owner).find(hash: "h2") == nil)

        // Any way to change a table counts as writing: a column privilege, a trigger privilege
        // (a trigger runs as its table's owner), membership in the owning role.
        let issued = owner.table("issued_tokens")
        for (grant, revoke) in [
            ("GRANT UPDATE (revoked) ON \(issued) TO \(role)", "REVOKE UPDATE (revoked) ON \(issued) FROM \(role)"),
            ("GRANT TRIGGER ON \(issued) TO \(role)", "REVOKE TRIGGER ON \(issued) FROM \(role)"),
            ("GRANT INSERT ON \(issued) TO \(role)", "REVOKE INSERT ON \(issued) FROM \(role)"),
        ] {
            try await owner.execute(grant)
            #expect(try await reader.privileges().writable == ["issued_tokens"], "\(grant)")
            try await owner.execute(revoke)
        }
        // Reading more than the three tables shows too (the service refuses to start with it).
        try await owner.execute("GRANT SELECT ON \(owner.table("signing_keys")) TO \(role)")
        #expect(try await reader.privileges().readable == Set(tables + ["signing_keys"]))
        try await owner.execute("REVOKE SELECT ON \(owner.table("signing_keys")) FROM \(role)")
        #expect(try await reader.privileges() == (readable: Set(tables), writable: []))
    }

    @Test func roleNamesThatAreNotPlainIdentifiersAreRefused() async throws {
        for name in ["", "Reader", "1reader", "reader; DROP SCHEMA x", "reader\"", String(repeating: "a", count: 64), "réader", "public", "current_user", "pg_read_all_data"] {
            #expect(!PostgresDatabase.isSafeIdentifier(name), "\(name)")
        }
        #expect(PostgresDatabase.isSafeIdentifier("neosec_reader"))
        try await withTokenSchema { owner in
            await #expect(throws: StorageError.self) { try await owner.grantRead(["clients"], to: "x TO PUBLIC; --") }
            await #expect(throws: StorageError.self) { try await owner.grantRead(["clients; DROP TABLE y"], to: "neosec_reader") }
        }
    }
}
