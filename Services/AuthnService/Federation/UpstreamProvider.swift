import AsyncHTTPClient
import Crypto
import Foundation
import JOSE
import NIOCore
import ServiceKit
import Synchronization
import WireModels

/// An upstream OpenID Provider this service federates to (OpenID Connect Core §3.1 as a
/// relying party): discovery-driven, code flow with PKCE (S256), `state` and `nonce`, the ID
/// token verified against the provider's JWKS.
struct UpstreamProvider: Sendable, Codable, Equatable {
    /// Short identifier used in URLs and forms (`[a-z0-9-]`).
    var id: String
    /// What the login page's button says: "Sign in with <name>".
    var name: String
    var issuer: String
    var clientID: String
    var clientSecret: String
    var scope: String?

    enum CodingKeys: String, CodingKey {
        case id, name, issuer, scope
        case clientID = "client_id"
        case clientSecret = "client_secret"
    }

    /// `NEOSEC_AUTHN_UPSTREAMS`: a JSON array of providers. Refused at start-up when malformed.
    static func parse(_ json: String?) throws -> [UpstreamProvider] {
        guard let json, !json.trimmingCharacters(in: .whitespaces).isEmpty else { return [] }
        let providers: [UpstreamProvider]
        do {
            providers = try JSONDecoder().decode([UpstreamProvider].self, from: Data(json.utf8))
        } catch {
            throw ConfigError("NEOSEC_AUTHN_UPSTREAMS must be a JSON array of {id, name, issuer, client_id, client_secret}")
        }
        for provider in providers {
            guard (1...32).contains(provider.id.count), provider.id.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }),
                !provider.name.isEmpty, provider.name.count <= 64, let url = URL(string: provider.issuer), let scheme = url.scheme,
                scheme == "https" || (scheme == "http" && ["127.0.0.1", "localhost", "::1"].contains(url.host ?? "")),
                !provider.clientID.isEmpty, provider.clientSecret.utf8.count >= 16
            else {
                throw ConfigError("NEOSEC_AUTHN_UPSTREAMS: provider ids are [a-z0-9-], issuers https (http on loopback only), secrets ≥ 16 characters")
            }
        }
        guard Set(providers.map(\.id)).count == providers.count else { throw ConfigError("NEOSEC_AUTHN_UPSTREAMS: duplicate provider id") }
        return providers
    }
}

/// OpenID Provider metadata, the members a relying party needs (Discovery 1.0 §3).
struct UpstreamMetadata: Decodable, Sendable {
    var issuer: String
    var authorizationEndpoint: String
    var tokenEndpoint: String
    var jwksURI: String
    var userinfoEndpoint: String?
    var codeChallengeMethodsSupported: [String]?
    var authorizationResponseIssParameterSupported: Bool?

    enum CodingKeys: String, CodingKey {
        case issuer
        case authorizationEndpoint = "authorization_endpoint"
        case tokenEndpoint = "token_endpoint"
        case jwksURI = "jwks_uri"
        case userinfoEndpoint = "userinfo_endpoint"
        case codeChallengeMethodsSupported = "code_challenge_methods_supported"
        case authorizationResponseIssParameterSupported = "authorization_response_iss_parameter_supported"
    }
}

/// The upstream ID token claims we rely on (OpenID Connect Core §2, §5.1).
struct UpstreamIDToken: JOSEClaims {
    var iss: String
    var sub: String
    var aud: Audience
    var exp: Int64
    var iat: Int64
    var nonce: String?
    var azp: String?
    var email: String?
    var emailVerified: Bool?
    var name: String?
    var preferredUsername: String?

    enum CodingKeys: String, CodingKey {
        case iss, sub, aud, exp, iat, nonce, azp, email, name
        case emailVerified = "email_verified"
        case preferredUsername = "preferred_username"
    }
}

