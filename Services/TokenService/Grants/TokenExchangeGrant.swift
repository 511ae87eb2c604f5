import Foundation
import JOSE
import ServiceKit
import Storage
import WireModels

/// RFC 8693 §3 token type identifiers.
enum TokenTypeURI {
    static let accessToken = "urn:ietf:params:oauth:token-type:access_token"
    static let refreshToken = "urn:ietf:params:oauth:token-type:refresh_token"
    static let idToken = "urn:ietf:params:oauth:token-type:id_token"
    static let jwt = "urn:ietf:params:oauth:token-type:jwt"
}

/// A subject or actor token of a token exchange, verified.
struct PresentedToken: Sendable {
    var subject: String
    var issuer: String
    /// The client it was issued to (our tokens only).
    var clientID: String?
    /// The authorization it carries; nil for an ID token, which carries none.
    var scopes: [String]?
    var expiresAt: Int64
    /// The key under which revoking it reaches what is exchanged from it.
    var parentHash: String
    var authTime: Int64?
    var acr: String?
    var act: JSONValue?
    var mayAct: JSONValue?
    var cnf: JSONValue?
    var isRPT: Bool
}

/// RFC 8693 token exchange at the token endpoint.
///
/// - Subject tokens: our access tokens (opaque or JWT) held by the client they were issued to or
///   meant for one of the audiences the client serves (its `introspection_audiences`); our refresh
///   tokens, by their own client only; our ID tokens issued to this client (they carry identity,
///   no scope); JWTs of a trusted issuer (`/admin/trusts`, `aud` = this token endpoint or issuer,
///   `jti` single use). Actor tokens the same, ours only when issued to the exchanging client.
///   A sender-constrained token is exchanged only with proof of its key (DPoP or the certificate).
///   UMA RPTs are never exchanged. Every failure of a subject or actor token is `invalid_request`
///   (§2.2.2).
/// - Delegation: the new token's `act` names the actor (the actor token's subject, or the
///   exchanging client when there is none) with the subject token's own `act` nested inside
///   (§4.1). A `may_act` in the subject token must name that actor (§4.4). Impersonation (no
///   `act`) only for a client registered with `token_exchange_impersonation`, and only without an
///   actor token.
/// - Scope never widens: at most the subject token's scopes, within the client's. `audience` and
///   `resource` must be among the client's `allowed_audiences` (`invalid_target`).
/// - `requested_token_type`: `access_token` (default; the client's format, never outliving the
///   subject token, recorded with the subject token as parent so that revoking it revokes this)
///   or `jwt`: a JWT authorization grant (`typ: JWT`, ≤ 300 s, one audience) for another
///   authorization server's RFC 7523 grant — the cross-domain chaining of
///   draft-ietf-oauth-identity-chaining.
struct TokenExchangeGrant: GrantHandler {
    let grantType = GrantType.tokenExchange
    static let maximumActDepth = 8
    static let authorizationGrantLifetime: Int64 = 300

    let issuer: String
    let tokenEndpoint: String
    let introspector: TokenIntrospector
    let trusts: TrustedIssuers
    let replay: any ReplayStore
    let accessTokens: AccessTokenIssuer
    let keys: KeyRing
    let time: any TimeSource

