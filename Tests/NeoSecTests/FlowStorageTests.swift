import NeoSecTesting
import Storage
import Testing

/// The stores behind the browser flows (authorization state, issued tokens, replay, accounts,
/// sessions, login throttling), run against every available backend like `StorageTests`: each
/// test migrates the store's own `migrations` on a fresh database (a new SQLite file, a new
/// PostgreSQL schema) and exercises it. On PostgreSQL every table lives in a throwaway schema
/// that is not on the search path, so a statement that forgets `db.table(…)` fails here.
@Suite("Flow storage")
struct FlowStorageTests {
    func withDatabase(
        _ backend: TestBackend, migrating migrations: [Migration], _ body: (any SQLDatabase) async throws -> Void
    ) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let db = try backend.openFresh(in: directory)
        do {
            try await db.migrate(migrations)
            try await body(db)
        } catch {
            try? await (db as? PostgresDatabase)?.dropSchema()
            try? await db.close()
            throw error
        }
        try? await (db as? PostgresDatabase)?.dropSchema()
        try await db.close()
    }

    // MARK: - Authorization store

    @Test(arguments: TestBackend.available)
    func challengeIsFoundUntilConsumedExactlyOnce(_ backend: TestBackend) async throws {
        try await withDatabase(backend, migrating: SQLAuthorizationStore.migrations) { (db: any SQLDatabase) async throws in
            let store = SQLAuthorizationStore(db)
            let payload = #"{"client_id":"app","state":"xyz"}"#
            try await store.insertChallenge(hash: "h-login", kind: "login", payload: payload, expiresAt: 200)

            // Finding does not use the challenge up.
            #expect(try await store.findChallenge(hash: "h-login", kind: "login", now: 100) == payload)
            #expect(try await store.findChallenge(hash: "h-login", kind: "login", now: 199) == payload)
            #expect(try await store.findChallenge(hash: "unknown", kind: "login", now: 100) == nil)

            // Two consumers at once: exactly one gets the payload.
            async let first = store.consumeChallenge(hash: "h-login", kind: "login", now: 100)
            async let second = store.consumeChallenge(hash: "h-login", kind: "login", now: 100)
            let taken = try await [first, second]
            #expect(taken.compactMap { $0 } == [payload])

            #expect(try await store.findChallenge(hash: "h-login", kind: "login", now: 100) == nil)
            #expect(try await store.consumeChallenge(hash: "h-login", kind: "login", now: 100) == nil)
        }
    }

    @Test(arguments: TestBackend.available)
    func challengeOfAnotherKindOrExpiredIsNotFound(_ backend: TestBackend) async throws {
        try await withDatabase(backend, migrating: SQLAuthorizationStore.migrations) { (db: any SQLDatabase) async throws in
            let store = SQLAuthorizationStore(db)
            try await store.insertChallenge(hash: "h-consent", kind: "consent", payload: "p", expiresAt: 200)

            // A consent challenge is no login (or logout) challenge, and trying does not use it up.
            #expect(try await store.findChallenge(hash: "h-consent", kind: "login", now: 100) == nil)
            #expect(try await store.consumeChallenge(hash: "h-consent", kind: "login", now: 100) == nil)
            #expect(try await store.consumeChallenge(hash: "h-consent", kind: "logout", now: 100) == nil)
            #expect(try await store.findChallenge(hash: "h-consent", kind: "consent", now: 100) == "p")

            // Expired at `expiresAt` itself: neither found nor consumed.
            #expect(try await store.findChallenge(hash: "h-consent", kind: "consent", now: 200) == nil)
            #expect(try await store.consumeChallenge(hash: "h-consent", kind: "consent", now: 200) == nil)
            #expect(try await store.consumeChallenge(hash: "h-consent", kind: "consent", now: 500) == nil)
        }
    }

    @Test(arguments: TestBackend.available)
    func codeIsConsumedOnce(_ backend: TestBackend) async throws {
        try await withDatabase(backend, migrating: SQLAuthorizationStore.migrations) { (db: any SQLDatabase) async throws in
            let store = SQLAuthorizationStore(db)
            let code = StoredCode(hash: "c1", clientID: "app", payload: #"{"scopes":["openid"]}"#, expiresAt: 160)
            try await store.insertCode(code)
            #expect(try await store.findCode(hash: "c1") == code)
            #expect(try await store.findCode(hash: "c2") == nil)

            // Two redemptions at once: exactly one wins.
            async let first = store.consumeCode(hash: "c1")
            async let second = store.consumeCode(hash: "c1")
            let results = try await [first, second]
            #expect(results.filter { $0 }.count == 1)

            // The code stays, marked used, so that a replay is recognised as one.
            var used = code
            used.used = true
            #expect(try await store.findCode(hash: "c1") == used)
            #expect(try await store.consumeCode(hash: "c1") == false)
            #expect(try await store.consumeCode(hash: "unknown") == false)
        }
    }

    @Test(arguments: TestBackend.available)
    func purgeKeepsCodesAnHourAfterExpiry(_ backend: TestBackend) async throws {
        try await withDatabase(backend, migrating: SQLAuthorizationStore.migrations) { (db: any SQLDatabase) async throws in
            let store = SQLAuthorizationStore(db)
            try await store.insertChallenge(hash: "old", kind: "login", payload: "p", expiresAt: 100)
            try await store.insertChallenge(hash: "live", kind: "login", payload: "p", expiresAt: 5000)
            try await store.insertCode(StoredCode(hash: "used", clientID: "app", payload: "{}", expiresAt: 100))
            try await store.insertCode(StoredCode(hash: "unused", clientID: "app", payload: "{}", expiresAt: 100))
            #expect(try await store.consumeCode(hash: "used"))

            // At expiry only the challenge goes.
            #expect(try await store.purgeExpired(now: 100) == 1)
            #expect(try await store.findCode(hash: "used")?.used == true)
            #expect(try await store.findCode(hash: "unused")?.used == false)
            // A second short of the hour, the codes are still there.
            #expect(try await store.purgeExpired(now: 100 + 3599) == 0)
            #expect(try await store.findCode(hash: "used")?.used == true)
            // An hour after expiry, both go; the live challenge stays.
            #expect(try await store.purgeExpired(now: 100 + 3600) == 2)
            #expect(try await store.findCode(hash: "used") == nil)
            #expect(try await store.findCode(hash: "unused") == nil)
            #expect(try await store.findChallenge(hash: "live", kind: "login", now: 3700) == "p")
        }
    }

    @Test(arguments: TestBackend.available)
    func consentsAreRememberedMergedListedAndForgotten(_ backend: TestBackend) async throws {
        try await withDatabase(backend, migrating: SQLAuthorizationStore.migrations) { (db: any SQLDatabase) async throws in
            let store = SQLAuthorizationStore(db)
            #expect(try await store.consent(subject: "alice", clientID: "web") == nil)
            #expect(try await store.consents(subject: "alice").isEmpty)

            try await store.rememberConsent(subject: "alice", clientID: "web", scopes: ["openid", "profile"], at: 10)
            // A later consent adds to what was remembered…
            try await store.rememberConsent(subject: "alice", clientID: "web", scopes: ["profile", "email"], at: 20)
            let widened = try await store.consent(subject: "alice", clientID: "web")
            #expect(widened?.scopes == ["openid", "profile", "email"])
            #expect(widened?.grantedAt == 20)
            // …and a narrower one forgets nothing.
            try await store.rememberConsent(subject: "alice", clientID: "web", scopes: ["openid"], at: 30)
            let narrowed = try await store.consent(subject: "alice", clientID: "web")
            #expect(narrowed?.scopes == ["openid", "profile", "email"])
            #expect(narrowed?.grantedAt == 30)
            #expect(narrowed?.subject == "alice")
            #expect(narrowed?.clientID == "web")

            try await store.rememberConsent(subject: "alice", clientID: "api", scopes: ["documents:read"], at: 25)
            try await store.rememberConsent(subject: "bob", clientID: "web", scopes: ["openid"], at: 5)

            // Listed per subject, oldest grant first.
            let listed = try await store.consents(subject: "alice")
            #expect(listed.map(\.clientID) == ["api", "web"])
            #expect(listed.map(\.subject) == ["alice", "alice"])
            #expect(listed.first?.scopes == ["documents:read"])

            #expect(try await store.forgetConsent(subject: "alice", clientID: "web"))
            #expect(try await store.forgetConsent(subject: "alice", clientID: "web") == false)
            #expect(try await store.consent(subject: "alice", clientID: "web") == nil)
            #expect(try await store.consents(subject: "alice").map(\.clientID) == ["api"])
            // Another subject's consent for the same client is untouched.
            #expect(try await store.consent(subject: "bob", clientID: "web")?.scopes == ["openid"])
        }
    }

    // MARK: - Token store

    static func token(
        _ hash: String, _ kind: IssuedToken.Kind = .access, client: String = "app", subject: String = "alice",
        family: String? = nil, parent: String? = nil, revoked: Bool = false, claims: String? = nil
    ) -> IssuedToken {
        IssuedToken(
            hash: hash, kind: kind, clientID: client, subject: subject, scope: "openid offline_access", audience: "https://api.example",
            issuedAt: 100, expiresAt: 1000, revoked: revoked, familyID: family, parentHash: parent, claimsJSON: claims
        )
    }

    static func revokedHashes(_ db: any SQLDatabase) async throws -> Set<String> {
        let rows = try await db.query("SELECT hash FROM \(db.table("issued_tokens")) WHERE revoked <> 0")
        return Set(try rows.map { try $0.text("hash") })
    }

    @Test(arguments: TestBackend.available)
    func refreshTokenIsRetiredOnceUnderConcurrency(_ backend: TestBackend) async throws {
        try await withDatabase(backend, migrating: SQLTokenStore.migrations) { (db: any SQLDatabase) async throws in
            let store = SQLTokenStore(db)
            let refresh = Self.token("r1", .refresh, family: "f1", parent: "code", claims: #"{"refresh_count":0}"#)
            try await store.insert(refresh)
            try await store.insert(Self.token("a1", family: "f1", parent: "code"))
            try await store.insert(Self.token("r-revoked", .refresh, family: "f2", revoked: true))
            #expect(try await store.find(hash: "r1") == refresh)

            // Only live refresh tokens are retired.
            #expect(try await store.retireRefreshToken(hash: "a1") == nil)
            #expect(try await store.retireRefreshToken(hash: "r-revoked") == nil)
            #expect(try await store.retireRefreshToken(hash: "unknown") == nil)

            let winners = try await withThrowingTaskGroup(of: IssuedToken?.self) { group in
                for _ in 0..<8 { group.addTask { try await store.retireRefreshToken(hash: "r1") } }
                var taken: [IssuedToken] = []
                for try await result in group {
                    if let result { taken.append(result) }
                }
                return taken
            }
            // The one winner gets the row back (with its family and claims, to issue the successor).
            var retired = refresh
            retired.revoked = true
            #expect(winners == [retired])
            #expect(try await store.find(hash: "r1")?.revoked == true)
            #expect(try await store.retireRefreshToken(hash: "r1") == nil)
            #expect(try await Self.revokedHashes(db) == ["r1", "r-revoked"])
        }
    }

    @Test(arguments: TestBackend.available)
    func revokeFamilyRevokesOnlyThatFamily(_ backend: TestBackend) async throws {
        try await withDatabase(backend, migrating: SQLTokenStore.migrations) { (db: any SQLDatabase) async throws in
            let store = SQLTokenStore(db)
            for token in [
                Self.token("r1", .refresh, family: "f1", parent: "code-1", revoked: true),  // rotated
                Self.token("a1", family: "f1", parent: "code-1"),
                Self.token("r2", .refresh, family: "f1", parent: "r1"),
                Self.token("a2", family: "f1", parent: "r1"),
                Self.token("b-r", .refresh, family: "f2", parent: "code-2"),
                Self.token("b-a", family: "f2", parent: "code-2"),
                Self.token("lone"),
            ] {
                try await store.insert(token)
            }
            #expect(try await store.revokeFamily("f1") == 3)
            #expect(try await Self.revokedHashes(db) == ["r1", "a1", "r2", "a2"])
            #expect(try await store.revokeFamily("f1") == 0)
            #expect(try await store.revokeFamily("unknown") == 0)
            #expect(try await Self.revokedHashes(db) == ["r1", "a1", "r2", "a2"])
        }
    }

    @Test(arguments: TestBackend.available)
    func revokeIssuedRevokesChildrenAndTheirFamilies(_ backend: TestBackend) async throws {
        try await withDatabase(backend, migrating: SQLTokenStore.migrations) { (db: any SQLDatabase) async throws in
            let store = SQLTokenStore(db)
            for token in [
                // Issued from code-1, and what their family became after a rotation.
                Self.token("a1", family: "f1", parent: "code-1"),
                Self.token("r1", .refresh, family: "f1", parent: "code-1", revoked: true),
                Self.token("a2", family: "f1", parent: "r1"),
                Self.token("r2", .refresh, family: "f1", parent: "r1"),
                // A direct child without a family (no refresh token was issued).
                Self.token("x1", parent: "code-1"),
                // Another code's tokens, and a token issued from nothing.
                Self.token("o-a", family: "f2", parent: "code-2"),
                Self.token("o-r", .refresh, family: "f2", parent: "code-2"),
                Self.token("lone"),
            ] {
                try await store.insert(token)
            }
            #expect(try await store.revokeIssued(from: "code-1") == 4)
            #expect(try await Self.revokedHashes(db) == ["a1", "r1", "a2", "r2", "x1"])
            #expect(try await store.revokeIssued(from: "code-1") == 0)
            #expect(try await store.revokeIssued(from: "unknown") == 0)
            #expect(try await Self.revokedHashes(db) == ["a1", "r1", "a2", "r2", "x1"])
        }
    }

    @Test(arguments: TestBackend.available)
    func revocationCascadesDownExchangeChains(_ backend: TestBackend) async throws {
        try await withDatabase(backend, migrating: SQLTokenStore.migrations) { (db: any SQLDatabase) async throws in
            let store = SQLTokenStore(db)
            for token in [
                // A user's tokens from a code, then three hops of token exchange from the access token.
                Self.token("u-a", family: "f1", parent: "code-1"),
                Self.token("u-r", .refresh, family: "f1", parent: "code-1"),
                Self.token("hop1", client: "photos", parent: "u-a"),
                Self.token("hop2", client: "print", parent: "hop1"),
                Self.token("hop3", client: "archive", parent: "hop2"),
                Self.token("hop1b", client: "photos", parent: "u-a"),
                // Exchanged from the refresh token, and an unrelated chain.
                Self.token("from-r", client: "app", parent: "u-r"),
                Self.token("other", parent: "code-2"),
                Self.token("other-hop", client: "photos", parent: "other"),
                // A cycle cannot make the recursion loop.
                Self.token("loop-a", client: "loop", parent: "loop-b"),
                Self.token("loop-b", client: "loop", parent: "loop-a"),
            ] {
                try await store.insert(token)
            }
            // Revoking a middle hop revokes what came after it, not before.
            #expect(try await store.revokeIssued(from: "hop1") == 2)
            #expect(try await Self.revokedHashes(db) == ["hop2", "hop3"])
            #expect(try await store.revokeDescendants(of: ["u-a"]) == 2)
            #expect(try await Self.revokedHashes(db) == ["hop1", "hop1b", "hop2", "hop3"])
            // A refresh family takes with it what was exchanged from any of its members.
            #expect(try await store.revokeFamily("f1") == 3)
            #expect(try await Self.revokedHashes(db) == ["u-a", "u-r", "from-r", "hop1", "hop1b", "hop2", "hop3"])
            // Per-app revocation of the subject cascades too.
            #expect(try await store.revokeAll(subject: "alice", clientID: "app") == 2)
            #expect(try await Self.revokedHashes(db).isSuperset(of: ["other", "other-hop"]))
            #expect(try await store.revokeDescendants(of: ["loop-a"]) == 2)
            #expect(try await store.revokeDescendants(of: []) == 0)
        }
    }

    @Test(arguments: TestBackend.available)
    func trustsAreStoredReplacedAndDeleted(_ backend: TestBackend) async throws {
        try await withDatabase(backend, migrating: SQLTrustStore.migrations) { (db: any SQLDatabase) async throws in
            let store = SQLTrustStore(db)
            try await store.put(StoredTrust(issuer: "https://a.example", metadataJSON: #"{"v":1}"#, createdAt: 10))
            try await store.put(StoredTrust(issuer: "https://b.example", metadataJSON: #"{"v":2}"#, createdAt: 11))
            try await store.put(StoredTrust(issuer: "https://a.example", metadataJSON: #"{"v":3}"#, createdAt: 12))
            #expect(try await store.find(issuer: "https://a.example") == StoredTrust(issuer: "https://a.example", metadataJSON: #"{"v":3}"#, createdAt: 10))
            #expect(try await store.list().map(\.issuer) == ["https://a.example", "https://b.example"])
            #expect(try await store.find(issuer: "https://A.example") == nil)
            #expect(try await store.delete(issuer: "https://a.example"))
            #expect(try await store.delete(issuer: "https://a.example") == false)
            #expect(try await store.list().map(\.issuer) == ["https://b.example"])
        }
    }

    @Test(arguments: TestBackend.available)
    func revokeAllTouchesOnlyThatSubjectAndClient(_ backend: TestBackend) async throws {
        try await withDatabase(backend, migrating: SQLTokenStore.migrations) { (db: any SQLDatabase) async throws in
            let store = SQLTokenStore(db)
            for token in [
                Self.token("t1", client: "app", subject: "alice"),
                Self.token("t2", .refresh, client: "app", subject: "alice", family: "f1"),
                Self.token("t3", client: "app", subject: "alice", revoked: true),
                Self.token("t4", client: "other", subject: "alice"),
                Self.token("t5", client: "app", subject: "bob"),
                Self.token("t6", client: "other", subject: "bob"),
            ] {
                try await store.insert(token)
            }
            #expect(try await store.revokeAll(subject: "alice", clientID: "app") == 2)
            #expect(try await Self.revokedHashes(db) == ["t1", "t2", "t3"])
            #expect(try await store.revokeAll(subject: "alice", clientID: "app") == 0)
            #expect(try await store.revokeAll(subject: "carol", clientID: "app") == 0)
            #expect(try await Self.revokedHashes(db) == ["t1", "t2", "t3"])
        }
    }

    // MARK: - Replay store

    @Test(arguments: TestBackend.available)
    func replayPurgeForgetsOnlyExpiredIdentifiers(_ backend: TestBackend) async throws {
        try await withDatabase(backend, migrating: SQLReplayStore.migrations) { (db: any SQLDatabase) async throws in
            let store = SQLReplayStore(db)
            #expect(try await store.claim(scope: "dpop", id: "a", expiresAt: 100, now: 50))
            #expect(try await store.claim(scope: "dpop", id: "b", expiresAt: 200, now: 50))
            #expect(try await store.claim(scope: "client-assertion", id: "c", expiresAt: 300, now: 50))

            #expect(try await store.purgeExpired(now: 200) == 2)
            let rows = try await db.query("SELECT scope, id_hash FROM \(db.table("used_identifiers"))")
            #expect(try rows.map { try $0.text("scope") } == ["client-assertion"])
            #expect(try rows.map { try $0.text("id_hash") } == [CredentialHash.hex("c")])
            #expect(try await store.purgeExpired(now: 200) == 0)
            // What is left is still refused until it expires.
            #expect(try await store.claim(scope: "client-assertion", id: "c", expiresAt: 300, now: 250) == false)
        }
    }

    // MARK: - Account store

    @Test(arguments: TestBackend.available)
    func accountStoreCRUD(_ backend: TestBackend) async throws {
        try await withDatabase(backend, migrating: SQLAccountStore.migrations) { (db: any SQLDatabase) async throws in
            let store = SQLAccountStore(db)
            func account(_ id: String, _ username: String, disabled: Bool = false) -> StoredAccount {
                StoredAccount(
                    id: id, username: username, passwordHash: "$scrypt$ln=17,r=8,p=1$c2FsdA$aGFzaA", claimsJSON: #"{"name":"\#(username)"}"#,
                    disabled: disabled, createdAt: 100, updatedAt: 100
                )
            }
            let alice = account("sub-alice", "Alice")
            #expect(try await store.insert(alice))
            // Stored lower-cased; looked up in any case. Ids are exact.
            var stored = alice
            stored.username = "alice"
            #expect(try await store.find(id: "sub-alice") == stored)
            #expect(try await store.find(username: "alice") == stored)
            #expect(try await store.find(username: "ALICE") == stored)
            #expect(try await store.find(id: "SUB-ALICE") == nil)

            // A taken username, in any case, or a taken id: refused, and nothing is stored.
            #expect(try await store.insert(account("sub-2", "alice")) == false)
            #expect(try await store.insert(account("sub-3", "aLiCe")) == false)
            #expect(try await store.insert(account("sub-alice", "alicia")) == false)
            #expect(try await store.find(id: "sub-2") == nil)
            #expect(try await store.find(username: "alicia") == nil)

            #expect(try await store.insert(account("sub-bob", "bob", disabled: true)))
            // Lower-casing is Swift's (Unicode), not SQL's ASCII-only LOWER.
            #expect(try await store.insert(account("sub-elodie", "Élodie")))
            #expect(try await store.find(username: "ÉLODIE")?.id == "sub-elodie")
            #expect(try await store.find(username: "bob")?.disabled == true)
            #expect(try await store.list().map(\.username) == ["alice", "bob", "élodie"])
            #expect(try await store.list().map(\.id) == ["sub-alice", "sub-bob", "sub-elodie"])

            // Each update stamps updated_at and leaves the rest alone.
            #expect(try await store.setDisabled(id: "sub-alice", disabled: true, at: 200))
            #expect(try await store.setPasswordHash(id: "sub-alice", passwordHash: "$scrypt$new", at: 300))
            #expect(try await store.updateClaims(id: "sub-alice", claimsJSON: #"{"name":"Alice M."}"#, at: 400))
            stored.disabled = true
            stored.passwordHash = "$scrypt$new"
            stored.claimsJSON = #"{"name":"Alice M."}"#
            stored.updatedAt = 400
            #expect(try await store.find(id: "sub-alice") == stored)
            #expect(try await store.setDisabled(id: "sub-alice", disabled: false, at: 500))
            #expect(try await store.find(username: "Alice")?.disabled == false)
            #expect(try await store.find(id: "sub-bob") == account("sub-bob", "bob", disabled: true))

            // Unknown ids.
            #expect(try await store.setDisabled(id: "nobody", disabled: true, at: 600) == false)
            #expect(try await store.setPasswordHash(id: "nobody", passwordHash: "x", at: 600) == false)
            #expect(try await store.updateClaims(id: "nobody", claimsJSON: "{}", at: 600) == false)
            #expect(try await store.find(id: "nobody") == nil)
            #expect(try await store.find(username: "nobody") == nil)
        }
    }

    // MARK: - Session store

    @Test(arguments: TestBackend.available)
    func sessionsAreCreatedFoundExpiredAndDeleted(_ backend: TestBackend) async throws {
        try await withDatabase(backend, migrating: SQLSessionStore.migrations) { (db: any SQLDatabase) async throws in
            let store = SQLSessionStore(db)
            let first = StoredSession(
                idHash: CredentialHash.hex("cookie-1"), sid: "sid-1", accountID: "alice", authTime: 100, acr: "urn:neosec:acr:pwd",
                amr: ["pwd"], createdAt: 100, expiresAt: 1000
            )
            let second = StoredSession(
                idHash: CredentialHash.hex("cookie-2"), sid: "sid-2", accountID: "alice", authTime: 150, acr: nil, amr: [],
                createdAt: 150, expiresAt: 2000
            )
            let bobs = StoredSession(
                idHash: CredentialHash.hex("cookie-3"), sid: "sid-3", accountID: "bob", authTime: 200, acr: nil, amr: ["pwd", "otp"],
                createdAt: 200, expiresAt: 3000
            )
            for session in [first, second, bobs] { try await store.create(session) }

            #expect(try await store.find(idHash: first.idHash, now: 999) == first)
            #expect(try await store.find(idHash: first.idHash, now: 1000) == nil)
            #expect(try await store.find(idHash: second.idHash, now: 999) == second)
            #expect(try await store.find(idHash: bobs.idHash, now: 999) == bobs)
            #expect(try await store.find(idHash: CredentialHash.hex("unknown"), now: 0) == nil)
            // The public session id is unique.
            await #expect(throws: (any Error).self) {
                try await store.create(
                    StoredSession(idHash: "other", sid: "sid-1", accountID: "carol", authTime: 1, acr: nil, amr: [], createdAt: 1, expiresAt: 9999)
                )
            }

            #expect(try await store.delete(idHash: first.idHash) == first)
            #expect(try await store.delete(idHash: first.idHash) == nil)
            #expect(try await store.find(idHash: first.idHash, now: 0) == nil)

            #expect(try await store.deleteAll(accountID: "alice") == 1)
            #expect(try await store.find(idHash: second.idHash, now: 0) == nil)
            #expect(try await store.find(idHash: bobs.idHash, now: 0) == bobs)
            #expect(try await store.deleteAll(accountID: "alice") == 0)

            #expect(try await store.purgeExpired(now: 2999) == 0)
            #expect(try await store.purgeExpired(now: 3000) == 1)
            #expect(try await store.find(idHash: bobs.idHash, now: 0) == nil)
        }
    }

    // MARK: - Login throttle
    //
    // `recordFailure` is an `INSERT … ON CONFLICT (key_hash) DO UPDATE` whose SET reads the
    // existing row through the schema-qualified table name (`t_….login_throttle.locked` on
    // PostgreSQL), followed by an `UPDATE` of the deadline and lock. These tests drive the conflict
    // path repeatedly and check results that depend on the existing row (not `excluded`): the
    // count going up, the forget window, and a locked key that is never forgotten.

    static func state(_ failures: Int64, retryAfter: Int64 = 0, locked: Bool = false) -> LoginThrottleState {
        LoginThrottleState(failures: failures, retryAfter: retryAfter, locked: locked)
    }

    @Test(arguments: TestBackend.available)
    func loginFailuresCountUpAndBackOff(_ backend: TestBackend) async throws {
        try await withDatabase(backend, migrating: SQLLoginThrottleStore.migrations) { (db: any SQLDatabase) async throws in
            let store = SQLLoginThrottleStore(db)
            let key = "ip:203.0.113.7"
            let policy = LoginThrottlePolicy.clientAddress  // 4 free failures; never locks
            #expect(try await store.check(key: key, now: 1000) == nil)

            for failures in Int64(1)...4 {
                #expect(try await store.recordFailure(key: key, now: 1000, policy: policy) == Self.state(failures))
                #expect(try await store.check(key: key, now: 1000) == nil)
            }
            // Then each failure doubles the wait: 1 s, 2 s, 4 s …
            #expect(try await store.recordFailure(key: key, now: 1000, policy: policy) == Self.state(5, retryAfter: 1))
            #expect(try await store.check(key: key, now: 1000) == 1)
            #expect(try await store.check(key: key, now: 1001) == nil)
            #expect(try await store.recordFailure(key: key, now: 1001, policy: policy) == Self.state(6, retryAfter: 2))
            #expect(try await store.check(key: key, now: 1001) == 2)
            #expect(try await store.recordFailure(key: key, now: 1001, policy: policy) == Self.state(7, retryAfter: 4))
            #expect(try await store.check(key: key, now: 1002) == 3)
            // A failure recorded late (a slower replica) never moves the deadline earlier.
            #expect(try await store.recordFailure(key: key, now: 990, policy: policy).failures == 8)
            #expect(try await store.check(key: key, now: 1002) == 3)

            // The wait is capped, and a client-address key never locks.
            var state = Self.state(0)
            for _ in 9...30 { state = try await store.recordFailure(key: key, now: 2000, policy: policy) }
            #expect(state == Self.state(30, retryAfter: policy.maximumDelay))
            #expect(try await store.check(key: key, now: 2000) == policy.maximumDelay)

            // Other keys are counted apart.
            #expect(try await store.check(key: "ip:203.0.113.8", now: 2000) == nil)
            // Only a hash of the key is stored.
            let rows = try await db.query("SELECT key_hash FROM \(db.table("login_throttle"))")
            #expect(try rows.map { try $0.text("key_hash") } == [CredentialHash.hex(key)])

            // A successful sign-in resets an unlocked key.
            try await store.reset(key: key)
            #expect(try await store.check(key: key, now: 2000) == nil)
            #expect(try await store.recordFailure(key: key, now: 2000, policy: policy).failures == 1)
        }
    }

    @Test(arguments: TestBackend.available)
    func loginFailuresAreForgottenAfterAQuietPeriod(_ backend: TestBackend) async throws {
        try await withDatabase(backend, migrating: SQLLoginThrottleStore.migrations) { (db: any SQLDatabase) async throws in
            let store = SQLLoginThrottleStore(db)
            let key = "ip:198.51.100.1"
            let policy = LoginThrottlePolicy.clientAddress
            for _ in 1...3 { _ = try await store.recordFailure(key: key, now: 1000, policy: policy) }
            // Exactly `forgetAfter` since the last failure: still counting…
            #expect(try await store.recordFailure(key: key, now: 1000 + policy.forgetAfter, policy: policy).failures == 4)
            // …a second longer than that since the last one, and the count starts again.
            let later = 1000 + 2 * policy.forgetAfter + 1
            #expect(try await store.recordFailure(key: key, now: later, policy: policy) == Self.state(1))
            #expect(try await store.recordFailure(key: key, now: later, policy: policy).failures == 2)
        }
    }

    @Test(arguments: TestBackend.available)
    func accountKeyLocksAtTheThresholdUntilUnlocked(_ backend: TestBackend) async throws {
        try await withDatabase(backend, migrating: SQLLoginThrottleStore.migrations) { (db: any SQLDatabase) async throws in
            let store = SQLLoginThrottleStore(db)
            let key = "user:alice"
            let policy = LoginThrottlePolicy.account
            let threshold = try #require(policy.lockAfter)

            var state = Self.state(0)
            for _ in 1..<threshold { state = try await store.recordFailure(key: key, now: 1000, policy: policy) }
            #expect(state == Self.state(threshold - 1, retryAfter: policy.delay(afterFailures: threshold - 1)))
            #expect(try await store.check(key: key, now: 1000 + state.retryAfter) == nil)

            // The threshold-th failure locks the key; waiting does not help.
            state = try await store.recordFailure(key: key, now: 2000, policy: policy)
            #expect(state == Self.state(threshold, retryAfter: LoginThrottle.lockedRetryAfter, locked: true))
            #expect(try await store.check(key: key, now: 1_000_000) == LoginThrottle.lockedRetryAfter)
            // A locked key keeps counting and is never forgotten, even long after `forgetAfter`.
            state = try await store.recordFailure(key: key, now: 2000 + 10 * policy.forgetAfter, policy: policy)
            #expect(state == Self.state(threshold + 1, retryAfter: LoginThrottle.lockedRetryAfter, locked: true))
            // Neither a successful sign-in nor the purge clears a lock.
            try await store.reset(key: key)
            #expect(try await store.purgeStale(before: Int64.max) == 0)
            #expect(try await store.check(key: key, now: 1_000_000) == LoginThrottle.lockedRetryAfter)
            #expect(try await store.check(key: "user:bob", now: 1_000_000) == nil)

            // An administrator unlocks it; counting starts again.
            #expect(try await store.unlock(key: key))
            #expect(try await store.check(key: key, now: 1_000_000) == nil)
            #expect(try await store.unlock(key: key) == false)
            #expect(try await store.recordFailure(key: key, now: 1_000_000, policy: policy) == Self.state(1))
        }
    }

    @Test(arguments: TestBackend.available)
    func concurrentLoginFailuresAreAllCounted(_ backend: TestBackend) async throws {
        try await withDatabase(backend, migrating: SQLLoginThrottleStore.migrations) { (db: any SQLDatabase) async throws in
            let store = SQLLoginThrottleStore(db)
            let policy = LoginThrottlePolicy.clientAddress
            let counts = try await withThrowingTaskGroup(of: Int64.self) { group in
                for _ in 0..<12 { group.addTask { try await store.recordFailure(key: "ip:192.0.2.1", now: 1000, policy: policy).failures } }
                var counts: [Int64] = []
                for try await count in group { counts.append(count) }
                return counts
            }
            #expect(counts.sorted() == Array(Int64(1)...12))
            #expect(try await store.check(key: "ip:192.0.2.1", now: 1000) == policy.delay(afterFailures: 12))
        }
    }

    @Test(arguments: TestBackend.available)
    func purgeStaleDeletesOnlyQuietUnlockedKeys(_ backend: TestBackend) async throws {
        try await withDatabase(backend, migrating: SQLLoginThrottleStore.migrations) { (db: any SQLDatabase) async throws in
            let store = SQLLoginThrottleStore(db)
            _ = try await store.recordFailure(key: "ip:quiet", now: 100, policy: .clientAddress)
            _ = try await store.recordFailure(key: "ip:recent", now: 500, policy: .clientAddress)
            let account = LoginThrottlePolicy(freeFailures: 0, maximumDelay: 1, lockAfter: 1, forgetAfter: 60)
            #expect(try await store.recordFailure(key: "user:locked", now: 100, policy: account).locked)

            #expect(try await store.purgeStale(before: 500) == 1)
            #expect(try await store.recordFailure(key: "ip:quiet", now: 600, policy: .clientAddress).failures == 1)
            #expect(try await store.recordFailure(key: "ip:recent", now: 600, policy: .clientAddress).failures == 2)
            #expect(try await store.check(key: "user:locked", now: 600) == LoginThrottle.lockedRetryAfter)
        }
    }
}
