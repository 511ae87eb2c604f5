import Foundation
import JOSE
import ServiceKit
import Storage
import WireModels

/// What a dynamically registered client may ask for: set by the initial access token that
/// admitted it (or the open-registration default), kept with the registration so that RFC 7592
/// updates stay within it.
struct RegistrationPolicy: Codable, Sendable, Equatable {
    var grantTypes: [String]
    var scopes: [String]
    var audiences: [String]

    static let openDefault = RegistrationPolicy(
        grantTypes: [GrantType.authorizationCode, GrantType.refreshToken], scopes: ["openid", "profile", "email", "address", "phone", "offline_access"],
        audiences: []
    )

    enum CodingKeys: String, CodingKey {
        case scopes
        case grantTypes = "grant_types"
        case audiences = "allowed_audiences"
    }
}

/// `POST /admin/initial-access-tokens` body: all optional; the defaults are `RegistrationPolicy.openDefault`.
struct InitialAccessTokenRequest: Decodable {
    var expiresIn: Int?
    var maxRegistrations: Int?
    var scope: String?
    var grantTypes: [String]?
    var allowedAudiences: [String]?

    enum CodingKeys: String, CodingKey {
        case scope
        case expiresIn = "expires_in"
        case maxRegistrations = "max_registrations"
        case grantTypes = "grant_types"
        case allowedAudiences = "allowed_audiences"
    }
}

/// RFC 7591 registration and RFC 7592 management, on top of the client registry.
///
/// - Admission: a live initial access token (`neo_iat_…`, from the admin API, single use unless
///   it says otherwise), or nothing when open registration is configured; a bad token is 401.
/// - The registrant's metadata is held to the policy: grant types, scopes and audiences within
///   it; NeoSec's privileged settings (`introspection_audiences`, `token_exchange_impersonation`,
///   `refresh_without_offline_access`, token lifetimes) are not self-assignable; redirect URIs
///   `https` or loopback `http` only; every other URI `https` to a public host, fetched (only
///   `jwks_uri`, `sector_identifier_uri`) through `OutboundFetcher`. `request_uris` and software
///   statements are refused (neither is supported).
/// - The answer carries `registration_access_token` (`neo_rat_…`, stored as SHA-256) and
///   `registration_client_uri`; each successful update rotates the token.
struct DynamicRegistration: Sendable {
    static let initialTokenPrefix = "neo_iat_"
    static let registrationTokenPrefix = "neo_rat_"
    static let defaultInitialTokenLifetime = 3_600
    static let maximumInitialTokenLifetime = 30 * 86_400

    let registry: ClientRegistry
    let store: any RegistrationStore
    let time: any TimeSource
    let endpoint: String
    let openRegistration: Bool

    // MARK: Initial access tokens

    func issueInitialAccessToken(_ request: InitialAccessTokenRequest) async throws -> (token: String, expiresIn: Int) {
        let lifetime = request.expiresIn ?? Self.defaultInitialTokenLifetime
        guard (60...Self.maximumInitialTokenLifetime).contains(lifetime) else { throw OAuthError.invalidRequest("expires_in must be 60 s to 30 days") }
        let uses = request.maxRegistrations ?? 1
        guard (1...10_000).contains(uses) else { throw OAuthError.invalidRequest("max_registrations must be 1 to 10000") }
        var policy = RegistrationPolicy.openDefault
        if let scope = request.scope {
            guard let scopes = ScopeSet.parse(scope), !scopes.isEmpty else { throw OAuthError.invalidRequest("malformed scope") }
            policy.scopes = scopes
        }
        if let grants = request.grantTypes {
            guard !grants.isEmpty, grants.allSatisfy(ClientPolicy.supportedGrantTypes.contains) else { throw OAuthError.invalidRequest("unsupported grant type") }
            policy.grantTypes = grants
        }
        if let audiences = request.allowedAudiences {
            guard audiences.count <= 50, audiences.allSatisfy(ResourceIndicator.isValid) else { throw OAuthError.invalidRequest("allowed_audiences must be absolute URIs") }
            policy.audiences = audiences
        }
        let token = Self.initialTokenPrefix + RandomToken.make(bytes: 32)
        try await store.insertInitialAccessToken(
            hash: CredentialHash.hex(token), policyJSON: try Self.encode(policy), expiresAt: time.epochSeconds + Int64(lifetime), uses: uses
        )
        return (token, lifetime)
    }

