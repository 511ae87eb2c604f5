import JOSE
import Storage
import Synchronization
import TokenService
import WireModels

/// The Introspection Service's answers, kept briefly: the hot path of every API call is then a
/// hash and a dictionary lookup instead of a store query (or a signature check).
///
/// - Keyed by SHA-256 of the caller's identity and the token: the token itself is never kept,
///   and one caller's answer is never served to another (answers depend on the caller's
///   audiences).
/// - An active answer lives `min(5 s, exp − now)`: it never outlives the token, and a revocation
///   (RFC 7009, a refresh family, a sign-out, a subject revocation) applies within 5 s on every
///   replica, since each replica's cache forgets on its own.
/// - An inactive answer lives 1 s: enough to absorb a flood of the same bad token, short enough
///   that a token issued a moment after being asked about is seen.
/// - At most `capacity` (10 000) entries; beyond that the oldest inserted go first.
final class IntrospectionCache: Sendable {
    static let defaultCapacity = 10_000
    /// The revocation bound, in seconds (documented in the README and docs/architecture.md).
    static let activeLifetime: Double = 5
    static let inactiveLifetime: Double = 1

    let capacity: Int
    private let time: any TimeSource
    private let state: Mutex<State>

    struct Entry {
        var result: IntrospectionResult
        var expiresAt: Double
        var sequence: UInt64
    }

    struct State {
        var entries: [String: Entry] = [:]
        /// Insertion order (key and the sequence it was inserted with); stale pairs are skipped.
        var order: [(key: String, sequence: UInt64)] = []
        var head = 0
        var nextSequence: UInt64 = 0
    }

    /// `capacity` 0 turns the cache off (`NEOSEC_INTROSPECT_CACHE_CAPACITY=0`: every answer
    /// from the store; used to measure the miss path).
    init(time: any TimeSource, capacity: Int = IntrospectionCache.defaultCapacity) {
        self.time = time
        self.capacity = max(0, capacity)
        self.state = Mutex(State())
    }

    /// The cache key of `token` asked by `caller`. Caller identities are client ids
    /// (`[A-Za-z0-9._-]`) or `aud:` and a resource indicator (no whitespace), so the newline
    /// cannot be forged into a collision.
    static func key(token: String, caller: String) -> String {
        CredentialHash.hex(caller + "\n" + token)
    }

    /// The cached answer, or `compute()`'s, cached for next time.
    func result(token: String, caller: String, compute: () async throws -> IntrospectionResult) async throws -> IntrospectionResult {
        let key = Self.key(token: token, caller: caller)
        if let cached = lookup(key) { return cached }
        let result = try await compute()
        store(result, key: key)
        return result
    }

    func lookup(_ key: String) -> IntrospectionResult? {
        let now = time.now.timeIntervalSince1970
        return state.withLock { state -> IntrospectionResult? in
            guard let entry = state.entries[key] else { return nil }
            guard entry.expiresAt > now else {
                state.entries.removeValue(forKey: key)
                return nil
            }
            return entry.result
        }
    }

    func store(_ result: IntrospectionResult, key: String) {
        let now = time.now.timeIntervalSince1970
        var lifetime = result.active ? Self.activeLifetime : Self.inactiveLifetime
        if result.active, let exp = result.exp {
            lifetime = min(lifetime, Double(exp) - now)
        }
        let capacity = capacity
        guard lifetime > 0, capacity > 0 else { return }
        state.withLock { state in
            let sequence = state.nextSequence
            state.nextSequence &+= 1
            state.entries[key] = Entry(result: result, expiresAt: now + lifetime, sequence: sequence)
            state.order.append((key, sequence))
            // Over capacity: drop the oldest inserted entries still current.
            while state.entries.count > capacity, state.head < state.order.count {
                let oldest = state.order[state.head]
                state.head += 1
                if state.entries[oldest.key]?.sequence == oldest.sequence {
                    state.entries.removeValue(forKey: oldest.key)
                }
            }
            // Keep the order list bounded too: re-inserted and expired keys leave stale pairs.
            if state.order.count - state.head > 2 * capacity {
                let entries = state.entries
                let live = state.order[state.head...].filter { entries[$0.key]?.sequence == $0.sequence }
                state.order = Array(live)
                state.head = 0
            } else if state.head > 1024, state.head * 2 > state.order.count {
                let consumed = state.head
                state.order.removeFirst(consumed)
                state.head = 0
            }
        }
    }

    var count: Int { state.withLock { $0.entries.count } }
}
