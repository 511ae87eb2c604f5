import HTTPTypes
import Hummingbird
import ServiceKit
import WireModels

/// `POST /oauth2/token` (RFC 6749 §3.2): authenticates the client, then hands the request to the
/// handler of its `grant_type`. The client must be registered for that grant.
struct TokenEndpoint {
    static let path = "/oauth2/token"
    /// Parameters that may legitimately repeat (RFC 8707 `resource`, RFC 8693 `audience`).
    static let repeatable: Set<String> = ["resource", "audience"]

    let authenticator: ClientAuthenticator
    let handlers: [String: any GrantHandler]
    let bodyLimit: Int
    let dpop: DPoPChecker
    /// This endpoint's public URL, the `htu` of DPoP proofs.
    let url: String

    func register(on router: Router<NeoSecRequestContext>) {
        router.post(RouterPath(stringLiteral: Self.path)) { request, context in
            var request = request
            let form = try await request.formParameters(limit: bodyLimit, repeatable: Self.repeatable)
            let client = try await authenticator.authenticate(request, form: form)
            let grantType = try form.require("grant_type")
            guard let handler = handlers[grantType] else {
                throw OAuthError(.unsupportedGrantType, description: "unsupported grant_type")
            }
            guard client.grantTypes.contains(grantType) else {
                throw OAuthError(.unauthorizedClient, description: "client is not registered for this grant type")
            }
            // RFC 9449 §5: a proof, when sent, is verified before the grant is looked at.
            var jkt: String? = nil
            if DPoPChecker.hasProof(request) {
                jkt = try await dpop.check(request, uri: url)
            } else if client.requiresDPoP {
                throw OAuthError(.invalidDPoPProof, description: "this client must send a DPoP proof")
            }
            // RFC 8705 §3: certificate-bound tokens for clients registered for them.
            var thumbprint: String? = nil
            if client.certificateBoundTokens {
                guard let presented = await context.clientCertificateThumbprint() else {
                    throw OAuthError.invalidRequest("this client must present its TLS client certificate")
                }
                thumbprint = presented
            }
            let response = try await handler.handle(TokenRequest(client: client, parameters: form, dpopJKT: jkt, certificateThumbprint: thumbprint))
            context.logger.info("token issued", metadata: ["grant_type": .string(grantType), "client_id": .string(client.id)])
            var headers: HTTPFields = [.pragma: "no-cache"]
            if jkt != nil, let nonce = dpop.freshNonce() { headers[.dpopNonce] = nonce }
            return Response.json(encoded: ByteBuffer(bytes: response.jsonBytes), extraHeaders: headers)
        }
    }
}
