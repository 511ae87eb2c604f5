import ServiceKit
import WireModels

/// RFC 6749 §4.4: a confidential client gets a token for itself. No refresh token (§4.4.3).
struct ClientCredentialsGrant: GrantHandler {
    let grantType = GrantType.clientCredentials
    let accessTokens: AccessTokenIssuer

    func handle(_ request: TokenRequest) async throws -> TokenResponse {
        let client = request.client
        guard !client.isPublic else { throw OAuthError(.unauthorizedClient, description: "public clients cannot use client_credentials") }
        let scopes = try GrantRules.scopes(requested: request.parameters["scope"], allowed: client.scopes)
        let audiences = try GrantRules.audiences(requested: request.parameters.values("resource"), client: client)
        let issued = try await accessTokens.issue(client: client, subject: client.id, scopes: scopes, audiences: audiences, confirmation: request.confirmation)
        return TokenResponse(accessToken: issued.token, tokenType: request.tokenType, expiresIn: issued.expiresIn, scope: ScopeSet.format(scopes))
    }
}
