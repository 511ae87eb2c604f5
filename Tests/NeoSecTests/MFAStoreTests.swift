import Foundation
import JOSE
import NeoSecTesting
import ServiceKit
import Storage
import Testing

/// The second-factor store on every available backend (SQLite always; PostgreSQL when
/// `NEOSEC_TEST_POSTGRES_URL` is set): the one-statement decisions replay protection rests on.
@Suite("MFA store")
struct MFAStoreTests {
    static let migrations = ServiceRuntime.kitMigrations + SQLMFAStore.migrations

    func withStore(_ backend: TestBackend, _ body: (SQLMFAStore, any SQLDatabase) async throws -> Void) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let db = try backend.openFresh(in: directory)
        try await db.migrate(Self.migrations)
        do {
            try await body(SQLMFAStore(db), db)
        } catch {
            try? await (db as? PostgresDatabase)?.dropSchema()
            try? await db.close()
            throw error
        }
        try? await (db as? PostgresDatabase)?.dropSchema()
        try await db.close()
    }

    @Test(arguments: TestBackend.available)
    func enrolmentEnableAndSteps(_ backend: TestBackend) async throws {
        try await withStore(backend) { store, _ in
            #expect(try await store.totp(accountID: "a") == nil)
            #expect(try await store.savePendingTOTP(accountID: "a", sealedSecret: [1, 2, 3], at: 10))
            // A restarted enrolment replaces the unfinished one.
            #expect(try await store.savePendingTOTP(accountID: "a", sealedSecret: [4, 5, 6], at: 11))
            let pending = try #require(try await store.totp(accountID: "a"))
            #expect(pending.sealedSecret == [4, 5, 6])
            #expect(!pending.enabled)
            #expect(pending.lastStep == nil)
            // Steps are not recorded for an enrolment that is not on.
            #expect(try await store.recordTOTPStep(accountID: "a", step: 5, at: 12) == false)
            // Only the enrolment the user saw can be enabled.
            #expect(try await store.enableTOTP(accountID: "a", sealedSecret: [1, 2, 3], step: 100, at: 12) == false)
            #expect(try await store.enableTOTP(accountID: "a", sealedSecret: [4, 5, 6], step: 100, at: 12))
            #expect(try await store.enableTOTP(accountID: "a", sealedSecret: [4, 5, 6], step: 101, at: 13) == false)
            // An enabled credential is never overwritten by a new enrolment.
            #expect(try await store.savePendingTOTP(accountID: "a", sealedSecret: [7], at: 14) == false)
            let enabled = try #require(try await store.totp(accountID: "a"))
            #expect(enabled.enabled)
            #expect(enabled.sealedSecret == [4, 5, 6])
            #expect(enabled.lastStep == 100)

            // Each step once, and only forward.
            #expect(try await store.recordTOTPStep(accountID: "a", step: 100, at: 15) == false)
            #expect(try await store.recordTOTPStep(accountID: "a", step: 99, at: 15) == false)
            #expect(try await store.recordTOTPStep(accountID: "a", step: 101, at: 15))
            #expect(try await store.recordTOTPStep(accountID: "a", step: 101, at: 16) == false)
            #expect(try await store.recordTOTPStep(accountID: "b", step: 500, at: 16) == false)

            #expect(try await store.deleteTOTP(accountID: "a"))
            #expect(try await store.deleteTOTP(accountID: "a") == false)
            #expect(try await store.totp(accountID: "a") == nil)
        }
    }

    @Test(arguments: TestBackend.available)
    func aStepIsRecordedOnceUnderConcurrency(_ backend: TestBackend) async throws {
        try await withStore(backend) { store, _ in
            #expect(try await store.savePendingTOTP(accountID: "a", sealedSecret: [1], at: 1))
            #expect(try await store.enableTOTP(accountID: "a", sealedSecret: [1], step: 1, at: 1))
            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<16 { group.addTask { try await store.recordTOTPStep(accountID: "a", step: 2, at: 2) } }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(wins == 1)
        }
    }

    @Test(arguments: TestBackend.available)
    func recoveryCodesAreSingleUse(_ backend: TestBackend) async throws {
        try await withStore(backend) { store, db in
            try await store.replaceRecoveryCodes(accountID: "a", codeHashes: ["h1", "h2", "h3"], at: 1)
            try await store.replaceRecoveryCodes(accountID: "b", codeHashes: ["h1"], at: 1)
            #expect(try await store.recoveryCodeCount(accountID: "a") == 3)
            #expect(try await store.consumeRecoveryCode(accountID: "a", codeHash: "h1"))
            #expect(try await store.consumeRecoveryCode(accountID: "a", codeHash: "h1") == false)
            // Another account's code is its own.
            #expect(try await store.consumeRecoveryCode(accountID: "a", codeHash: "nope") == false)
            #expect(try await store.consumeRecoveryCode(accountID: "b", codeHash: "h1"))
            #expect(try await store.recoveryCodeCount(accountID: "a") == 2)

            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<16 { group.addTask { try await store.consumeRecoveryCode(accountID: "a", codeHash: "h2") } }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(wins == 1)

            // A new set replaces the old one; turning TOTP off deletes them.
            try await store.replaceRecoveryCodes(accountID: "a", codeHashes: ["n1", "n2"], at: 2)
            #expect(try await store.consumeRecoveryCode(accountID: "a", codeHash: "h3") == false)
            #expect(try await store.recoveryCodeCount(accountID: "a") == 2)
            #expect(try await store.savePendingTOTP(accountID: "a", sealedSecret: [1], at: 3))
            try await store.deleteTOTP(accountID: "a")
            #expect(try await store.recoveryCodeCount(accountID: "a") == 0)
            let rows = try await db.query("SELECT COUNT(*) AS n FROM \(db.table("recovery_codes"))")
            #expect(try rows.first?.integer("n") == 0)
        }
    }

    @Test(arguments: TestBackend.available)
    func pendingSecondFactorsExpireAndAreUsedOnce(_ backend: TestBackend) async throws {
        try await withStore(backend) { store, _ in
            let pending = PendingSecondFactor(idHash: "x", accountID: "a", challenge: "ch", createdAt: 100, expiresAt: 400)
            try await store.createPendingSecondFactor(pending)
            let other = PendingSecondFactor(idHash: "y", accountID: "b", challenge: nil, createdAt: 100, expiresAt: 200)
            try await store.createPendingSecondFactor(other)
            #expect(try await store.findPendingSecondFactor(idHash: "x", now: 399) == pending)
            #expect(try await store.findPendingSecondFactor(idHash: "x", now: 400) == nil)
            #expect(try await store.findPendingSecondFactor(idHash: "y", now: 150)?.challenge == nil)
            #expect(try await store.purgeExpired(now: 300) == 1)
            #expect(try await store.deletePendingSecondFactor(idHash: "x") == pending)
            #expect(try await store.deletePendingSecondFactor(idHash: "x") == nil)
        }
    }
}
