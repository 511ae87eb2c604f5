import Foundation
import JOSE
import ServiceKit
import Storage
import Synchronization
import WireModels

/// The Token Service's view of its clients: validated, cached briefly (so that a change made on
/// another replica applies within `cacheLifetime`), and created with server-generated secrets.
final class ClientRegistry: Sendable {
    let store: any ClientStore
    let time: any TimeSource
    let cacheLifetime: Int64
    let fetcher: OutboundFetcher
    private let cache = Mutex<[String: (client: RegisteredClient, loadedAt: Int64)]>([:])
    /// Keys fetched from clients' `jwks_uri`, by client id.
    private let remoteKeys = Mutex<[String: (uri: String, keys: [String: VerificationKey], fetchedAt: Int64)]>([:])

    /// Who asks for a registration: the admin API (trusted metadata) or dynamic registration
    /// (RFC 7591: every URI must be https to a public host).
    enum Source { case admin, dynamic }

    init(store: any ClientStore, time: any TimeSource, cacheLifetime: Int64 = 5, fetcher: OutboundFetcher = OutboundFetcher(mode: .on)) {
        self.store = store
        self.time = time
        self.cacheLifetime = cacheLifetime
        self.fetcher = fetcher
    }

    /// Validates `input` (ClientPolicy), then what needs the network: `jwks_uri` must yield at
    /// least one usable key, `sector_identifier_uri` a JSON array holding every redirect URI
    /// (OpenID Connect Registration §5). Fetches go through `OutboundFetcher` (public https only).
    /// Dynamic registrations also need https URLs to public hosts for `logo_uri`, `client_uri`,
    /// `policy_uri` and `tos_uri` (not fetched here: the login page shows them to browsers).
    func vet(_ input: ClientMetadata, source: Source) async throws -> ClientMetadata {
        let metadata = try ClientPolicy.validate(input)
        func refuse(_ name: String, _ refusal: FetchRefusal) -> OAuthError {
            OAuthError(.invalidClientMetadata, description: "\(name) \(refusal.description)")
        }
        if source == .dynamic {
            for (name, uri) in [("logo_uri", metadata.logoURI), ("client_uri", metadata.clientURI), ("policy_uri", metadata.policyURI), ("tos_uri", metadata.tosURI)] {
                guard let uri else { continue }
                do { _ = try OutboundFetcher(mode: fetcher.mode == .loopback ? .loopback : .on).checkShape(uri) } catch { throw refuse(name, error) }
            }
        }
        // The ping endpoint is called later, through the same fetcher; its shape is checked now.
        if let uri = metadata.backchannelClientNotificationEndpoint {
            do { _ = try fetcher.checkShape(uri) } catch { throw refuse("backchannel_client_notification_endpoint", error) }
        }
        if let uri = metadata.jwksURI {
            let data: Data
            do { data = try await fetcher.fetch(uri) } catch { throw refuse("jwks_uri", error) }
            guard let set = try? JSONDecoder().decode(JWKSet.self, from: data), !(await Self.keys(of: set).isEmpty) else {
                throw OAuthError(.invalidClientMetadata, description: "jwks_uri must serve a JWK Set with at least one key with kid and alg RS256, ES256 or EdDSA")
            }
        }
        if let uri = metadata.sectorIdentifierURI {
            let data: Data
            do { data = try await fetcher.fetch(uri) } catch { throw refuse("sector_identifier_uri", error) }
            guard let listed = try? JSONDecoder().decode([String].self, from: data), (metadata.redirectURIs ?? []).allSatisfy(listed.contains) else {
                throw OAuthError(.invalidClientMetadata, description: "sector_identifier_uri must serve a JSON array holding every redirect URI")
            }
        }
        return metadata
    }

    static func keys(of set: JWKSet) async -> [String: VerificationKey] {
        var keys: [String: VerificationKey] = [:]
        for jwk in set.keys.prefix(20) {
            if let key = try? await VerificationKey(jwk: jwk) { keys[key.kid] = key }
        }
        return keys
    }

