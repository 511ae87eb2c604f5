import Foundation
import Hummingbird
import JOSE
import ServiceKit
import WireModels

/// `GET|POST /oauth2/logout`: OpenID Connect RP-Initiated Logout 1.0 §2. The RP may send
/// `id_token_hint` (one of our ID tokens, expired ones included), `client_id`,
/// `post_logout_redirect_uri` (only an exactly registered one is ever used) and `state`. The
/// browser goes to the Authentication Service, which asks the user and ends the session.
struct EndSessionEndpoint {
    static let path = "/oauth2/logout"

    let flow: AuthorizationFlow
    let registry: ClientRegistry
    let keys: KeyRing
    let bodyLimit: Int

    func register(on router: Router<NeoSecRequestContext>) {
        router.get(RouterPath(stringLiteral: Self.path)) { request, _ in
            guard let form = try? request.queryParameters() else { throw ErrorPage(status: .badRequest, message: "The logout request is malformed.") }
            return try await logout(form)
        }
        router.post(RouterPath(stringLiteral: Self.path)) { request, _ in
            var request = request
            guard let form = try? await request.formParameters(limit: bodyLimit) else {
                throw ErrorPage(status: .badRequest, message: "The logout request is malformed.")
            }
            return try await logout(form)
        }
    }

    func logout(_ form: FormParameters) async throws -> Response {
        var clientID = form["client_id"]
        var subject: String?
        var sessionID: String?
        if let hint = form["id_token_hint"] {
            // §2: the OP need not care whether the hint has expired; it must be ours, though.
            guard let claims = try? await JWS.verify(hint, as: IDTokenClaims.self, keys: keys.verificationKeys, acceptedTypes: ["JWT", nil]).claims,
                claims.iss == flow.issuer
            else { throw ErrorPage(status: .badRequest, message: "The id_token_hint is not valid.") }
            if let clientID, clientID != claims.aud { throw ErrorPage(status: .badRequest, message: "client_id does not match the id_token_hint.") }
            clientID = claims.aud
            subject = claims.sub
            sessionID = claims.sid
        }
        var redirect: String?
        if let requested = form["post_logout_redirect_uri"] {
            guard let clientID, let client = try await registry.client(clientID), client.postLogoutRedirectURIs.contains(requested) else {
                throw ErrorPage(status: .badRequest, message: "The post-logout redirect URI is not registered for this application.")
            }
            redirect = requested
            if let state = form["state"] {
                guard state.utf8.count <= 1024 else { throw ErrorPage(status: .badRequest, message: "state is too long.") }
                redirect = RedirectURI.appending([("state", state)], to: requested)
            }
        } else if let clientID, try await registry.client(clientID) == nil {
            throw ErrorPage(status: .badRequest, message: "This application is not registered.")
        }
        let location = try await flow.beginLogout(clientID: clientID, subject: subject, sessionID: sessionID, redirect: redirect)
        return AuthorizeEndpoint.redirect(to: location)
    }
}
