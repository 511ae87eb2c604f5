import Foundation
import Hummingbird
import JOSE
import ServiceKit

/// `GET /.well-known/oauth-authorization-server` (RFC 8414): what this server supports today and
/// where each endpoint lives — nothing it does not serve. OpenID Connect Discovery
/// (`/.well-known/openid-configuration`) is published once the authorization endpoint and ID
/// tokens exist, since its required members would otherwise be false.
struct DiscoveryEndpoint {
    static let path = "/.well-known/oauth-authorization-server"

    let issuer: String
    let grantTypes: [String]

    struct Metadata: Encodable {
        var issuer: String
        var tokenEndpoint: String
        var jwksURI: String
        var grantTypesSupported: [String]
        var responseTypesSupported: [String]
        var tokenEndpointAuthMethodsSupported: [String]
        var tokenEndpointAuthSigningAlgValuesSupported: [String]
        var revocationEndpoint: String
        var revocationEndpointAuthMethodsSupported: [String]

        enum CodingKeys: String, CodingKey {
            case issuer
            case tokenEndpoint = "token_endpoint"
            case jwksURI = "jwks_uri"
            case grantTypesSupported = "grant_types_supported"
            case responseTypesSupported = "response_types_supported"
            case tokenEndpointAuthMethodsSupported = "token_endpoint_auth_methods_supported"
            case tokenEndpointAuthSigningAlgValuesSupported = "token_endpoint_auth_signing_alg_values_supported"
            case revocationEndpoint = "revocation_endpoint"
            case revocationEndpointAuthMethodsSupported = "revocation_endpoint_auth_methods_supported"
        }
    }

    func register(on router: Router<NeoSecRequestContext>) {
        let authMethods = ClientAuthMethod.allCases.filter { $0 != .none }.map(\.rawValue)
        let metadata = Metadata(
            issuer: issuer,
            tokenEndpoint: issuer + TokenEndpoint.path,
            jwksURI: issuer + JWKSEndpoint.path,
            grantTypesSupported: grantTypes.sorted(),
            // No authorization endpoint yet, so no response type (RFC 8414 §2 still requires the member).
            responseTypesSupported: [],
            // `none` only matters to public clients, which no grant served today admits.
            tokenEndpointAuthMethodsSupported: authMethods,
            tokenEndpointAuthSigningAlgValuesSupported: SigningAlgorithm.allCases.map(\.rawValue),
            revocationEndpoint: issuer + RevocationEndpoint.path,
            revocationEndpointAuthMethodsSupported: authMethods
        )
        router.get(RouterPath(stringLiteral: Self.path)) { _, _ in
            try Response.json(metadata, cacheControl: "public, max-age=3600")
        }
    }
}
