import Hummingbird
import JOSE
import ServiceKit
import Storage
import WireModels

/// `GET /account`: the signed-in user's account page (SPEC §5): profile, two-step verification
/// (`TOTPEndpoint`), password change, connected applications with per-app revoke, linked
/// identities, sign-out. Without a session, on to `/login`. `GET /` leads here.
///
/// - `POST /account/password` — `current_password`, `new_password`, `confirm_password`. The
///   current password is checked (and throttled) as at sign-in; on success every other session
///   of the account ends, this browser gets a fresh session id, and the Token Service revokes the
///   account's tokens (`password_reset`), as an administrator's reset does.
/// - `POST /account/apps/revoke` — `client_id`: the Token Service forgets the consent and
///   revokes the app's tokens for this user.
///
/// Every form is CSRF-checked and ends with a 303 back here carrying a flag (`?done=…`,
/// `?error=…`) that the page maps to a fixed message: nothing typed is ever echoed.
struct AccountEndpoint {
    static let path = "/account"
    static let passwordPath = "/account/password"
    static let revokeAppPath = "/account/apps/revoke"
    static let backchannelDecidePath = "/account/backchannel/decide"
    static let clientIDLength = 1...255
    /// The identities an account signs in with; federation adds upstream providers later.
    static let localIdentity = "Password (local)"

    static let notices: [String: String] = [
        "password": "Your password has been changed. You have been signed out everywhere else.",
        "totp_enabled": "Two-step verification is on.",
        "linked": "The identity is linked to your account.",
        "totp_disabled": "Two-step verification is off.",
        "app_revoked": "Access removed. The application can no longer use your account.",
        "request_allowed": "Request allowed. The person can now use what they asked for.",
        "request_denied": "Request denied.",
        "shared": "Shared.",
        "unshared": "Access withdrawn.",
        "app_request_allowed": "Allowed. The app can now use what it asked for.",
        "app_request_denied": "Denied. The app gets no access.",
    ]

    static let errors: [String: String] = [
        "password": "The current password is incorrect.",
        "password_missing": "Enter your current password, then the new password twice.",
        "password_mismatch": "The new passwords do not match.",
        "password_length": "Choose a new password of 8 to 1024 characters.",
        "throttled": "Too many incorrect passwords. Wait a few minutes and try again.",
        "totp_enabled": "Two-step verification is already on.",
        "totp_restart": "Setting up two-step verification did not finish. Please start again.",
        "app_unknown": "That application had no access to remove.",
        "request_unknown": "That request is no longer pending.",
        "share_missing": "Choose at least one permission and enter a username.",
        "share_user": "There is no other user with that username.",
        "share_unknown": "That access was already withdrawn.",
        "unavailable": "That could not be done right now. Please try again in a moment.",
        "app_request_unknown": "That request is no longer waiting for you.",
    ]

    let web: AuthnWeb
    let accounts: any AccountStore
    let hasher: PasswordHasher
    let passwordCheck: CurrentPasswordCheck
    let secondFactor: SecondFactor
    let tokenService: TokenServiceClient
    let federation: any FederationStore
    let uma: UMAClient
    let time: any TimeSource

    func register(on router: Router<NeoSecRequestContext>) {
        router.get("/") { _, _ in web.seeOtherLocal(Self.path) }
        router.get(RouterPath(stringLiteral: Self.path)) { request, context in
            try await web.page(context) { try await show(request, context) }
        }
        router.post(RouterPath(stringLiteral: Self.passwordPath)) { request, context in
            try await web.page(context) {
                try await web.accountForm(request) { signedIn, form, _ in try await changePassword(signedIn, form, context) }
            }
        }
        router.post(RouterPath(stringLiteral: Self.backchannelDecidePath)) { request, context in
            try await web.page(context) {
                try await web.accountForm(request) { signedIn, form, _ in try await decideAppRequest(signedIn, form, context) }
            }
        }
        router.post(RouterPath(stringLiteral: Self.revokeAppPath)) { request, context in
            try await web.page(context) {
                try await web.accountForm(request) { signedIn, form, _ in try await revokeApp(signedIn, form, context) }
            }
        }
    }

    // MARK: GET

