import Foundation
import JOSE
import ServiceKit
import WireModels

/// What a client registration may say (RFC 7591 §2), checked when an admin creates or updates
/// a client. Anything the server does not support is refused with `invalid_client_metadata`
/// (or `invalid_redirect_uri`), never silently ignored.
enum ClientPolicy {
    static let defaultAccessTokenLifetime = 600
    static let maximumAccessTokenLifetime = 86_400
    static let defaultRefreshTokenLifetime = 30 * 86_400
    static let defaultAccessTokenAlgorithm = SigningAlgorithm.es256

    /// Grants this build of the token endpoint implements. A client can only be registered for these.
    static let supportedGrantTypes: Set<String> = [
        GrantType.authorizationCode, GrantType.clientCredentials, GrantType.refreshToken, GrantType.password, GrantType.implicit,
        GrantType.umaTicket, GrantType.tokenExchange, GrantType.jwtBearer, GrantType.deviceCode, GrantType.ciba,
    ]
    /// Response types of the authorization endpoint. The implicit ones (`token`, `id_token token`)
    /// only for clients registered for the `implicit` grant: RFC 9700 §2.1.2 says it SHOULD NOT
    /// be used (tokens in the browser's URL, no sender constraint, no refresh).
    static let supportedResponseTypes: Set<String> = ["code", "token", "id_token token"]
    static let implicitResponseTypes: Set<String> = ["token", "id_token token"]
    /// Maximum number of registered redirect URIs per client.
    static let maximumRedirectURIs = 20
    /// Maximum number of audiences a client may introspect tokens for.
    static let maximumIntrospectionAudiences = 20

