import Hummingbird
import ServiceKit

/// `GET /.well-known/jwks.json`: the public token-signing keys (RFC 7517), active ones first,
/// then retired ones still within retention. Cacheable for a few minutes; verifiers refetch on
/// an unknown `kid`.
struct JWKSEndpoint {
    static let path = "/.well-known/jwks.json"
    let keys: KeyRing

    func register(on router: Router<NeoSecRequestContext>) {
        router.get(RouterPath(stringLiteral: Self.path)) { _, _ in
            try await keys.refreshIfStale()
            return try Response.json(keys.jwks, cacheControl: "public, max-age=300")
        }
    }
}
