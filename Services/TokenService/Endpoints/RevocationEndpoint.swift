import Foundation
import HTTPTypes
import Hummingbird
import JOSE
import ServiceKit
import Storage

/// `POST /oauth2/revoke` (RFC 7009). The client authenticates as at the token endpoint; the
/// answer is 200 whether or not the token was known (§2.2), and revoking another client's token
/// changes nothing. A storage failure is 503 (§2.2.1 `temporarily_unavailable` semantics), never
/// a false 200.
///
/// Opaque tokens are marked revoked by hash. A JWT access token signed by us for this client is
/// recorded as revoked under the hash of its `jti`, so introspection refuses it until it expires.
struct RevocationEndpoint {
    static let path = "/oauth2/revoke"

    let authenticator: ClientAuthenticator
    let tokens: any TokenStore
    let keys: KeyRing
    let time: any TimeSource
    let bodyLimit: Int

    func register(on router: Router<NeoSecRequestContext>) {
        router.post(RouterPath(stringLiteral: Self.path)) { request, context in
            var request = request
            let form = try await request.formParameters(limit: bodyLimit)
            let client = try await authenticator.authenticate(request, form: form)
            // `token_type_hint` is only a hint (§2.1): every supported type is searched anyway.
            let token = try form.require("token")
            do {
                try await revoke(token, client: client)
            } catch {
                context.logger.error("revocation failed", metadata: ["error_type": .string(String(reflecting: type(of: error)))])
                throw OAuthError(.temporarilyUnavailable, status: .serviceUnavailable, description: "revocation could not be recorded; retry")
            }
            return Response(status: .ok, headers: [.cacheControl: "no-store"])
        }
    }

    func revoke(_ token: String, client: RegisteredClient) async throws {
        // RFC 8693: what was exchanged from a revoked token is revoked with it, hop after hop.
        if token.hasPrefix(AccessTokenIssuer.opaquePrefix) {
            let hash = CredentialHash.hex(token)
            if try await tokens.revoke(hash: hash, clientID: client.id) {
                try await tokens.revokeIssued(from: hash)
            }
            return
        }
        // §2.1: revoking a refresh token also invalidates the access tokens of the same grant —
        // here, its whole rotation family.
        if token.hasPrefix(UserTokenIssuer.refreshPrefix) {
            guard token.utf8.count <= 128, let stored = try await tokens.find(hash: CredentialHash.hex(token)), stored.kind == .refresh,
                stored.clientID == client.id
            else { return }
            if let family = stored.familyID {
                try await tokens.revokeFamily(family)
            } else if try await tokens.revoke(hash: stored.hash, clientID: client.id) {
                try await tokens.revokeIssued(from: stored.hash)
            }
            return
        }
        // A JWT: only ours, only for this client, only while it is alive.
        guard let verified = try? await JWS.verify(token, as: AccessTokenClaims.self, keys: keys.verificationKeys, type: AccessTokenIssuer.jwtType).claims,
            verified.clientID == client.id
        else { return }
        let now = time.epochSeconds
        guard verified.exp > now else { return }
        let hash = AccessTokenIssuer.jwtRecordHash(jti: verified.jti)
        try await tokens.recordRevokedJWT(
            IssuedToken(
                hash: hash, kind: .access, clientID: client.id, subject: verified.sub,
                scope: verified.scope ?? "", audience: verified.aud.values.joined(separator: " "), issuedAt: verified.iat,
                expiresAt: verified.exp, revoked: true
            )
        )
        try await tokens.revokeIssued(from: hash)
    }
}
