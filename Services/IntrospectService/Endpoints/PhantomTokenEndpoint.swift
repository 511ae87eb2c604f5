import Hummingbird
import JOSE
import ServiceKit
import TokenService
import WireModels

/// `POST /internal/phantom` (internal calls from `neosec-resource` and `neosec-token` only): the
/// phantom-token pattern — clients hold opaque access tokens (by reference, meaningless if they
/// leak), internal APIs receive a signed JWT with the same claims (by value, verifiable without a
/// call). Body `{"token":"neo_at_…","audience":"…"}`; answer `{"token":"…","expires_in":n}`.
///
/// The JWT is RFC 9068-shaped (`typ: at+jwt`): `iss` the issuer, `sub`, `aud` narrowed to the
/// requested audience, `client_id`, `scope`, `auth_time`/`acr`/`cnf`/`permissions` when the token
/// has them, `iat` now, a new `jti`, and `exp` at most 60 s ahead and never beyond the opaque
/// token's own expiry. It is signed with the Introspection Service's key
/// (`/.well-known/introspection-jwks.json`), so it never verifies against the Token Service's
/// JWKS and cannot be replayed at the introspection endpoint as an access token. An inactive
/// token, or one not meant for `audience`, is `400 invalid_grant`.
struct PhantomTokenEndpoint {
    static let allowedCallers: Set<ServiceName> = [.resource, .token, .uma]
    static let maximumLifetime: Int64 = 60

    let introspector: TokenIntrospector
    let cache: IntrospectionCache
    let keys: KeyRing
    let issuer: String
    let time: any TimeSource
    let limit: Int

    struct Claims: Encodable {
        var iss: String
        var sub: String
        var aud: String
        var exp: Int64
        var iat: Int64
        var jti: String
        var clientID: String
        var scope: String?
        var authTime: Int64?
        var acr: String?
        var cnf: JSONValue?
        var permissions: JSONValue?
        var act: JSONValue?

        enum CodingKeys: String, CodingKey {
            case iss, sub, aud, exp, iat, jti, scope, acr, cnf, permissions, act
            case clientID = "client_id"
            case authTime = "auth_time"
        }
    }

    func register(on group: RouterGroup<NeoSecRequestContext>) {
        group.post("phantom") { request, context in
            guard let caller = context.caller, Self.allowedCallers.contains(caller) else {
                throw OAuthError(.accessDenied, status: .forbidden, description: "caller may not exchange phantom tokens")
            }
            var request = request
            let body = try await request.jsonBody(PhantomTokenRequest.self, limit: limit)
            guard body.token.hasPrefix("neo_at_"), body.token.utf8.count <= 128, Self.isAudience(body.audience) else {
                throw OAuthError.invalidRequest("token must be an opaque access token and audience an absolute URI")
            }
            let asking = IntrospectionCaller(clientID: nil, audiences: [body.audience])
            let result: IntrospectionResult
            do {
                result = try await cache.result(token: body.token, caller: "aud:" + body.audience) { try await introspector.introspect(body.token, caller: asking) }
            } catch {
                context.logger.error("phantom token: introspection failed", metadata: ["error_type": .string(String(reflecting: type(of: error)))])
                throw OAuthError(.temporarilyUnavailable, status: .serviceUnavailable, description: "introspection is unavailable; retry")
            }
            let now = time.epochSeconds
            guard result.active, result.aud?.contains(body.audience) == true, let subject = result.sub, let clientID = result.clientID,
                let tokenExpiry = result.exp, tokenExpiry > now
            else {
                throw OAuthError.invalidGrant("the token is not active for this audience")
            }
            let expiry = min(now + Self.maximumLifetime, tokenExpiry)
            let claims = Claims(
                iss: issuer, sub: subject, aud: body.audience, exp: expiry, iat: now, jti: RandomToken.make(bytes: 16), clientID: clientID,
                scope: result.scope, authTime: result.authTime, acr: result.acr, cnf: result.cnf, permissions: result.permissions, act: result.act
            )
            try await keys.refreshIfStale()
            let token = try await keys.signingKey(.es256).sign(claims, type: "at+jwt")
            context.logger.info("phantom token issued", metadata: ["client_id": .string(clientID)])
            return try Response.json(PhantomTokenResponse(token: token, expiresIn: Int(expiry - now)))
        }
    }

    /// An absolute URI without fragment, whitespace or control characters (RFC 8707 §2).
    static func isAudience(_ value: String) -> Bool {
        guard !value.isEmpty, value.utf8.count <= 2048, value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }), !value.contains("#"),
            let colon = value.firstIndex(of: ":"), colon != value.startIndex
        else { return false }
        return value[..<colon].allSatisfy { $0.isLetter || $0.isNumber || $0 == "+" || $0 == "-" || $0 == "." }
    }
}
