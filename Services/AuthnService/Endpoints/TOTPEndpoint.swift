import HTTPTypes
import Hummingbird
import ServiceKit

/// Two-step verification on the account page (RFC 6238 TOTP):
///
/// - `POST /account/totp/start` — a fresh secret (replacing an unfinished enrolment), shown as
///   a QR code of its `otpauth://` URI and as base32, with a form to confirm it.
/// - `POST /account/totp/confirm` — `otp`: a current code of that secret turns TOTP on (its time
///   step counts as used) and shows the 10 recovery codes, once.
/// - `POST /account/totp/disable` — `password`: the current password, checked and throttled as
///   at sign-in, turns TOTP off and deletes the recovery codes.
///
/// Each is CSRF-checked and needs a session. Start and confirm answer with a page (the secret
/// and the codes must be shown, and only here); the rest end with a 303 back to `/account`.
struct TOTPEndpoint {
    static let startPath = "/account/totp/start"
    static let confirmPath = "/account/totp/confirm"
    static let disablePath = "/account/totp/disable"
    static let qrTitle = "QR code for setting up two-step verification in an authenticator app"
    static let wrongCode = "That code is not right. Enter the 6-digit code the app shows now."

    let web: AuthnWeb
    let secondFactor: SecondFactor
    let passwordCheck: CurrentPasswordCheck

    func register(on router: Router<NeoSecRequestContext>) {
        router.post(RouterPath(stringLiteral: Self.startPath)) { request, context in
            try await web.page(context) {
                try await web.accountForm(request) { signedIn, _, request in try await start(signedIn, request, context) }
            }
        }
        router.post(RouterPath(stringLiteral: Self.confirmPath)) { request, context in
            try await web.page(context) {
                try await web.accountForm(request) { signedIn, form, request in try await confirm(signedIn, form, request, context) }
            }
        }
        router.post(RouterPath(stringLiteral: Self.disablePath)) { request, context in
            try await web.page(context) {
                try await web.accountForm(request) { signedIn, form, _ in try await disable(signedIn, form, context) }
            }
        }
    }

    func start(_ signedIn: SessionManager.SignedIn, _ request: Request, _ context: NeoSecRequestContext) async throws -> Response {
        guard let enrolment = try await secondFactor.begin(signedIn.account) else { return web.backToAccount(error: "totp_enabled") }
        context.logger.info("two-step verification enrolment started", metadata: ["account_id": .string(signedIn.account.id)])
        return setupPage(enrolment, request: request)
    }

    func confirm(
        _ signedIn: SessionManager.SignedIn, _ form: FormParameters, _ request: Request, _ context: NeoSecRequestContext
    ) async throws -> Response {
        let account = signedIn.account
        switch try await secondFactor.confirm(account, code: form["otp"] ?? "") {
        case .enabled(let codes):
            context.logger.notice("two-step verification turned on", metadata: ["account_id": .string(account.id)])
            return web.pages.render(.recoveryCodes, RecoveryCodesPage(base: web.pages.basePath, codes: codes))
        case .wrongCode(let enrolment):
            return setupPage(enrolment, request: request, error: Self.wrongCode, status: .badRequest)
        case .nothingPending:
            let enabled = try await secondFactor.isEnabled(accountID: account.id)
            return web.backToAccount(error: enabled ? "totp_enabled" : "totp_restart")
        }
    }

    func disable(_ signedIn: SessionManager.SignedIn, _ form: FormParameters, _ context: NeoSecRequestContext) async throws -> Response {
        let account = signedIn.account
        guard let password = form["password"] else { return web.backToAccount(error: "password") }
        switch try await passwordCheck.check(password, for: account, context: context) {
        case .throttled: return web.backToAccount(error: "throttled")
        case .wrong: return web.backToAccount(error: "password")
        case .correct: break
        }
        try await secondFactor.disable(accountID: account.id)
        context.logger.notice("two-step verification turned off", metadata: ["account_id": .string(account.id)])
        return web.backToAccount(done: "totp_disabled")
    }

    /// The enrolment page. The QR code's SVG is made here from the URI we built, and is the one
    /// value the templates insert unescaped (see `Templates.totpSetup`).
    func setupPage(_ enrolment: SecondFactor.Enrolment, request: Request, error: String? = nil, status: HTTPResponse.Status = .ok) -> Response {
        let csrf = web.csrf.issue(for: request)
        let svg = (try? QRCode(encoding: Array(enrolment.uri.utf8)))?.svg(moduleSize: 4, quietZone: 4, title: Self.qrTitle)
        let page = TOTPSetupPage(
            base: web.pages.basePath, csrfToken: csrf.token, qrSVG: svg, secret: Self.grouped(enrolment.base32), uri: enrolment.uri, error: error
        )
        var response = web.pages.render(.totpSetup, page, status: status)
        response.setCookies(csrf.cookie)
        return response
    }

    /// `ABCD EFGH …`: groups of four, as authenticator apps show keys; spaces are ignored there.
    static func grouped(_ secret: String) -> String {
        var groups: [String] = []
        var rest = Substring(secret)
        while !rest.isEmpty {
            groups.append(String(rest.prefix(4)))
            rest = rest.dropFirst(4)
        }
        return groups.joined(separator: " ")
    }
}
