import Foundation
import HTTPTypes
import Hummingbird
import JOSE
import ServiceKit
import Storage
import WireModels

/// `GET /login` and `POST /login`: password sign-in, for a Token Service login challenge or
/// directly (then on to the account page).
///
/// OpenID Connect Core §3.1.2.3: an existing session answers the challenge at once, unless
/// `prompt=login` or a `max_age` the session is older than asks for a fresh sign-in;
/// `prompt=none` without a usable session is `login_required` (§3.1.2.6).
///
/// Failed attempts are throttled per client address and per account (SPEC §3: 429 with
/// `Retry-After`); the answer never tells an unknown username from a wrong password, a disabled
/// account or a locked one, and an unknown username costs the same scrypt run.
///
/// An account with two-step verification gets no session from its password: the password step
/// ends on the `otp` form (`OTPLoginEndpoint`). A request whose `acr_values` ask for a second
/// factor (`urn:neosec:acr:mfa`) is not answered from a password-only session.
struct LoginEndpoint {
    static let path = "/login"
    static let acr = "urn:neosec:acr:password"
    static let amr = ["pwd"]
    static let badCredentials = "The username or password is incorrect."

    let web: AuthnWeb
    let accounts: any AccountStore
    let throttle: any LoginThrottleStore
    let hasher: PasswordHasher
    let secondFactor: SecondFactor
    let time: any TimeSource

    func register(on router: Router<NeoSecRequestContext>) {
        router.get(RouterPath(stringLiteral: Self.path)) { request, context in
            try await web.page(context) { try await show(request, context) }
        }
        router.post(RouterPath(stringLiteral: Self.path)) { request, context in
            try await web.page(context) { try await submit(request, context) }
        }
    }

    // MARK: GET

    func show(_ request: Request, _ context: NeoSecRequestContext) async throws -> Response {
        let query = try request.queryParameters()
        let csrf = web.csrf.issue(for: request)
        guard let challenge = query["login_challenge"] else {
            if try await web.sessions.current(request) != nil { return web.seeOtherLocal(AccountEndpoint.path) }
            return loginForm(csrf, challenge: nil, client: nil, username: nil)
        }
        let info = try await web.challenges.login(challenge)
        let signedIn = try await web.sessions.current(request)
        let needsSecondFactor = SecondFactor.required(by: info.acrValues)
        // `select_account` (OpenID Connect Core §3.1.2.1) shows the form even with a session: the
        // user picks the account by signing in with it (prefilled with the current one).
        if let signedIn, !info.prompt.contains("login"), !info.prompt.contains("select_account"),
            info.maxAge.map({ time.epochSeconds - signedIn.session.authTime <= Int64($0) }) ?? true,
            !needsSecondFactor || signedIn.session.acr == SecondFactor.acr
        {
            let session = signedIn.session
            let location = try await web.challenges.acceptLogin(
                LoginAccept(
                    challenge: challenge, subject: signedIn.account.id, authTime: session.authTime, acr: session.acr ?? Self.acr,
                    amr: session.amr, sessionID: session.sid
                )
            )
            context.logger.info("login accepted from session", metadata: ["account_id": .string(signedIn.account.id)])
            return AuthnWeb.seeOther(location, cookies: csrf.cookie)
        }
        if info.prompt.contains("none") {
            context.logger.info("login required but prompt=none")
            return AuthnWeb.seeOther(try await web.challenges.rejectLogin(challenge, error: "login_required"))
        }
        // A step-up (a password-only session, a request that needs more) names the signed-in user.
        let hint = info.loginHint.flatMap { $0.utf8.count <= 64 ? $0 : nil } ?? signedIn?.account.username
        return loginForm(csrf, challenge: challenge, client: ClientView(info.client), username: hint)
    }

    // MARK: POST

