import HTTPTypes
import Hummingbird
import JOSE
import ServiceKit
import Storage

/// `GET /login/otp` and `POST /login/otp`: the second sign-in step, after a correct password
/// for an account with two-step verification (SPEC §3: a field named `otp`).
///
/// The step belongs to the browser that passed the password step (`neosec_mfa`, see
/// `PendingSignInManager`), for 5 minutes. It takes a TOTP code (RFC 6238, each time step
/// once) or a recovery code (each once). Wrong codes count against the same throttle keys as
/// wrong passwords, so guessing codes is as slow as guessing passwords and ends in the same lock.
/// Success makes the session (`acr` `urn:neosec:acr:mfa`; `amr` `pwd otp mfa`, or `pwd mfa`
/// for a recovery code) and goes on exactly as a password sign-in does.
struct OTPLoginEndpoint {
    static let path = "/login/otp"
    static let badCode = "The code is incorrect or was already used. Enter the current code from your app, or a recovery code."
    static let expired = "Your sign-in timed out. Enter your username and password again."

    let web: AuthnWeb
    let accounts: any AccountStore
    let throttle: any LoginThrottleStore
    let secondFactor: SecondFactor
    let time: any TimeSource

    func register(on router: Router<NeoSecRequestContext>) {
        router.get(RouterPath(stringLiteral: Self.path)) { request, context in
            try await web.page(context) { try await show(request) }
        }
        router.post(RouterPath(stringLiteral: Self.path)) { request, context in
            try await web.page(context) { try await submit(request, context) }
        }
    }

    /// The form again (a reload); without a pending sign-in, back to the password form.
    func show(_ request: Request) async throws -> Response {
        guard let pending = try await web.pendingSignIns.current(request), let account = try await accounts.find(id: pending.accountID),
            !account.disabled
        else { return web.seeOtherLocal(LoginEndpoint.path) }
        let csrf = web.csrf.issue(for: request)
        return web.otpPage(csrf, challenge: pending.challenge, client: try await client(pending.challenge), username: account.username)
    }

    func submit(_ request: Request, _ context: NeoSecRequestContext) async throws -> Response {
        var request = request
        let parameters = try await request.formParameters(limit: web.bodyLimit)
        try web.csrf.verify(request, form: parameters)
        let csrf = web.csrf.issue(for: request)
        let formChallenge = try parameters["login_challenge"].map { try web.challenges.wellFormed($0) }

        guard let pending = try await web.pendingSignIns.current(request), pending.challenge == formChallenge,
            let account = try await accounts.find(id: pending.accountID), !account.disabled
        else {
            context.logger.info("second factor without a pending sign-in")
            return web.loginPage(
                csrf, challenge: formChallenge, client: try await client(formChallenge), username: nil, error: Self.expired, status: .badRequest,
                cookies: [web.pendingSignIns.clearingCookie]
            )
        }

        func again(_ message: String, status: HTTPResponse.Status, headers: HTTPFields = [:]) async throws -> Response {
            web.otpPage(
                csrf, challenge: pending.challenge, client: try await client(pending.challenge), username: account.username, error: message,
                status: status, headers: headers
            )
        }

        guard let otp = parameters["otp"], !otp.isEmpty else {
            return try await again("Enter the code from your authenticator app, or a recovery code.", status: .badRequest)
        }

        let now = time.epochSeconds
        let addressKey = AuthnWeb.addressKey(context)
        let accountKey = AuthnWeb.accountKey(account.username)
        let addressWait = try await throttle.check(key: addressKey, now: now)
        let accountWait = try await throttle.check(key: accountKey, now: now)
        if let wait = [addressWait, accountWait].compactMap({ $0 }).max() {
            context.logger.notice("second factor throttled", metadata: ["account_id": .string(account.id)])
            return try await again(
                "Too many failed sign-in attempts. Wait \(LoginEndpoint.describe(wait)) and try again.",
                status: .tooManyRequests,
                headers: [.retryAfter: String(wait)]
            )
        }

        guard let method = try await secondFactor.verify(otp, accountID: account.id) else {
            try await throttle.recordFailure(key: addressKey, now: now, policy: .clientAddress)
            let state = try await throttle.recordFailure(key: accountKey, now: now, policy: .account)
            context.logger.notice("second factor failed", metadata: ["account_id": .string(account.id)])
            if state.locked { context.logger.warning("account locked after repeated failures", metadata: ["account_id": .string(account.id)]) }
            return try await again(Self.badCode, status: .unauthorized)
        }

        // The pending sign-in is used up here: a second request with the same cookie gets nothing.
        guard let consumed = try await web.pendingSignIns.consume(request), consumed.accountID == account.id else {
            return web.loginPage(
                csrf, challenge: formChallenge, client: nil, username: nil, error: Self.expired, status: .badRequest,
                cookies: [web.pendingSignIns.clearingCookie]
            )
        }
        try await throttle.reset(key: accountKey)
        if method == .recoveryCode {
            let left = try await secondFactor.recoveryCodesLeft(accountID: account.id)
            context.logger.notice(
                "recovery code used", metadata: ["account_id": .string(account.id), "recovery_codes_left": .stringConvertible(left)]
            )
        }
        return try await web.finishSignIn(
            account: account, method: SignInMethod(secondFactor: method), challenge: consumed.challenge, request: request, context: context,
            cookies: [web.pendingSignIns.clearingCookie]
        )
    }

    /// The app's details for the page, when the sign-in answers a challenge. Only decoration:
    /// an unreachable Token Service leaves them out rather than failing the step.
    private func client(_ challenge: String?) async throws -> ClientView? {
        guard let challenge else { return nil }
        do {
            return ClientView(try await web.challenges.login(challenge).client)
        } catch is HTMLError {
            return nil
        }
    }
}
