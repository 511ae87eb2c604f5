public import AsyncHTTPClient
import Crypto
public import Foundation
import HTTPTypes
public import Hummingbird
public import JOSE
import Synchronization
public import WireModels

/// An access token a request carried, verified for this server.
public struct VerifiedAccessToken: Sendable, Equatable {
    public let subject: String
    public let clientID: String
    public let scopes: [String]
    public let audiences: [String]
    public let expiresAt: Int64
    /// UMA RPT permissions, when the token is an RPT.
    public let permissions: [UMAPermission]?
    /// RFC 9449 `cnf.jkt` of a DPoP-bound token.
    public let jkt: String?
    /// RFC 8705 `cnf.x5t#S256` of a certificate-bound token.
    public let x5tS256: String?
    /// RFC 8693 §4.1 `act` of a delegated (exchanged) token: who acts for `subject`, prior actors nested.
    public var act: JSONValue? = nil
}

/// Access-token validation at a resource server (RFC 9068 §4, RFC 6750, RFC 9449 §7):
///
/// - Tokens travel only in the `Authorization` header, as `Bearer` or `DPoP`. RFC 6750 §2.3
///   query tokens are refused on purpose (they end up in logs and Referer headers).
/// - JWT access tokens (`typ: at+jwt`) are verified against the Token Service's JWKS, cached
///   and refetched on an unknown `kid` at most every 10 s, never per request; then `iss`, `aud`
///   (this server), `exp`, `iat`.
/// - Opaque `neo_at_` tokens are exchanged at the Introspection Service's phantom-token endpoint
///   (an authenticated internal call) for a short-lived JWT signed with the Introspection
///   Service's key, verified the same way against that service's JWKS.
/// - A verified token is cached by the SHA-256 of its value (bounded), so its signature is
///   checked once: until it expires for a JWT, and for at most `opaqueCacheSeconds` for an
///   opaque token, which with the Introspection Service's own 5 s cache bounds how late a
///   revocation of an opaque token is seen here (10 s). A JWT is self-contained: a revoked one
///   stays usable here until it expires; clients that need revocation to apply use opaque tokens.
/// - A DPoP-bound token (`cnf.jkt`) needs the `DPoP` scheme and a valid proof for this request
///   signed by that key; sent as `Bearer` it is refused (downgrade). An unbound token sent with
///   the DPoP scheme is refused too.
public final class AccessTokenVerifier: Sendable {
    public static let opaqueCacheSeconds: Int64 = 5
    static let cacheCapacity = 50_000
    static let opaquePrefix = "neo_at_"

    public let realm: String
    let issuer: String
    let audience: String
    /// This server's public base URL (no trailing slash), for DPoP `htu`.
    let publicBase: String
    let tokenKeys: RemoteJWKS
    let phantomKeys: RemoteJWKS
    let internalClient: InternalClient
    let time: any TimeSource
    let dpop: DPoPChecker
    private let cache = Mutex<[SHA256.Digest: Entry]>([:])

    struct Entry {
        var token: VerifiedAccessToken
        var until: Int64
    }

    public convenience init(environment: ServiceEnvironment, audience: String, realm: String) {
        let config = environment.config
        let token = (config.serviceURLs[.token] ?? config.issuer).absoluteString.trimmingSuffixSlash
        let introspect = (config.serviceURLs[.introspect] ?? config.issuer).absoluteString.trimmingSuffixSlash
        self.init(
            issuer: config.issuer.absoluteString.trimmingSuffixSlash, audience: audience, realm: realm,
            publicBase: config.baseURL.absoluteString.trimmingSuffixSlash,
            tokenJWKS: RemoteJWKS(url: token + "/.well-known/jwks.json", http: environment.httpClient, time: environment.time),
            phantomJWKS: RemoteJWKS(url: introspect + "/.well-known/introspection-jwks.json", http: environment.httpClient, time: environment.time),
            internalClient: environment.internalClient, time: environment.time,
            nonces: DPoPNonces(masterKey: config.masterKey), requireNonce: config.dpopRequireNonce
        )
    }

    init(
        issuer: String, audience: String, realm: String, publicBase: String, tokenJWKS: RemoteJWKS, phantomJWKS: RemoteJWKS,
        internalClient: InternalClient, time: any TimeSource, nonces: DPoPNonces, requireNonce: Bool
    ) {
        self.issuer = issuer
        self.audience = audience
        self.realm = realm
        self.publicBase = publicBase
        self.tokenKeys = tokenJWKS
        self.phantomKeys = phantomJWKS
        self.internalClient = internalClient
        self.time = time
        let replay = DPoPReplayCache()
        self.dpop = DPoPChecker(
            role: .resourceServer(realm: realm), nonces: nonces, requireNonce: requireNonce, time: time,
            firstUse: { [time] key, expiresAt in replay.firstUse(key, expiresAt: expiresAt, now: time.epochSeconds) }
        )
    }

