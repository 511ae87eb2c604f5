import AsyncHTTPClient
import Foundation
import Hummingbird
import JOSE
import NIOCore
import ServiceKit
import Synchronization
import WireModels

/// The access token a request carried, verified.
struct Caller: Sendable {
    let subject: String
    let clientID: String
    let scopes: [String]
}

/// RFC 9068 §4 access-token validation at the resource server, for JWT access tokens: signature
/// against the Token Service's JWKS (cached; refetched on an unknown `kid` at most every 10 s,
/// never per request), `typ` at+jwt, `iss`, `aud` = this resource server, `exp`. Errors are
/// RFC 6750 §3 challenges. Tokens travel only in the `Authorization` header: RFC 6750 §2.3
/// query tokens are refused on purpose (they end up in logs and Referer headers).
///
/// A JWT verified locally stays usable until it expires even if revoked (10 minutes by
/// default); clients that need immediate revocation use opaque tokens.
final class BearerAuthenticator: Sendable {
    static let realm = "neosec-resource"

    let issuer: String
    let audience: String
    let jwksURL: String
    let http: HTTPClient
    let time: any TimeSource
    private let cache = Mutex<(keys: [String: VerificationKey], fetchedAt: Int64)>(([:], 0))

    init(issuer: String, audience: String, jwksURL: String, http: HTTPClient, time: any TimeSource) {
        self.issuer = issuer
        self.audience = audience
        self.jwksURL = jwksURL
        self.http = http
        self.time = time
    }

    struct Claims: JOSEClaims {
        var iss: String
        var sub: String
        var aud: Audience
        var exp: Int64
        var iat: Int64
        var clientID: String
        var scope: String?

        enum CodingKeys: String, CodingKey {
            case iss, sub, aud, exp, iat, scope
            case clientID = "client_id"
        }
    }

    func authenticate(_ request: Request) async throws -> Caller {
        if request.uri.queryParameters["access_token"] != nil {
            throw OAuthError(
                .invalidRequest, status: .badRequest, description: "send the access token in the Authorization header",
                challenge: .init(scheme: "Bearer", realm: Self.realm)
            )
        }
        guard let header = request.headers[.authorization] else { throw OAuthError.missingToken(realm: Self.realm) }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { throw OAuthError.missingToken(realm: Self.realm) }
        let token = String(parts[1])
        let invalid = OAuthError.invalidToken("the access token is invalid or expired", realm: Self.realm)
        var claims: Claims
        do {
            claims = try await verify(token, refresh: false)
        } catch let error as JOSEError where error == .unknownKeyID {
            guard let again = try? await verify(token, refresh: true) else { throw invalid }
            claims = again
        } catch {
            throw invalid
        }
        let now = time.epochSeconds
        guard claims.iss == issuer, claims.aud.values.contains(audience), claims.exp > now, claims.iat <= now + 60 else { throw invalid }
        return Caller(subject: claims.sub, clientID: claims.clientID, scopes: (claims.scope ?? "").split(separator: " ").map(String.init))
    }

    /// RFC 6750 §3.1 `insufficient_scope`, naming the scope needed.
    static func require(_ scope: String, of caller: Caller) throws {
        guard caller.scopes.contains(scope) else {
            throw OAuthError(
                .insufficientScope, status: .forbidden, description: "the access token lacks the scope this request needs",
                challenge: .init(scheme: "Bearer", realm: realm, scope: scope)
            )
        }
    }

    func verify(_ token: String, refresh: Bool) async throws -> Claims {
        try await JWS.verify(token, as: Claims.self, keys: try await keys(refresh: refresh), type: "at+jwt").claims
    }

    func keys(refresh: Bool) async throws -> [String: VerificationKey] {
        let now = time.epochSeconds
        let (keys, fetchedAt) = cache.withLock { ($0.keys, $0.fetchedAt) }
        if !keys.isEmpty && now - fetchedAt < 300 && (!refresh || now - fetchedAt < 10) { return keys }
        var request = HTTPClientRequest(url: jwksURL)
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
