public import Foundation
public import JOSE
public import Logging
public import Storage
import Synchronization
public import WireModels

/// The signing keys of one purpose (`token` or `internal`), loaded from the store and unsealed
/// with the master key. Generates the first keys on first start, rotates on request, and reloads
/// from the store periodically so that replicas pick up a rotation done elsewhere.
public final class KeyRing: Sendable {
    public let purpose: String
    public let algorithms: [SigningAlgorithm]
    private let store: any KeyStore
    private let sealer: KeySealer
    private let time: any TimeSource
    private let retention: Int64
    private let reloadInterval: Int64
    private let state: Mutex<State>

    struct State {
        var active: [SigningAlgorithm: SigningKey] = [:]
        var published: [String: VerificationKey] = [:]
        var publishedOrder: [String] = []
        var loadedAt: Int64 = .min
        /// A stale-key reload is under way: other requests keep signing with the loaded keys.
        var reloading = false
    }

    /// - Parameters:
    ///   - retention: how long a retired key stays published: at least the longest lifetime of a
    ///     token it may have signed.
    public init(
        purpose: String,
        algorithms: [SigningAlgorithm],
        store: any KeyStore,
        sealer: KeySealer,
        time: any TimeSource,
        retention: Int64,
        reloadInterval: Int64 = 30
    ) {
        self.purpose = purpose
        self.algorithms = algorithms
        self.store = store
        self.sealer = sealer
        self.time = time
        self.retention = retention
        self.reloadInterval = reloadInterval
        self.state = Mutex(State())
    }

    /// Loads the keys, generating the first ones if the store has none for an algorithm.
    public func bootstrap() async throws {
        try await reload()
        let missing = algorithms.filter { algorithm in state.withLock { $0.active[algorithm] == nil } }
        if !missing.isEmpty {
            var fresh: [StoredKey] = []
            for algorithm in missing {
                fresh.append(try await sealed(SigningKey.generate(algorithm)))
            }
            // Replicas racing here insert at most one active key per algorithm; losers reload the winner's.
            try await store.insertInitial(fresh)
            try await reload()
        }
    }

    /// Retires the active keys (still published for `retention` seconds) and activates new ones.
    public func rotate() async throws {
        var fresh: [StoredKey] = []
        for algorithm in algorithms {
            fresh.append(try await sealed(SigningKey.generate(algorithm)))
        }
        try await store.rotate(purpose: purpose, newKeys: fresh, publishUntil: time.epochSeconds + retention)
        try await store.pruneExpired(now: time.epochSeconds)
        try await reload()
    }

    /// Re-reads the store.
    public func reload() async throws {
        let now = time.epochSeconds
        let stored = try await store.keys(purpose: purpose, now: now)
        var next = State()
        for record in stored {
            guard let algorithm = SigningAlgorithm(rawValue: record.algorithm) else { continue }
            let plaintext = try sealer.open(record.sealedPrivateKey, kid: record.kid, algorithm: record.algorithm, purpose: record.purpose)
            let key = try await SigningKey(algorithm: algorithm, privateKeyBytes: plaintext)
            guard key.kid == record.kid else { throw JOSEError.keyUnusable }
            if record.status == .active, next.active[algorithm] == nil {
                next.active[algorithm] = key
            }
            next.published[key.kid] = key.verificationKey
            next.publishedOrder.append(key.kid)
        }
        next.loadedAt = now
        let loaded = next
        state.withLock { state in
            let reloading = state.reloading
            state = loaded
            state.reloading = reloading
        }
    }

    /// Reloads when the last load is older than the reload interval. One caller reloads; the
    /// requests arriving meanwhile use the keys already loaded instead of all reading the store
    /// (and unsealing every key) at the same moment.
    public func refreshIfStale() async throws {
        let now = time.epochSeconds
        let due = state.withLock { state -> Bool in
            guard now - state.loadedAt >= reloadInterval, !state.reloading else { return false }
            state.reloading = true
            return true
        }
        guard due else { return }
        defer { state.withLock { $0.reloading = false } }
        try await reload()
    }

    /// The active key for `algorithm`.
    public func signingKey(_ algorithm: SigningAlgorithm) throws -> SigningKey {
        guard let key = state.withLock({ $0.active[algorithm] }) else { throw JOSEError.unknownKeyID }
        return key
    }

    /// Every published key, by kid: what verification accepts.
    public var verificationKeys: [String: VerificationKey] { state.withLock { $0.published } }

    /// The JWK Set to publish: active keys first, then retired ones still within retention.
    public var jwks: JWKSet {
        state.withLock { state in JWKSet(keys: state.publishedOrder.compactMap { state.published[$0]?.jwk }) }
    }

    public var isReady: Bool { state.withLock { state in algorithms.allSatisfy { state.active[$0] != nil } } }

    private func sealed(_ key: SigningKey) async throws -> StoredKey {
        StoredKey(
            kid: key.kid,
            purpose: purpose,
            algorithm: key.algorithm.rawValue,
            sealedPrivateKey: try sealer.seal(key.privateKeyBytes, kid: key.kid, algorithm: key.algorithm.rawValue, purpose: purpose),
            createdAt: time.epochSeconds,
            status: .active,
            publishUntil: nil
        )
    }
}
