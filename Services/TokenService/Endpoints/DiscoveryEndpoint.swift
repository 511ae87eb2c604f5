import Foundation
import Hummingbird
import JOSE
import ServiceKit

/// `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §3) and
/// `GET /.well-known/oauth-authorization-server` (RFC 8414 §2): what this server supports and
/// where each endpoint really lives — nothing it does not serve.
struct DiscoveryEndpoint {
    static let openIDPath = "/.well-known/openid-configuration"
    static let oauthPath = "/.well-known/oauth-authorization-server"
    /// UMA 2.0 Grant §2 / Federated Authorization §2: RFC 8414 metadata plus the UMA endpoints.
    static let umaPath = "/.well-known/uma2-configuration"

    /// ACR values the Authentication Service reports (`LoginAccept.acr`): password only, and
    /// password with a second factor (TOTP or a recovery code). The first is the default.
    static let acrValues = ["urn:neosec:acr:password", "urn:neosec:acr:mfa", "urn:neosec:acr:federated"]
    static let standardScopes = ["openid", "profile", "email", "address", "phone", "offline_access"]

    let issuer: String
    let grantTypes: [String]
    /// The Introspection Service's RFC 7662 endpoint, when an Introspection Service is configured.
    let introspectionEndpoint: String?
    /// RFC 8705 §3.3: true when this server terminates TLS with client certificates.
    var certificateBoundTokens = false
    /// The UMA service's base URL, when one is configured.
    var umaBase: String? = nil

    /// The UMA members (Grant §2, Federated Authorization §2), flattened into the RFC 8414 object.
    struct UMAMetadata: Encodable {
        var base: Metadata
        var claimsInteractionEndpoint: String
        var resourceRegistrationEndpoint: String
        var permissionEndpoint: String
        var policyEndpoint: String
        var umaProfilesSupported: [String]

        enum CodingKeys: String, CodingKey {
            case claimsInteractionEndpoint = "claims_interaction_endpoint"
            case resourceRegistrationEndpoint = "resource_registration_endpoint"
            case permissionEndpoint = "permission_endpoint"
            case policyEndpoint = "policy_endpoint"
            case umaProfilesSupported = "uma_profiles_supported"
        }

        func encode(to encoder: any Encoder) throws {
            try base.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(claimsInteractionEndpoint, forKey: .claimsInteractionEndpoint)
            try container.encode(resourceRegistrationEndpoint, forKey: .resourceRegistrationEndpoint)
            try container.encode(permissionEndpoint, forKey: .permissionEndpoint)
            try container.encode(policyEndpoint, forKey: .policyEndpoint)
            try container.encode(umaProfilesSupported, forKey: .umaProfilesSupported)
        }
    }

    struct Metadata: Encodable {
        var issuer: String
        var authorizationEndpoint: String
        var tokenEndpoint: String
        var userinfoEndpoint: String
        var jwksURI: String
        var revocationEndpoint: String
        var endSessionEndpoint: String
        var registrationEndpoint: String
        var deviceAuthorizationEndpoint: String
        var backchannelAuthenticationEndpoint: String
        var backchannelTokenDeliveryModesSupported: [String]
        var backchannelUserCodeParameterSupported: Bool
        var introspectionEndpoint: String?
        var scopesSupported: [String]
        var responseTypesSupported: [String]
        var responseModesSupported: [String]
        var grantTypesSupported: [String]
        var subjectTypesSupported: [String]
        var idTokenSigningAlgValuesSupported: [String]
        var tokenEndpointAuthMethodsSupported: [String]
        var tokenEndpointAuthSigningAlgValuesSupported: [String]
        var revocationEndpointAuthMethodsSupported: [String]
        var revocationEndpointAuthSigningAlgValuesSupported: [String]
        var introspectionEndpointAuthMethodsSupported: [String]?
        var introspectionEndpointAuthSigningAlgValuesSupported: [String]?
        /// RFC 9701 §7: algorithms of signed (JWT) introspection responses.
        var introspectionSigningAlgValuesSupported: [String]?
        var codeChallengeMethodsSupported: [String]
        var claimsSupported: [String]
        var acrValuesSupported: [String]
        var promptValuesSupported: [String]
        var claimsParameterSupported: Bool
        var requestParameterSupported: Bool
        var requestURIParameterSupported: Bool
        var authorizationResponseIssParameterSupported: Bool
        var dpopSigningAlgValuesSupported: [String]
        var tlsClientCertificateBoundAccessTokens: Bool

