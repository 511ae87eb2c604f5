import Foundation
import JOSE
import ServiceKit
import Storage
import WireModels

/// RFC 8628 §3.4, §3.5: the device polls with its `device_code`. Pending: `authorization_pending`,
/// or `slow_down` when it polls faster than the interval (which then grows by 5 s); denied:
/// `access_denied`; past its lifetime: `expired_token`; approved: the tokens, once — the
/// authorization is consumed by the poll that gets them. Only the client that started it may poll.
struct DeviceCodeGrant: GrantHandler {
    let grantType = GrantType.deviceCode

    let devices: any DeviceAuthorizationStore
    let userTokens: UserTokenIssuer
    let time: any TimeSource

    func handle(_ request: TokenRequest) async throws -> TokenResponse {
        let client = request.client
        let code = try request.parameters.require("device_code")
        guard code.hasPrefix(DeviceAuthorizationEndpoint.devicePrefix), code.utf8.count <= 128 else { throw OAuthError.invalidGrant("unknown device_code") }
        let hash = CredentialHash.hex(code)
        let now = time.epochSeconds
        guard let (authorization, slowDown) = try await devices.poll(deviceCodeHash: hash, now: now) else { throw OAuthError.invalidGrant("unknown device_code") }
        guard authorization.clientID == client.id else { throw OAuthError.invalidGrant("device_code was issued to another client") }
        guard authorization.expiresAt > now else { throw OAuthError(.expiredToken, description: "the device code expired; start again") }
        switch authorization.status {
        case .pending:
            if slowDown { throw OAuthError(.slowDown, description: "polling too fast: wait interval + 5 seconds") }
            throw OAuthError(.authorizationPending, description: "the user has not decided yet")
        case .denied:
            _ = try await devices.consume(deviceCodeHash: hash)
            throw OAuthError(.accessDenied, description: "the user denied the request")
        case .approved:
            guard let json = authorization.grantJSON, let grant = try? JSONDecoder().decode(CodeGrant.self, from: Data(json.utf8)),
                let login = grant.request.login
            else { throw OAuthError.serverError }
            guard try await devices.consume(deviceCodeHash: hash) else { throw OAuthError.invalidGrant("device_code already used") }
            return try await userTokens.issue(
                client: client, login: login, scopes: grant.grantedScopes, resources: grant.request.resources, nonce: nil, parentHash: hash,
                confirmation: request.confirmation
            )
        }
    }
}
