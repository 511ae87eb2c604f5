import Foundation
import JOSE
import ServiceKit
import Storage
import WireModels

/// RFC 6749 §4.3, the resource owner password credentials grant — only for clients registered
/// with `grant_types` containing `password`. RFC 9700 §2.4 says it MUST NOT be used: the client
/// sees the user's password and no second factor can apply. It exists because the seeds list
/// it; the Authentication Service checks the password with its usual throttling, and refuses
/// accounts that have a second factor.
struct PasswordGrant: GrantHandler {
    let grantType = GrantType.password
    let internalClient: InternalClient
    let userTokens: UserTokenIssuer

    func handle(_ request: TokenRequest) async throws -> TokenResponse {
        let client = request.client
        let username = try request.parameters.require("username")
        let password = try request.parameters.require("password")
        guard username.utf8.count <= 256, password.utf8.count <= 1024 else { throw OAuthError.invalidGrant("invalid resource owner credentials") }
        let scopes = try GrantRules.scopes(requested: request.parameters["scope"], allowed: client.scopes)
        let resources = request.parameters.values("resource")
        _ = try GrantRules.audiences(requested: resources.isEmpty ? Array(client.audiences.prefix(1)) : resources, client: client)
        let answer: PasswordVerifyAnswer
        do {
            answer = try await internalClient.post(
                .authn, path: "internal/password/verify", body: PasswordVerifyRequest(username: username, password: password, clientID: client.id),
                as: PasswordVerifyAnswer.self
            )
        } catch {
            throw OAuthError(.temporarilyUnavailable, status: .serviceUnavailable, description: "try again later")
        }
        guard answer.valid, let subject = answer.subject, let authTime = answer.authTime else {
            throw OAuthError.invalidGrant("invalid resource owner credentials")
        }
        let refresh = client.grantTypes.contains(GrantType.refreshToken) && (scopes.contains("offline_access") || client.refreshWithoutOfflineAccess)
        return try await userTokens.issue(
            UserTokenIssuer.Issue(
                client: client, subject: subject, scopes: scopes,
                grant: RefreshGrant(
                    scopes: scopes, resources: resources, authTime: authTime, acr: answer.acr ?? DiscoveryEndpoint.acrValues[0],
                    amr: answer.amr ?? ["pwd"], sessionID: "", refreshCount: 0
                ),
                nonce: nil, parentHash: "password:" + RandomToken.make(bytes: 16), familyID: RandomToken.make(bytes: 16),
                issueRefreshToken: refresh, issueIDToken: scopes.contains("openid"), confirmation: request.confirmation
            )
        )
    }
}
