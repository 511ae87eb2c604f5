import ServiceKit
import Storage
import WireModels

/// RFC 7523 §2.1: a JWT from a trusted issuer (`/admin/trusts`) as an authorization grant. The
/// JWT must be signed by one of the issuer's keys, name this token endpoint in `aud` (§3), be
/// within the trust's lifetime, and carry a `jti` not seen before; its `sub` must be one the trust
/// allows. The access token is for that subject, with scopes at most the trust's, the JWT's own
/// `scope` when it has one (a JWT authorization grant of identity chaining), and the client's.
/// Every failure is `invalid_grant` (§3.1). No refresh token: the grant is the assertion.
struct JWTBearerGrant: GrantHandler {
    let grantType = GrantType.jwtBearer

    let tokenEndpoint: String
    let trusts: TrustedIssuers
    let replay: any ReplayStore
    let accessTokens: AccessTokenIssuer

    func handle(_ request: TokenRequest) async throws -> TokenResponse {
        let client = request.client
        let assertion = try request.parameters.require("assertion")
        let verified: TrustedIssuers.Verified
        do {
            verified = try await trusts.verify(assertion, audiences: [tokenEndpoint], clientID: client.id, replay: replay, replayScope: "jwt-bearer")
        } catch let failure as TrustFailure {
            throw OAuthError.invalidGrant(failure.reason)
        }
        let claims = verified.claims
        let asserted = claims.scope.flatMap(ScopeSet.parse)
        let allowed = client.scopes.filter { verified.trust.scopes.contains($0) && (asserted?.contains($0) ?? true) }
        let scopes = try GrantRules.scopes(requested: request.parameters["scope"], allowed: allowed)
        let audiences = try GrantRules.audiences(requested: request.parameters.values("resource"), client: client)
        let issued = try await accessTokens.issue(
            client: client, subject: claims.sub, scopes: scopes, audiences: audiences, authTime: claims.authTime, acr: claims.acr,
            confirmation: request.confirmation, act: TrustedIssuers.qualify(claims.act, issuer: claims.iss)
        )
        return TokenResponse(accessToken: issued.token, tokenType: request.tokenType, expiresIn: issued.expiresIn, scope: scopes.isEmpty ? nil : scopes.joined(separator: " "))
    }
}
