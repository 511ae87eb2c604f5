import Foundation
import JOSE
import NeoSecTesting
import ServiceKit
import Storage
import Testing

/// One storage suite, run against every available backend (SQLite always; PostgreSQL when
/// `NEOSEC_TEST_POSTGRES_URL` is set, as `scripts/test.sh` and CI do).
@Suite("Storage")
struct StorageTests {
    static let migrations = ServiceRuntime.kitMigrations + SQLSubjectRevocationStore.migrations

    func withDatabase(_ backend: TestBackend, _ body: (any SQLDatabase) async throws -> Void) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let db = try backend.openFresh(in: directory)
        try await db.migrate(Self.migrations)
        do {
            try await body(db)
        } catch {
            try? await (db as? PostgresDatabase)?.dropSchema()
            try? await db.close()
            throw error
        }
        try? await (db as? PostgresDatabase)?.dropSchema()
        try await db.close()
    }

    @Test(arguments: TestBackend.available)
    func migrationsAreIdempotent(_ backend: TestBackend) async throws {
        try await withDatabase(backend) { (db: any SQLDatabase) async throws in
            try await db.migrate(Self.migrations)
            try await db.migrate(Self.migrations)
            let rows = try await db.query("SELECT id FROM \(db.table("neosec_migrations")) ORDER BY id")
            #expect(try rows.map { try $0.text("id") } == ["keys-001", "replay-001", "subject-revocations-001"])
        }
    }

    @Test(arguments: TestBackend.available)
    func concurrentMigrationsApplyOnce(_ backend: TestBackend) async throws {
        try await withDatabase(backend) { (db: any SQLDatabase) async throws in
            let extra = Migration(id: "extra-001") { m in ["CREATE TABLE \(m.table("extra")) (id TEXT PRIMARY KEY)"] }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<4 { group.addTask { try await db.migrate(Self.migrations + [extra]) } }
                try await group.waitForAll()
            }
            let rows = try await db.query("SELECT COUNT(*) AS n FROM \(db.table("neosec_migrations")) WHERE id = 'extra-001'")
            #expect(try rows.first?.integer("n") == 1)
        }
    }

    @Test(arguments: TestBackend.available)
    func typesRoundTrip(_ backend: TestBackend) async throws {
        try await withDatabase(backend) { (db: any SQLDatabase) async throws in
            let key = StoredKey(kid: "k", purpose: "p", algorithm: "ES256", sealedPrivateKey: [0, 1, 2, 255], createdAt: Int64.max - 1, status: .active, publishUntil: nil)
            try await SQLKeyStore(db).insertInitial([key])
            let loaded = try await SQLKeyStore(db).keys(purpose: "p", now: 0)
            #expect(loaded == [key])
        }
    }

    @Test(arguments: TestBackend.available)
    func keyStoreKeepsOneActiveKeyPerAlgorithm(_ backend: TestBackend) async throws {
        try await withDatabase(backend) { (db: any SQLDatabase) async throws in
            let store = SQLKeyStore(db)
            func key(_ kid: String, _ alg: String = "ES256", at: Int64 = 100) -> StoredKey {
                StoredKey(kid: kid, purpose: "token", algorithm: alg, sealedPrivateKey: [1], createdAt: at, status: .active, publishUntil: nil)
            }
            try await store.insertInitial([key("a"), key("r", "RS256")])
            // A second replica racing at first start: its keys are skipped, not added.
            try await store.insertInitial([key("b")])
            #expect(try await store.keys(purpose: "token", now: 100).map(\.kid).sorted() == ["a", "r"])

            try await store.rotate(purpose: "token", newKeys: [key("c", at: 200), key("s", "RS256", at: 200)], publishUntil: 300)
            let afterRotation = try await store.keys(purpose: "token", now: 250)
            #expect(Set(afterRotation.filter { $0.status == .active }.map(\.kid)) == ["c", "s"])
            #expect(Set(afterRotation.filter { $0.status == .retired }.map(\.kid)) == ["a", "r"])
            #expect(afterRotation.first { $0.kid == "a" }?.publishUntil == 300)

            // Past retention, retired keys are no longer published, and pruning deletes them.
            #expect(Set(try await store.keys(purpose: "token", now: 300).map(\.kid)) == ["c", "s"])
            try await store.pruneExpired(now: 300)
            let remaining = try await db.query("SELECT kid FROM \(db.table("signing_keys"))")
            #expect(Set(try remaining.map { try $0.text("kid") }) == ["c", "s"])
            // Another purpose is untouched by all of this.
            #expect(try await store.keys(purpose: "internal", now: 0).isEmpty)
        }
    }

    @Test(arguments: TestBackend.available)
    func replayStoreAcceptsAnIdentifierOnce(_ backend: TestBackend) async throws {
        try await withDatabase(backend) { (db: any SQLDatabase) async throws in
            let store = SQLReplayStore(db)
            #expect(try await store.claim(scope: "s", id: "jti-1", expiresAt: 200, now: 100))
            #expect(try await store.claim(scope: "s", id: "jti-1", expiresAt: 200, now: 150) == false)
            #expect(try await store.claim(scope: "other", id: "jti-1", expiresAt: 200, now: 150))
            // Only a hash is stored.
            let rows = try await db.query("SELECT id_hash FROM \(db.table("used_identifiers"))")
            #expect(try rows.allSatisfy { try $0.text("id_hash") != "jti-1" && $0.text("id_hash").count == 64 })
        }
    }

    @Test(arguments: TestBackend.available)
    func replayStoreIsAtomicUnderConcurrency(_ backend: TestBackend) async throws {
        try await withDatabase(backend) { (db: any SQLDatabase) async throws in
            let store = SQLReplayStore(db)
            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<16 { group.addTask { try await store.claim(scope: "s", id: "race", expiresAt: 500, now: 100) } }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(wins == 1)
        }
    }

    @Test(arguments: TestBackend.available)
    func subjectRevocationsOnlyMoveForward(_ backend: TestBackend) async throws {
        try await withDatabase(backend) { (db: any SQLDatabase) async throws in
            let store = SQLSubjectRevocationStore(db)
            #expect(try await store.notBefore(subject: "alice", clientID: "app") == nil)
            #expect(try await store.revoke(subject: "alice", clientID: "app", at: 100, reason: "app_revoked") == 100)
            #expect(try await store.revoke(subject: "alice", clientID: "app", at: 50, reason: "admin") == 100)
            #expect(try await store.revoke(subject: "alice", clientID: nil, at: 120, reason: "logout") == 120)
            #expect(try await store.notBefore(subject: "alice", clientID: "app") == 120)
            #expect(try await store.notBefore(subject: "alice", clientID: "other") == 120)
            #expect(try await store.notBefore(subject: "bob", clientID: "app") == nil)
            #expect(try await store.count() == 2)
        }
    }

    @Test(arguments: TestBackend.available)
    func transactionRollsBackAsAWhole(_ backend: TestBackend) async throws {
        try await withDatabase(backend) { (db: any SQLDatabase) async throws in
            let table = db.table("subject_revocations")
            await #expect(throws: (any Error).self) {
                try await db.transaction([
                    SQLStatement("INSERT INTO \(table) (subject, client_id, not_before, reason) VALUES ('a', '', 1, 'x')"),
                    SQLStatement("INSERT INTO \(table) (subject, client_id, not_before, reason) VALUES ('a', '', 2, 'x')"),
                ])
            }
            #expect(try await SQLSubjectRevocationStore(db).count() == 0)
        }
    }

    /// Concurrent writes share transactions (SQLite's group commit); each still succeeds or fails
    /// on its own, and a multi-statement transaction stays all-or-nothing inside a group.
    @Test(arguments: TestBackend.available)
    func concurrentWritesCommitIndependently(_ backend: TestBackend) async throws {
        try await withDatabase(backend) { (db: any SQLDatabase) async throws in
            let extra = Migration(id: "group-001") { m in ["CREATE TABLE \(m.table("g")) (id INTEGER PRIMARY KEY, v TEXT NOT NULL)"] }
            try await db.migrate(Self.migrations + [extra])
            let table = db.table("g")
            try await db.execute("INSERT INTO \(table) (id, v) VALUES (0, 'seed')")
            let outcomes = try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
                for i in 1...300 {
                    group.addTask {
                        do {
                            switch i % 3 {
                            case 0:
                                // Fails on the second statement (id 0 exists): neither row stays.
                                try await db.transaction([
                                    SQLStatement("INSERT INTO \(table) (id, v) VALUES (?, 'tx')", [.integer(Int64(i))]),
                                    SQLStatement("INSERT INTO \(table) (id, v) VALUES (0, 'dup')"),
                                ])
                            case 1:
                                try await db.execute("INSERT INTO \(table) (id, v) VALUES (?, 'one')", [.integer(Int64(i))])
                            default:
                                let rows = try await db.query("INSERT INTO \(table) (id, v) VALUES (?, 'ret') RETURNING id", [.integer(Int64(i))])
                                #expect(try rows.first?.integer("id") == Int64(i))
                            }
                            return (i, true)
                        } catch {
                            return (i, false)
                        }
                    }
                }
                var all: [Int: Bool] = [:]
                for try await (i, ok) in group { all[i] = ok }
                return all
            }
            #expect(outcomes.count == 300)
            for (i, ok) in outcomes { #expect(ok == (i % 3 != 0), "\(i)") }
            let rows = try await db.query("SELECT id, v FROM \(table) ORDER BY id")
            let ids = try rows.map { try $0.integer("id") }
            #expect(ids == [0] + (1...300).filter { $0 % 3 != 0 }.map(Int64.init))
            #expect(try rows.first?.text("v") == "seed")
        }
    }

    @Test func readOnlySQLiteRefusesWrites() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/token.sqlite"
        let writer = try SQLiteDatabase(path: path)
        try await writer.migrate(Self.migrations)
        _ = try await SQLSubjectRevocationStore(writer).revoke(subject: "a", clientID: nil, at: 1, reason: "logout")
        let reader = try SQLiteDatabase(path: path, readOnly: true)
        #expect(try await SQLSubjectRevocationStore(reader).notBefore(subject: "a", clientID: "x") == 1)
        await #expect(throws: StorageError.self) {
            _ = try await SQLSubjectRevocationStore(reader).revoke(subject: "b", clientID: nil, at: 1, reason: "logout")
        }
        try await reader.close()
        try await writer.close()
    }

    @Test func postgresURLParsingHidesThePassword() throws {
        let url = try PostgresURL(parsing: "postgres://neo:p%40ss@db.example:6432/neosec?sslmode=require")
        #expect(url.password == "p@ss")
        #expect(url.port == 6432)
        #expect(url.requireTLS)
        #expect(!url.description.contains("p@ss"))
        #expect(throws: StorageError.self) { try PostgresURL(parsing: "mysql://a@b/c") }
        #expect(throws: StorageError.self) { try PostgresURL(parsing: "postgres://a@b/") }
        #expect(throws: StorageError.self) { try PostgresURL(parsing: "postgres://a@b/c?sslmode=bogus") }
    }
}