    func handle(_ request: TokenRequest) async throws -> TokenResponse {
        let client = request.client
        let parameters = request.parameters
        let subject = try await resolve(
            try parameters.require("subject_token"), type: try parameters.require("subject_token_type"), role: "subject_token", request: request
        )
        var actor: PresentedToken?
        switch (parameters["actor_token"], parameters["actor_token_type"]) {
        case (let token?, let type?):
            let resolved = try await resolve(token, type: type, role: "actor_token", request: request)
            if resolved.issuer == issuer, resolved.clientID != client.id {
                throw OAuthError.invalidRequest("actor_token was issued to another client")
            }
            actor = resolved
        case (nil, nil): break
        default: throw OAuthError.invalidRequest("actor_token and actor_token_type go together")
        }
        guard !subject.isRPT, actor?.isRPT != true else { throw OAuthError.invalidRequest("UMA RPTs cannot be exchanged") }

        // Who acts, and what the new token says about it.
        let impersonation = actor == nil && client.allowsImpersonation
        let actingSubject = actor?.subject ?? client.id
        let actingIssuer = actor?.issuer ?? issuer
        if let mayAct = subject.mayAct, !Self.permits(mayAct, subject: actingSubject, issuer: actingIssuer, clientID: client.id) {
            throw OAuthError.invalidRequest("the subject token's may_act does not name this actor")
        }
        var act = subject.act
        if !impersonation {
            var object: [String: JSONValue] = ["sub": .string(actingSubject)]
            if actingIssuer != issuer { object["iss"] = .string(actingIssuer) }
            if let prior = subject.act { object["act"] = prior }
            act = .object(object)
            guard Self.depth(of: act) <= Self.maximumActDepth else { throw OAuthError.invalidRequest("delegation chain is too long") }
        }

        let scopes = try GrantRules.scopes(requested: parameters["scope"], allowed: (subject.scopes ?? []).filter(client.scopes.contains))
        let audiences = try Self.targets(audience: parameters.values("audience"), resource: parameters.values("resource"), client: client)
        let now = time.epochSeconds
        let scope = scopes.isEmpty ? nil : scopes.joined(separator: " ")

        switch parameters["requested_token_type"] ?? TokenTypeURI.accessToken {
        case TokenTypeURI.accessToken:
            let issued = try await accessTokens.issue(
                client: client, subject: subject.subject, scopes: scopes, audiences: audiences, authTime: subject.authTime, acr: subject.acr,
                record: AccessTokenIssuer.Record(familyID: nil, parentHash: subject.parentHash), confirmation: request.confirmation, act: act,
                notAfter: subject.expiresAt
            )
            guard issued.expiresIn > 0 else { throw OAuthError.invalidRequest("subject_token is about to expire") }
            var response = TokenResponse(accessToken: issued.token, tokenType: request.tokenType, expiresIn: issued.expiresIn, scope: scope)
            response.issuedTokenType = TokenTypeURI.accessToken
            return response
        case TokenTypeURI.jwt:
            guard audiences.count == 1 else { throw OAuthError(.invalidTarget, description: "a JWT authorization grant names exactly one audience") }
            let expiry = min(now + Self.authorizationGrantLifetime, subject.expiresAt)
            guard expiry > now else { throw OAuthError.invalidRequest("subject_token is about to expire") }
            let claims = AuthorizationGrantClaims(
                iss: issuer, sub: subject.subject, aud: audiences[0], exp: expiry, iat: now, jti: RandomToken.make(bytes: 16), clientID: client.id,
                scope: scope, authTime: subject.authTime, acr: subject.acr, act: act
            )
            try await keys.refreshIfStale()
            let jwt = try await keys.signingKey(client.accessTokenAlgorithm).sign(claims, type: "JWT")
            // §2.2.1: not an access token, so `N_A`.
            var response = TokenResponse(accessToken: jwt, tokenType: "N_A", expiresIn: Int(expiry - now), scope: scope)
            response.issuedTokenType = TokenTypeURI.jwt
            return response
        default:
            throw OAuthError.invalidRequest("requested_token_type must be access_token or jwt")
        }
    }

    /// RFC 8693 §2.1 `audience` (logical names) and RFC 8707 `resource` (absolute URIs): every
    /// one among the client's allowed audiences; none means the client's default.
    static func targets(audience: [String], resource: [String], client: RegisteredClient) throws(OAuthError) -> [String] {
        if audience.isEmpty { return try GrantRules.audiences(requested: resource, client: client) }
        var targets = resource.isEmpty ? [] : try GrantRules.audiences(requested: resource, client: client)
        for name in audience {
            guard name.utf8.count <= 2048, client.audiences.contains(name) else {
                throw OAuthError(.invalidTarget, description: "audience not allowed for this client")
            }
            if !targets.contains(name) { targets.append(name) }
        }
        return targets
    }

    /// RFC 8693 §4.4: `may_act` names the party allowed to act, by `sub` (and `iss`) or
    /// `client_id`; a member we cannot check refuses.
    static func permits(_ mayAct: JSONValue, subject: String, issuer: String, clientID: String) -> Bool {
        guard case .object(let object) = mayAct, object["sub"] != nil || object["client_id"] != nil else { return false }
        for (name, value) in object {
            switch name {
            case "sub": guard value == .string(subject) else { return false }
            case "iss": guard value == .string(issuer) else { return false }
            case "client_id": guard value == .string(clientID) else { return false }
            default: return false
            }
        }
        return true
    }

    static func depth(of act: JSONValue?) -> Int {
        var depth = 0
        var current = act
        while case .object(let object)? = current {
            depth += 1
            current = object["act"]
        }
        return depth
    }

    // MARK: Subject and actor tokens

