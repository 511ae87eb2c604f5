import Crypto
import Foundation
import JOSE
import ServiceKit
import WireModels

/// A validated authorization request (RFC 6749 §4.1.1, OpenID Connect Core §3.1.2.1, RFC 7636
/// §4.3, RFC 8707 §2), carried through the login and consent challenges, then into the code.
struct PendingAuthorization: Codable, Sendable, Equatable {
    var clientID: String
    var redirectURI: String
    /// Whether the request named `redirect_uri` (RFC 6749 §4.1.3: then the token request must too).
    var redirectURIGiven: Bool
    var scopes: [String]
    var state: String?
    var nonce: String?
    var codeChallenge: String?
    var prompt: [String]
    var maxAge: Int?
    var loginHint: String?
    var acrValues: [String]
    var resources: [String]
    /// Set once the Authentication Service accepted the login challenge.
    var login: Login?
    /// When the current challenge was made (for `prompt=login` and expiry display).
    var createdAt: Int64?
    /// `code` (nil, the default) or an implicit type: `token`, `id_token token`.
    var responseType: String?
    /// Where the response parameters go: `query` (code) or `fragment` (implicit, or if asked).
    var usesFragment: Bool?
    /// UMA 2.0 Grant §3.3.2: set when this is a claims interaction for that permission ticket;
    /// then `redirectURI` is the claims redirect URI and no code is issued.
    var umaTicket: String? = nil
    /// RFC 8628 §3.3: set when the user is approving a device authorization (the SHA-256 of its
    /// device code); then consent is always asked and no code is issued.
    var deviceCodeHash: String? = nil

    /// OpenID Connect Core §3.1.2.1 `id_token_hint`: the subject of the (verified) ID token
    /// the client sent; a login as anyone else ends in `login_required`.
    var hintSubject: String? = nil
    var isImplicit: Bool { responseType.map(ClientPolicy.implicitResponseTypes.contains) ?? false }

    struct Login: Codable, Sendable, Equatable {
        var subject: String
        var authTime: Int64
        var acr: String
        var amr: [String]
        var sessionID: String
    }

    var isOpenID: Bool { scopes.contains("openid") }
}

/// What a code stands for: the request, the user, and the scopes they granted.
struct CodeGrant: Codable, Sendable, Equatable {
    var request: PendingAuthorization
    var grantedScopes: [String]
    var issuedAt: Int64
}

/// Parses and checks an authorization request. Errors come in two kinds (RFC 6749 §4.1.2.1):
/// those that must not redirect (unknown client, bad redirect URI: an HTML page), and those
/// sent back to the verified redirect URI.
enum AuthorizationRequestParser {
    enum Failure: Error {
        /// Shown to the user; never redirected.
        case page(status: Int, message: String)
        /// Sent to the client's redirect URI.
        case redirect(PendingAuthorization, error: String, description: String)
    }

    static let supportedPrompts: Set<String> = ["none", "login", "consent", "select_account"]

    /// Response types are space-separated sets (OAuth 2.0 Multiple Response Types §3): order
    /// does not matter. Normalised to sorted order (`id_token token`).
    static func normalizedResponseType(_ value: String) -> String {
        value.split(separator: " ", omittingEmptySubsequences: true).map(String.init).sorted().joined(separator: " ")
    }

