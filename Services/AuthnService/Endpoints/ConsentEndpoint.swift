import Hummingbird
import Logging
import ServiceKit
import WireModels

/// `GET /consent` and `POST /consent`: the user decides what a client may do (RFC 6749 §4.1.1
/// "the authorization server … obtains an authorization decision"; OpenID Connect Core §3.1.2.4).
///
/// The page is a form (SPEC §3) with one checkbox `scope` per requested scope, all checked, and
/// two submit buttons `decision` = `allow` / `deny`. The user may grant a subset; granting
/// nothing is a refusal. Only the signed-in user the challenge names may answer it.
struct ConsentEndpoint {
    static let path = "/consent"

    /// Plain words for the standard scopes (OpenID Connect Core §5.4, §11).
    static let descriptions: [String: String] = [
        "openid": "Confirm your identity",
        "profile": "Your name and profile details",
        "email": "Your email address",
        "phone": "Your phone number",
        "address": "Your postal address",
        "offline_access": "Stay signed in to the app (keeps access when you are away)",
    ]

    let web: AuthnWeb

    func register(on router: Router<NeoSecRequestContext>) {
        router.get(RouterPath(stringLiteral: Self.path)) { request, context in
            try await web.page(context) { try await show(request, context) }
        }
        router.post(RouterPath(stringLiteral: Self.path)) { request, context in
            try await web.page(context) { try await submit(request, context) }
        }
    }

    func show(_ request: Request, _ context: NeoSecRequestContext) async throws -> Response {
        guard let challenge = try request.queryParameters()["consent_challenge"] else { throw web.pages.expiredChallenge }
        let info = try await web.challenges.consent(challenge)
        let signedIn = try await user(request, for: info)
        let csrf = web.csrf.issue(for: request)
        let client = ClientView(info.client)
        let scopes = Self.unique(info.scopes).enumerated().map { index, scope in
            ConsentPage.Scope(id: "scope-\(index)", value: scope, description: Self.descriptions[scope] ?? "Access: \(scope)")
        }
        let page = ConsentPage(
            base: web.pages.basePath, csrfToken: csrf.token, challenge: challenge, client: client, clientName: client.name,
            username: signedIn.account.username, scopes: scopes, audiences: info.audiences, hasAudiences: !info.audiences.isEmpty
        )
        var response = web.pages.render(.consent, page)
        response.setCookies(csrf.cookie)
        return response
    }

    func submit(_ request: Request, _ context: NeoSecRequestContext) async throws -> Response {
        var request = request
        let parameters = try await request.formParameters(limit: web.bodyLimit, repeatable: ["scope"])
        try web.csrf.verify(request, form: parameters)
        guard let challenge = parameters["consent_challenge"] else { throw web.pages.expiredChallenge }
        let info = try await web.challenges.consent(challenge)
        let signedIn = try await user(request, for: info)
        let who: Logger.Metadata = ["account_id": .string(signedIn.account.id), "client_id": .string(info.client.clientID)]
        switch parameters["decision"] {
        case "allow":
            let submitted = Set(parameters.values("scope"))
            let granted = Self.unique(info.scopes).filter(submitted.contains)
            guard !granted.isEmpty else {
                context.logger.info("consent refused: no scope granted", metadata: who)
                return AuthnWeb.seeOther(try await web.challenges.rejectConsent(challenge, error: "access_denied"))
            }
            let location = try await web.challenges.acceptConsent(ConsentAccept(challenge: challenge, subject: info.subject, grantedScopes: granted))
            context.logger.info("consent granted", metadata: who)
            return AuthnWeb.seeOther(location)
        case "deny":
            context.logger.info("consent denied", metadata: who)
            return AuthnWeb.seeOther(try await web.challenges.rejectConsent(challenge, error: "access_denied"))
        default:
            throw web.pages.error(.badRequest, heading: "Choose Allow or Deny", message: "Go back and choose Allow or Deny.")
        }
    }

    /// The signed-in user, who must be the one the challenge is for.
    func user(_ request: Request, for info: ConsentRequestInfo) async throws -> SessionManager.SignedIn {
        guard let signedIn = try await web.sessions.current(request), signedIn.account.id == info.subject else { throw web.pages.signInRequired }
        return signedIn
    }

    /// Scopes in request order, each once.
    static func unique(_ scopes: [String]) -> [String] {
        var seen: Set<String> = []
        return scopes.filter { seen.insert($0).inserted }
    }
}