    func resolve(_ token: String, type: String, role: String, request: TokenRequest) async throws -> PresentedToken {
        func refuse(_ why: String) -> OAuthError { OAuthError.invalidRequest("\(role) \(why)") }
        guard !token.isEmpty, token.utf8.count <= JWS.maximumLength else { throw refuse("is malformed") }
        let client = request.client
        let now = time.epochSeconds
        let presented: PresentedToken
        switch type {
        case TokenTypeURI.accessToken:
            presented = try await ourAccessToken(token, client: client, now: now, refuse: refuse)
        case TokenTypeURI.jwt:
            if token.hasPrefix(AccessTokenIssuer.opaquePrefix) || JWS.unverifiedStringClaim("iss", of: token) == issuer {
                presented = try await ourAccessToken(token, client: client, now: now, refuse: refuse)
            } else {
                presented = try await externalJWT(token, client: client, refuse: refuse)
            }
        case TokenTypeURI.refreshToken:
            guard token.hasPrefix(UserTokenIssuer.refreshPrefix), let found = try await introspector.refreshToken(token, now: now) else {
                throw refuse("is not an active refresh token")
            }
            guard found.clientID == client.id else { throw refuse("was issued to another client") }
            try await checkSubjectRevocation(found, refuse: refuse)
            presented = Self.presented(found, issuer: issuer, parentHash: CredentialHash.hex(token))
        case TokenTypeURI.idToken:
            guard let claims = try? await JWS.verify(token, as: ExternalJWTClaims.self, keys: keys.verificationKeys, acceptedTypes: ["JWT", nil]).claims,
                claims.iss == issuer, claims.aud.values.contains(client.id), claims.exp > now
            else { throw refuse("is not a valid ID token of this issuer for this client") }
            presented = PresentedToken(
                subject: claims.sub, issuer: issuer, clientID: client.id, scopes: nil, expiresAt: claims.exp,
                parentHash: CredentialHash.hex("id_token:" + token), authTime: claims.authTime, acr: claims.acr, act: nil, mayAct: nil, cnf: nil,
                isRPT: false
            )
        default:
            throw refuse("type is not supported")
        }
        // A sender-constrained token stays so: only its key holder may exchange it.
        if case .object(let confirmation)? = presented.cnf {
            if case .string(let jkt)? = confirmation["jkt"] {
                guard let proof = request.dpopJKT, ConstantTime.equals(Array(proof.utf8), Array(jkt.utf8)) else {
                    throw refuse("is DPoP-bound: send a DPoP proof signed with its key")
                }
            }
            if case .string(let thumbprint)? = confirmation["x5t#S256"] {
                guard let presentedCertificate = request.certificateThumbprint,
                    ConstantTime.equals(Array(presentedCertificate.utf8), Array(thumbprint.utf8))
                else { throw refuse("is certificate-bound: present its client certificate") }
            }
        }
        return presented
    }

    func ourAccessToken(
        _ token: String, client: RegisteredClient, now: Int64, refuse: (String) -> OAuthError
    ) async throws -> PresentedToken {
        let opaque = token.hasPrefix(AccessTokenIssuer.opaquePrefix)
        let found = opaque ? try await introspector.opaqueAccessToken(token, now: now) : try await introspector.jwtAccessToken(token, now: now)
        guard let found, found.kind == .access else { throw refuse("is not an active access token") }
        // The client it was issued to, or a resource server it is meant for.
        guard found.clientID == client.id || found.audiences.contains(where: client.introspectionAudiences.contains) else {
            throw refuse("is not meant for this client")
        }
        try await checkSubjectRevocation(found, refuse: refuse)
        guard let hash = opaque ? CredentialHash.hex(token) : found.jti.map(AccessTokenIssuer.jwtRecordHash) else { throw refuse("is malformed") }
        return Self.presented(found, issuer: issuer, parentHash: hash)
    }

    func checkSubjectRevocation(_ found: TokenIntrospector.Found, refuse: (String) -> OAuthError) async throws {
        if let notBefore = try await introspector.subjectRevocations.notBefore(subject: found.subject, clientID: found.clientID),
            found.issuedAt <= notBefore
        {
            throw refuse("was revoked")
        }
    }

    static func presented(_ found: TokenIntrospector.Found, issuer: String, parentHash: String) -> PresentedToken {
        PresentedToken(
            subject: found.subject, issuer: issuer, clientID: found.clientID, scopes: ScopeSet.parse(found.scope) ?? [], expiresAt: found.expiresAt,
            parentHash: parentHash, authTime: found.authTime, acr: found.acr, act: found.act, mayAct: found.mayAct, cnf: found.cnf,
            isRPT: found.permissions != nil
        )
    }

    func externalJWT(_ token: String, client: RegisteredClient, refuse: (String) -> OAuthError) async throws -> PresentedToken {
        let verified: TrustedIssuers.Verified
        do {
            verified = try await trusts.verify(token, audiences: [tokenEndpoint, issuer], clientID: client.id, replay: replay, replayScope: "token-exchange")
        } catch let failure as TrustFailure {
            throw refuse(failure.reason)
        }
        let claims = verified.claims
        let asserted = claims.scope.flatMap(ScopeSet.parse)
        return PresentedToken(
            subject: claims.sub, issuer: claims.iss, clientID: nil, scopes: verified.trust.scopes.filter { asserted?.contains($0) ?? true },
            expiresAt: claims.exp, parentHash: CredentialHash.hex("jwt:" + claims.iss + " " + (claims.jti ?? "")), authTime: claims.authTime,
            acr: claims.acr, act: TrustedIssuers.qualify(claims.act, issuer: claims.iss), mayAct: claims.mayAct, cnf: nil, isRPT: false
        )
    }
}

/// The JWT authorization grant a token exchange issues for another authorization server
/// (draft-ietf-oauth-identity-chaining §2.3), presented there with RFC 7523 §2.1.
struct AuthorizationGrantClaims: JOSEClaims {
    var iss: String
    var sub: String
    var aud: String
    var exp: Int64
    var iat: Int64
    var jti: String
    var clientID: String
    var scope: String?
    var authTime: Int64?
    var acr: String?
    var act: JSONValue?

    enum CodingKeys: String, CodingKey {
        case iss, sub, aud, exp, iat, jti, scope, acr, act
        case clientID = "client_id"
        case authTime = "auth_time"
    }
}