    /// Validates `metadata`, fills in RFC 7591 defaults, and returns the normalized metadata.
    static func validate(_ input: ClientMetadata) throws(OAuthError) -> ClientMetadata {
        var metadata = input
        let method = metadata.tokenEndpointAuthMethod ?? ClientAuthMethod.clientSecretBasic.rawValue
        guard let authMethod = ClientAuthMethod(rawValue: method) else {
            throw invalid("unsupported token_endpoint_auth_method")
        }
        metadata.tokenEndpointAuthMethod = method

        let grants = metadata.grantTypes ?? ["authorization_code"]
        guard !grants.isEmpty, Set(grants).count == grants.count else { throw invalid("grant_types must be a non-empty list without repeats") }
        for grant in grants where !supportedGrantTypes.contains(grant) {
            throw invalid("unsupported grant type: \(grant.prefix(64))")
        }
        if authMethod == .none && grants.contains(GrantType.clientCredentials) {
            throw invalid("public clients cannot use client_credentials (RFC 6749 §4.4)")
        }
        metadata.grantTypes = grants
        let usesCode = grants.contains(GrantType.authorizationCode)
        let usesImplicit = grants.contains(GrantType.implicit)
        let usesAuthorizationEndpoint = usesCode || usesImplicit
        var defaultTypes: [String] = usesCode ? ["code"] : []
        if usesImplicit { defaultTypes.append("id_token token") }
        let responseTypes = (metadata.responseTypes ?? defaultTypes).map(AuthorizationRequestParser.normalizedResponseType)
        for type in responseTypes where !supportedResponseTypes.contains(type) {
            throw invalid("unsupported response type: \(type.prefix(64))")
        }
        // RFC 7591 §2.1: grant types and response types must agree.
        if responseTypes.contains("code") != usesCode {
            throw invalid("response_types code goes with grant_types authorization_code")
        }
        if responseTypes.contains(where: implicitResponseTypes.contains) != usesImplicit {
            throw invalid("response_types token and id_token token go with grant_types implicit")
        }
        metadata.responseTypes = responseTypes
        if grants.contains(GrantType.refreshToken) && !usesCode && !grants.contains(GrantType.password) && !grants.contains(GrantType.deviceCode)
            && !grants.contains(GrantType.ciba)
        {
            throw invalid("refresh_token needs authorization_code, password, the device grant or CIBA")
        }

        if metadata.jwks != nil && metadata.jwksURI != nil { throw invalid("jwks and jwks_uri are mutually exclusive") }
        if authMethod == .privateKeyJWT && metadata.jwksURI == nil {
            guard let keys = metadata.jwks?.keys, !keys.isEmpty else { throw invalid("private_key_jwt needs jwks or jwks_uri") }
            for key in keys {
                guard key.kid?.isEmpty == false, let alg = key.alg, ["RS256", "ES256", "EdDSA"].contains(alg) else {
                    throw invalid("each jwks key needs a kid and alg RS256, ES256 or EdDSA")
                }
            }
        }
        // jwks_uri and sector_identifier_uri are fetched (and their shape checked) by ClientRegistry.
        if metadata.requestURIs != nil { throw invalid("request_uris is not supported: request objects are not accepted") }
        if metadata.sectorIdentifierURI != nil && !usesAuthorizationEndpoint { throw invalid("sector_identifier_uri goes with redirect_uris") }

        if let scope = metadata.scope {
            guard let scopes = ScopeSet.parse(scope), !scopes.isEmpty else { throw invalid("malformed scope") }
            metadata.scope = scopes.joined(separator: " ")
        }
        if let format = metadata.accessTokenFormat {
            guard AccessTokenFormat(rawValue: format) != nil else { throw invalid("access_token_format must be jwt or opaque") }
        } else {
            metadata.accessTokenFormat = AccessTokenFormat.jwt.rawValue
        }
        if let alg = metadata.accessTokenSigningAlg {
            guard SigningAlgorithm(rawValue: alg) != nil else { throw invalid("access_token_signing_alg must be ES256, RS256 or EdDSA") }
        } else {
            metadata.accessTokenSigningAlg = defaultAccessTokenAlgorithm.rawValue
        }
        for audience in metadata.allowedAudiences ?? [] {
            guard ResourceIndicator.isValid(audience) else { throw invalid("allowed_audiences must be absolute URIs without fragment") }
        }
        if let audiences = metadata.introspectionAudiences {
            guard authMethod != .none else { throw invalid("introspection_audiences is for confidential clients only") }
            guard audiences.count <= maximumIntrospectionAudiences, Set(audiences).count == audiences.count else {
                throw invalid("introspection_audiences must list at most \(maximumIntrospectionAudiences) audiences without repeats")
            }
            for audience in audiences {
                guard ResourceIndicator.isValid(audience) else { throw invalid("introspection_audiences must be absolute URIs without fragment") }
            }
        }
        if let lifetime = metadata.accessTokenLifetime {
            guard (30...maximumAccessTokenLifetime).contains(lifetime) else { throw invalid("access_token_lifetime out of range") }
        }
        if let lifetime = metadata.refreshTokenLifetime {
            guard (60...(365 * 86_400)).contains(lifetime) else { throw invalid("refresh_token_lifetime out of range") }
        }
        for uri in [metadata.clientURI, metadata.logoURI, metadata.tosURI, metadata.policyURI].compactMap({ $0 }) {
            guard isWebURL(uri) else { throw invalid("client_uri, logo_uri, tos_uri and policy_uri must be http(s) URLs") }
        }
        if let name = metadata.clientName, name.isEmpty || name.count > 200 { throw invalid("client_name must be 1 to 200 characters") }
        let redirects = metadata.redirectURIs ?? []
        if usesAuthorizationEndpoint {
            guard !redirects.isEmpty, redirects.count <= maximumRedirectURIs else {
                throw OAuthError(.invalidRedirectURI, description: "authorization_code and implicit clients need 1 to \(maximumRedirectURIs) redirect_uris")
            }
        } else if !redirects.isEmpty {
            throw OAuthError(.invalidRedirectURI, description: "redirect_uris are only for authorization_code and implicit clients")
        }
        for uri in redirects {
            guard RedirectURI.isRegistrable(uri, publicClient: authMethod == .none) else {
                throw OAuthError(.invalidRedirectURI, description: "redirect URIs must be absolute https URLs (or http on a loopback IP, or a private-use scheme for native apps), without fragment or user info")
            }
        }
        for uri in metadata.postLogoutRedirectURIs ?? [] {
            guard RedirectURI.isRegistrable(uri, publicClient: authMethod == .none) else {
                throw invalid("post_logout_redirect_uris must be registrable redirect URIs")
            }
        }
        // UMA 2.0 Grant §3.3.2: where claims interaction may send the requesting party back.
        let claimsRedirects = metadata.claimsRedirectURIs ?? []
        guard claimsRedirects.count <= maximumRedirectURIs else { throw invalid("too many claims_redirect_uris") }
        for uri in claimsRedirects {
            guard grants.contains(GrantType.umaTicket), RedirectURI.isRegistrable(uri, publicClient: authMethod == .none) else {
                throw OAuthError(.invalidRedirectURI, description: "claims_redirect_uris must be registrable redirect URIs of an UMA client")
            }
        }
        if let alg = metadata.idTokenSignedResponseAlg {
            guard SigningAlgorithm(rawValue: alg) != nil else { throw invalid("id_token_signed_response_alg must be RS256, ES256 or EdDSA") }
        }
        if metadata.refreshWithoutOfflineAccess == true && authMethod == .none {
            throw invalid("refresh_without_offline_access is for confidential clients only")
        }
        if grants.contains(GrantType.ciba) {
            guard authMethod != .none else { throw invalid("backchannel requests are for confidential clients (CIBA §4)") }
            switch metadata.backchannelTokenDeliveryMode {
            case "poll":
                guard metadata.backchannelClientNotificationEndpoint == nil else { throw invalid("backchannel_client_notification_endpoint is for ping mode") }
            case "ping":
                guard metadata.backchannelClientNotificationEndpoint != nil else { throw invalid("ping mode needs backchannel_client_notification_endpoint") }
            default:
                throw invalid("backchannel_token_delivery_mode must be poll or ping")
            }
        } else if metadata.backchannelTokenDeliveryMode != nil || metadata.backchannelClientNotificationEndpoint != nil {
            throw invalid("backchannel settings go with the CIBA grant")
        }
        if metadata.tokenExchangeImpersonation == true {
            guard authMethod != .none, grants.contains(GrantType.tokenExchange) else {
                throw invalid("token_exchange_impersonation is for confidential clients registered for token exchange")
            }
        }
        return metadata
    }

