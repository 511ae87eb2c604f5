import Foundation
import HTTPTypes
import Hummingbird
import JOSE
import ServiceKit
import Storage
import WireModels

/// `GET|POST /oauth2/userinfo` (OpenID Connect Core §5.3): the claims the access token's scopes
/// release (§5.4), fetched from the Authentication Service by internal call. The token comes
/// in the `Authorization: Bearer` header, or for POST in the form body (RFC 6750 §2.2) — never
/// the query string. Errors are RFC 6750 §3 challenges.
struct UserinfoEndpoint {
    static let path = "/oauth2/userinfo"
    static let realm = "neosec"

    /// OpenID Connect Core §5.4: the claims each scope releases.
    static let claimsByScope: [String: [String]] = [
        "profile": [
            "name", "family_name", "given_name", "middle_name", "nickname", "preferred_username", "profile", "picture", "website",
            "gender", "birthdate", "zoneinfo", "locale", "updated_at",
        ],
        "email": ["email", "email_verified"],
        "address": ["address"],
        "phone": ["phone_number", "phone_number_verified"],
    ]

    let verifier: UserinfoTokenVerifier
    let internalClient: InternalClient
    let bodyLimit: Int
    /// RFC 9449 §7 for DPoP-bound tokens; `url` is this endpoint's public URL (`htu`).
    let dpop: DPoPChecker
    let url: String

    func register(on router: Router<NeoSecRequestContext>) {
        router.get(RouterPath(stringLiteral: Self.path)) { request, context in
            try await answer(try Self.bearer(request, form: nil), request: request, context: context)
        }
        router.post(RouterPath(stringLiteral: Self.path)) { request, context in
            var request = request
            var form: FormParameters?
            if request.mediaType == "application/x-www-form-urlencoded" {
                form = try await request.formParameters(limit: bodyLimit)
            }
            return try await answer(try Self.bearer(request, form: form), request: request, context: context)
        }
    }

    func answer(_ presented: (token: String, dpop: Bool), request: Request, context: NeoSecRequestContext) async throws -> Response {
        let token = presented.token
        let verified: UserinfoToken
        do {
            verified = try await verifier.verify(token, audience: verifier.userinfoAudience)
        } catch {
            throw OAuthError.invalidToken("the access token is invalid, expired or revoked", realm: Self.realm)
        }
        if let jkt = verified.jkt {
            guard presented.dpop else { throw OAuthError.invalidToken("the access token is DPoP-bound: use the DPoP scheme with a proof", realm: Self.realm, scheme: "DPoP") }
            let thumbprint = try await dpop.check(request, uri: url, accessToken: token)
            guard ConstantTime.equals(Array(thumbprint.utf8), Array(jkt.utf8)) else {
                throw OAuthError(.invalidDPoPProof, status: .unauthorized, description: "the DPoP proof is signed by another key than the token is bound to", challenge: .init(scheme: "DPoP", realm: Self.realm, algs: DPoPChecker.algorithmList))
            }
        } else if presented.dpop {
            throw OAuthError.invalidToken("the access token is not DPoP-bound: use the Bearer scheme", realm: Self.realm, scheme: "DPoP")
        }
        guard verified.scopes.contains("openid") else {
            throw OAuthError(
                .insufficientScope, status: .forbidden, description: "the openid scope is required",
                challenge: OAuthError.Challenge(scheme: "Bearer", realm: Self.realm)
            )
        }
        let stored: UserClaims
        do {
            stored = try await internalClient.post(.authn, path: "internal/userinfo", body: SubjectRef(subject: verified.subject), as: UserClaims.self)
        } catch {
            context.logger.error("userinfo: authentication service unavailable")
            throw OAuthError(.temporarilyUnavailable, status: .serviceUnavailable, description: "try again later")
        }
        guard stored.found else { throw OAuthError.invalidToken("the user no longer exists", realm: Self.realm) }
        var released: [String: ClaimValue] = ["sub": .string(verified.subject)]
        for scope in verified.scopes {
            for claim in Self.claimsByScope[scope] ?? [] {
                if let value = stored.claims[claim] { released[claim] = value }
            }
        }
        return try Response.json(released)
    }

