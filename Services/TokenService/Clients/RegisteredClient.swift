import Foundation
import JOSE
import ServiceKit
import Storage
import WireModels

/// RFC 6749 §2.3 / OpenID Connect Core §9 client authentication methods.
enum ClientAuthMethod: String, Sendable, CaseIterable {
    case clientSecretBasic = "client_secret_basic"
    case clientSecretPost = "client_secret_post"
    case privateKeyJWT = "private_key_jwt"
    case none
}

/// Access token formats: RFC 9068 JWTs (by value) or opaque `neo_at_…` strings (by reference).
enum AccessTokenFormat: String, Sendable {
    case jwt
    case opaque
}

/// A client as the token endpoint uses it: metadata validated once, defaults applied.
final class RegisteredClient: Sendable {
    let id: String
    /// When this client was registered: a token issued before it belongs to an earlier client
    /// of the same id (deleted, then registered again) and is not this one's.
    let createdAt: Int64
    let secretHash: String?
    let metadata: ClientMetadata
    let authMethod: ClientAuthMethod
    let grantTypes: Set<String>
    let scopes: [String]
    let accessTokenFormat: AccessTokenFormat
    let accessTokenAlgorithm: SigningAlgorithm
    let audiences: [String]
    let accessTokenLifetime: Int
    let assertionKeys: [String: VerificationKey]
    let redirectURIs: [String]
    let responseTypes: Set<String>
    let postLogoutRedirectURIs: [String]
    let claimsRedirectURIs: [String]
    let idTokenAlgorithm: SigningAlgorithm
    let refreshTokenLifetime: Int
    let refreshWithoutOfflineAccess: Bool
    let requiresPKCE: Bool
    /// Audiences whose tokens this client may introspect (with the `introspection` scope).
    let introspectionAudiences: [String]
    /// RFC 9449 §5.2 `dpop_bound_access_tokens`: token requests without a proof are refused.
    let requiresDPoP: Bool
    /// RFC 8705 §3.4 `tls_client_certificate_bound_access_tokens`.
    let certificateBoundTokens: Bool
    /// RFC 8693: a token exchange without an actor token impersonates (no `act`).
    let allowsImpersonation: Bool

    var isPublic: Bool { authMethod == .none }

    /// What the login and consent pages show about this client.
    var display: ClientDisplay {
        ClientDisplay(
            clientID: id, clientName: metadata.clientName, logoURI: metadata.logoURI, policyURI: metadata.policyURI,
            tosURI: metadata.tosURI, clientURI: metadata.clientURI
        )
    }

    init(stored: StoredClient) async throws {
        let metadata: ClientMetadata
        do {
            metadata = try JSONDecoder().decode(ClientMetadata.self, from: Data(stored.metadataJSON.utf8))
        } catch {
            throw StorageError.corrupt("metadata")
        }
        self.id = stored.clientID
        self.createdAt = stored.createdAt
        self.secretHash = stored.secretHash
        self.metadata = metadata
        self.authMethod = ClientAuthMethod(rawValue: metadata.tokenEndpointAuthMethod ?? "") ?? .clientSecretBasic
        self.grantTypes = Set(metadata.grantTypes ?? [])
        self.scopes = ScopeSet.parse(metadata.scope ?? "") ?? []
        self.accessTokenFormat = AccessTokenFormat(rawValue: metadata.accessTokenFormat ?? "") ?? .jwt
        self.accessTokenAlgorithm = SigningAlgorithm(rawValue: metadata.accessTokenSigningAlg ?? "") ?? ClientPolicy.defaultAccessTokenAlgorithm
        self.audiences = metadata.allowedAudiences ?? []
        self.accessTokenLifetime = metadata.accessTokenLifetime ?? ClientPolicy.defaultAccessTokenLifetime
        var keys: [String: VerificationKey] = [:]
        for jwk in metadata.jwks?.keys ?? [] {
            if let key = try? await VerificationKey(jwk: jwk) { keys[key.kid] = key }
        }
        self.assertionKeys = keys
        self.redirectURIs = metadata.redirectURIs ?? []
        self.responseTypes = Set(metadata.responseTypes ?? [])
        self.postLogoutRedirectURIs = metadata.postLogoutRedirectURIs ?? []
        self.claimsRedirectURIs = metadata.claimsRedirectURIs ?? []
        // OpenID Connect Core §15.1 / Registration §2: RS256 unless the client registered another.
        self.idTokenAlgorithm = SigningAlgorithm(rawValue: metadata.idTokenSignedResponseAlg ?? "") ?? .rs256
        self.refreshTokenLifetime = metadata.refreshTokenLifetime ?? ClientPolicy.defaultRefreshTokenLifetime
        self.refreshWithoutOfflineAccess = metadata.refreshWithoutOfflineAccess == true && authMethod != .none
        self.requiresPKCE = authMethod == .none || metadata.requirePKCE == true
        self.introspectionAudiences = metadata.introspectionAudiences ?? []
        self.requiresDPoP = metadata.dpopBoundAccessTokens == true
        self.certificateBoundTokens = metadata.tlsClientCertificateBoundAccessTokens == true
        self.allowsImpersonation = metadata.tokenExchangeImpersonation == true && authMethod != .none
    }
}

/// Scope strings (RFC 6749 §3.3): space-delimited, each `1*( %x21 / %x23-5B / %x5D-7E )`.
enum ScopeSet {
    /// The scopes in order of first appearance, or nil when the string is malformed.
    static func parse(_ text: String) -> [String]? {
        var result: [String] = []
        for token in text.split(separator: " ", omittingEmptySubsequences: true) {
            guard token.utf8.allSatisfy({ $0 == 0x21 || (0x23...0x5B).contains($0) || (0x5D...0x7E).contains($0) }) else { return nil }
            let scope = String(token)
            if !result.contains(scope) { result.append(scope) }
        }
        return result
    }

    /// The scope string of `scopes`, nil when there are none. One scope is returned as it is
    /// (the common case of client credentials; the generic `joined` showed on its profile).
    static func format(_ scopes: [String]) -> String? {
        switch scopes.count {
        case 0: nil
        case 1: scopes[0]
        default: scopes.joined(separator: " ")
        }
    }
}
