import Hummingbird
import ServiceKit

/// `GET /account`: the signed-in user's account page (for now: who is signed in, and a sign-out
/// form); without a session, on to `/login`. `GET /` leads here.
struct AccountEndpoint {
    static let path = "/account"

    let web: AuthnWeb

    func register(on router: Router<NeoSecRequestContext>) {
        router.get("/") { _, _ in web.seeOtherLocal(Self.path) }
        router.get(RouterPath(stringLiteral: Self.path)) { request, context in
            try await web.page(context) {
                guard let signedIn = try await web.sessions.current(request) else { return web.seeOtherLocal(LoginEndpoint.path) }
                let csrf = web.csrf.issue(for: request)
                var response = web.pages.render(
                    .account, AccountPage(base: web.pages.basePath, csrfToken: csrf.token, username: signedIn.account.username)
                )
                response.setCookies(csrf.cookie)
                return response
            }
        }
    }
}
