public import AsyncHTTPClient
public import Foundation
public import JOSE
import NIOCore
import NIOHTTP1
import Synchronization
public import WireModels

/// Fetches callers' `/internal/jwks.json` over HTTP and caches them. A refresh (unknown kid) is
/// honoured at most once per `minimumRefreshInterval` per caller, so forged kids cannot turn this
/// service into a request amplifier.
public final class HTTPServiceKeyResolver: ServiceKeyResolver {
    private let peers: [ServiceName: URL]
    private let client: HTTPClient
    private let time: any TimeSource
    private let minimumRefreshInterval: Int64
    private let cacheLifetime: Int64
    private let cache: Mutex<[ServiceName: Entry]>

    struct Entry {
        var keys: [String: VerificationKey]
        var fetchedAt: Int64
    }

    public init(peers: [ServiceName: URL], client: HTTPClient, time: any TimeSource, minimumRefreshInterval: Int64 = 10, cacheLifetime: Int64 = 300) {
        self.peers = peers
        self.client = client
        self.time = time
        self.minimumRefreshInterval = minimumRefreshInterval
        self.cacheLifetime = cacheLifetime
        self.cache = Mutex([:])
    }

    public func keys(for caller: ServiceName, refresh: Bool) async throws -> [String: VerificationKey] {
        let now = time.epochSeconds
        if let entry = cache.withLock({ $0[caller] }) {
            let age = now - entry.fetchedAt
            if age < cacheLifetime && (!refresh || age < minimumRefreshInterval) {
                return entry.keys
            }
        }
        guard let base = peers[caller] else { throw InternalCallError.unknownPeer }
        let set: JWKSet = try await InternalHTTP.getJSON(client: client, url: base.appendingPathComponent("internal/jwks.json"))
        var keys: [String: VerificationKey] = [:]
        for jwk in set.keys {
            // Internal-call keys are ES256 only (SPEC §6).
            guard jwk.alg == SigningAlgorithm.es256.rawValue, let key = try? await VerificationKey(jwk: jwk) else { continue }
            keys[key.kid] = key
        }
        let fetched = keys
        cache.withLock { $0[caller] = Entry(keys: fetched, fetchedAt: now) }
        return fetched
    }
}

/// Errors of internal calls. Fixed messages only.
public enum InternalCallError: Error, Sendable, Equatable {
    case unknownPeer
    case unexpectedStatus(Int)
    case malformedResponse
}

/// An authenticated client for calls from this service to another (SPEC §6).
public struct InternalClient: Sendable {
    public let issuer: ServiceTokenIssuer
    public let peers: [ServiceName: URL]
    public let client: HTTPClient

    public init(issuer: ServiceTokenIssuer, peers: [ServiceName: URL], client: HTTPClient) {
        self.issuer = issuer
        self.peers = peers
        self.client = client
    }

    /// POSTs `body` as JSON to `path` on `service`, with a fresh service token, and decodes the
    /// JSON answer. Non-2xx answers throw `unexpectedStatus`.
    public func post<Body: Encodable, Answer: Decodable>(_ service: ServiceName, path: String, body: Body, as: Answer.Type) async throws -> Answer {
        guard let base = peers[service] else { throw InternalCallError.unknownPeer }
        var request = HTTPClientRequest(url: base.appendingPathComponent(path).absoluteString)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(try await issuer.token(for: service))")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(body)))
        let response = try await client.execute(request, timeout: .seconds(10))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        guard (200..<300).contains(Int(response.status.code)) else { throw InternalCallError.unexpectedStatus(Int(response.status.code)) }
        do {
            return try JSONDecoder().decode(Answer.self, from: Data(buffer: bytes))
        } catch {
            throw InternalCallError.malformedResponse
        }
    }
}

enum InternalHTTP {
    static func getJSON<Answer: Decodable>(client: HTTPClient, url: URL) async throws -> Answer {
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = .GET
        request.headers.add(name: "Accept", value: "application/json")
        let response = try await client.execute(request, timeout: .seconds(5))
        let bytes = try await response.body.collect(upTo: 256 * 1024)
        guard response.status == .ok else { throw InternalCallError.unexpectedStatus(Int(response.status.code)) }
        do {
            return try JSONDecoder().decode(Answer.self, from: Data(buffer: bytes))
        } catch {
            throw InternalCallError.malformedResponse
        }
    }
}
