/// Client metadata as RFC 7591 §2 names it, plus NeoSec's own settings. Used by the admin API,
/// dynamic registration and the Token Service's client store.
public struct ClientMetadata: Codable, Sendable, Equatable {
    public var redirectURIs: [String]?
    public var tokenEndpointAuthMethod: String?
    public var grantTypes: [String]?
    public var responseTypes: [String]?
    public var clientName: String?
    public var clientURI: String?
    public var logoURI: String?
    public var scope: String?
    public var contacts: [String]?
    public var tosURI: String?
    public var policyURI: String?
    public var jwksURI: String?
    public var jwks: JWKSet?
    /// OpenID Connect Registration §2: a JSON array of URIs that must hold every redirect URI.
    public var sectorIdentifierURI: String?
    /// OpenID Connect Registration §2: request objects by reference — not supported, refused.
    public var requestURIs: [String]?
    public var softwareID: String?
    public var softwareVersion: String?
    public var postLogoutRedirectURIs: [String]?
    /// UMA 2.0 Grant §3.3.2: where the claims interaction endpoint may redirect back.
    public var claimsRedirectURIs: [String]?
    public var idTokenSignedResponseAlg: String?
    /// NeoSec: `jwt` (RFC 9068) or `opaque` (`neo_at_…`, by reference). Default `jwt`.
    public var accessTokenFormat: String?
    /// NeoSec: JWS algorithm of JWT access tokens: `ES256` (default), `RS256` or `EdDSA`. RFC 9068
    /// §2.1 requires every party to support RS256, not to use it; ES256 signs ~20× faster.
    public var accessTokenSigningAlg: String?
    /// NeoSec: resource indicators (RFC 8707) this client may ask tokens for; the first is the
    /// default audience when a request names none.
    public var allowedAudiences: [String]?
    /// NeoSec: access token lifetime in seconds (default 600, at most 86400).
    public var accessTokenLifetime: Int?
    /// NeoSec: refresh token lifetime in seconds (default 30 days).
    public var refreshTokenLifetime: Int?
    /// NeoSec: a confidential client registered for `refresh_token` gets refresh tokens even
    /// without the `offline_access` scope (OpenID Connect Core §11 otherwise requires it).
    public var refreshWithoutOfflineAccess: Bool?
    /// NeoSec: PKCE required for this confidential client too (always required for public ones).
    public var requirePKCE: Bool?
    /// NeoSec: the audiences (resource indicators) whose tokens this client may introspect at the
    /// Introspection Service, once it holds the `introspection` scope. A client without them may
    /// introspect only tokens issued to itself.
    public var introspectionAudiences: [String]?
    /// RFC 9449 §5.2: the client always uses DPoP at the token endpoint.
    public var dpopBoundAccessTokens: Bool?
    /// RFC 8705 §3.4: access tokens are bound to the client's TLS certificate.
    public var tlsClientCertificateBoundAccessTokens: Bool?
    /// NeoSec: RFC 8693 impersonation — a token exchange without an actor token issues a token
    /// without `act` (the client becomes the subject's stand-in). Off by default: without it the
    /// client is named as the actor.
    public var tokenExchangeImpersonation: Bool?
    /// OpenID CIBA §4: `poll` or `ping` (push is not offered), and the ping callback endpoint.
    public var backchannelTokenDeliveryMode: String?
    public var backchannelClientNotificationEndpoint: String?

    public init() {}

    enum CodingKeys: String, CodingKey {
        case redirectURIs = "redirect_uris"
        case tokenEndpointAuthMethod = "token_endpoint_auth_method"
        case grantTypes = "grant_types"
        case responseTypes = "response_types"
        case clientName = "client_name"
        case clientURI = "client_uri"
        case logoURI = "logo_uri"
        case scope
        case contacts
        case tosURI = "tos_uri"
        case policyURI = "policy_uri"
        case jwksURI = "jwks_uri"
        case jwks
        case sectorIdentifierURI = "sector_identifier_uri"
        case requestURIs = "request_uris"
        case softwareID = "software_id"
        case softwareVersion = "software_version"
        case postLogoutRedirectURIs = "post_logout_redirect_uris"
        case claimsRedirectURIs = "claims_redirect_uris"
        case idTokenSignedResponseAlg = "id_token_signed_response_alg"
        case accessTokenFormat = "access_token_format"
        case accessTokenSigningAlg = "access_token_signing_alg"
        case allowedAudiences = "allowed_audiences"
        case accessTokenLifetime = "access_token_lifetime"
        case refreshTokenLifetime = "refresh_token_lifetime"
        case refreshWithoutOfflineAccess = "refresh_without_offline_access"
        case requirePKCE = "require_pkce"
        case introspectionAudiences = "introspection_audiences"
        case dpopBoundAccessTokens = "dpop_bound_access_tokens"
        case tlsClientCertificateBoundAccessTokens = "tls_client_certificate_bound_access_tokens"
        case tokenExchangeImpersonation = "token_exchange_impersonation"
        case backchannelTokenDeliveryMode = "backchannel_token_delivery_mode"
        case backchannelClientNotificationEndpoint = "backchannel_client_notification_endpoint"
    }
}