    func show(_ request: Request, _ context: NeoSecRequestContext) async throws -> Response {
        guard let signedIn = try await web.sessions.current(request) else { return web.seeOtherLocal(LoginEndpoint.path) }
        let account = signedIn.account
        let query = try request.queryParameters()
        let claims = (try? AccountClaims.decode(account.claimsJSON)) ?? [:]

        // The apps come from the Token Service; the rest of the page does not depend on it.
        var apps: [AccountPage.App] = []
        var appsUnavailable = false
        do {
            apps = try await tokenService.consents(of: account.id).map { grant in
                AccountPage.App(clientID: grant.client.clientID, name: ClientView(grant.client).name, scopes: grant.scopes.joined(separator: ", "))
            }
        } catch let error as CancellationError {
            throw error
        } catch {
            appsUnavailable = true
            context.logger.warning("connected applications unavailable", metadata: ["error_type": .string(String(reflecting: type(of: error)))])
        }

        // Shared resources and pending UMA requests come from the UMA service.
        var shared: [AccountPage.SharedResource] = []
        var pending: [AccountPage.PendingRequest] = []
        var sharingUnavailable = false
        do {
            let view = try await uma.view(owner: account.id)
            // Requesting parties are shown by username (their `sub` when the account is gone).
            var names: [String: String] = [:]
            let parties = Set(view.resources.flatMap { $0.grants.map(\.requestingParty) } + view.requests.map(\.requestingParty))
            for party in parties.prefix(200) {
                names[party] = try await accounts.find(id: party)?.username ?? party
            }
            let username = { (sub: String) in names[sub] ?? sub }
            for resource in view.resources {
                var grants: [AccountPage.Grant] = []
                for grant in resource.grants {
                    grants.append(AccountPage.Grant(id: grant.id, party: username(grant.requestingParty), scopes: grant.scopes.joined(separator: ", ")))
                }
                shared.append(AccountPage.SharedResource(id: resource.id, name: resource.name, scopes: resource.scopes, grants: grants, hasGrants: !grants.isEmpty))
            }
            for request in view.requests {
                pending.append(
                    AccountPage.PendingRequest(
                        id: request.id, resourceName: request.resourceName, party: username(request.requestingParty), clientID: request.clientID,
                        scopes: request.scopes.joined(separator: ", ")
                    )
                )
            }
        } catch let error as CancellationError {
            throw error
        } catch {
            sharingUnavailable = true
            context.logger.warning("shared resources unavailable", metadata: ["error_type": .string(String(reflecting: type(of: error)))])
        }

        // Backchannel permission requests come from the Token Service too.
        var appRequests: [AccountPage.AppRequest] = []
        var appRequestsUnavailable = false
        do {
            appRequests = try await tokenService.backchannelRequests(of: account.id).map { item in
                AccountPage.AppRequest(id: item.id, clientName: ClientView(item.client).name, scopes: item.scopes.joined(separator: ", "), bindingMessage: item.bindingMessage)
            }
        } catch let error as CancellationError {
            throw error
        } catch {
            appRequestsUnavailable = true
            context.logger.warning("backchannel requests unavailable", metadata: ["error_type": .string(String(reflecting: type(of: error)))])
        }

        let totpEnabled = try await secondFactor.isEnabled(accountID: account.id)
        var recoveryCodesLeft = 0
        if totpEnabled { recoveryCodesLeft = try await secondFactor.recoveryCodesLeft(accountID: account.id) }
        let linked = try await federation.identities(accountID: account.id)
        var identities: [(label: String, provider: String?)] = account.passwordHash == FederationEndpoint.noPassword ? [] : [(Self.localIdentity, nil)]
        for identity in linked {
            let name = web.pages.providers.first { $0.id == identity.provider }?.name ?? identity.provider
            identities.append(("\(name) (\(identity.issuer))", identity.provider))
        }
        let linkable = web.pages.providers.filter { provider in !linked.contains { $0.provider == provider.id } }
        let csrf = web.csrf.issue(for: request)
        var page = AccountPage(
            base: web.pages.basePath, csrfToken: csrf.token, username: account.username, name: Self.text(claims["name"]),
            email: Self.text(claims["email"]), notice: query["done"].flatMap { Self.notices[$0] }, error: query["error"].flatMap { Self.errors[$0] },
            totpEnabled: totpEnabled, recoveryCodesLeft: recoveryCodesLeft, apps: apps, hasApps: !apps.isEmpty, appsUnavailable: appsUnavailable,
            identities: identities.map(\.label), linkable: linkable, hasLinkable: !linkable.isEmpty,
            sharedResources: shared, hasSharedResources: !shared.isEmpty, pendingRequests: pending, hasPendingRequests: !pending.isEmpty,
            sharingUnavailable: sharingUnavailable
        )
        page.appRequests = appRequests
        page.hasAppRequests = !appRequests.isEmpty
        page.appRequestsUnavailable = appRequestsUnavailable
        var response = web.pages.render(.account, page)
        response.setCookies(csrf.cookie)
        return response
    }

    // MARK: POST

