import Hummingbird
import ServiceKit
import WireModels

/// `GET /logout` and `POST /logout`: sign-out, for an RP-initiated logout challenge (OpenID
/// Connect RP-Initiated Logout 1.0 §2–§3: the OP asks the user to confirm before ending the
/// session) or directly from the account page.
///
/// The confirmation is a POST with a CSRF token, so that a link or an image elsewhere can never
/// sign anyone out. The session is deleted and its cookie cleared; then back to the client when
/// it registered a `post_logout_redirect_uri`, else our own "signed out" page.
struct LogoutEndpoint {
    static let path = "/logout"

    let web: AuthnWeb
    let tokenService: TokenServiceClient

    func register(on router: Router<NeoSecRequestContext>) {
        router.get(RouterPath(stringLiteral: Self.path)) { request, context in
            try await web.page(context) { try await show(request) }
        }
        router.post(RouterPath(stringLiteral: Self.path)) { request, context in
            try await web.page(context) { try await submit(request, context) }
        }
    }

    func show(_ request: Request) async throws -> Response {
        let challenge = try request.queryParameters()["logout_challenge"]
        var clientName: String?
        if let challenge {
            clientName = try await web.challenges.logout(challenge).client.map { ClientView($0).name }
        }
        let csrf = web.csrf.issue(for: request)
        var response = web.pages.render(
            .logoutConfirm, LogoutConfirmPage(base: web.pages.basePath, csrfToken: csrf.token, challenge: challenge, clientName: clientName)
        )
        response.setCookies(csrf.cookie)
        return response
    }

    func submit(_ request: Request, _ context: NeoSecRequestContext) async throws -> Response {
        var request = request
        let parameters = try await request.formParameters(limit: web.bodyLimit)
        try web.csrf.verify(request, form: parameters)
        let challenge = try parameters["logout_challenge"].map { try web.challenges.wellFormed($0) }
        if let ended = try await web.sessions.end(request) {
            context.logger.info("signed out", metadata: ["account_id": .string(ended.accountID)])
            await tokenService.sessionEnded(subject: ended.accountID, sessionID: ended.sid, logger: context.logger)
        }
        let clear = web.sessions.clearingCookie
        do {
            if let challenge, let location = try await web.challenges.acceptLogout(challenge) {
                return AuthnWeb.seeOther(location, cookies: clear)
            }
        } catch let error as HTMLError {
            // Signed out all the same; only the way back to the app is lost.
            var response = error.makeResponse()
            response.setCookie(clear)
            return response
        }
        var response = web.pages.render(.loggedOut, LoggedOutPage(base: web.pages.basePath))
        response.setCookie(clear)
        return response
    }
}