    // MARK: RFC 7591

    func register(_ body: Data, bearer: String?) async throws -> ClientInformation {
        let policy: RegistrationPolicy
        var spent: String?
        if let bearer {
            guard bearer.hasPrefix(Self.initialTokenPrefix), bearer.utf8.count <= 128,
                let json = try await store.spendInitialAccessToken(hash: CredentialHash.hex(bearer), now: time.epochSeconds)
            else { throw Self.badToken("the initial access token is invalid, expired or used up") }
            spent = CredentialHash.hex(bearer)
            policy = try JSONDecoder().decode(RegistrationPolicy.self, from: Data(json.utf8))
        } else {
            guard openRegistration else { throw OAuthError.missingToken(realm: "neosec-registration") }
            policy = .openDefault
        }
        var information: ClientInformation
        do {
            let metadata = try restrict(try Self.decode(body), to: policy)
            information = try await registry.create(metadata, clientID: nil, source: .dynamic)
        } catch {
            // Refused metadata changes nothing, not even the token's count of uses.
            if let spent { try? await store.refundInitialAccessToken(hash: spent) }
            throw error
        }
        let token = Self.registrationTokenPrefix + RandomToken.make(bytes: 32)
        do {
            try await store.putRegistration(
                clientID: information.clientID, tokenHash: CredentialHash.hex(token), policyJSON: try Self.encode(policy), issuedAt: time.epochSeconds
            )
        } catch {
            // No client that nobody can manage: undo the registration, give the use back.
            _ = try? await registry.delete(information.clientID)
            if let spent { try? await store.refundInitialAccessToken(hash: spent) }
            throw error
        }
        information.registrationAccessToken = token
        information.registrationClientURI = endpoint + "/" + information.clientID
        return information
    }

    // MARK: RFC 7592

    /// The registration of `clientID` if `bearer` is its current registration access token;
    /// anything else is the same 401 (RFC 7592 §3).
    func authorize(clientID: String, bearer: String?) async throws -> RegistrationPolicy {
        guard let bearer else { throw OAuthError.missingToken(realm: "neosec-registration") }
        guard bearer.hasPrefix(Self.registrationTokenPrefix), bearer.utf8.count <= 128, let stored = try await store.registration(clientID: clientID),
            ConstantTime.equals(Array(CredentialHash.hex(bearer).utf8), Array(stored.tokenHash.utf8))
        else { throw Self.badToken("the registration access token is invalid for this client") }
        return try JSONDecoder().decode(RegistrationPolicy.self, from: Data(stored.policyJSON.utf8))
    }

    func read(clientID: String, bearer: String?) async throws -> ClientInformation {
        _ = try await authorize(clientID: clientID, bearer: bearer)
        guard var information = try await registry.information(clientID) else { throw Self.badToken("the registration access token is invalid for this client") }
        // RFC 7592 §3: both are REQUIRED in the response; the token is the one just presented.
        information.registrationAccessToken = bearer
        information.registrationClientURI = endpoint + "/" + clientID
        return information
    }