    /// The keys a client's assertions are checked with: its inline `jwks`, or its `jwks_uri`
    /// (cached 5 minutes; an unknown `kid` refetches at most every 10 s). A failed fetch keeps
    /// the last good keys.
    func assertionKeys(_ client: RegisteredClient, kid: String?) async -> [String: VerificationKey] {
        guard let uri = client.metadata.jwksURI else { return client.assertionKeys }
        let now = time.epochSeconds
        let cached = remoteKeys.withLock { $0[client.id] }.flatMap { $0.uri == uri ? $0 : nil }
        if let cached {
            let fresh = now - cached.fetchedAt < 300
            let known = kid.map { cached.keys[$0] != nil } ?? true
            if fresh && (known || now - cached.fetchedAt < 10) { return cached.keys }
        }
        guard let data = try? await fetcher.fetch(uri), let set = try? JSONDecoder().decode(JWKSet.self, from: data) else {
            return cached?.keys ?? [:]
        }
        let keys = await Self.keys(of: set)
        remoteKeys.withLock { $0[client.id] = (uri, keys, now) }
        return keys
    }

    /// The client, or nil when unknown.
    func client(_ id: String) async throws -> RegisteredClient? {
        let now = time.epochSeconds
        if let entry = cache.withLock({ $0[id] }), now - entry.loadedAt < cacheLifetime {
            return entry.client
        }
        guard let stored = try await store.find(clientID: id) else {
            cache.withLock { _ = $0.removeValue(forKey: id) }
            return nil
        }
        let client = try await RegisteredClient(stored: stored)
        cache.withLock { $0[id] = (client, now) }
        return client
    }

    /// Registers a client. Confidential clients authenticating with a secret get one of 256
    /// bits, returned here once and stored only as its SHA-256.
    func create(_ input: ClientMetadata, clientID requested: String?, source: Source = .admin) async throws -> ClientInformation {
        let metadata = try await vet(input, source: source)
        let clientID = requested ?? RandomToken.make(bytes: 16)
        guard Self.isValidClientID(clientID) else { throw OAuthError(.invalidClientMetadata, description: "client_id must be 3 to 64 characters of [A-Za-z0-9._-]") }
        let secret = Self.needsSecret(metadata) ? ClientSecret.generate() : nil
        let now = time.epochSeconds
        let stored = StoredClient(
            clientID: clientID, secretHash: secret.map(ClientSecret.hash), metadataJSON: try Self.encode(metadata), createdAt: now, updatedAt: now
        )
        guard try await store.insert(stored) else { throw OAuthError(.invalidClientMetadata, status: .conflict, description: "client_id already registered") }
        return ClientInformation(clientID: clientID, clientSecret: secret, clientIDIssuedAt: now, clientSecretExpiresAt: secret == nil ? nil : 0, metadata: metadata)
    }

    func update(_ clientID: String, _ input: ClientMetadata, source: Source = .admin) async throws -> ClientInformation? {
        guard let existing = try await store.find(clientID: clientID) else { return nil }
        let metadata = try await vet(input, source: source)
        // A client that now needs a secret and had none gets one; one that no longer needs it loses it.
        var newSecret: String?
        var secretHash: String?? = nil
        if Self.needsSecret(metadata) && existing.secretHash == nil {
            newSecret = ClientSecret.generate()
            secretHash = .some(newSecret.map(ClientSecret.hash))
        } else if !Self.needsSecret(metadata) && existing.secretHash != nil {
            secretHash = .some(nil)
        }
        _ = try await store.update(clientID: clientID, metadataJSON: try Self.encode(metadata), secretHash: secretHash, at: time.epochSeconds)
        invalidate(clientID)
        // RFC 7591 §3.2.1: `client_secret_expires_at` is REQUIRED when a secret is issued (0: never).
        return ClientInformation(
            clientID: clientID, clientSecret: newSecret, clientIDIssuedAt: existing.createdAt, clientSecretExpiresAt: newSecret == nil ? nil : 0, metadata: metadata
        )
    }

