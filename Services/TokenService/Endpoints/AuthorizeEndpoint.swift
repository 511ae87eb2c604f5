import Foundation
import HTTPTypes
import Hummingbird
import JOSE
import ServiceKit
import WireModels

/// `GET|POST /oauth2/authorize` (RFC 6749 §3.1, OpenID Connect Core §3.1.2). Validates the
/// request, then sends the browser to the Authentication Service with a login challenge. It
/// never redirects to a URI it has not matched against the client's registration: such errors
/// get an HTML page.
struct AuthorizeEndpoint {
    static let path = "/oauth2/authorize"
    static let repeatable: Set<String> = ["resource"]

    let flow: AuthorizationFlow
    let registry: ClientRegistry
    /// The token-signing keys: an `id_token_hint` must be one of our ID tokens.
    let keys: KeyRing
    let bodyLimit: Int

    func register(on router: Router<NeoSecRequestContext>) {
        router.get(RouterPath(stringLiteral: Self.path)) { request, context in
            let form: FormParameters
            do {
                form = try request.queryParameters(repeatable: Self.repeatable)
            } catch {
                throw ErrorPage(status: .badRequest, message: "The authorization request is malformed.")
            }
            return try await authorize(form, context: context)
        }
        // OpenID Connect Core §3.1.2.1: POST with a form body is supported too.
        router.post(RouterPath(stringLiteral: Self.path)) { request, context in
            var request = request
            let form: FormParameters
            do {
                form = try await request.formParameters(limit: bodyLimit, repeatable: Self.repeatable)
            } catch {
                throw ErrorPage(status: .badRequest, message: "The authorization request is malformed.")
            }
            return try await authorize(form, context: context)
        }
    }

    func authorize(_ form: FormParameters, context: NeoSecRequestContext) async throws -> Response {
        do {
            var (client, pending) = try await AuthorizationRequestParser.parse(form, registry: registry)
            if let hint = form["id_token_hint"] {
                // Ours and issued to this client; it may have expired (it only names the user).
                guard hint.utf8.count <= JWS.maximumLength,
                    let claims = try? await JWS.verify(hint, as: IDTokenClaims.self, keys: keys.verificationKeys, acceptedTypes: ["JWT", nil]).claims,
                    claims.iss == flow.issuer, claims.aud == client.id
                else {
                    throw AuthorizationRequestParser.Failure.redirect(pending, error: "invalid_request", description: "id_token_hint is not an ID token issued to this client")
                }
                pending.hintSubject = claims.sub
            }
            return Self.redirect(to: try await flow.begin(pending))
        } catch let failure as AuthorizationRequestParser.Failure {
            switch failure {
            case .page(let status, let message):
                context.logger.info("authorization request refused", metadata: ["reason": .string(message)])
                throw ErrorPage(status: HTTPResponse.Status(code: status), message: message)
            case .redirect(let pending, let error, let description):
                context.logger.info("authorization error returned to client", metadata: ["error": .string(error), "client_id": .string(pending.clientID)])
                return Self.redirect(to: flow.errorRedirect(pending, error: error, description: description))
            }
        }
    }

    /// 303 for answers to POST and GET alike: the browser follows with GET (RFC 9700 §4.12).
    static func redirect(to location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
    }
}

/// An HTML error page for browser-facing endpoints that must not redirect (SPEC §3).
struct ErrorPage: Error, HTTPResponseError {
    let status: HTTPResponse.Status
    let message: String

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let html = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Request refused · NeoSec</title></head>
            <body><main><h1>This request cannot be completed</h1><p role="alert">\(Self.escape(message))</p>
            <p>Return to the application you came from and try again.</p></main></body></html>
            """
        return Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                .contentSecurityPolicy: "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
            ],
            body: ResponseBody(byteBuffer: ByteBuffer(string: html))
        )
    }

    static func escape(_ text: String) -> String {
        var result = ""
        for character in text {
            switch character {
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "&": result += "&amp;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.append(character)
            }
        }
        return result
    }
}