/// Talks to one upstream provider: discovery and JWKS (cached; JWKS refetched on an unknown
/// `kid`, at most every 10 s), the token request, ID token verification. Every failure is a
/// `FederationError` with a fixed message.
final class UpstreamClient: Sendable {
    struct FederationError: Error, CustomStringConvertible {
        let description: String
    }

    let provider: UpstreamProvider
    let http: HTTPClient
    let time: any TimeSource
    private let cache = Mutex<(metadata: UpstreamMetadata?, keys: [String: VerificationKey], keysFetchedAt: Int64)>((nil, [:], 0))

    init(provider: UpstreamProvider, http: HTTPClient, time: any TimeSource) {
        self.provider = provider
        self.http = http
        self.time = time
    }

    func metadata() async throws -> UpstreamMetadata {
        if let cached = cache.withLock({ $0.metadata }) { return cached }
        let url = provider.issuer.trimmingSuffix("/") + "/.well-known/openid-configuration"
        let metadata: UpstreamMetadata = try await getJSON(url)
        // Discovery §4.3: the issuer in the document is the one we were configured with.
        guard metadata.issuer == provider.issuer else { throw FederationError(description: "upstream issuer mismatch in discovery") }
        guard metadata.codeChallengeMethodsSupported?.contains("S256") == true else { throw FederationError(description: "upstream does not support PKCE S256") }
        cache.withLock { $0.metadata = metadata }
        return metadata
    }

    func keys(refresh: Bool) async throws -> [String: VerificationKey] {
        let now = time.epochSeconds
        let (keys, fetchedAt) = cache.withLock { ($0.keys, $0.keysFetchedAt) }
        if !keys.isEmpty && (!refresh || now - fetchedAt < 10) && now - fetchedAt < 3600 { return keys }
        let set: JWKSet = try await getJSON(try await metadata().jwksURI)
        var fresh: [String: VerificationKey] = [:]
        for var jwk in set.keys where jwk.use == nil || jwk.use == "sig" {
            if jwk.alg == nil {
                switch (jwk.kty, jwk.crv) {
                case ("EC", "P-256"): jwk.alg = "ES256"
                case ("OKP", "Ed25519"): jwk.alg = "EdDSA"
                case ("RSA", _): jwk.alg = "RS256"
                default: continue
                }
            }
            if let key = try? await VerificationKey(jwk: jwk) { fresh[key.kid] = key }
        }
        let result = fresh
        cache.withLock { $0.keys = result; $0.keysFetchedAt = now }
        return result
    }

    /// The authorization request URL (code flow, PKCE S256, state, nonce).
    func authorizationURL(redirectURI: String, state: String, nonce: String, codeChallenge: String) async throws -> String {
        let metadata = try await metadata()
        let query = [
            ("response_type", "code"), ("client_id", provider.clientID), ("redirect_uri", redirectURI),
            ("scope", provider.scope ?? "openid profile email"), ("state", state), ("nonce", nonce),
            ("code_challenge", codeChallenge), ("code_challenge_method", "S256"),
        ]
        let encoded = query.map { "\($0.0)=\(Self.formEncode($0.1))" }.joined(separator: "&")
        return metadata.authorizationEndpoint + (metadata.authorizationEndpoint.contains("?") ? "&" : "?") + encoded
    }

