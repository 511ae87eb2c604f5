import HTTPTypes
import Hummingbird
import ServiceKit
import Storage
import WireModels

/// How a user proved who they are: the ACR and RFC 8176 `amr` values of the session and of the
/// ID token.
enum SignInMethod: Sendable, Equatable {
    case password
    case passwordAndTOTP
    case passwordAndRecoveryCode

    init(secondFactor method: SecondFactor.Method) {
        switch method {
        case .totp: self = .passwordAndTOTP
        case .recoveryCode: self = .passwordAndRecoveryCode
        }
    }

    var acr: String {
        switch self {
        case .password: LoginEndpoint.acr
        case .passwordAndTOTP, .passwordAndRecoveryCode: SecondFactor.acr
        }
    }

    /// RFC 8176 §2: `pwd`; `otp` for a one-time password; `mfa` for more than one factor. A
    /// recovery code is a second factor (a look-up secret) but not an OTP device.
    var amr: [String] {
        switch self {
        case .password: LoginEndpoint.amr
        case .passwordAndTOTP: ["pwd", "otp", "mfa"]
        case .passwordAndRecoveryCode: ["pwd", "mfa"]
        }
    }
}

extension AuthnWeb {
    /// The end of every sign-in, password only or with a second factor: a new session (replacing
    /// the browser's old one), then the login challenge accepted and a 303 to where the Token
    /// Service says, or without a challenge a 303 to the account page.
    ///
    /// A password-only sign-in for a request whose `acr_values` ask for a second factor the
    /// account does not have ends on a page saying so: the session stays, so that the user can
    /// set two-step verification up on the account page and try again.
    func finishSignIn(
        account: StoredAccount, method: SignInMethod, challenge: String?, request: Request, context: NeoSecRequestContext,
        cookies extra: [Cookie] = []
    ) async throws -> Response {
        let (session, sessionCookie) = try await sessions.start(accountID: account.id, acr: method.acr, amr: method.amr, replacing: request)
        context.logger.info("login succeeded", metadata: ["account_id": .string(account.id), "acr": .string(method.acr)])
        let cookies = [sessionCookie] + extra
        guard let challenge else {
            var response = seeOtherLocal(AccountEndpoint.path)
            for cookie in cookies { response.setCookie(cookie) }
            return response
        }
        do {
            if method.acr != SecondFactor.acr {
                let info = try await challenges.login(challenge)
                if SecondFactor.required(by: info.acrValues) {
                    context.logger.info("login needs a second factor the account does not have", metadata: ["account_id": .string(account.id)])
                    throw pages.secondFactorRequired
                }
            }
            let location = try await challenges.acceptLogin(
                LoginAccept(
                    challenge: challenge, subject: account.id, authTime: session.authTime, acr: method.acr, amr: method.amr, sessionID: session.sid
                )
            )
            var response = AuthnWeb.seeOther(location)
            for cookie in cookies { response.setCookie(cookie) }
            return response
        } catch let error as HTMLError {
            // Signed in all the same: keep the new session, and say why the app's request cannot go on.
            var response = error.makeResponse()
            for cookie in cookies { response.setCookie(cookie) }
            return response
        }
    }

    /// The password form (SPEC §3: `username`, `password`, `csrf_token`, the login challenge).
    func loginPage(
        _ csrf: CSRFProtection.Issued, challenge: String?, client: ClientView?, username: String?, error: String? = nil,
        status: HTTPResponse.Status = .ok, headers: HTTPFields = [:], cookies: [Cookie] = []
    ) -> Response {
        let page = LoginPage(
            base: pages.basePath, csrfToken: csrf.token, challenge: challenge, client: client, username: username, error: error, providers: pages.providers
        )
        var response = pages.render(.login, page, status: status, extraHeaders: headers)
        response.setCookies(csrf.cookie)
        for cookie in cookies { response.setCookie(cookie) }
        return response
    }

    /// The second step (SPEC §3: a field named `otp`), posting to `/login/otp`.
    func otpPage(
        _ csrf: CSRFProtection.Issued, challenge: String?, client: ClientView?, username: String, error: String? = nil,
        status: HTTPResponse.Status = .ok, headers: HTTPFields = [:], cookies: [Cookie] = []
    ) -> Response {
        let page = OTPPage(base: pages.basePath, csrfToken: csrf.token, challenge: challenge, client: client, username: username, error: error)
        var response = pages.render(.otp, page, status: status, extraHeaders: headers)
        response.setCookies(csrf.cookie)
        for cookie in cookies { response.setCookie(cookie) }
        return response
    }
}
