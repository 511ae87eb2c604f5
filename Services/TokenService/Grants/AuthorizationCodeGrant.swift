import Foundation
import JOSE
import ServiceKit
import Storage
import WireModels

/// RFC 6749 §4.1.3 with RFC 7636 §4.5–4.6 and OpenID Connect Core §3.1.3: a one-time code,
/// bound to the client, the redirect URI and the PKCE challenge, for an access token, a
/// refresh token (with `offline_access`, or for clients configured so) and an ID token.
///
/// A code presented a second time fails, and every token issued from it is revoked
/// (RFC 6749 §4.1.2, RFC 9700 §4.5).
struct AuthorizationCodeGrant: GrantHandler {
    let grantType = GrantType.authorizationCode
    let store: any AuthorizationStore
    let tokens: any TokenStore
    let userTokens: UserTokenIssuer
    /// Where a replay leaves its mark, so that a redemption still issuing when the replay
    /// arrives revokes what it issued (see `replayed(_:)`).
    let replay: any ReplayStore
    let time: any TimeSource

    func handle(_ request: TokenRequest) async throws -> TokenResponse {
        let client = request.client
        let code = try request.parameters.require("code")
        guard code.hasPrefix(AuthorizationFlow.codePrefix), code.utf8.count <= 128 else { throw OAuthError.invalidGrant("unknown code") }
        let hash = CredentialHash.hex(code)
        guard let stored = try await store.findCode(hash: hash) else { throw OAuthError.invalidGrant("unknown code") }
        if stored.used {
            try await replayed(stored)
            throw OAuthError.invalidGrant("code already used; tokens issued from it are revoked")
        }
        guard stored.clientID == client.id else { throw OAuthError.invalidGrant("code was issued to another client") }
        guard stored.expiresAt > time.epochSeconds else { throw OAuthError.invalidGrant("code expired") }
        let grant: CodeGrant = try AuthorizationFlow.decode(stored.payload)
        let pending = grant.request

        // RFC 6749 §4.1.3: redirect_uri identical to the authorization request's, when it had one.
        let redirectURI = request.parameters["redirect_uri"]
        if pending.redirectURIGiven || redirectURI != nil {
            guard redirectURI == pending.redirectURI else { throw OAuthError.invalidGrant("redirect_uri does not match the authorization request") }
        }
        // RFC 7636 §4.6; RFC 9700 §2.1.1: a verifier without a challenge is a downgrade attempt.
        switch (pending.codeChallenge, request.parameters["code_verifier"]) {
        case (let challenge?, let verifier?):
            guard PKCE.verify(verifier: verifier, challenge: challenge) else { throw OAuthError.invalidGrant("PKCE verification failed") }
        case (.some, nil):
            throw OAuthError.invalidGrant("code_verifier required")
        case (nil, .some):
            throw OAuthError.invalidGrant("code_verifier sent but the authorization request had no code_challenge")
        case (nil, nil):
            guard !client.requiresPKCE else { throw OAuthError.invalidGrant("PKCE required") }
        }
        guard let login = pending.login else { throw OAuthError.serverError }

        guard try await store.consumeCode(hash: hash) else {
            // Lost a race with another redemption of the same code: that is a replay too.
            try await replayed(stored)
            throw OAuthError.invalidGrant("code already used; tokens issued from it are revoked")
        }
        let response = try await userTokens.issue(
            client: client, login: login, scopes: grant.grantedScopes, resources: pending.resources, nonce: pending.nonce, parentHash: hash,
            confirmation: request.confirmation
        )
        // RFC 6749 §4.1.2: a replay revokes what the code gave. One that arrived while these
        // tokens were being stored revoked nothing yet: it left its mark, so they go now.
        guard try await replay.claim(scope: Self.replayScope, id: hash, expiresAt: stored.expiresAt + Self.markLifetime, now: time.epochSeconds) else {
            try await tokens.revokeIssued(from: hash)
            throw OAuthError.invalidGrant("code already used; tokens issued from it are revoked")
        }
        return response
    }

    static let replayScope = "code-redemption"
    /// Longer than any redemption can take: a mark outlives the code by this much.
    static let markLifetime: Int64 = 300

    /// A replayed code: mark it first, then revoke. A redemption whose tokens are stored after
    /// the revocation finds the mark when it claims it last, and revokes its own tokens.
    private func replayed(_ stored: StoredCode) async throws {
        _ = try await replay.claim(scope: Self.replayScope, id: stored.hash, expiresAt: stored.expiresAt + Self.markLifetime, now: time.epochSeconds)
        try await tokens.revokeIssued(from: stored.hash)
    }
}
