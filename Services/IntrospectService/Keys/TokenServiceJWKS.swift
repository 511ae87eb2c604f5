import AsyncHTTPClient
import Foundation
import JOSE
import NIOCore
import ServiceKit
import Synchronization
import WireModels

/// The Token Service's token-signing keys, fetched from its `/.well-known/jwks.json` and kept
/// for `cacheLifetime` (5 min). A token naming an unknown `kid` asks for a refetch, honoured at
/// most once per `minimumRefreshInterval` (10 s), so forged kids cannot turn this service into
/// a request amplifier. When a fetch fails the last keys are kept.
final class TokenServiceJWKS: Sendable {
    let url: String
    private let client: HTTPClient
    private let time: any TimeSource
    private let cacheLifetime: Int64
    private let minimumRefreshInterval: Int64
    private let state: Mutex<State>

    struct State {
        var keys: [String: VerificationKey]?
        var fetchedAt: Int64 = 0
        /// The last fetch attempted, successful or not.
        var attemptedAt: Int64?
    }

    init(url: String, client: HTTPClient, time: any TimeSource, cacheLifetime: Int64 = 300, minimumRefreshInterval: Int64 = 10) {
        self.url = url
        self.client = client
        self.time = time
        self.cacheLifetime = cacheLifetime
        self.minimumRefreshInterval = minimumRefreshInterval
        self.state = Mutex(State())
    }

    func keys(refresh: Bool) async throws -> [String: VerificationKey] {
        let now = time.epochSeconds
        let (cached, fetchedAt, attemptedAt) = state.withLock { ($0.keys, $0.fetchedAt, $0.attemptedAt) }
        if let cached {
            let mayFetch = attemptedAt.map { now - $0 >= minimumRefreshInterval } ?? true
            let fresh = now - fetchedAt < cacheLifetime
            if !mayFetch || (fresh && !refresh) { return cached }
        } else if let attemptedAt, now - attemptedAt < 1 {
            // Never fetched successfully (the Token Service is not up yet): one try a second.
            throw KeysUnavailable()
        }
        state.withLock { $0.attemptedAt = now }
        do {
            let keys = try await fetch()
            state.withLock { state in
                state.keys = keys
                state.fetchedAt = now
            }
            return keys
        } catch {
            if let cached { return cached }
            throw error
        }
    }

    struct KeysUnavailable: Error {}

    private func fetch() async throws -> [String: VerificationKey] {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept", value: "application/json")
        let response = try await client.execute(request, timeout: .seconds(5))
        let body = try await response.body.collect(upTo: 256 * 1024)
        guard response.status.code == 200 else { throw InternalCallError.unexpectedStatus(Int(response.status.code)) }
        let set: JWKSet
        do {
            set = try JSONDecoder().decode(JWKSet.self, from: Data(body.readableBytesView))
        } catch {
            throw InternalCallError.malformedResponse
        }
        var keys: [String: VerificationKey] = [:]
        for jwk in set.keys {
            guard let key = try? await VerificationKey(jwk: jwk) else { continue }
            keys[key.kid] = key
        }
        return keys
    }
}