    struct Claims: JOSEClaims {
        struct Confirmation: Codable {
            var jkt: String?
            var x5tS256: String?
            enum CodingKeys: String, CodingKey {
                case jkt
                case x5tS256 = "x5t#S256"
            }
        }

        var iss: String
        var sub: String
        var aud: Audience
        var exp: Int64
        var iat: Int64
        var clientID: String
        var scope: String?
        var cnf: Confirmation?
        var permissions: [UMAPermission]?
        var act: JSONValue?

        enum CodingKeys: String, CodingKey {
            case iss, sub, aud, exp, iat, scope, cnf, permissions, act
            case clientID = "client_id"
        }
    }

    /// The challenges of a request without credentials: both schemes this server accepts.
    public var missing: OAuthError {
        var error = OAuthError.missingToken(realm: realm)
        error.otherChallenges = [.init(scheme: "DPoP", realm: realm, algs: DPoPChecker.algorithmList)]
        error.dpopNonce = dpop.freshNonce()
        return error
    }

    func invalid(_ description: String, scheme: String = "Bearer") -> OAuthError {
        OAuthError.invalidToken(description, realm: realm, scheme: scheme)
    }

    /// Verifies the request's access token; throws the RFC 6750 / RFC 9449 error to answer.
    /// `certificateThumbprint` is the request context's `clientCertificateThumbprint`; a token
    /// bound to a certificate (RFC 8705 §3) is only accepted over a connection with that one.
    public func authenticate(_ request: Request, certificateThumbprint: String? = nil) async throws -> VerifiedAccessToken {
        if request.uri.queryParameters["access_token"] != nil {
            throw OAuthError(
                .invalidRequest, status: .badRequest, description: "send the access token in the Authorization header",
                challenge: .init(scheme: "Bearer", realm: realm)
            )
        }
        let headers = request.headers[values: .authorization]
        guard headers.count <= 1 else { throw OAuthError(.invalidRequest, status: .badRequest, description: "one Authorization header only", challenge: .init(scheme: "Bearer", realm: realm)) }
        guard let header = headers.first else { throw missing }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2 else { throw missing }
        let scheme = parts[0].lowercased()
        guard scheme == "bearer" || scheme == "dpop" else { throw missing }
        let token = Self.trimmingBlanks(parts[1])
        guard !token.isEmpty, token.utf8.count <= JWS.maximumLength else { throw invalid("the access token is invalid or expired") }

        let verified = try await verify(token)
        if let bound = verified.x5tS256 {
            guard let presented = certificateThumbprint, ConstantTime.equals(Array(presented.utf8), Array(bound.utf8)) else {
                throw invalid("the access token is bound to a client certificate this connection did not present")
            }
        }
        if let jkt = verified.jkt {
            guard scheme == "dpop" else { throw invalid("the access token is DPoP-bound: use the DPoP scheme with a proof", scheme: "DPoP") }
            let thumbprint = try await dpop.check(request, uri: publicBase + request.uri.path, accessToken: token)
            guard ConstantTime.equals(Array(thumbprint.utf8), Array(jkt.utf8)) else {
                throw OAuthError(.invalidDPoPProof, status: .unauthorized, description: "the DPoP proof is signed by another key than the token is bound to", challenge: .init(scheme: "DPoP", realm: realm, algs: DPoPChecker.algorithmList))
            }
        } else if scheme == "dpop" {
            throw invalid("the access token is not DPoP-bound: use the Bearer scheme", scheme: "DPoP")
        }
        return verified
    }

    /// RFC 6750 §3.1 `insufficient_scope` (403), naming the scope needed.
    /// Without leading or trailing spaces and tabs (Foundation's `trimmingCharacters` was a
    /// visible share of a cached request).
    static func trimmingBlanks(_ text: Substring) -> String {
        var bytes = text.utf8[...]
        while let first = bytes.first, first == 0x20 || first == 0x09 { bytes = bytes.dropFirst() }
        while let last = bytes.last, last == 0x20 || last == 0x09 { bytes = bytes.dropLast() }
        return String(Substring(bytes))
    }

    public func require(_ scope: String, of token: VerifiedAccessToken) throws {
        guard token.scopes.contains(scope) else {
            throw OAuthError(
                .insufficientScope, status: .forbidden, description: "the access token lacks the scope this request needs",
                challenge: .init(scheme: token.jkt == nil ? "Bearer" : "DPoP", realm: realm, scope: scope)
            )
        }
    }