/// A registered client as the admin API shows it (RFC 7591 §3.2.1 fields). The secret appears
/// only in the answer that created or rotated it.
public struct ClientInformation: Codable, Sendable, Equatable {
    public var clientID: String
    public var clientSecret: String?
    public var clientIDIssuedAt: Int64
    public var clientSecretExpiresAt: Int64?
    public var metadata: ClientMetadata
    /// RFC 7592 §3: for dynamically registered clients, the management endpoint and its token.
    public var registrationAccessToken: String?
    public var registrationClientURI: String?

    public init(clientID: String, clientSecret: String?, clientIDIssuedAt: Int64, clientSecretExpiresAt: Int64?, metadata: ClientMetadata) {
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.clientIDIssuedAt = clientIDIssuedAt
        self.clientSecretExpiresAt = clientSecretExpiresAt
        self.metadata = metadata
    }

    enum CodingKeys: String, CodingKey {
        case clientID = "client_id"
        case clientSecret = "client_secret"
        case clientIDIssuedAt = "client_id_issued_at"
        case clientSecretExpiresAt = "client_secret_expires_at"
        case registrationAccessToken = "registration_access_token"
        case registrationClientURI = "registration_client_uri"
    }

    /// Flattened as RFC 7591 §3.2.1 shows it: information fields beside the metadata.
    public func encode(to encoder: any Encoder) throws {
        try metadata.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(clientID, forKey: .clientID)
        try container.encodeIfPresent(clientSecret, forKey: .clientSecret)
        try container.encode(clientIDIssuedAt, forKey: .clientIDIssuedAt)
        try container.encodeIfPresent(clientSecretExpiresAt, forKey: .clientSecretExpiresAt)
        try container.encodeIfPresent(registrationAccessToken, forKey: .registrationAccessToken)
        try container.encodeIfPresent(registrationClientURI, forKey: .registrationClientURI)
    }

    public init(from decoder: any Decoder) throws {
        metadata = try ClientMetadata(from: decoder)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        clientID = try container.decode(String.self, forKey: .clientID)
        clientSecret = try container.decodeIfPresent(String.self, forKey: .clientSecret)
        clientIDIssuedAt = try container.decode(Int64.self, forKey: .clientIDIssuedAt)
        clientSecretExpiresAt = try container.decodeIfPresent(Int64.self, forKey: .clientSecretExpiresAt)
        registrationAccessToken = try container.decodeIfPresent(String.self, forKey: .registrationAccessToken)
        registrationClientURI = try container.decodeIfPresent(String.self, forKey: .registrationClientURI)
    }
}

/// The token endpoint's successful answer (RFC 6749 §5.1) with NeoSec's refresh fields (seed 000).
public struct TokenResponse: Codable, Sendable, Equatable {
    public var accessToken: String
    public var tokenType: String
    public var expiresIn: Int
    public var scope: String?
    public var refreshToken: String?
    public var refreshTokenExpiresIn: Int?
    public var refreshTokenIssuedAt: Int64?
    public var refreshCount: Int?
    public var idToken: String?
    public var issuedTokenType: String?
    /// UMA 2.0 Grant §3.3.5: a persisted claims token, and whether an RPT was upgraded.
    public var pct: String?
    public var upgraded: Bool?

    public init(accessToken: String, tokenType: String, expiresIn: Int, scope: String?) {
        self.accessToken = accessToken
        self.tokenType = tokenType
        self.expiresIn = expiresIn
        self.scope = scope
    }

    enum CodingKeys: String, CodingKey {
        case accessToken = "access_token"
        case tokenType = "token_type"
        case expiresIn = "expires_in"
        case scope
        case refreshToken = "refresh_token"
        case refreshTokenExpiresIn = "refresh_token_expires_in"
        case refreshTokenIssuedAt = "refresh_token_issued_at"
        case refreshCount = "refresh_count"
        case idToken = "id_token"
        case issuedTokenType = "issued_token_type"
        case pct, upgraded
    }
}