    static func parse(_ form: FormParameters, registry: ClientRegistry) async throws -> (RegisteredClient, PendingAuthorization) {
        guard let clientID = form["client_id"] else { throw Failure.page(status: 400, message: "The request does not name a client (client_id is missing).") }
        guard let client = try await registry.client(clientID) else { throw Failure.page(status: 400, message: "This application is not registered.") }
        guard client.grantTypes.contains(GrantType.authorizationCode) || client.grantTypes.contains(GrantType.implicit) else {
            throw Failure.page(status: 400, message: "This application may not use the authorization endpoint.")
        }
        let redirectURI: String
        if let requested = form["redirect_uri"] {
            guard let matched = RedirectURI.match(requested, registered: client.redirectURIs) else {
                throw Failure.page(status: 400, message: "The redirect URI does not match any registered for this application.")
            }
            _ = matched
            redirectURI = requested
        } else {
            // RFC 6749 §3.1.2.3 allows omitting it with a single registration; OpenID Connect
            // requires it (checked below once we know the scopes).
            guard client.redirectURIs.count == 1 else {
                throw Failure.page(status: 400, message: "The request must name its redirect URI.")
            }
            redirectURI = client.redirectURIs[0]
        }

        var pending = PendingAuthorization(
            clientID: client.id, redirectURI: redirectURI, redirectURIGiven: form["redirect_uri"] != nil, scopes: [],
            state: form["state"], nonce: nil, codeChallenge: nil, prompt: [], maxAge: nil, loginHint: nil, acrValues: [], resources: []
        )
        func fail(_ error: String, _ description: String) -> Failure { .redirect(pending, error: error, description: description) }

        if let state = form["state"], state.utf8.count > 1024 { pending.state = nil }
        let rawType = form["response_type"]
        let responseType = rawType.map(normalizedResponseType) ?? ""
        let implicit = ClientPolicy.implicitResponseTypes.contains(responseType)
        // OAuth 2.0 Multiple Response Type Encoding Practices §2.1: token responses never go in
        // the query; errors follow the response's encoding, so it is settled before any error.
        if implicit || form["response_mode"] == "fragment" { pending.usesFragment = true }
        if form["state"] != nil, pending.state == nil { throw fail("invalid_request", "state too long") }
        guard rawType != nil else { throw fail("invalid_request", "missing parameter: response_type") }
        switch form["response_mode"] {
        case nil, "query" where !implicit, "fragment": break
        default: throw fail("invalid_request", implicit ? "implicit responses use response_mode=fragment" : "response_mode must be query or fragment")
        }
        // Request objects are not supported (OpenID Connect Core §6).
        if form["request"] != nil { throw fail("request_not_supported", "request objects are not supported") }
        if form["request_uri"] != nil { throw fail("request_uri_not_supported", "request_uri is not supported") }
        guard ClientPolicy.supportedResponseTypes.contains(responseType) else {
            throw fail("unsupported_response_type", "response_type must be code (or, for clients allowed the implicit grant, token or id_token token)")
        }
        guard client.responseTypes.contains(responseType) else { throw fail("unauthorized_client", "client is not registered for this response_type") }
        if responseType != "code" { pending.responseType = responseType }

        let requestedScopes: [String]
        if let scope = form["scope"] {
            guard let parsed = ScopeSet.parse(scope), !parsed.isEmpty else { throw fail("invalid_scope", "malformed scope") }
            requestedScopes = parsed
        } else {
            requestedScopes = client.scopes
        }
        guard requestedScopes.allSatisfy(client.scopes.contains) else { throw fail("invalid_scope", "scope not allowed for this client") }
        guard !requestedScopes.isEmpty else { throw fail("invalid_scope", "no scope requested") }
        pending.scopes = requestedScopes
        if pending.isOpenID && !pending.redirectURIGiven { throw fail("invalid_request", "redirect_uri is required for OpenID Connect requests") }

        if let nonce = form["nonce"] {
            guard nonce.utf8.count <= 512 else { throw fail("invalid_request", "nonce too long") }
            pending.nonce = nonce
        }
        // OpenID Connect Core §3.2.2.1: nonce is required when an ID token comes from the authorization endpoint.
        if responseType.contains("id_token") {
            guard pending.nonce != nil else { throw fail("invalid_request", "nonce is required for response_type id_token token") }
            guard pending.isOpenID else { throw fail("invalid_scope", "id_token needs the openid scope") }
        }

        // RFC 7636 §4.3; RFC 9700 §2.1.1: S256 only, required for public clients (code flow).
        if implicit {
            if form["code_challenge"] != nil { throw fail("invalid_request", "PKCE applies to response_type code only") }
        } else if let challenge = form["code_challenge"] {
            let method = form["code_challenge_method"] ?? "plain"
            guard method == "S256" else { throw fail("invalid_request", "code_challenge_method must be S256") }
            guard PKCE.isValidChallenge(challenge) else { throw fail("invalid_request", "malformed code_challenge") }
            pending.codeChallenge = challenge
        } else {
            if form["code_challenge_method"] != nil { throw fail("invalid_request", "code_challenge_method without code_challenge") }
            if client.requiresPKCE { throw fail("invalid_request", "PKCE (code_challenge with S256) is required for this client") }
        }

        if let prompt = form["prompt"] {
            guard let values = ScopeSet.parse(prompt), !values.isEmpty, values.allSatisfy(supportedPrompts.contains) else {
                throw fail("invalid_request", "unsupported prompt value")
            }
            if values.contains("none") && values.count > 1 { throw fail("invalid_request", "prompt=none cannot be combined") }
            pending.prompt = values
        }
        if let maxAge = form["max_age"] {
            guard maxAge.utf8.count <= 10, maxAge.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let value = Int(maxAge) else {
                throw fail("invalid_request", "max_age must be a non-negative integer")
            }
            pending.maxAge = value
        }
        if let hint = form["login_hint"] {
            guard hint.utf8.count <= 256 else { throw fail("invalid_request", "login_hint too long") }
            pending.loginHint = hint
        }
        if let acr = form["acr_values"] {
            guard let values = ScopeSet.parse(acr) else { throw fail("invalid_request", "malformed acr_values") }
            pending.acrValues = values
        }
        let resources = form.values("resource")
        for resource in resources {
            guard ResourceIndicator.isValid(resource) else { throw fail("invalid_target", "resource must be an absolute URI without fragment") }
            guard client.audiences.contains(resource) else { throw fail("invalid_target", "resource not allowed for this client") }
        }
        var unique: [String] = []
        for resource in resources where !unique.contains(resource) { unique.append(resource) }
        pending.resources = unique
        return (client, pending)
    }
}

/// RFC 7636 proof key checks.
enum PKCE {
    /// §4.1 / §4.2: 43 to 128 characters of `[A-Za-z0-9-._~]`.
    static func isWellFormed(_ value: String) -> Bool {
        (43...128).contains(value.utf8.count)
            && value.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D || $0 == 0x2E || $0 == 0x5F || $0 == 0x7E }
    }

    /// An S256 challenge is the base64url of a SHA-256: exactly 43 characters.
    static func isValidChallenge(_ value: String) -> Bool { value.utf8.count == 43 && isWellFormed(value) }

    /// §4.6: BASE64URL(SHA256(ASCII(code_verifier))) == code_challenge, compared in constant time.
    static func verify(verifier: String, challenge: String) -> Bool {
        guard isWellFormed(verifier) else { return false }
        return ConstantTime.equals(Base64URL.encode(SHA256.hash(data: Array(verifier.utf8))), challenge)
    }
}