        enum CodingKeys: String, CodingKey {
            case issuer
            case authorizationEndpoint = "authorization_endpoint"
            case tokenEndpoint = "token_endpoint"
            case userinfoEndpoint = "userinfo_endpoint"
            case jwksURI = "jwks_uri"
            case revocationEndpoint = "revocation_endpoint"
            case endSessionEndpoint = "end_session_endpoint"
            case registrationEndpoint = "registration_endpoint"
            case deviceAuthorizationEndpoint = "device_authorization_endpoint"
            case backchannelAuthenticationEndpoint = "backchannel_authentication_endpoint"
            case backchannelTokenDeliveryModesSupported = "backchannel_token_delivery_modes_supported"
            case backchannelUserCodeParameterSupported = "backchannel_user_code_parameter_supported"
            case introspectionEndpoint = "introspection_endpoint"
            case scopesSupported = "scopes_supported"
            case responseTypesSupported = "response_types_supported"
            case responseModesSupported = "response_modes_supported"
            case grantTypesSupported = "grant_types_supported"
            case subjectTypesSupported = "subject_types_supported"
            case idTokenSigningAlgValuesSupported = "id_token_signing_alg_values_supported"
            case tokenEndpointAuthMethodsSupported = "token_endpoint_auth_methods_supported"
            case tokenEndpointAuthSigningAlgValuesSupported = "token_endpoint_auth_signing_alg_values_supported"
            case revocationEndpointAuthMethodsSupported = "revocation_endpoint_auth_methods_supported"
            case revocationEndpointAuthSigningAlgValuesSupported = "revocation_endpoint_auth_signing_alg_values_supported"
            case introspectionEndpointAuthMethodsSupported = "introspection_endpoint_auth_methods_supported"
            case introspectionEndpointAuthSigningAlgValuesSupported = "introspection_endpoint_auth_signing_alg_values_supported"
            case introspectionSigningAlgValuesSupported = "introspection_signing_alg_values_supported"
            case codeChallengeMethodsSupported = "code_challenge_methods_supported"
            case claimsSupported = "claims_supported"
            case acrValuesSupported = "acr_values_supported"
            case promptValuesSupported = "prompt_values_supported"
            case claimsParameterSupported = "claims_parameter_supported"
            case requestParameterSupported = "request_parameter_supported"
            case requestURIParameterSupported = "request_uri_parameter_supported"
            case authorizationResponseIssParameterSupported = "authorization_response_iss_parameter_supported"
            case dpopSigningAlgValuesSupported = "dpop_signing_alg_values_supported"
            case tlsClientCertificateBoundAccessTokens = "tls_client_certificate_bound_access_tokens"
        }
    }

    var metadata: Metadata {
        let authMethods = ClientAuthMethod.allCases.map(\.rawValue)
        let algorithms = SigningAlgorithm.allCases.map(\.rawValue)
        var claims = ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "sid", "at_hash"]
        claims += UserinfoEndpoint.claimsByScope.keys.sorted().flatMap { UserinfoEndpoint.claimsByScope[$0]! }
        return Metadata(
            issuer: issuer,
            authorizationEndpoint: issuer + AuthorizeEndpoint.path,
            tokenEndpoint: issuer + TokenEndpoint.path,
            userinfoEndpoint: issuer + UserinfoEndpoint.path,
            jwksURI: issuer + JWKSEndpoint.path,
            revocationEndpoint: issuer + RevocationEndpoint.path,
            endSessionEndpoint: issuer + EndSessionEndpoint.path,
            registrationEndpoint: issuer + RegistrationEndpoint.path,
            deviceAuthorizationEndpoint: issuer + DeviceAuthorizationEndpoint.path,
            backchannelAuthenticationEndpoint: issuer + BackchannelEndpoint.path,
            backchannelTokenDeliveryModesSupported: ["poll", "ping"],
            backchannelUserCodeParameterSupported: false,
            introspectionEndpoint: introspectionEndpoint,
            scopesSupported: Self.standardScopes,
            responseTypesSupported: Array(ClientPolicy.supportedResponseTypes).sorted(),
            responseModesSupported: ["query", "fragment"],
            grantTypesSupported: (grantTypes + [GrantType.implicit]).sorted(),
            subjectTypesSupported: ["public"],
            idTokenSigningAlgValuesSupported: ["RS256", "ES256", "EdDSA"],
            tokenEndpointAuthMethodsSupported: authMethods,
            tokenEndpointAuthSigningAlgValuesSupported: algorithms,
            revocationEndpointAuthMethodsSupported: authMethods,
            revocationEndpointAuthSigningAlgValuesSupported: algorithms,
            introspectionEndpointAuthMethodsSupported: introspectionEndpoint == nil ? nil : TokenIntrospector.authMethods,
            introspectionEndpointAuthSigningAlgValuesSupported: introspectionEndpoint == nil ? nil : algorithms,
            introspectionSigningAlgValuesSupported: introspectionEndpoint == nil ? nil : [SigningAlgorithm.es256.rawValue],
            codeChallengeMethodsSupported: ["S256"],
            claimsSupported: claims,
            acrValuesSupported: Self.acrValues,
            promptValuesSupported: Array(AuthorizationRequestParser.supportedPrompts).sorted(),
            claimsParameterSupported: false,
            requestParameterSupported: false,
            requestURIParameterSupported: false,
            authorizationResponseIssParameterSupported: true,
            dpopSigningAlgValuesSupported: DPoPProof.algorithms,
            tlsClientCertificateBoundAccessTokens: certificateBoundTokens
        )
    }

    func register(on router: Router<NeoSecRequestContext>) {
        let metadata = metadata
        for path in [Self.openIDPath, Self.oauthPath] {
            router.get(RouterPath(stringLiteral: path)) { _, _ in
                try Response.json(metadata, cacheControl: "public, max-age=3600")
            }
        }
        guard let umaBase else { return }
        let uma = UMAMetadata(
            base: metadata, claimsInteractionEndpoint: issuer + UMAClaimsEndpoint.path, resourceRegistrationEndpoint: umaBase + "/uma/resource_set",
            permissionEndpoint: umaBase + "/uma/permission", policyEndpoint: umaBase + "/uma/policies", umaProfilesSupported: []
        )
        router.get(RouterPath(stringLiteral: Self.umaPath)) { _, _ in
            try Response.json(uma, cacheControl: "public, max-age=3600")
        }
    }
}
