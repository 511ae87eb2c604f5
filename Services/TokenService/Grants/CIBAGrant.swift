import Foundation
import JOSE
import ServiceKit
import Storage
import WireModels

/// OpenID CIBA §10.1, §11: the client collects the outcome of its backchannel request with
/// `auth_req_id`: `authorization_pending` (or `slow_down` when polling faster than the interval,
/// which then grows by 5 s), `access_denied`, `expired_token`, or the tokens — once. Only the
/// client that made the request may collect it.
struct CIBAGrant: GrantHandler {
    let grantType = GrantType.ciba

    let store: any BackchannelStore
    let userTokens: UserTokenIssuer
    let time: any TimeSource

    func handle(_ request: TokenRequest) async throws -> TokenResponse {
        let client = request.client
        let id = try request.parameters.require("auth_req_id")
        guard id.hasPrefix(BackchannelEndpoint.requestPrefix), id.utf8.count <= 128 else { throw OAuthError.invalidGrant("unknown auth_req_id") }
        let hash = CredentialHash.hex(id)
        let now = time.epochSeconds
        guard let (stored, slowDown) = try await store.poll(authReqHash: hash, now: now), stored.clientID == client.id else {
            throw OAuthError.invalidGrant("unknown auth_req_id")
        }
        guard stored.expiresAt > now else { throw OAuthError(.expiredToken, description: "the request expired; start again") }
        switch stored.status {
        case .pending:
            if slowDown { throw OAuthError(.slowDown, description: "polling too fast: wait interval + 5 seconds") }
            throw OAuthError(.authorizationPending, description: "the user has not decided yet")
        case .denied:
            _ = try await store.consume(authReqHash: hash)
            throw OAuthError(.accessDenied, description: "the user denied the request")
        case .approved:
            guard let json = stored.grantJSON, let login = try? JSONDecoder().decode(PendingAuthorization.Login.self, from: Data(json.utf8)),
                let ask = try? JSONDecoder().decode(BackchannelAsk.self, from: Data(stored.requestJSON.utf8))
            else { throw OAuthError.serverError }
            guard try await store.consume(authReqHash: hash) else { throw OAuthError.invalidGrant("auth_req_id already used") }
            // §7.1: `openid` is always among the scopes, so an ID token always comes with them.
            return try await userTokens.issue(
                client: client, login: login, scopes: ask.scopes, resources: ask.resources, nonce: nil, parentHash: hash, confirmation: request.confirmation
            )
        }
    }
}