    /// Redeems the code (client_secret_basic) and verifies the ID token: signature against the
    /// provider's JWKS, `iss`, `aud` (and `azp` when several audiences), `exp`, `iat`, `nonce`.
    func redeem(code: String, redirectURI: String, codeVerifier: String, nonce: String) async throws -> UpstreamIDToken {
        let metadata = try await metadata()
        var request = HTTPClientRequest(url: metadata.tokenEndpoint)
        request.method = .POST
        let credentials = Self.formEncode(provider.clientID) + ":" + Self.formEncode(provider.clientSecret)
        request.headers.add(name: "Authorization", value: "Basic " + Data(credentials.utf8).base64EncodedString())
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        let form = [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirectURI), ("code_verifier", codeVerifier)]
        request.body = .bytes(ByteBuffer(string: form.map { "\($0.0)=\(Self.formEncode($0.1))" }.joined(separator: "&")))
        let response = try await http.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 256 * 1024)
        guard response.status == .ok else { throw FederationError(description: "upstream token endpoint refused the code") }
        struct Tokens: Decodable {
            var id_token: String?
            var access_token: String?
        }
        guard let tokens = try? JSONDecoder().decode(Tokens.self, from: Data(buffer: body)), let idToken = tokens.id_token else {
            throw FederationError(description: "upstream answered without an ID token")
        }
        var claims: UpstreamIDToken
        do {
            claims = try await verify(idToken, keys: try await keys(refresh: false))
        } catch let error as JOSEError where error == .unknownKeyID {
            claims = try await verify(idToken, keys: try await keys(refresh: true))
        }
        let now = time.epochSeconds
        guard claims.iss == provider.issuer else { throw FederationError(description: "ID token from another issuer") }
        guard claims.aud.values.contains(provider.clientID) else { throw FederationError(description: "ID token for another audience") }
        if claims.aud.values.count > 1 { guard claims.azp == provider.clientID else { throw FederationError(description: "ID token azp mismatch") } }
        guard claims.exp > now - 5, claims.iat <= now + 60 else { throw FederationError(description: "ID token expired or not yet valid") }
        guard let tokenNonce = claims.nonce, ConstantTime.equals(tokenNonce, nonce) else { throw FederationError(description: "ID token nonce mismatch") }
        claims.nonce = nil
        if let accessToken = tokens.access_token, let endpoint = metadata.userinfoEndpoint {
            try await mergeUserinfo(into: &claims, endpoint: endpoint, accessToken: accessToken)
        }
        return claims
    }

    /// Profile claims live at the userinfo endpoint (OpenID Connect Core §5.3). Its `sub` must be
    /// the ID token's (§5.3.2), or nothing from it is used.
    func mergeUserinfo(into claims: inout UpstreamIDToken, endpoint: String, accessToken: String) async throws {
        var request = HTTPClientRequest(url: endpoint)
        request.headers.add(name: "Authorization", value: "Bearer \(accessToken)")
        request.headers.add(name: "Accept", value: "application/json")
        guard let response = try? await http.execute(request, timeout: .seconds(10)), response.status == .ok,
            let body = try? await response.body.collect(upTo: 64 * 1024)
        else { return }
        struct Info: Decodable {
            var sub: String
            var name: String?
            var email: String?
            var email_verified: Bool?
            var preferred_username: String?
        }
        guard let info = try? JSONDecoder().decode(Info.self, from: Data(buffer: body)), info.sub == claims.sub else { return }
        claims.name = claims.name ?? info.name
        claims.preferredUsername = claims.preferredUsername ?? info.preferred_username
        if claims.email == nil {
            claims.email = info.email
            claims.emailVerified = info.email_verified
        }
    }

    func verify(_ token: String, keys: [String: VerificationKey]) async throws -> UpstreamIDToken {
        try await JWS.verify(token, as: UpstreamIDToken.self, keys: keys, acceptedTypes: ["JWT", nil]).claims
    }

    func getJSON<T: Decodable>(_ url: String) async throws -> T {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept", value: "application/json")
        let response = try await http.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 256 * 1024)
        guard response.status == .ok, let value = try? JSONDecoder().decode(T.self, from: Data(buffer: body)) else {
            throw FederationError(description: "upstream metadata unavailable")
        }
        return value
    }

    static func formEncode(_ value: String) -> String {
        var allowed = CharacterSet.alphanumerics.intersection(CharacterSet(charactersIn: Unicode.Scalar(0)...Unicode.Scalar(127)))
        allowed.insert(charactersIn: "-._~")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String { hasSuffix(suffix) ? String(dropLast(suffix.count)) : self }
}
