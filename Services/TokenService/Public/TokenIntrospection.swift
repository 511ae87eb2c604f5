import Foundation
public import Hummingbird
public import JOSE
public import ServiceKit
public import Storage
public import WireModels

/// What an introspection answers (RFC 7662 §2.2): `{"active":false}`, or the token's claims.
public typealias IntrospectionResult = IntrospectionResponse

/// Who asks an introspection question: a registered client holding the `introspection` scope
/// (`clientID` set), or an internal caller asking on behalf of one audience (`clientID` nil,
/// the phantom-token exchange).
public struct IntrospectionCaller: Sendable, Equatable {
    public let clientID: String?
    /// Audiences whose tokens this caller may see (the client's `introspection_audiences`).
    public let audiences: [String]

    public init(clientID: String?, audiences: [String]) {
        self.clientID = clientID
        self.audiences = audiences
    }
}

/// The Token Service's knowledge of its tokens, for the Introspection Service, which reads the
/// token store read-only and verifies JWT access tokens against the Token Service's JWKS. Only
/// this facade is public: client authentication, the client registry and the token formats stay
/// internal to the Token Service.
public struct TokenIntrospector: Sendable {
    /// Where the Introspection Service serves RFC 7662 (on its own base URL).
    public static let endpointPath = "/oauth2/introspect"
    /// The scope a client must be registered with to call the introspection endpoint.
    public static let requiredScope = "introspection"
    /// The Token Service's token-signing JWKS path.
    public static let tokenJWKSPath = JWKSEndpoint.path
    /// Client authentication methods the introspection endpoint accepts (public clients cannot
    /// introspect).
    public static let authMethods: [String] = ClientAuthMethod.allCases.filter { $0 != ClientAuthMethod.none }.map(\.rawValue)
    /// The Token Service's tables the introspector reads (clients to authenticate callers, issued
    /// tokens, subject revocations): all a read-only PostgreSQL role needs.
    public static let readTables = ["clients", "issued_tokens", "subject_revocations"]
    /// Tokens issued up to this far in the future (clock skew) are still accepted.
    static let issuedAtSkew: Int64 = 60

    /// The Token Service's JWKS by `kid`; `refresh` asks for a fresh copy (a token named an
    /// unknown `kid`). The provider decides how often it really refetches.
    public typealias KeyProvider = @Sendable (_ refresh: Bool) async throws -> [String: VerificationKey]

    let issuer: String
    let tokens: any TokenStore
    let subjectRevocations: any SubjectRevocationStore
    let authenticator: ClientAuthenticator
    let time: any TimeSource
    let jwks: KeyProvider
    let realm: String

    /// - Parameters:
    ///   - tokenStore: the Token Service's store (opened read-only: nothing here writes to it).
    ///   - replay: where client-assertion `jti`s are recorded (the caller's own store).
    ///   - issuer: the Token Service's issuer identifier, without a trailing slash.
    ///   - assertionAudiences: accepted `aud` values of `private_key_jwt` client assertions.
    ///   - jwks: the Token Service's token-signing keys.
    public init(
        tokenStore: any SQLDatabase, replay: any ReplayStore, time: any TimeSource, issuer: String, assertionAudiences: Set<String>,
        realm: String = "neosec", jwks: @escaping KeyProvider
    ) {
        let registry = ClientRegistry(store: SQLClientStore(tokenStore), time: time)
        self.issuer = issuer
        self.tokens = SQLTokenStore(tokenStore)
        self.subjectRevocations = SQLSubjectRevocationStore(tokenStore)
        self.authenticator = ClientAuthenticator(registry: registry, replay: replay, time: time, audiences: assertionAudiences, realm: realm)
        self.time = time
        self.jwks = jwks
        self.realm = realm
    }

    /// Inside the Token Service (token exchange reads its own store the same way).
    init(
        issuer: String, tokens: any TokenStore, subjectRevocations: any SubjectRevocationStore, authenticator: ClientAuthenticator,
        time: any TimeSource, realm: String, jwks: @escaping KeyProvider
    ) {
        self.issuer = issuer
        self.tokens = tokens
        self.subjectRevocations = subjectRevocations
        self.authenticator = authenticator
        self.time = time
        self.jwks = jwks
        self.realm = realm
    }

    /// The issuer identifier of `config` as tokens carry it in `iss`.
    public static func issuer(of config: ServiceConfig) -> String {
        config.issuer.absoluteString.trimmingSuffix("/")
    }

    /// Accepted `aud` values of client assertions at the introspection endpoint: that endpoint,
    /// and, as at the token endpoint, the token endpoint URL and the issuer (RFC 7523 §3).
    public static func assertionAudiences(_ config: ServiceConfig, introspectionEndpoint: String) -> Set<String> {
        [introspectionEndpoint, TokenService.tokenEndpointURL(config), issuer(of: config), config.issuer.absoluteString]
    }

    // MARK: Caller