    /// The token's claims, from the cache or verified now. Never the DPoP part: a proof is
    /// per request.
    func verify(_ token: String) async throws -> VerifiedAccessToken {
        var token = token
        let key = token.withUTF8 { SHA256.hash(data: UnsafeRawBufferPointer($0)) }
        let now = time.epochSeconds
        if let entry = cache.withLock({ $0[key] }), entry.until > now, entry.token.expiresAt > now { return entry.token }
        let verified: VerifiedAccessToken
        let until: Int64
        if token.hasPrefix(Self.opaquePrefix) {
            verified = try await verifyOpaque(token)
            until = min(verified.expiresAt, now + Self.opaqueCacheSeconds)
        } else {
            verified = try await verifyJWT(token, keys: tokenKeys)
            until = verified.expiresAt
        }
        cache.withLock { cache in
            if cache.count >= Self.cacheCapacity {
                cache = cache.filter { $0.value.until > now }
                // Still full of live entries: drop an arbitrary half rather than grow.
                if cache.count >= Self.cacheCapacity { cache = Dictionary(uniqueKeysWithValues: cache.prefix(Self.cacheCapacity / 2).map { ($0.key, $0.value) }) }
            }
            cache[key] = Entry(token: verified, until: until)
        }
        return verified
    }

    func verifyJWT(_ token: String, keys: RemoteJWKS) async throws -> VerifiedAccessToken {
        let failure = invalid("the access token is invalid or expired")
        // Refresh tokens and codes are opaque and never JWTs; an ID token has `typ: JWT` and fails the type check.
        guard token.split(separator: ".", omittingEmptySubsequences: false).count == 3 else { throw failure }
        var claims: Claims
        do {
            claims = try await JWS.verify(token, as: Claims.self, keys: try await keys.keys(refresh: false), type: "at+jwt").claims
        } catch let error as JOSEError where error == .unknownKeyID {
            guard let again = try? await JWS.verify(token, as: Claims.self, keys: try await keys.keys(refresh: true), type: "at+jwt").claims else {
                throw failure
            }
            claims = again
        } catch {
            throw failure
        }
        let now = time.epochSeconds
        guard claims.iss == issuer, claims.aud.values.contains(audience), claims.exp > now, claims.iat <= now + 60 else { throw failure }
        return VerifiedAccessToken(
            subject: claims.sub, clientID: claims.clientID, scopes: (claims.scope ?? "").split(separator: " ").map(String.init),
            audiences: claims.aud.values, expiresAt: claims.exp, permissions: claims.permissions, jkt: claims.cnf?.jkt,
            x5tS256: claims.cnf?.x5tS256, act: claims.act
        )
    }

    /// Phantom-token exchange: the Introspection Service answers only for a live token meant for
    /// this audience (else 400 `invalid_grant`, which is `invalid_token` here).
    func verifyOpaque(_ token: String) async throws -> VerifiedAccessToken {
        guard token.utf8.count <= 128, token.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { throw invalid("the access token is invalid or expired") }
        let answer: PhantomTokenResponse
        do {
            answer = try await internalClient.post(.introspect, path: "internal/phantom", body: PhantomTokenRequest(token: token, audience: audience), as: PhantomTokenResponse.self)
        } catch InternalCallError.unexpectedStatus(400) {
            throw invalid("the access token is invalid or expired")
        } catch {
            throw OAuthError(.temporarilyUnavailable, status: .serviceUnavailable, description: "token verification is unavailable; retry")
        }
        return try await verifyJWT(answer.token, keys: phantomKeys)
    }
}

/// A JWKS fetched over HTTP and cached: 5 minutes, and on demand (an unknown `kid`) at most
/// every 10 s, so forged `kid`s cannot make this server hammer the key endpoint.
public final class RemoteJWKS: Sendable {
    let url: String
    let http: HTTPClient
    let time: any TimeSource
    private let cache = Mutex<(keys: [String: VerificationKey], fetchedAt: Int64)>(([:], 0))

    public init(url: String, http: HTTPClient, time: any TimeSource) {
        self.url = url
        self.http = http
        self.time = time
    }

    public func keys(refresh: Bool) async throws -> [String: VerificationKey] {
        let now = time.epochSeconds
        let (keys, fetchedAt) = cache.withLock { ($0.keys, $0.fetchedAt) }
        if !keys.isEmpty && now - fetchedAt < 300 && (!refresh || now - fetchedAt < 10) { return keys }
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept", value: "application/json")
        let response = try await http.execute(request, timeout: .seconds(5))
        let body = try await response.body.collect(upTo: 256 * 1024)
        guard response.status == .ok, let set = try? JSONDecoder().decode(JWKSet.self, from: Data(buffer: body)) else { return keys }
        var fresh: [String: VerificationKey] = [:]
        for jwk in set.keys {
            if let key = try? await VerificationKey(jwk: jwk) { fresh[key.kid] = key }
        }
        let result = fresh
        cache.withLock { $0 = (result, now) }
        return result
    }
}

extension String {
    var trimmingSuffixSlash: String { hasSuffix("/") ? String(dropLast()) : self }
}
