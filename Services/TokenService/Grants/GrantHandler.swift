import Hummingbird
import ServiceKit
import WireModels

/// What every grant handler gets: the authenticated client and the request's parameters.
struct TokenRequest: Sendable {
    let client: RegisteredClient
    let parameters: FormParameters
    /// RFC 9449: the thumbprint of the key of a valid DPoP proof sent with the request; the
    /// access token issued is bound to it (`cnf.jkt`, `token_type: DPoP`).
    var dpopJKT: String? = nil
    /// RFC 8705 §3: the SHA-256 thumbprint of the client certificate, when the client is
    /// registered for certificate-bound tokens (`cnf.x5t#S256`).
    var certificateThumbprint: String? = nil

    var confirmation: Confirmation? {
        guard dpopJKT != nil || certificateThumbprint != nil else { return nil }
        return Confirmation(jkt: dpopJKT, x5tS256: certificateThumbprint)
    }
    var tokenType: String { dpopJKT == nil ? "Bearer" : "DPoP" }
}

/// One grant type of the token endpoint (RFC 6749 §4, and the extension grants). A new grant is
/// a new file conforming to this, plus one line in `TokenService.grantHandlers`.
protocol GrantHandler: Sendable {
    /// The `grant_type` value this handler serves.
    var grantType: String { get }
    func handle(_ request: TokenRequest) async throws -> TokenResponse
}

/// Scope and audience decisions shared by the grants.
enum GrantRules {
    /// RFC 6749 §3.3: the requested scopes, which must all be among `allowed`; none requested
    /// means the allowed set (the client's registered default).
    static func scopes(requested: String?, allowed: [String]) throws(OAuthError) -> [String] {
        guard let requested else { return allowed }
        guard let scopes = ScopeSet.parse(requested), !scopes.isEmpty else { throw OAuthError.invalidScope("malformed scope") }
        guard scopes.allSatisfy(allowed.contains) else { throw OAuthError.invalidScope("scope not allowed for this client") }
        return scopes
    }

    /// RFC 8707 §2: each `resource` must be an absolute URI without fragment that the client may
    /// address; none requested means the client's default audience (the first it may address).
    static func audiences(requested: [String], client: RegisteredClient) throws(OAuthError) -> [String] {
        if requested.isEmpty {
            guard let first = client.audiences.first else { throw OAuthError(.invalidTarget, description: "no resource requested and the client has no default audience") }
            return [first]
        }
        for resource in requested {
            guard ResourceIndicator.isValid(resource) else { throw OAuthError(.invalidTarget, description: "resource must be an absolute URI without fragment") }
            guard client.audiences.contains(resource) else { throw OAuthError(.invalidTarget, description: "resource not allowed for this client") }
        }
        var unique: [String] = []
        for resource in requested where !unique.contains(resource) { unique.append(resource) }
        return unique
    }
}
