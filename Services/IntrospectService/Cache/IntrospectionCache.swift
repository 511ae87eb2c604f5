import Crypto
import Foundation
import Hummingbird
import JOSE
import NIOCore
import ServiceKit
import Storage
import Synchronization
import TokenService
import WireModels

/// The Introspection Service's answers, kept briefly: the hot path of every API call is then a
/// hash and a dictionary lookup instead of a store query (or a signature check), and the JSON
/// of an answer is encoded once, when it is stored.
///
/// - Keyed by SHA-256 of the caller's identity and the token (`key(token:caller:)`), or of the
///   exact credentials a caller presented and the token (`credentialKey(authorization:token:)`,
///   stored only after those credentials authenticated): the token itself is never kept, and one
///   caller's answer is never served to another (answers depend on the caller's audiences). The
///   two kinds of keys hash distinct prefixes, so neither can stand for the other.
/// - An active answer lives `min(5 s, exp − now)`: it never outlives the token, and a revocation
///   (RFC 7009, a refresh family, a sign-out, a subject revocation) applies within 5 s on every
///   replica, since each replica's cache forgets on its own. An answer filed under a second key
///   keeps the first one's expiry, so re-filing never extends it.
/// - An inactive answer lives 1 s: enough to absorb a flood of the same bad token, short enough
///   that a token issued a moment after being asked about is seen.
/// - At most `capacity` (10 000) entries; beyond that the oldest inserted go first.
final class IntrospectionCache: Sendable {
    static let defaultCapacity = 10_000
    /// The revocation bound, in seconds (documented in the README and docs/architecture.md).
    static let activeLifetime: Double = 5
    static let inactiveLifetime: Double = 1

    typealias Key = SHA256.Digest

    /// An answer with its JSON encoding (as `Response.json` sends it) and the client it was
    /// computed for (nil: an internal caller asking for an audience).
    struct Answer: Sendable {
        var result: IntrospectionResult
        var json: ByteBuffer
        var clientID: String?
        var expiresAt: Double
    }

    let capacity: Int
    private let time: any TimeSource
    private let state: Mutex<State>

    struct Entry {
        var answer: Answer
        var sequence: UInt64
    }

    struct State {
        var entries: [Key: Entry] = [:]
        /// Insertion order (key and the sequence it was inserted with); stale pairs are skipped.
        var order: [(key: Key, sequence: UInt64)] = []
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
    static func key(token: String, caller: String) -> Key {
        digest("caller\n", caller, token)
    }

    /// The cache key of `token` asked with exactly this `Authorization` header value (header
    /// values carry no newline: HTTP forbids it).
    static func credentialKey(authorization: String, token: String) -> Key {
        digest("credentials\n", authorization, token)
    }

    private static func digest(_ domain: String, _ who: String, _ token: String) -> Key {
        var hasher = SHA256()
        hasher.update(data: Array(domain.utf8))
        hasher.update(data: Array(who.utf8))
        hasher.update(data: [0x0A])
        hasher.update(data: Array(token.utf8))
        return hasher.finalize()
    }

    /// The cached answer for `token` and `caller`, or `compute()`'s, cached for next time.
    func answer(token: String, caller: String, clientID: String?, compute: () async throws -> IntrospectionResult) async throws -> Answer {
        let key = Self.key(token: token, caller: caller)
        if let cached = lookup(key) { return cached }
        let result = try await compute()
        let answer = try Self.answer(result, clientID: clientID, now: time.now.timeIntervalSince1970)
        store(answer, key: key)
        return answer
    }

    /// The result only (the phantom-token exchange).
    func result(token: String, caller: String, compute: () async throws -> IntrospectionResult) async throws -> IntrospectionResult {
        try await answer(token: token, caller: caller, clientID: nil, compute: compute).result
    }

    /// `result` encoded, with the expiry rules above applied from `now`.
    static func answer(_ result: IntrospectionResult, clientID: String?, now: Double) throws -> Answer {
        var lifetime = result.active ? activeLifetime : inactiveLifetime
        if result.active, let exp = result.exp {
            lifetime = min(lifetime, Double(exp) - now)
        }
        return Answer(result: result, json: try Response.jsonBuffer(result), clientID: clientID, expiresAt: now + lifetime)
    }

    func lookup(_ key: Key) -> Answer? {
        let now = time.now.timeIntervalSince1970
        return state.withLock { state -> Answer? in
            guard let entry = state.entries[key] else { return nil }
            guard entry.answer.expiresAt > now else {
                state.entries.removeValue(forKey: key)
                return nil
            }
            return entry.answer
        }
    }

    /// Files `answer` under `key` until its own expiry (nothing if that has passed).
    func store(_ answer: Answer, key: Key) {
        let now = time.now.timeIntervalSince1970
        let capacity = capacity
        guard answer.expiresAt > now, capacity > 0 else { return }
        state.withLock { state in
            let sequence = state.nextSequence
            state.nextSequence &+= 1
            state.entries[key] = Entry(answer: answer, sequence: sequence)
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
