import AsyncHTTPClient
import Foundation
import JOSE
import ServiceKit
import Storage
import Synchronization
import WireModels

/// A trusted external issuer with its metadata checked and its inline keys loaded.
struct TrustedIssuer: Sendable {
    let metadata: TrustedIssuerMetadata
    let inlineKeys: [String: VerificationKey]
    let scopes: [String]
    let maxAssertionLifetime: Int

    var issuer: String { metadata.issuer }

    func allows(subject: String) -> Bool {
        metadata.allowedSubjects.contains("*") || metadata.allowedSubjects.contains(subject)
    }

    func allows(clientID: String) -> Bool {
        metadata.allowedClients.map { $0.contains(clientID) } ?? true
    }
}

/// Why a JWT of a trusted issuer was refused; the grant turns it into its own error code
/// (`invalid_grant` for RFC 7523, `invalid_request` for RFC 8693). Never echoes the token.
struct TrustFailure: Error, Equatable {
    let reason: String
}

/// The claims of an external JWT that the grants read (RFC 7523 §3, RFC 8693 §4).
struct ExternalJWTClaims: JOSEClaims {
    var iss: String
    var sub: String
    var aud: Audience
    var exp: Int64
    var iat: Int64?
    var nbf: Int64?
    var jti: String?
    var scope: String?
    var clientID: String?
    var authTime: Int64?
    var acr: String?
    var act: JSONValue?
    var mayAct: JSONValue?

    enum CodingKeys: String, CodingKey {
        case iss, sub, aud, exp, iat, nbf, jti, scope, acr, act
        case clientID = "client_id"
        case authTime = "auth_time"
        case mayAct = "may_act"
    }
}

/// Trusted external issuers (admin API `/admin/trusts`) and the verification of their JWTs.
/// Keys come inline or from the issuer's `jwks_uri`, cached and refetched on an unknown `kid`
/// at most every 10 s.
final class TrustedIssuers: Sendable {
    static let defaultAssertionLifetime = 300
    static let maximumAssertionLifetime = 3_600
    static let maximumSubjects = 1_000
    /// Accepted clock skew for `iat` and `nbf`.
    static let skew: Int64 = 30

    let store: any TrustStore
    let http: HTTPClient
    let time: any TimeSource
    private let remote = Mutex<[String: RemoteJWKS]>([:])

    init(store: any TrustStore, http: HTTPClient, time: any TimeSource) {
        self.store = store
        self.http = http
        self.time = time
    }

    // MARK: Administration

