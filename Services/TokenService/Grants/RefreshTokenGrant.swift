import Foundation
import JOSE
import ServiceKit
import Storage
import WireModels

/// RFC 6749 §6 with rotation (RFC 9700 §4.14.2): every use retires the presented refresh
/// token and issues a successor in the same family. Presenting a retired token again is taken
/// as theft: the whole family (refresh and access tokens) is revoked. Scope may only narrow;
/// the new refresh token keeps the original grant's scope (§6).
struct RefreshTokenGrant: GrantHandler {
    let grantType = GrantType.refreshToken
    let tokens: any TokenStore
    let subjectRevocations: any SubjectRevocationStore
    let userTokens: UserTokenIssuer
    /// Where reuse detection leaves its mark on a family, so that a rotation in flight at that
    /// moment revokes the successor it stored (see `familyReused`).
    let replay: any ReplayStore
    let time: any TimeSource

    func handle(_ request: TokenRequest) async throws -> TokenResponse {
        let client = request.client
        let presented = try request.parameters.require("refresh_token")
        guard presented.hasPrefix(UserTokenIssuer.refreshPrefix), presented.utf8.count <= 128 else { throw OAuthError.invalidGrant("unknown refresh token") }
        let hash = CredentialHash.hex(presented)
        guard let stored = try await tokens.find(hash: hash), stored.kind == .refresh else { throw OAuthError.invalidGrant("unknown refresh token") }
        // Another client's token: refused, and nothing changes for its owner.
        guard stored.clientID == client.id else { throw OAuthError.invalidGrant("refresh token was issued to another client") }
        let now = time.epochSeconds
        guard stored.expiresAt > now else { throw OAuthError.invalidGrant("refresh token expired") }
        if let notBefore = try await subjectRevocations.notBefore(subject: stored.subject, clientID: client.id), stored.issuedAt <= notBefore {
            throw OAuthError.invalidGrant("refresh token revoked")
        }
        guard let family = stored.familyID, let claims = stored.claimsJSON else { throw OAuthError.serverError }
        let grant: RefreshGrant = try AuthorizationFlow.decode(claims)

        // RFC 9700 §4.14.2: presenting a rotated or revoked refresh token is the breach signal,
        // whatever else is wrong with the request (a wider scope, a missing DPoP proof).
        if stored.revoked {
            try await familyReused(family)
            throw OAuthError.invalidGrant("refresh token already used or revoked; its family is revoked")
        }
        // RFC 9449 §5: a DPoP-bound refresh token is only usable with a proof by its key.
        if let bound = grant.jkt {
            guard let presentedKey = request.dpopJKT, ConstantTime.equals(Array(presentedKey.utf8), Array(bound.utf8)) else {
                throw OAuthError(.invalidDPoPProof, description: "this refresh token is bound to a DPoP key: send a proof signed with it")
            }
        }
        var scopes = grant.scopes
        if let requested = request.parameters["scope"] {
            guard let parsed = ScopeSet.parse(requested), !parsed.isEmpty else { throw OAuthError.invalidScope("malformed scope") }
            guard parsed.allSatisfy(grant.scopes.contains) else { throw OAuthError.invalidScope("scope exceeds the original grant") }
            scopes = parsed
        }
        guard try await tokens.retireRefreshToken(hash: hash) != nil else {
            // Lost the race with a concurrent use of the same token: reuse.
            try await familyReused(family)
            throw OAuthError.invalidGrant("refresh token already used or revoked; its family is revoked")
        }
        var next = grant
        next.refreshCount += 1
        let response = try await userTokens.issue(
            UserTokenIssuer.Issue(
                client: client, subject: stored.subject, scopes: scopes, grant: next, nonce: nil, parentHash: hash, familyID: family,
                issueRefreshToken: true, issueIDToken: scopes.contains("openid"), confirmation: request.confirmation
            )
        )
        // A reuse detected while the successor was being stored revoked the family without it.
        if try await replay.isClaimed(scope: Self.reuseScope, id: family, now: time.epochSeconds) {
            try await tokens.revokeFamily(family)
            throw OAuthError.invalidGrant("refresh token family revoked meanwhile")
        }
        return response
    }

    static let reuseScope = "refresh-family-reused"
    /// How long the mark stays: longer than any rotation takes; after it, every token of the
    /// family is revoked in the store itself.
    static let markLifetime: Int64 = 300

    /// RFC 9700 §4.14.2 reuse: mark the family, then revoke it. A rotation that stored its
    /// successor after the revocation finds the mark and revokes the family again.
    private func familyReused(_ family: String) async throws {
        let now = time.epochSeconds
        _ = try await replay.claim(scope: Self.reuseScope, id: family, expiresAt: now + Self.markLifetime, now: now)
        try await tokens.revokeFamily(family)
    }
}