    /// Authenticates the calling client exactly as the token endpoint does (RFC 7662 §2.1). A
    /// failure is 401 `invalid_client`; a confidential client without the `introspection`
    /// scope is 403.
    public func authenticateCaller(_ request: Request, form: FormParameters) async throws -> IntrospectionCaller {
        let client = try await authenticator.authenticate(request, form: form)
        guard !client.isPublic else { throw OAuthError.invalidClient("public clients cannot introspect tokens", realm: realm) }
        guard client.scopes.contains(Self.requiredScope) else {
            throw OAuthError(.unauthorizedClient, status: .forbidden, description: "client is not allowed to introspect tokens")
        }
        return IntrospectionCaller(clientID: client.id, audiences: client.introspectionAudiences)
    }

    /// RFC 7662 §2.1's other way in: a bearer token carrying the `introspection` scope, issued
    /// for the Introspection Service (`aud` one of `audiences`), unbound (a DPoP- or
    /// certificate-bound token would need its proof here), not revoked, held by a confidential
    /// client that still has the scope. The caller is that client, with its introspection
    /// audiences. A bad token is 401 `invalid_token`; one without the scope 403 `insufficient_scope`.
    public func authenticateBearer(_ token: String, audiences: Set<String>) async throws -> IntrospectionCaller {
        let fail = OAuthError.invalidToken("the bearer token is not an active access token for this service", realm: realm)
        guard !token.isEmpty, token.utf8.count <= JWS.maximumLength else { throw fail }
        let now = time.epochSeconds
        let found = token.hasPrefix(AccessTokenIssuer.opaquePrefix) ? try await opaqueAccessToken(token, now: now) : try await jwtAccessToken(token, now: now)
        guard let found, found.kind == .access, found.cnf == nil, found.permissions == nil, found.audiences.contains(where: audiences.contains) else { throw fail }
        if let notBefore = try await subjectRevocations.notBefore(subject: found.subject, clientID: found.clientID), found.issuedAt <= notBefore { throw fail }
        guard (ScopeSet.parse(found.scope) ?? []).contains(Self.requiredScope) else {
            throw OAuthError(
                .insufficientScope, status: .forbidden, description: "the bearer token lacks the introspection scope",
                challenge: .init(scheme: "Bearer", realm: realm, scope: Self.requiredScope)
            )
        }
        guard let client = try await authenticator.registry.client(found.clientID), !client.isPublic, client.scopes.contains(Self.requiredScope) else {
            throw fail
        }
        return IntrospectionCaller(clientID: client.id, audiences: client.introspectionAudiences)
    }

    // MARK: Introspection

    /// What the checks found about a token before the caller's view is applied.
    struct Found {
        var kind: IssuedToken.Kind
        var clientID: String
        var subject: String
        var scope: String
        var audiences: [String]
        var issuedAt: Int64
        var expiresAt: Int64
        var jti: String?
        var authTime: Int64?
        var acr: String?
        var cnf: JSONValue?
        var permissions: JSONValue?
        /// RFC 8693 §4.1 `act` (delegation chain) and §4.4 `may_act`.
        var act: JSONValue? = nil
        var mayAct: JSONValue? = nil
    }

    /// Introspects `token` for `caller`. Starts from inactive and returns `{"active":false}` at
    /// the first failed check: unknown, malformed, expired, revoked (the token, its family, or
    /// every token of its subject), not ours, or not meant for the caller. Storage failures
    /// throw (the endpoint answers 503): an outage is not an inactive token.
    public func introspect(_ token: String, caller: IntrospectionCaller) async throws -> IntrospectionResult {
        guard !token.isEmpty, token.utf8.count <= JWS.maximumLength else { return .inactive }
        let now = time.epochSeconds
        let found: Found
        if token.hasPrefix(AccessTokenIssuer.opaquePrefix) {
            guard let opaque = try await opaqueAccessToken(token, now: now) else { return .inactive }
            found = opaque
        } else if token.hasPrefix(UserTokenIssuer.refreshPrefix) {
            guard let refresh = try await refreshToken(token, now: now) else { return .inactive }
            found = refresh
        } else {
            guard let jwt = try await jwtAccessToken(token, now: now) else { return .inactive }
            found = jwt
        }

        switch found.kind {
        case .refresh:
            // RFC 7662 §2.1 allows refresh tokens; only the client holding one may learn about it.
            guard let clientID = caller.clientID, found.clientID == clientID else { return .inactive }
        case .access:
            // RFC 7662 §4: the caller must be among the token's audiences (or its own client).
            let ownToken = caller.clientID.map { $0 == found.clientID } ?? false
            guard ownToken || found.audiences.contains(where: caller.audiences.contains) else { return .inactive }
        }
        if let notBefore = try await subjectRevocations.notBefore(subject: found.subject, clientID: found.clientID), found.issuedAt <= notBefore {
            return .inactive
        }
        // A deleted client's tokens die with it, JWTs included (they have no row to revoke), and
        // stay dead if a client of the same id is registered later.
        guard let issuedTo = try await authenticator.registry.client(found.clientID), found.issuedAt + Self.issuedAtSkew >= issuedTo.createdAt else {
            return .inactive
        }

        var result = IntrospectionResult(active: true)
        result.scope = found.scope.isEmpty ? nil : found.scope
        result.clientID = found.clientID
        result.sub = found.subject
        result.aud = found.audiences.isEmpty ? nil : found.audiences
        result.iss = issuer
        result.exp = found.expiresAt
        result.iat = found.issuedAt
        result.jti = found.jti
        result.authTime = found.authTime
        result.acr = found.acr
        result.cnf = found.cnf
        result.permissions = found.permissions
        result.act = found.act
        if found.kind == .access {
            // RFC 9449 §6.2 / §8: a token bound to a DPoP key is a DPoP token.
            if case .object(let confirmation)? = found.cnf, confirmation["jkt"] != nil {
                result.tokenType = "DPoP"
            } else {
                result.tokenType = "Bearer"
            }
        }
        return result
    }

