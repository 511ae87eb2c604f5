/// An external issuer the Token Service trusts (admin API `/admin/trusts`): its signed JWTs are
/// accepted as RFC 7523 §2.1 authorization grants and as RFC 8693 `jwt` subject or actor tokens.
/// This is how a second NeoSec Token Service accepts the first one's JWT authorization grants
/// (cross-domain chaining, draft-ietf-oauth-identity-chaining).
public struct TrustedIssuerMetadata: Codable, Sendable, Equatable {
    /// The `iss` value of the JWTs, compared exactly.
    public var issuer: String
    /// The issuer's public keys inline (each with `kid` and `alg`), or
    public var jwks: JWKSet?
    /// where to fetch them: `https`, or `http` on a loopback address only (development).
    public var jwksURI: String?
    /// The `sub` values this issuer may assert; `["*"]` for any. Subjects are taken as they are:
    /// an issuer trusted for `*` can obtain tokens for any subject name of this server.
    public var allowedSubjects: [String]
    /// Space-separated scopes tokens obtained with this issuer's JWTs may carry at most.
    public var scope: String?
    /// Longest accepted `exp - iat` of an assertion, in seconds (default 300, at most 3600).
    public var maxAssertionLifetime: Int?
    /// Clients that may present this issuer's JWTs; absent means any client registered for the grant.
    public var allowedClients: [String]?

    public init(issuer: String, allowedSubjects: [String]) {
        self.issuer = issuer
        self.allowedSubjects = allowedSubjects
    }

    enum CodingKeys: String, CodingKey {
        case issuer, jwks, scope
        case jwksURI = "jwks_uri"
        case allowedSubjects = "allowed_subjects"
        case maxAssertionLifetime = "max_assertion_lifetime"
        case allowedClients = "allowed_clients"
    }
}