    func rotateSecret(_ clientID: String) async throws -> ClientInformation? {
        guard let existing = try await store.find(clientID: clientID) else { return nil }
        let client = try await RegisteredClient(stored: existing)
        guard Self.needsSecret(client.metadata) else { throw OAuthError.invalidRequest("this client does not authenticate with a secret") }
        let secret = ClientSecret.generate()
        _ = try await store.update(clientID: clientID, metadataJSON: existing.metadataJSON, secretHash: .some(ClientSecret.hash(secret)), at: time.epochSeconds)
        invalidate(clientID)
        return ClientInformation(clientID: clientID, clientSecret: secret, clientIDIssuedAt: existing.createdAt, clientSecretExpiresAt: 0, metadata: client.metadata)
    }

    func delete(_ clientID: String) async throws -> Bool {
        defer { invalidate(clientID) }
        return try await store.delete(clientID: clientID)
    }

    /// Deletes a client with everything it holds, in the order that keeps a failed step
    /// retryable: its stored tokens are revoked, then the client goes, then its RFC 7592
    /// registration (and with it the registration access token). Its JWTs have no row; they
    /// are inactive from then on because introspection requires their client to exist.
    func delete(_ clientID: String, tokens: any TokenStore, registrations: any RegistrationStore) async throws -> Bool {
        try await tokens.revokeClient(clientID)
        let existed = try await delete(clientID)
        try await registrations.deleteRegistration(clientID: clientID)
        return existed
    }

    func list() async throws -> [ClientInformation] {
        var result: [ClientInformation] = []
        for stored in try await store.list() {
            let client = try await RegisteredClient(stored: stored)
            result.append(ClientInformation(clientID: stored.clientID, clientSecret: nil, clientIDIssuedAt: stored.createdAt, clientSecretExpiresAt: nil, metadata: client.metadata))
        }
        return result
    }

    func information(_ clientID: String) async throws -> ClientInformation? {
        guard let stored = try await store.find(clientID: clientID) else { return nil }
        let client = try await RegisteredClient(stored: stored)
        return ClientInformation(clientID: stored.clientID, clientSecret: nil, clientIDIssuedAt: stored.createdAt, clientSecretExpiresAt: nil, metadata: client.metadata)
    }

    func invalidate(_ clientID: String) {
        cache.withLock { _ = $0.removeValue(forKey: clientID) }
        remoteKeys.withLock { _ = $0.removeValue(forKey: clientID) }
    }

    static func needsSecret(_ metadata: ClientMetadata) -> Bool {
        let method = metadata.tokenEndpointAuthMethod
        return method == ClientAuthMethod.clientSecretBasic.rawValue || method == ClientAuthMethod.clientSecretPost.rawValue
    }

    static func isValidClientID(_ id: String) -> Bool {
        (3...64).contains(id.utf8.count)
            && id.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 45 || $0 == 46 || $0 == 95 }
    }

    static func encode(_ metadata: ClientMetadata) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(metadata), as: UTF8.self)
    }
}

/// Client secrets: `neo_cs_` and 256 random bits; stored as SHA-256 (a password hash would only
/// slow the token endpoint down: there is nothing to brute-force in 256 random bits).
enum ClientSecret {
    static let prefix = "neo_cs_"

    static func generate() -> String { prefix + RandomToken.make(bytes: 32) }

    static func hash(_ secret: String) -> String { CredentialHash.hex(secret) }

    static func matches(_ presented: String, hash: String) -> Bool {
        ConstantTime.equals(Array(CredentialHash.hex(presented).utf8), Array(hash.utf8))
    }
}
