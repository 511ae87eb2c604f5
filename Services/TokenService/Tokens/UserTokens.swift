import Crypto
import Foundation
import JOSE
import ServiceKit
import Storage
import WireModels

/// OpenID Connect Core §2 ID token claims.
struct IDTokenClaims: JOSEClaims, Equatable {
    var iss: String
    var sub: String
    var aud: String
    var exp: Int64
    var iat: Int64
    var authTime: Int64?
    var nonce: String?
    var acr: String?
    var amr: [String]?
    var azp: String?
    var sid: String?
    var atHash: String?

    enum CodingKeys: String, CodingKey {
        case iss, sub, aud, exp, iat, nonce, acr, amr, azp, sid
        case authTime = "auth_time"
        case atHash = "at_hash"
    }
}

/// What a refresh token stands for (stored as the token row's claims JSON).
struct RefreshGrant: Codable, Sendable, Equatable {
    var scopes: [String]
    var resources: [String]
    var authTime: Int64
    var acr: String
    var amr: [String]
    var sessionID: String
    /// How many times this family was refreshed (seed 000's `refresh_count`).
    var refreshCount: Int
    /// RFC 9449 §5: the DPoP key a public client's refresh token is bound to; every refresh
    /// must then come with a proof by that key.
    var jkt: String? = nil
}

/// Everything a user-bound grant (authorization code, refresh) issues: an access token that is
/// recorded so that it can be revoked with its family, a rotating refresh token, an ID token.
struct UserTokenIssuer: Sendable {
    static let refreshPrefix = "neo_rt_"
    static let idTokenLifetime: Int64 = 600

    let issuer: String
    let accessTokens: AccessTokenIssuer
    let keys: KeyRing
    let tokens: any TokenStore
    let time: any TimeSource

    var userinfoAudience: String { issuer + UserinfoEndpoint.path }

    /// The access token's audiences: the requested resources (or the client's default one),
    /// plus the userinfo endpoint when `openid` was granted.
    func audiences(resources: [String], scopes: [String], client: RegisteredClient) throws(OAuthError) -> [String] {
        var audiences = resources.isEmpty ? Array(client.audiences.prefix(1)) : resources
        if scopes.contains("openid") && !audiences.contains(userinfoAudience) { audiences.append(userinfoAudience) }
        guard !audiences.isEmpty else { throw OAuthError(.invalidTarget, description: "no resource requested and the client has no default audience") }
        return audiences
    }

    struct Issue: Sendable {
        var client: RegisteredClient
        var subject: String
        /// Scopes of the access token (may be narrower than the grant's on refresh).
        var scopes: [String]
        var grant: RefreshGrant
        var nonce: String?
        /// The credential this issue came from (code hash, previous refresh token hash).
        var parentHash: String
        /// Refresh family; a new one for a code.
        var familyID: String
        var issueRefreshToken: Bool
        var issueIDToken: Bool
        /// The DPoP key of the request's proof and/or its client certificate: the access token
        /// is bound to them.
        var confirmation: Confirmation? = nil
    }