    /// Checks `input` and normalizes it; refused metadata changes nothing.
    static func validate(_ input: TrustedIssuerMetadata) async throws(OAuthError) -> TrustedIssuerMetadata {
        var metadata = input
        func invalid(_ description: String) -> OAuthError { OAuthError(.invalidRequest, description: description) }
        guard ResourceIndicator.isValid(metadata.issuer), metadata.issuer.utf8.count <= 512 else { throw invalid("issuer must be an absolute URI") }
        switch (metadata.jwks, metadata.jwksURI) {
        case (nil, nil): throw invalid("jwks or jwks_uri is required")
        case (.some, .some): throw invalid("jwks and jwks_uri are mutually exclusive")
        case (let set?, nil):
            guard !set.keys.isEmpty, set.keys.count <= 20 else { throw invalid("jwks must hold 1 to 20 keys") }
            for jwk in set.keys {
                do { _ = try await VerificationKey(jwk: jwk) } catch { throw invalid("every key needs a kid, a supported alg and matching public parameters") }
            }
        case (nil, let uri?):
            guard Self.isAcceptableKeysURI(uri) else { throw invalid("jwks_uri must be https (or http on a loopback address)") }
        }
        guard !metadata.allowedSubjects.isEmpty, metadata.allowedSubjects.count <= Self.maximumSubjects,
            metadata.allowedSubjects.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 255 })
        else { throw invalid("allowed_subjects must list 1 to \(Self.maximumSubjects) subjects, or \"*\"") }
        if let scope = metadata.scope {
            guard let scopes = ScopeSet.parse(scope) else { throw invalid("malformed scope") }
            metadata.scope = scopes.joined(separator: " ")
        }
        let lifetime = metadata.maxAssertionLifetime ?? Self.defaultAssertionLifetime
        guard (1...Self.maximumAssertionLifetime).contains(lifetime) else {
            throw invalid("max_assertion_lifetime must be 1 to \(Self.maximumAssertionLifetime) seconds")
        }
        metadata.maxAssertionLifetime = lifetime
        if let clients = metadata.allowedClients, clients.isEmpty || clients.count > 1_000 { throw invalid("allowed_clients must list 1 to 1000 clients") }
        return metadata
    }

    /// `https`, or `http` to a loopback address (two suites on one machine); no user info, no fragment.
    static func isAcceptableKeysURI(_ text: String) -> Bool {
        guard text.utf8.count <= 2048, let components = URLComponents(string: text), let host = components.host, !host.isEmpty,
            components.user == nil, components.password == nil, components.fragment == nil
        else { return false }
        switch components.scheme {
        case "https": return true
        case "http": return ["127.0.0.1", "localhost", "::1", "[::1]"].contains(host.lowercased())
        default: return false
        }
    }

    func put(_ input: TrustedIssuerMetadata) async throws -> TrustedIssuerMetadata {
        let metadata = try await Self.validate(input)
        let json = String(decoding: try JSONEncoder().encode(metadata), as: UTF8.self)
        try await store.put(StoredTrust(issuer: metadata.issuer, metadataJSON: json, createdAt: time.epochSeconds))
        _ = remote.withLock { $0.removeValue(forKey: metadata.issuer) }
        return metadata
    }

    func list() async throws -> [TrustedIssuerMetadata] {
        try await store.list().map { try JSONDecoder().decode(TrustedIssuerMetadata.self, from: Data($0.metadataJSON.utf8)) }
    }

    func delete(issuer: String) async throws -> Bool {
        _ = remote.withLock { $0.removeValue(forKey: issuer) }
        return try await store.delete(issuer: issuer)
    }

    func trust(for issuer: String) async throws -> TrustedIssuer? {
        guard let stored = try await store.find(issuer: issuer) else { return nil }
        guard let metadata = try? JSONDecoder().decode(TrustedIssuerMetadata.self, from: Data(stored.metadataJSON.utf8)) else {
            throw StorageError.corrupt("trust metadata")
        }
        var keys: [String: VerificationKey] = [:]
        for jwk in metadata.jwks?.keys ?? [] {
            if let key = try? await VerificationKey(jwk: jwk) { keys[key.kid] = key }
        }
        return TrustedIssuer(
            metadata: metadata, inlineKeys: keys, scopes: ScopeSet.parse(metadata.scope ?? "") ?? [],
            maxAssertionLifetime: metadata.maxAssertionLifetime ?? Self.defaultAssertionLifetime
        )
    }

    func keys(_ trust: TrustedIssuer, refresh: Bool) async throws -> [String: VerificationKey] {
        guard let uri = trust.metadata.jwksURI else { return trust.inlineKeys }
        let fetcher = remote.withLock { cache in
            if let existing = cache[trust.issuer] { return existing }
            let created = RemoteJWKS(url: uri, http: http, time: time)
            cache[trust.issuer] = created
            return created
        }
        return try await fetcher.keys(refresh: refresh)
    }

    /// An `act` chain asserted by another issuer, with that issuer named (`iss`) in every actor
    /// that does not name its own: its actors are identified in that issuer's namespace, not ours.
    static func qualify(_ act: JSONValue?, issuer: String) -> JSONValue? {
        guard case .object(var object)? = act else { return act }
        if object["iss"] == nil { object["iss"] = .string(issuer) }
        if let inner = object["act"] { object["act"] = qualify(inner, issuer: issuer) }
        return .object(object)
    }

    // MARK: Verification

    /// A verified JWT of a trusted issuer.
    struct Verified: Sendable {
        let trust: TrustedIssuer
        let claims: ExternalJWTClaims
    }

    /// Verifies `jwt` as RFC 7523 §3 says for an authorization grant: signed by a trusted issuer
    /// with one of its keys (`typ` absent or `JWT`: an RFC 9068 access token is not a grant), `sub`
    /// allowed, `aud` naming one of `audiences` exactly, `exp` in the future and no further than the
    /// trust's lifetime, `iat`/`nbf` not in the future, and `jti` never seen before (`replayScope`).
    func verify(
        _ jwt: String, audiences: Set<String>, clientID: String, replay: any ReplayStore, replayScope: String
    ) async throws -> Verified {
        guard jwt.utf8.count <= JWS.maximumLength, let issuer = JWS.unverifiedStringClaim("iss", of: jwt), !issuer.isEmpty else {
            throw TrustFailure(reason: "malformed JWT")
        }
        guard let trust = try await trust(for: issuer) else { throw TrustFailure(reason: "issuer is not trusted") }
        guard trust.allows(clientID: clientID) else { throw TrustFailure(reason: "this client may not present JWTs of this issuer") }
        guard let header = try? JWS.header(of: jwt), let kid = header.kid, !kid.isEmpty else { throw TrustFailure(reason: "JWT header needs a kid") }
        var keys = try await keys(trust, refresh: false)
        if keys[kid] == nil { keys = (try? await self.keys(trust, refresh: true)) ?? keys }
        let claims: ExternalJWTClaims
        do {
            claims = try await JWS.verify(jwt, as: ExternalJWTClaims.self, keys: keys, acceptedTypes: [nil, "JWT"]).claims
        } catch {
            throw TrustFailure(reason: "JWT signature, algorithm or type not accepted")
        }
        let now = time.epochSeconds
        guard claims.iss == trust.issuer else { throw TrustFailure(reason: "issuer is not trusted") }
        guard !claims.sub.isEmpty, trust.allows(subject: claims.sub) else { throw TrustFailure(reason: "subject not allowed for this issuer") }
        guard claims.aud.values.contains(where: audiences.contains) else { throw TrustFailure(reason: "aud must be this token endpoint") }
        guard claims.exp > now else { throw TrustFailure(reason: "JWT expired") }
        let issuedAt = claims.iat ?? now
        guard issuedAt <= now + Self.skew, (claims.nbf ?? now) <= now + Self.skew else { throw TrustFailure(reason: "JWT not yet valid") }
        guard claims.exp - issuedAt <= Int64(trust.maxAssertionLifetime), claims.exp <= now + Int64(trust.maxAssertionLifetime) + Self.skew else {
            throw TrustFailure(reason: "JWT lifetime exceeds what this issuer is trusted for")
        }
        guard let jti = claims.jti, !jti.isEmpty, jti.utf8.count <= 256 else { throw TrustFailure(reason: "jti is required") }
        guard try await replay.claim(scope: "\(replayScope):\(trust.issuer)", id: jti, expiresAt: claims.exp, now: now) else {
            throw TrustFailure(reason: "JWT already used")
        }
        return Verified(trust: trust, claims: claims)
    }
}