    func submit(_ request: Request, _ context: NeoSecRequestContext) async throws -> Response {
        var request = request
        let parameters = try await request.formParameters(limit: web.bodyLimit)
        try web.csrf.verify(request, form: parameters)
        let csrf = web.csrf.issue(for: request)
        let challenge = try parameters["login_challenge"].map { try web.challenges.wellFormed($0) }

        if parameters["action"] == "cancel" {
            guard let challenge else { return web.seeOtherLocal(Self.path) }
            context.logger.info("login cancelled")
            return AuthnWeb.seeOther(try await web.challenges.rejectLogin(challenge, error: "access_denied"))
        }

        let username = (parameters["username"] ?? "").trimmingCharacters(in: .whitespaces).lowercased()
        let password = parameters["password"] ?? ""

        /// The form again, with a message; the app's details are fetched again (the challenge
        /// is only read, not used up).
        func again(_ message: String, status: HTTPResponse.Status, headers: HTTPFields = [:]) async throws -> Response {
            var client: ClientView?
            if let challenge { client = ClientView(try await web.challenges.login(challenge).client) }
            return loginForm(csrf, challenge: challenge, client: client, username: username, error: message, status: status, headers: headers)
        }

        guard !username.isEmpty, !password.isEmpty else {
            return try await again("Enter your username and password.", status: .badRequest)
        }

        let now = time.epochSeconds
        let addressKey = AuthnWeb.addressKey(context)
        let accountKey = AuthnWeb.accountKey(username)
        let addressWait = try await throttle.check(key: addressKey, now: now)
        let accountWait = try await throttle.check(key: accountKey, now: now)
        if let wait = [addressWait, accountWait].compactMap({ $0 }).max() {
            context.logger.notice("login throttled")
            return try await again(
                "Too many failed sign-in attempts. Wait \(Self.describe(wait)) and try again.",
                status: .tooManyRequests,
                headers: [.retryAfter: String(wait)]
            )
        }

        let account = try await accounts.find(username: username)
        let matches = try await hasher.verify(password: password, encoded: account?.passwordHash ?? hasher.dummyHash)
        guard let account, matches, !account.disabled else {
            try await throttle.recordFailure(key: addressKey, now: now, policy: .clientAddress)
            let state = try await throttle.recordFailure(key: accountKey, now: now, policy: .account)
            if let account {
                context.logger.notice("login failed", metadata: ["account_id": .string(account.id)])
                if state.locked { context.logger.warning("account locked after repeated failures", metadata: ["account_id": .string(account.id)]) }
            } else {
                context.logger.notice("login failed")
            }
            return try await again(Self.badCredentials, status: .unauthorized)
        }

        // Only the account's counter: clearing the address's on success would let one attacker
        // reset it between guesses by signing in to an account of their own. With two-step
        // verification, only the second step clears it: otherwise whoever knows the password
        // could reset the count of wrong codes by entering the password again.
        let twoStep = try await secondFactor.isEnabled(accountID: account.id)
        if !twoStep { try await throttle.reset(key: accountKey) }
        if hasher.needsRehash(account.passwordHash) {
            do {
                _ = try await accounts.setPasswordHash(id: account.id, passwordHash: try await hasher.hash(password), at: now)
                context.logger.info("password rehashed", metadata: ["account_id": .string(account.id)])
            } catch {
                context.logger.warning("password rehash failed", metadata: ["account_id": .string(account.id)])
            }
        }
        if twoStep {
            let pending = try await web.pendingSignIns.start(accountID: account.id, challenge: challenge, replacing: request)
            context.logger.info("password accepted, second factor required", metadata: ["account_id": .string(account.id)])
            var client: ClientView?
            if let challenge { client = (try? await web.challenges.login(challenge)).map { ClientView($0.client) } }
            return web.otpPage(csrf, challenge: challenge, client: client, username: account.username, cookies: [pending])
        }
        return try await web.finishSignIn(account: account, method: .password, challenge: challenge, request: request, context: context)
    }

    // MARK: Rendering

    func loginForm(
        _ csrf: CSRFProtection.Issued, challenge: String?, client: ClientView?, username: String?, error: String? = nil,
        status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]
    ) -> Response {
        web.loginPage(csrf, challenge: challenge, client: client, username: username, error: error, status: status, headers: headers)
    }

    static func describe(_ seconds: Int64) -> String {
        if seconds < 60 { return seconds == 1 ? "1 second" : "\(seconds) seconds" }
        let minutes = (seconds + 59) / 60
        return minutes == 1 ? "1 minute" : "\(minutes) minutes"
    }
}
