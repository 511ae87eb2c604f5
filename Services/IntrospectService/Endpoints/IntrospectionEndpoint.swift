import Foundation
import HTTPTypes
import Hummingbird
import JOSE
import ServiceKit
import TokenService
import WireModels

/// `POST /oauth2/introspect` (RFC 7662 §2): a registered client holding the `introspection`
/// scope asks about a token, authenticated as at the token endpoint or (§2.1) with a bearer
/// access token issued for this service that carries the `introspection` scope. The body is a form (`token`, optionally `token_type_hint`, which is
/// only a hint: every supported kind is tried); the caller authenticates as at the token
/// endpoint; a parameter sent twice is `invalid_request`. Anything inactive — unknown, malformed,
/// expired, revoked, or not meant for the caller — is `200 {"active":false}`, never an error.
///
/// With `Accept: application/token-introspection+jwt` the answer is RFC 9701 §5's signed JWT
/// (`typ: token-introspection+jwt`; `iss` the issuer, `aud` the calling client, `iat`, and the
/// answer under `token_introspection`), signed with the Introspection Service's own ES256 key,
/// published at `GET /.well-known/introspection-jwks.json` (see `IntrospectionJWKSEndpoint`).
struct IntrospectionEndpoint {
    static let path = TokenIntrospector.endpointPath
    static let jwtMediaType = "application/token-introspection+jwt"
    static let jwtType = "token-introspection+jwt"

    let introspector: TokenIntrospector
    let cache: IntrospectionCache
    let keys: KeyRing
    let issuer: String
    let time: any TimeSource
    let bodyLimit: Int
    /// Accepted `aud` values of bearer-token callers: this service's base URL and endpoint.
    var bearerAudiences: Set<String> = []

    /// RFC 9701 §5 claims of a signed introspection response.
    struct SignedResponse: Encodable {
        var iss: String
        var aud: String
        var iat: Int64
        var tokenIntrospection: IntrospectionResult

        enum CodingKeys: String, CodingKey {
            case iss, aud, iat
            case tokenIntrospection = "token_introspection"
        }
    }

    /// Parameters a request may carry and still be answered from the credential-keyed cache:
    /// anything else (a second client authentication method, an assertion) takes the full path.
    static let fastPathParameters: Set<String> = ["token", "token_type_hint"]

    func register(on router: Router<NeoSecRequestContext>) {
        router.post(RouterPath(stringLiteral: Self.path)) { request, context in
            var request = request
            let form = try await request.formParameters(limit: bodyLimit)
            let wantsJWT = Self.wantsJWT(request.headers.value(.accept))
            // The same client secret asked about the same token within the answer's lifetime:
            // the answer it was given, without authenticating it again (it authenticated when the
            // answer was filed). A client deleted or re-keyed since is refused within 10 s (5 s of
            // the client registry's cache, then at most 5 s of this answer); a token revoked
            // since, within 5 s as always. Only `client_secret_basic`: not bearer callers (their
            // token has its own expiry), client assertions (single use) or signed answers
            // (fresh `iat`).
            var credentialKey: IntrospectionCache.Key?
            if !wantsJWT, let authorization = request.headers.value(.authorization), AuthorizationHeader.hasScheme(authorization, "basic"), let token = form["token"], !token.isEmpty,
                form.names.allSatisfy(Self.fastPathParameters.contains)
            {
                let key = IntrospectionCache.credentialKey(authorization: authorization, token: token)
                if let cached = cache.lookup(key) {
                    context.logger.info("token introspected", metadata: ["client_id": .string(cached.clientID ?? ""), "active": .stringConvertible(cached.result.active)])
                    return Response.json(encoded: cached.json)
                }
                credentialKey = key
            }
            let caller: IntrospectionCaller
            if let bearer = Self.bearer(request) {
                caller = try await introspector.authenticateBearer(bearer, audiences: bearerAudiences)
            } else {
                caller = try await introspector.authenticateCaller(request, form: form)
            }
            guard let clientID = caller.clientID else { throw OAuthError.serverError }
            let token = try form.require("token")
            let answer: IntrospectionCache.Answer
            do {
                answer = try await cache.answer(token: token, caller: clientID, clientID: clientID) { try await introspector.introspect(token, caller: caller) }
            } catch {
                context.logger.error("introspection failed", metadata: ["error_type": .string(String(reflecting: type(of: error)))])
                throw OAuthError(.temporarilyUnavailable, status: .serviceUnavailable, description: "introspection is unavailable; retry")
            }
            if let credentialKey { cache.store(answer, key: credentialKey) }
            context.logger.info("token introspected", metadata: ["client_id": .string(clientID), "active": .stringConvertible(answer.result.active)])
            if wantsJWT {
                return try await signedResponse(answer.result, audience: clientID)
            }
            return Response.json(encoded: answer.json)
        }
    }

    /// The credential of `Authorization: Bearer …`, if that is the scheme used.
    static func bearer(_ request: Request) -> String? {
        guard let header = request.headers.value(.authorization) else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return String(parts[1]).trimmingCharacters(in: .whitespaces)
    }

    /// RFC 9701 §4: the caller asks for a JWT with this media type in `Accept`.
    static func wantsJWT(_ accept: String?) -> Bool {
        guard let accept else { return false }
        for range in accept.split(separator: ",") {
            let parts = range.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard parts.first == jwtMediaType else { continue }
            // `q=0` means "not acceptable" (RFC 9110 §12.4.2).
            let refused = parts.dropFirst().contains { parameter in parameter.hasPrefix("q=") && Double(parameter.dropFirst(2)) == 0 }
            if !refused { return true }
        }
        return false
    }

    func signedResponse(_ result: IntrospectionResult, audience: String) async throws -> Response {
        try await keys.refreshIfStale()
        let claims = SignedResponse(iss: issuer, aud: audience, iat: time.epochSeconds, tokenIntrospection: result)
        let jwt = try await keys.signingKey(.es256).sign(claims, type: Self.jwtType)
        return Response(
            status: .ok,
            headers: [.contentType: Self.jwtMediaType, .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: jwt))
        )
    }
}

/// `GET /.well-known/introspection-jwks.json`: the public keys of signed introspection responses
/// (RFC 9701) and phantom tokens. A client verifies a `token-introspection+jwt` answer against
/// these keys — not the Token Service's JWKS: the two key sets are disjoint, so neither kind of
/// JWT can pass for the other. Rotated keys stay published for the key retention period.
struct IntrospectionJWKSEndpoint {
    static let path = "/.well-known/introspection-jwks.json"
    let keys: KeyRing

    func register(on router: Router<NeoSecRequestContext>) {
        router.get(RouterPath(stringLiteral: Self.path)) { _, _ in
            try await keys.refreshIfStale()
            return try Response.json(keys.jwks, cacheControl: "public, max-age=300")
        }
    }
}