    /// RFC 7592 §2.2: the body is the whole new metadata with `client_id`; the registration
    /// access token is rotated.
    func update(clientID: String, bearer: String?, body: Data) async throws -> ClientInformation {
        let policy = try await authorize(clientID: clientID, bearer: bearer)
        struct Envelope: Decodable {
            var clientID: String?
            var clientSecret: String?
            var registrationAccessToken: String?
            var registrationClientURI: String?
            var clientSecretExpiresAt: Int64?
            var clientIDIssuedAt: Int64?
            enum CodingKeys: String, CodingKey {
                case clientID = "client_id"
                case clientSecret = "client_secret"
                case registrationAccessToken = "registration_access_token"
                case registrationClientURI = "registration_client_uri"
                case clientSecretExpiresAt = "client_secret_expires_at"
                case clientIDIssuedAt = "client_id_issued_at"
            }
        }
        guard let envelope = try? JSONDecoder().decode(Envelope.self, from: body) else { throw OAuthError(.invalidClientMetadata, description: "malformed metadata") }
        guard envelope.clientID == clientID else { throw OAuthError.invalidRequest("client_id must be the registered client's") }
        guard envelope.registrationAccessToken == nil, envelope.registrationClientURI == nil, envelope.clientSecretExpiresAt == nil,
            envelope.clientIDIssuedAt == nil
        else { throw OAuthError(.invalidClientMetadata, description: "registration_access_token, registration_client_uri, client_secret_expires_at and client_id_issued_at are not client metadata") }
        if let secret = envelope.clientSecret {
            guard let stored = try await registry.store.find(clientID: clientID), let hash = stored.secretHash, ClientSecret.matches(secret, hash: hash) else {
                throw OAuthError(.invalidClientMetadata, description: "client_secret does not match")
            }
        }
        let metadata = try restrict(try Self.decode(body), to: policy)
        guard var information = try await registry.update(clientID, metadata, source: .dynamic) else { throw Self.badToken("the registration access token is invalid for this client") }
        let next = Self.registrationTokenPrefix + RandomToken.make(bytes: 32)
        guard try await store.rotateRegistrationToken(clientID: clientID, expected: CredentialHash.hex(bearer ?? ""), next: CredentialHash.hex(next)) else {
            throw Self.badToken("the registration access token was rotated meanwhile")
        }
        information.registrationAccessToken = next
        information.registrationClientURI = endpoint + "/" + clientID
        return information
    }

    func delete(clientID: String, bearer: String?, tokens: any TokenStore) async throws {
        _ = try await authorize(clientID: clientID, bearer: bearer)
        _ = try await registry.delete(clientID, tokens: tokens, registrations: store)
    }

    // MARK: Policy

    static func decode(_ body: Data) throws(OAuthError) -> ClientMetadata {
        struct Statement: Decodable {
            var softwareStatement: String?
            enum CodingKeys: String, CodingKey { case softwareStatement = "software_statement" }
        }
        guard let metadata = try? JSONDecoder().decode(ClientMetadata.self, from: body) else {
            throw OAuthError(.invalidClientMetadata, description: "the body must be a JSON object of client metadata")
        }
        if (try? JSONDecoder().decode(Statement.self, from: body))?.softwareStatement != nil {
            throw OAuthError(.unapprovedSoftwareStatement, description: "software statements are not accepted by this server")
        }
        return metadata
    }

    func restrict(_ input: ClientMetadata, to policy: RegistrationPolicy) throws(OAuthError) -> ClientMetadata {
        var metadata = input
        func refuse(_ text: String) -> OAuthError { OAuthError(.invalidClientMetadata, description: text) }
        if metadata.introspectionAudiences != nil || metadata.tokenExchangeImpersonation != nil || metadata.refreshWithoutOfflineAccess != nil
            || metadata.accessTokenLifetime != nil || metadata.refreshTokenLifetime != nil || metadata.claimsRedirectURIs != nil
        {
            throw refuse("introspection_audiences, token_exchange_impersonation, refresh_without_offline_access, claims_redirect_uris and token lifetimes are set by an administrator, not by registration")
        }
        let grants = metadata.grantTypes ?? [GrantType.authorizationCode]
        guard grants.allSatisfy(policy.grantTypes.contains) else { throw refuse("grant_types beyond what this registration allows") }
        if let scope = metadata.scope {
            guard let scopes = ScopeSet.parse(scope), scopes.allSatisfy(policy.scopes.contains) else { throw refuse("scope beyond what this registration allows") }
        } else {
            metadata.scope = policy.scopes.joined(separator: " ")
        }
        guard (metadata.allowedAudiences ?? []).allSatisfy(policy.audiences.contains) else { throw refuse("allowed_audiences beyond what this registration allows") }
        for uri in (metadata.redirectURIs ?? []) + (metadata.postLogoutRedirectURIs ?? []) {
            guard RedirectURI.isRegistrable(uri, publicClient: false) else {
                throw OAuthError(.invalidRedirectURI, description: "redirect URIs must be https, or http on a loopback IP, without fragment or user info")
            }
        }
        return metadata
    }

    static func badToken(_ description: String) -> OAuthError {
        OAuthError.invalidToken(description, realm: "neosec-registration")
    }

    static func encode(_ policy: RegistrationPolicy) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(policy), as: UTF8.self)
    }
}
