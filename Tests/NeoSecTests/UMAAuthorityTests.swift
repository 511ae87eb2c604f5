import Foundation
import JOSE
import NeoSecTesting
import ServiceKit
import Storage
import Testing
import WireModels

@testable import UMAService

/// The UMA service's decisions over a real store (SQLite, and PostgreSQL when configured):
/// tickets are single-use and short-lived, no policy means no access, grants and denials
/// apply per owner, resource and requesting party, and upgrades re-check old permissions.
@Suite("UMA authority")
struct UMAAuthorityTests {
    struct World {
        let db: any SQLDatabase
        let store: SQLUMAStore
        let authority: UMAAuthority
        let time: FixedTime
        let resource: UMAResource
    }

    static let issuer = "https://issuer.example"

    func withWorld(_ backend: TestBackend, _ body: (World) async throws -> Void) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let db = try backend.openFresh(in: directory)
        try await db.migrate(ServiceRuntime.kitMigrations + SQLUMAStore.migrations)
        let store = SQLUMAStore(db)
        let time = FixedTime()
        let resource = UMAResource(
            id: "res-alice", resourceServer: "rs-a", owner: "alice", name: "Notes", type: nil, iconURI: nil, description: nil,
            scopes: ["read", "write"], createdAt: time.epochSeconds
        )
        try await store.insertResource(resource)
        do {
            try await body(World(db: db, store: store, authority: UMAAuthority(store: store, issuer: Self.issuer, time: time), time: time, resource: resource))
        } catch {
            try? await (db as? PostgresDatabase)?.dropSchema()
            try? await db.close()
            throw error
        }
        try? await (db as? PostgresDatabase)?.dropSchema()
        try await db.close()
    }

    func ticket(_ world: World, scopes: [String] = ["read"]) async throws -> String {
        try await world.authority.issueTicket(resourceServer: "rs-a", permissions: [.init(resourceID: world.resource.id, scopes: scopes)])
    }

    func evaluate(_ world: World, _ ticket: String, party: String? = nil, pct: String? = nil, scopes: [String]? = nil, previous: [UMAPermission]? = nil, client: String = "app")
        async throws -> UMAEvaluateAnswer
    {
        try await world.authority.evaluate(
            UMAEvaluateRequest(ticket: ticket, clientID: client, requestingParty: party, pct: pct, scopes: scopes, previous: previous, expiresAt: world.time.epochSeconds + 600)
        )
    }

    @Test(arguments: TestBackend.available)
    func aTicketIsRedeemedOnceAndExpires(_ backend: TestBackend) async throws {
        try await withWorld(backend) { world in
            let first = try await ticket(world)
            #expect(first.hasPrefix("neo_pt_"))
            #expect(try await evaluate(world, first, party: "alice").outcome == "granted")
            #expect(try await evaluate(world, first, party: "alice").outcome == "invalid_grant")
            let late = try await ticket(world)
            world.time.advance(by: Double(UMAAuthority.ticketLifetime) + 1)
            #expect(try await evaluate(world, late, party: "alice").outcome == "invalid_grant")
            #expect(try await evaluate(world, "neo_pt_forged", party: "alice").outcome == "invalid_grant")
            #expect(try await evaluate(world, "not-a-ticket' OR 1=1 --", party: "alice").outcome == "invalid_grant")
            // Stored only as a hash.
            let rows = try await world.db.query("SELECT hash FROM \(world.db.table("uma_tickets"))")
            #expect(rows.allSatisfy { (try? $0.text("hash"))?.hasPrefix("neo_pt_") == false })
        }
    }

    @Test(arguments: TestBackend.available)
    func noPolicyMeansARequestAndTheOwnerDecides(_ backend: TestBackend) async throws {
        try await withWorld(backend) { world in
            let none = try await evaluate(world, try await ticket(world))
            #expect(none.outcome == "need_info")
            #expect(none.extras?.redirectUser == true)
            #expect(none.extras?.requiredClaims?.first?.issuer == [Self.issuer])

            let submitted = try await evaluate(world, none.extras!.ticket!, party: "bob")
            #expect(submitted.outcome == "request_submitted")
            #expect(submitted.extras?.interval == UMAAuthority.pollInterval)
            let pending = try await world.store.requests(owner: "alice")
            #expect(pending.count == 1 && pending[0].requestingParty == "bob" && pending[0].scopes == ["read"])

            // Another owner cannot decide Alice's request.
            #expect(try await world.authority.decide(owner: "mallory", requestID: pending[0].id, allow: true) == nil)
            #expect(try await world.authority.decide(owner: "alice", requestID: pending[0].id, allow: true) != nil)
            // The ticket of request_submitted is bound to Bob and this client.
            #expect(try await evaluate(world, submitted.extras!.ticket!, client: "other-app").outcome == "invalid_grant")
            let granted = try await evaluate(world, try await world.authority.issueTicket(resourceServer: "rs-a", permissions: [.init(resourceID: "res-alice", scopes: ["read"])], requestingParty: "bob", clientID: "app"))
            #expect(granted.outcome == "granted")
            #expect(granted.permissions == [UMAPermission(resourceID: "res-alice", resourceScopes: ["read"], exp: world.time.epochSeconds + 600)])
            #expect(granted.pct?.hasPrefix("neo_pct_") == true)

            // Write was never granted.
            #expect(try await evaluate(world, try await ticket(world, scopes: ["write"]), party: "bob").outcome == "request_submitted")
            // An unknown scope is invalid_scope.
            #expect(try await evaluate(world, try await ticket(world), party: "bob", scopes: ["admin"]).outcome == "invalid_scope")
        }
    }

    @Test(arguments: TestBackend.available)
    func withdrawnAccessIsDeniedAndExpiryApplies(_ backend: TestBackend) async throws {
        try await withWorld(backend) { world in
            let grant = try await world.authority.share(owner: "alice", resourceID: "res-alice", requestingParty: "bob", scopes: ["read"], expiresAt: world.time.epochSeconds + 100)
            let answer = try await evaluate(world, try await ticket(world), party: "bob")
            #expect(answer.outcome == "granted")
            #expect(answer.permissions?.first?.exp == world.time.epochSeconds + 100)
            let pct = try #require(answer.pct)
            // A PCT stands for Bob, for this client only.
            #expect(try await evaluate(world, try await ticket(world), pct: pct).outcome == "granted")
            #expect(try await evaluate(world, try await ticket(world), pct: pct, client: "other-app").outcome == "invalid_grant")

            // Upgrade re-checks: after withdrawal the old permission is not carried over.
            #expect(try await world.authority.unshare(owner: "mallory", grantID: grant.id) == nil)
            #expect(try await world.authority.unshare(owner: "alice", grantID: grant.id) != nil)
            #expect(try await evaluate(world, try await ticket(world), party: "bob").outcome == "request_denied")
            let own = UMAResource(id: "res-bob", resourceServer: "rs-a", owner: "bob", name: "Notes", type: nil, iconURI: nil, description: nil, scopes: ["read"], createdAt: 0)
            try await world.store.insertResource(own)
            let upgraded = try await evaluate(
                world, try await world.authority.issueTicket(resourceServer: "rs-a", permissions: [.init(resourceID: "res-bob", scopes: ["read"])]), party: "bob",
                previous: [UMAPermission(resourceID: "res-alice", resourceScopes: ["read"], exp: nil)]
            )
            #expect(upgraded.outcome == "granted")
            #expect(upgraded.permissions?.map(\.resourceID) == ["res-bob"])

            // Sharing again clears the denial; an expired grant is no grant.
            try await world.authority.share(owner: "alice", resourceID: "res-alice", requestingParty: "bob", scopes: ["read"], expiresAt: world.time.epochSeconds + 10)
            #expect(try await evaluate(world, try await ticket(world), party: "bob").outcome == "granted")
            world.time.advance(by: 11)
            #expect(try await evaluate(world, try await ticket(world), party: "bob").outcome == "request_submitted")
        }
    }

    @Test(arguments: TestBackend.available)
    func ticketsOfAnotherResourceServerOrForDeletedResourcesFail(_ backend: TestBackend) async throws {
        try await withWorld(backend) { world in
            let foreign = try await world.authority.issueTicket(resourceServer: "rs-b", permissions: [.init(resourceID: "res-alice", scopes: ["read"])])
            #expect(try await evaluate(world, foreign, party: "alice").outcome == "invalid_grant")
            let orphan = try await ticket(world)
            #expect(try await world.store.deleteResource(id: "res-alice", resourceServer: "rs-b") == false)
            #expect(try await world.store.deleteResource(id: "res-alice", resourceServer: "rs-a"))
            #expect(try await evaluate(world, orphan, party: "alice").outcome == "invalid_grant")
        }
    }
}