    /// RFC 6750 §2.1 header or §2.2 body, exactly one of them; §2.3 query tokens are refused.
    static func bearer(_ request: Request, form: FormParameters?) throws -> (token: String, dpop: Bool) {
        let header = request.headers[.authorization]
        let body = form?["access_token"]
        if request.uri.queryParameters["access_token"] != nil {
            throw OAuthError(.invalidRequest, status: .badRequest, description: "access tokens in the query string are not accepted", challenge: .init(scheme: "Bearer", realm: realm))
        }
        switch (header, body) {
        case (let header?, nil):
            let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            let scheme = parts.first?.lowercased()
            guard parts.count == 2, scheme == "bearer" || scheme == "dpop", !parts[1].isEmpty else {
                throw OAuthError.invalidToken("malformed Authorization header", realm: realm)
            }
            return (String(parts[1]), scheme == "dpop")
        case (nil, let body?):
            return (body, false)
        case (nil, nil):
            throw OAuthError.missingToken(realm: realm)
        case (.some, .some):
            throw OAuthError(.invalidRequest, status: .badRequest, description: "use exactly one method to send the token", challenge: .init(scheme: "Bearer", realm: realm))
        }
    }
}

/// An access token this server issued, checked: signature or store, expiry, revocation.
struct UserinfoToken: Sendable {
    let subject: String
    let clientID: String
    let scopes: [String]
    let audiences: [String]
    /// RFC 9449 `cnf.jkt` of a DPoP-bound token.
    let jkt: String?
}

/// Verifies access tokens issued by this Token Service (for userinfo; the Introspection
/// Service does the same for resource servers).
struct UserinfoTokenVerifier: Sendable {
    let keys: KeyRing
    let tokens: any TokenStore
    let subjectRevocations: any SubjectRevocationStore
    let time: any TimeSource
    let userinfoAudience: String

    struct Invalid: Error {}

    func verify(_ token: String, audience: String) async throws -> UserinfoToken {
        let now = time.epochSeconds
        let result: UserinfoToken
        let issuedAt: Int64
        if token.hasPrefix(AccessTokenIssuer.opaquePrefix) {
            guard token.utf8.count <= 128, let stored = try await tokens.find(hash: CredentialHash.hex(token)), stored.kind == .access,
                !stored.revoked, stored.expiresAt > now
            else { throw Invalid() }
            issuedAt = stored.issuedAt
            result = UserinfoToken(
                subject: stored.subject, clientID: stored.clientID, scopes: stored.scope.split(separator: " ").map(String.init),
                audiences: stored.audience.split(separator: " ").map(String.init), jkt: Self.jkt(stored.claimsJSON)
            )
        } else {
            guard let claims = try? await JWS.verify(token, as: AccessTokenClaims.self, keys: keys.verificationKeys, type: AccessTokenIssuer.jwtType).claims,
                claims.exp > now, claims.iat <= now + 60
            else { throw Invalid() }
            if let record = try await tokens.find(hash: AccessTokenIssuer.jwtRecordHash(jti: claims.jti)), record.revoked { throw Invalid() }
            issuedAt = claims.iat
            result = UserinfoToken(
                subject: claims.sub, clientID: claims.clientID, scopes: (claims.scope ?? "").split(separator: " ").map(String.init),
                audiences: claims.aud.values, jkt: claims.cnf?.jkt
            )
        }
        guard result.audiences.contains(audience) else { throw Invalid() }
        if let notBefore = try await subjectRevocations.notBefore(subject: result.subject, clientID: result.clientID), issuedAt <= notBefore {
            throw Invalid()
        }
        return result
    }

    /// `cnf.jkt` from a token row's extra claims.
    static func jkt(_ claimsJSON: String?) -> String? {
        guard let claimsJSON, let object = try? JSONSerialization.jsonObject(with: Data(claimsJSON.utf8)) as? [String: Any],
            let cnf = object["cnf"] as? [String: Any]
        else { return nil }
        return cnf["jkt"] as? String
    }
}