    func changePassword(_ signedIn: SessionManager.SignedIn, _ form: FormParameters, _ context: NeoSecRequestContext) async throws -> Response {
        let account = signedIn.account
        guard let current = form["current_password"], let newPassword = form["new_password"], let confirmation = form["confirm_password"] else {
            return web.backToAccount(error: "password_missing")
        }
        // Checked before the current password, which costs an scrypt run and a throttle count.
        guard newPassword == confirmation else { return web.backToAccount(error: "password_mismatch") }
        guard AdminAccountsEndpoint.passwordLength.contains(newPassword.count) else { return web.backToAccount(error: "password_length") }

        switch try await passwordCheck.check(current, for: account, context: context) {
        case .throttled: return web.backToAccount(error: "throttled")
        case .wrong: return web.backToAccount(error: "password")
        case .correct: break
        }
        guard try await accounts.setPasswordHash(id: account.id, passwordHash: try await hasher.hash(newPassword), at: time.epochSeconds) else {
            return web.backToAccount(error: "unavailable")
        }
        let cookie = try await web.sessions.keepOnly(signedIn)
        await tokenService.revokeTokens(of: account.id, reason: "password_reset", logger: context.logger)
        context.logger.notice("password changed by the account holder", metadata: ["account_id": .string(account.id)])
        return web.backToAccount(done: "password", cookies: cookie)
    }

    /// `POST /account/backchannel/decide` — `request_id`, `decision` (`allow` or `deny`): the
    /// decision carries this session's authentication (`auth_time`, `acr`, `amr`, `sid`).
    func decideAppRequest(_ signedIn: SessionManager.SignedIn, _ form: FormParameters, _ context: NeoSecRequestContext) async throws -> Response {
        guard let id = form["request_id"], (1...64).contains(id.utf8.count), let decision = form["decision"], decision == "allow" || decision == "deny" else {
            return web.backToAccount(error: "app_request_unknown")
        }
        let session = signedIn.session
        do {
            let done = try await tokenService.decideBackchannel(
                BackchannelDecision(
                    id: id, subject: signedIn.account.id, allow: decision == "allow", authTime: session.authTime, acr: session.acr ?? LoginEndpoint.acr,
                    amr: session.amr, sessionID: session.sid
                )
            )
            guard done else { return web.backToAccount(error: "app_request_unknown") }
            context.logger.notice("backchannel request decided by the account holder", metadata: ["account_id": .string(signedIn.account.id)])
            return web.backToAccount(done: decision == "allow" ? "app_request_allowed" : "app_request_denied")
        } catch let error as CancellationError {
            throw error
        } catch {
            context.logger.error("backchannel decision failed", metadata: ["error_type": .string(String(reflecting: type(of: error)))])
            return web.backToAccount(error: "unavailable")
        }
    }

    func revokeApp(_ signedIn: SessionManager.SignedIn, _ form: FormParameters, _ context: NeoSecRequestContext) async throws -> Response {
        let account = signedIn.account
        guard let clientID = form["client_id"], Self.clientIDLength.contains(clientID.utf8.count) else {
            return web.backToAccount(error: "app_unknown")
        }
        do {
            let revoked = try await tokenService.revokeConsent(subject: account.id, clientID: clientID)
            context.logger.notice(
                "application access revoked by the account holder",
                metadata: ["account_id": .string(account.id), "client_id": .string(clientID), "revoked": .stringConvertible(revoked)]
            )
            return revoked ? web.backToAccount(done: "app_revoked") : web.backToAccount(error: "app_unknown")
        } catch let error as CancellationError {
            throw error
        } catch {
            context.logger.error(
                "application revocation failed",
                metadata: ["account_id": .string(account.id), "error_type": .string(String(reflecting: type(of: error)))]
            )
            return web.backToAccount(error: "unavailable")
        }
    }

    static func text(_ claim: ClaimValue?) -> String? {
        guard case .string(let value)? = claim, !value.isEmpty else { return nil }
        return value
    }
}

/// The current password, entered again on the account page to change it or to turn two-step
/// verification off: checked like a sign-in and throttled on the same keys, so that a stolen
/// session cannot be turned into a password-guessing oracle.
struct CurrentPasswordCheck: Sendable {
    enum Outcome: Sendable {
        case correct
        case wrong
        case throttled
    }

    let throttle: any LoginThrottleStore
    let hasher: PasswordHasher
    let time: any TimeSource

    func check(_ password: String, for account: StoredAccount, context: NeoSecRequestContext) async throws -> Outcome {
        let now = time.epochSeconds
        let addressKey = AuthnWeb.addressKey(context)
        let accountKey = AuthnWeb.accountKey(account.username)
        let addressWait = try await throttle.check(key: addressKey, now: now)
        let accountWait = try await throttle.check(key: accountKey, now: now)
        if addressWait != nil || accountWait != nil {
            context.logger.notice("password check throttled", metadata: ["account_id": .string(account.id)])
            return .throttled
        }
        guard try await hasher.verify(password: password, encoded: account.passwordHash) else {
            try await throttle.recordFailure(key: addressKey, now: now, policy: .clientAddress)
            let state = try await throttle.recordFailure(key: accountKey, now: now, policy: .account)
            context.logger.notice("password check failed", metadata: ["account_id": .string(account.id)])
            if state.locked { context.logger.warning("account locked after repeated failures", metadata: ["account_id": .string(account.id)]) }
            return .wrong
        }
        return .correct
    }
}
