import Foundation
import Hummingbird
import ServiceKit
import WireModels

/// `GET /uma/claims_interaction` (UMA 2.0 Grant §3.3.2): the client sends the requesting party
/// here with `client_id`, `ticket`, `claims_redirect_uri` and `state` after a `need_info`
/// answer with `redirect_user`. The party signs in through the Authentication Service (the
/// same login challenge as the authorization endpoint); then the browser goes back to the
/// claims redirect URI with `authorization_state=claims_submitted`, a new ticket bound to that
/// party and client, and `state`.
///
/// The claims redirect URI must be one the client registered (`claims_redirect_uris`), matched
/// exactly; when the request names none, the client must have registered exactly one. Anything
/// else is an HTML error page, never a redirect.
struct UMAClaimsEndpoint {
    static let path = "/uma/claims_interaction"

    let flow: AuthorizationFlow
    let registry: ClientRegistry

    func register(on router: Router<NeoSecRequestContext>) {
        router.get(RouterPath(stringLiteral: Self.path)) { request, context in
            let form: FormParameters
            do {
                form = try request.queryParameters()
            } catch {
                throw ErrorPage(status: .badRequest, message: "The claims interaction request is malformed.")
            }
            guard let clientID = form["client_id"], clientID.utf8.count <= 255, let client = try await registry.client(clientID),
                client.grantTypes.contains(GrantType.umaTicket)
            else { throw ErrorPage(status: .badRequest, message: "The application is unknown or not registered for UMA.") }
            let redirect: String
            if let requested = form["claims_redirect_uri"] {
                guard client.claimsRedirectURIs.contains(requested) else {
                    context.logger.info("claims interaction refused: unregistered claims_redirect_uri", metadata: ["client_id": .string(clientID)])
                    throw ErrorPage(status: .badRequest, message: "The claims redirect URI is not registered for this application.")
                }
                redirect = requested
            } else {
                guard client.claimsRedirectURIs.count == 1 else {
                    throw ErrorPage(status: .badRequest, message: "The request must name a registered claims redirect URI.")
                }
                redirect = client.claimsRedirectURIs[0]
            }
            let state = form["state"]
            if let state, state.utf8.count > 1024 { throw ErrorPage(status: .badRequest, message: "The state parameter is too long.") }
            guard let ticket = form["ticket"], ticket.utf8.count <= 128, !ticket.isEmpty else {
                var parameters = [("authorization_state", "not_authorized")]
                if let state { parameters.append(("state", state)) }
                return AuthorizeEndpoint.redirect(to: RedirectURI.appending(parameters, to: redirect))
            }
            let pending = PendingAuthorization(
                clientID: client.id, redirectURI: redirect, redirectURIGiven: true, scopes: ["openid"], state: state, nonce: nil, codeChallenge: nil,
                prompt: [], maxAge: nil, loginHint: nil, acrValues: [], resources: [], umaTicket: ticket
            )
            return AuthorizeEndpoint.redirect(to: try await flow.begin(pending))
        }
    }
}