    func opaqueAccessToken(_ token: String, now: Int64) async throws -> Found? {
        guard token.utf8.count <= 128, let stored = try await tokens.find(hash: CredentialHash.hex(token)), stored.kind == .access,
            !stored.revoked, stored.expiresAt > now
        else { return nil }
        let extra = Self.claims(stored.claimsJSON)
        return Found(
            kind: .access, clientID: stored.clientID, subject: stored.subject, scope: stored.scope, audiences: Self.split(stored.audience),
            issuedAt: stored.issuedAt, expiresAt: stored.expiresAt, jti: extra["jti"]?.stringValue, authTime: extra["auth_time"]?.integerValue,
            acr: extra["acr"]?.stringValue, cnf: extra["cnf"], permissions: extra["permissions"], act: extra["act"], mayAct: extra["may_act"]
        )
    }

    func refreshToken(_ token: String, now: Int64) async throws -> Found? {
        guard token.utf8.count <= 128, let stored = try await tokens.find(hash: CredentialHash.hex(token)), stored.kind == .refresh,
            !stored.revoked, stored.expiresAt > now
        else { return nil }
        let grant = stored.claimsJSON.flatMap { try? JSONDecoder().decode(RefreshGrant.self, from: Data($0.utf8)) }
        return Found(
            kind: .refresh, clientID: stored.clientID, subject: stored.subject, scope: stored.scope, audiences: Self.split(stored.audience),
            issuedAt: stored.issuedAt, expiresAt: stored.expiresAt, jti: nil, authTime: grant?.authTime,
            acr: grant.flatMap { $0.acr.isEmpty ? nil : $0.acr }, cnf: grant?.jkt.map { .object(["jkt": .string($0)]) }
        )
    }

    func jwtAccessToken(_ token: String, now: Int64) async throws -> Found? {
        guard let header = try? JWS.header(of: token), let kid = header.kid, !kid.isEmpty else { return nil }
        var keys = try await jwks(false)
        if keys[kid] == nil {
            // An unknown kid: perhaps a rotation not yet seen. A failed refresh leaves it unknown.
            keys = (try? await jwks(true)) ?? keys
        }
        guard keys[kid] != nil,
            let claims = try? await JWS.verify(token, as: IntrospectedAccessTokenClaims.self, keys: keys, type: AccessTokenIssuer.jwtType).claims
        else { return nil }
        guard claims.iss == issuer, claims.exp > now, claims.iat <= now + Self.issuedAtSkew, !claims.jti.isEmpty, claims.jti.utf8.count <= 256 else {
            return nil
        }
        // Revoked by RFC 7009, or with its refresh family or code: recorded under its jti.
        if let record = try await tokens.find(hash: AccessTokenIssuer.jwtRecordHash(jti: claims.jti)), record.revoked { return nil }
        return Found(
            kind: .access, clientID: claims.clientID, subject: claims.sub, scope: claims.scope ?? "", audiences: claims.aud.values,
            issuedAt: claims.iat, expiresAt: claims.exp, jti: claims.jti, authTime: claims.authTime, acr: claims.acr, cnf: claims.cnf,
            permissions: claims.permissions, act: claims.act, mayAct: claims.mayAct
        )
    }

    static func split(_ list: String) -> [String] { list.split(separator: " ").map(String.init) }

    /// The extra claims of a token row (`jti`, `auth_time`, `acr`, `cnf`, `permissions` …).
    static func claims(_ json: String?) -> [String: JSONValue] {
        guard let json, let object = try? JSONDecoder().decode([String: JSONValue].self, from: Data(json.utf8)) else { return [:] }
        return object
    }
}

/// RFC 9068 access token claims as introspection reads them: those the Token Service writes,
/// plus confirmation and UMA permissions passed through when present.
struct IntrospectedAccessTokenClaims: JOSEClaims {
    var iss: String
    var sub: String
    var aud: Audience
    var exp: Int64
    var iat: Int64
    var jti: String
    var clientID: String
    var scope: String?
    var authTime: Int64?
    var acr: String?
    var cnf: JSONValue?
    var permissions: JSONValue?
    var act: JSONValue?
    var mayAct: JSONValue?

    enum CodingKeys: String, CodingKey {
        case iss, sub, aud, exp, iat, jti, scope, acr, cnf, permissions, act
        case clientID = "client_id"
        case authTime = "auth_time"
        case mayAct = "may_act"
    }
}

extension JSONValue {
    var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    var integerValue: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }
}