    static func invalid(_ description: String) -> OAuthError { OAuthError(.invalidClientMetadata, description: description) }

    static func isWebURL(_ text: String) -> Bool {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "https" || scheme == "http", url.host?.isEmpty == false,
            url.fragment == nil, url.user == nil
        else { return false }
        return true
    }
}

/// RFC 8707 §2: a resource indicator is an absolute URI without a fragment.
enum ResourceIndicator {
    static func isValid(_ text: String) -> Bool {
        guard text.utf8.count <= 2048, let components = URLComponents(string: text), let scheme = components.scheme, !scheme.isEmpty,
            components.fragment == nil, text.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F })
        else { return false }
        return components.host != nil || scheme == "urn"
    }
}

/// Grant type identifiers.
enum GrantType {
    static let authorizationCode = "authorization_code"
    static let clientCredentials = "client_credentials"
    static let refreshToken = "refresh_token"
    static let password = "password"
    /// Not a token-endpoint grant: registering it allows the implicit response types.
    static let implicit = "implicit"
    /// UMA 2.0 Grant §3.3.1.
    static let umaTicket = umaTicketGrantType
    /// RFC 8693 §2.1.
    static let tokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
    /// RFC 7523 §2.1.
    static let jwtBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    /// RFC 8628 §3.4.
    static let deviceCode = "urn:ietf:params:oauth:grant-type:device_code"
    /// OpenID CIBA §10.1: backchannel permission requests.
    static let ciba = "urn:openid:params:grant-type:ciba"
}