    func issue(_ issue: Issue) async throws -> TokenResponse {
        let client = issue.client
        let audiences = try audiences(resources: issue.grant.resources, scopes: issue.scopes, client: client)
        let sessionID = issue.grant.sessionID.isEmpty ? nil : issue.grant.sessionID
        let access = try await accessTokens.issue(
            client: client, subject: issue.subject, scopes: issue.scopes, audiences: audiences, authTime: issue.grant.authTime,
            acr: issue.grant.acr, record: AccessTokenIssuer.Record(familyID: issue.familyID, parentHash: issue.parentHash, sessionID: sessionID),
            confirmation: issue.confirmation
        )
        var response = TokenResponse(
            accessToken: access.token, tokenType: issue.confirmation?.jkt == nil ? "Bearer" : "DPoP", expiresIn: access.expiresIn,
            scope: issue.scopes.isEmpty ? nil : issue.scopes.joined(separator: " ")
        )
        let now = time.epochSeconds
        if issue.issueRefreshToken {
            let refresh = Self.refreshPrefix + RandomToken.make(bytes: 32)
            let lifetime = client.refreshTokenLifetime
            var grant = issue.grant
            // A public client's refresh token is bound to the DPoP key of the request that got it
            // (kept across rotations); a confidential client's is bound by client authentication.
            if client.isPublic, grant.jkt == nil { grant.jkt = issue.confirmation?.jkt }
            let claims = String(decoding: try JSONEncoder().encode(grant), as: UTF8.self)
            try await tokens.insert(
                IssuedToken(
                    hash: CredentialHash.hex(refresh), kind: .refresh, clientID: client.id, subject: issue.subject,
                    scope: issue.grant.scopes.joined(separator: " "), audience: audiences.joined(separator: " "), issuedAt: now,
                    expiresAt: now + Int64(lifetime), familyID: issue.familyID, parentHash: issue.parentHash, claimsJSON: claims,
                    sessionID: sessionID
                )
            )
            response.refreshToken = refresh
            response.refreshTokenExpiresIn = lifetime
            response.refreshTokenIssuedAt = now
            response.refreshCount = issue.grant.refreshCount
        }
        if issue.issueIDToken {
            let algorithm = client.idTokenAlgorithm
            let claims = IDTokenClaims(
                iss: issuer, sub: issue.subject, aud: client.id, exp: now + Self.idTokenLifetime, iat: now, authTime: issue.grant.authTime,
                nonce: issue.nonce, acr: issue.grant.acr, amr: issue.grant.amr.isEmpty ? nil : issue.grant.amr, azp: client.id,
                sid: issue.grant.sessionID.isEmpty ? nil : issue.grant.sessionID, atHash: Self.leftHalfHash(access.token, algorithm: algorithm)
            )
            response.idToken = try await keys.signingKey(algorithm).sign(claims, type: "JWT")
        }
        return response
    }

    /// The tokens of a signed-in user's grant (a code, a device authorization, a backchannel
    /// request): an access token; a refresh token when the client is registered for refresh and
    /// `offline_access` was granted (or the client may refresh without it); an ID token with `openid`.
    func issue(
        client: RegisteredClient, login: PendingAuthorization.Login, scopes: [String], resources: [String], nonce: String?, parentHash: String,
        confirmation: Confirmation?
    ) async throws -> TokenResponse {
        let refresh = client.grantTypes.contains(GrantType.refreshToken) && (scopes.contains("offline_access") || client.refreshWithoutOfflineAccess)
        return try await issue(
            Issue(
                client: client, subject: login.subject, scopes: scopes,
                grant: RefreshGrant(
                    scopes: scopes, resources: resources, authTime: login.authTime, acr: login.acr, amr: login.amr, sessionID: login.sessionID,
                    refreshCount: 0
                ),
                nonce: nonce, parentHash: parentHash, familyID: RandomToken.make(bytes: 16), issueRefreshToken: refresh,
                issueIDToken: scopes.contains("openid"), confirmation: confirmation
            )
        )
    }

    /// OpenID Connect Core §3.1.3.6 `at_hash` (and §3.3.2.11 `c_hash`): base64url of the left
    /// half of the hash of the ASCII value, with the hash of the signing algorithm — SHA-256 for
    /// RS256 and ES256, SHA-512 for EdDSA over Ed25519.
    static func leftHalfHash(_ value: String, algorithm: SigningAlgorithm) -> String {
        let bytes = Array(value.utf8)
        switch algorithm {
        case .edDSA:
            let digest = Array(SHA512.hash(data: bytes))
            return Base64URL.encode(digest.prefix(digest.count / 2))
        default:
            let digest = Array(SHA256.hash(data: bytes))
            return Base64URL.encode(digest.prefix(digest.count / 2))
        }
    }
}
