import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import JOSE
import ServiceKit
import Storage
import WireModels

/// Sign-in through an upstream OpenID Provider, and linking one to the signed-in account.
///
/// - `POST /federation/start` (CSRF; `provider`, optional `login_challenge`, `mode` = `login` or
///   `link`): stores the attempt under the hash of a fresh `state`, binds it to this browser with
///   the `neosec_fed` cookie, and 303s to the provider (code flow, PKCE S256, nonce).
/// - `GET /federation/callback`: the provider's answer. The state is used up, the cookie must
///   match, `iss` (RFC 9207) must be the provider's, the code is redeemed and the ID token
///   verified. A known identity signs its account in; an unknown one creates an account (login)
///   or is linked to the signed-in account (link). An identity is never attached to an
///   existing account because an email address matches.
struct FederationEndpoint {
    static let startPath = "/federation/start"
    static let callbackPath = "/federation/callback"
    static let bindingCookie = "neosec_fed"
    static let stateLifetime: Int64 = 600
    static let acr = "urn:neosec:acr:federated"
    static let amr = ["fed"]
    /// A password hash no password matches: federated-only accounts sign in through their provider.
    static let noPassword = "!federated"

    struct Attempt: Codable {
        var provider: String
        var nonce: String
        var codeVerifier: String
        var bindingHash: String
        var loginChallenge: String?
        var linkAccountID: String?
    }

    let web: AuthnWeb
    let providers: [String: UpstreamClient]
    let accounts: any AccountStore
    let federation: any FederationStore
    let time: any TimeSource
    let callbackURL: String
    let secureCookies: Bool

    func register(on router: Router<NeoSecRequestContext>) {
        router.post(RouterPath(stringLiteral: Self.startPath)) { request, context in
            try await web.page(context) { try await start(request, context) }
        }
        router.get(RouterPath(stringLiteral: Self.callbackPath)) { request, context in
            try await web.page(context) { try await callback(request, context) }
        }
    }

    func start(_ request: Request, _ context: NeoSecRequestContext) async throws -> Response {
        var request = request
        let form = try await request.formParameters(limit: web.bodyLimit)
        try web.csrf.verify(request, form: form)
        guard let id = form["provider"], let upstream = providers[id] else {
            throw web.pages.error(.badRequest, heading: "Unknown provider", message: "This sign-in provider is not configured.")
        }
        var attempt = Attempt(
            provider: id, nonce: RandomToken.make(bytes: 32), codeVerifier: RandomToken.make(bytes: 32), bindingHash: "",
            loginChallenge: try form["login_challenge"].map { try web.challenges.wellFormed($0) }, linkAccountID: nil
        )
        if form["mode"] == "link" {
            guard let signedIn = try await web.sessions.current(request) else { return web.seeOtherLocal(LoginEndpoint.path) }
            attempt.linkAccountID = signedIn.account.id
            attempt.loginChallenge = nil
        }
        let binding = RandomToken.make(bytes: 32)
        attempt.bindingHash = CredentialHash.hex(binding)
        let state = RandomToken.make(bytes: 32)
        let location: String
        do {
            location = try await upstream.authorizationURL(
                redirectURI: callbackURL, state: state, nonce: attempt.nonce,
                codeChallenge: Base64URL.encode(SHA256.hash(data: Array(attempt.codeVerifier.utf8)))
            )
        } catch {
            context.logger.error("federation: upstream unavailable", metadata: ["provider": .string(id)])
            throw web.pages.error(.badGateway, heading: "Provider unavailable", message: "The sign-in provider cannot be reached. Try again later.")
        }
        let payload = String(decoding: try JSONEncoder().encode(attempt), as: UTF8.self)
        try await federation.insertState(hash: CredentialHash.hex(state), payload: payload, expiresAt: time.epochSeconds + Self.stateLifetime)
        context.logger.info("federation started", metadata: ["provider": .string(id), "mode": .string(attempt.linkAccountID == nil ? "login" : "link")])
        let cookie = Cookie(
            name: Self.bindingCookie, value: binding, maxAge: Int(Self.stateLifetime), path: "/", secure: secureCookies, httpOnly: true, sameSite: .lax
        )
        return AuthnWeb.seeOther(location, cookies: cookie)
    }

    func callback(_ request: Request, _ context: NeoSecRequestContext) async throws -> Response {
        let failed = web.pages.error(.badRequest, heading: "Sign-in failed", message: "The sign-in with the provider could not be completed. Start again.")
        guard let query = try? request.queryParameters(), let state = query["state"], state.utf8.count <= 256,
            let payload = try await federation.findState(hash: CredentialHash.hex(state), now: time.epochSeconds),
            let attempt = try? JSONDecoder().decode(Attempt.self, from: Data(payload.utf8)), let upstream = providers[attempt.provider]
        else { throw failed }
        // The attempt belongs to the browser that started it (login CSRF, RFC 6749 §10.12).
        // Checked before the state is used up, so that another browser replaying the callback
        // cannot spoil the real user's sign-in.
        guard let binding = request.cookies[Self.bindingCookie]?.value, ConstantTime.equals(CredentialHash.hex(binding), attempt.bindingHash) else {
            context.logger.notice("federation: state presented by another browser")
            throw failed
        }
        guard try await federation.consumeState(hash: CredentialHash.hex(state), now: time.epochSeconds) != nil else { throw failed }
        let clearBinding = Cookie(name: Self.bindingCookie, value: "", maxAge: 0, path: "/", secure: secureCookies, httpOnly: true, sameSite: .lax)
        // RFC 9207 §2.4: the response's issuer is the provider we asked.
        let advertisesIss = (try? await upstream.metadata().authorizationResponseIssParameterSupported) == true
        if let iss = query["iss"] {
            guard iss == upstream.provider.issuer else { throw failed }
        } else if advertisesIss {
            throw failed
        }
        if query["error"] != nil {
            context.logger.info("federation: provider returned an error", metadata: ["provider": .string(attempt.provider)])
            throw web.pages.error(.badRequest, heading: "Sign-in cancelled", message: "The provider did not sign you in. Start again.")
        }
        guard let code = query["code"], code.utf8.count <= 2048 else { throw failed }
        let identity: UpstreamIDToken
        do {
            identity = try await upstream.redeem(code: code, redirectURI: callbackURL, codeVerifier: attempt.codeVerifier, nonce: attempt.nonce)
        } catch {
            context.logger.warning("federation: code redemption or ID token verification failed", metadata: ["provider": .string(attempt.provider)])
            throw failed
        }
        let now = time.epochSeconds
        let linked = try await federation.account(issuer: identity.iss, subject: identity.sub)

        if let accountID = attempt.linkAccountID {
            // Linking needs both: this browser's session for the account, and the provider's login just now.
            guard let signedIn = try await web.sessions.current(request), signedIn.account.id == accountID else { throw failed }
            if let linked, linked != accountID {
                throw web.pages.error(.conflict, heading: "Already linked", message: "That identity is already linked to another account.")
            }
            if linked == nil {
                _ = try await federation.link(
                    LinkedIdentity(issuer: identity.iss, subject: identity.sub, accountID: accountID, provider: attempt.provider, linkedAt: now)
                )
                context.logger.info("identity linked", metadata: ["account_id": .string(accountID), "provider": .string(attempt.provider)])
            }
            var response = web.seeOtherLocal(AccountEndpoint.path + "?done=linked")
            response.setCookie(clearBinding)
            return response
        }

        let account: StoredAccount
        if let linked, let existing = try await accounts.find(id: linked) {
            guard !existing.disabled else { throw failed }
            account = existing
        } else {
            account = try await createAccount(for: identity, provider: attempt.provider, now: now)
            guard try await federation.link(
                LinkedIdentity(issuer: identity.iss, subject: identity.sub, accountID: account.id, provider: attempt.provider, linkedAt: now)
            ) else { throw failed }
            context.logger.info("account created from federated identity", metadata: ["account_id": .string(account.id), "provider": .string(attempt.provider)])
        }
        let (session, cookie) = try await web.sessions.start(accountID: account.id, acr: Self.acr, amr: Self.amr, replacing: request)
        context.logger.info("federated login succeeded", metadata: ["account_id": .string(account.id), "provider": .string(attempt.provider)])
        guard let challenge = attempt.loginChallenge else {
            var response = web.seeOtherLocal(AccountEndpoint.path, cookies: cookie)
            response.setCookie(clearBinding)
            return response
        }
        // `acr_values` asking for two-step verification is honoured here as on the password
        // path (SPEC §5): a federated sign-in does not satisfy it unless the client accepts it.
        let info = try await web.challenges.login(challenge)
        if SecondFactor.required(by: info.acrValues), !info.acrValues.contains(Self.acr) {
            context.logger.info("federated login does not meet the requested acr", metadata: ["account_id": .string(account.id)])
            throw web.pages.secondFactorRequired
        }
        let location = try await web.challenges.acceptLogin(
            LoginAccept(challenge: challenge, subject: account.id, authTime: session.authTime, acr: Self.acr, amr: Self.amr, sessionID: session.sid)
        )
        return AuthnWeb.seeOther(location, cookies: cookie, clearBinding)
    }

    /// A new local account for a first federated sign-in: a fresh subject, a username derived
    /// from the provider's (made unique), the profile claims it sent, and `email_verified` only
    /// when the provider said so.
    func createAccount(for identity: UpstreamIDToken, provider: String, now: Int64) async throws -> StoredAccount {
        let base = Self.usernameBase(identity.preferredUsername ?? identity.email?.split(separator: "@").first.map(String.init) ?? "user")
        var claims: [String: Any] = [:]
        if let name = identity.name, name.count <= 200 { claims["name"] = name }
        if let email = identity.email, email.count <= 254, email.contains("@") {
            claims["email"] = email
            claims["email_verified"] = identity.emailVerified == true
        }
        let claimsJSON = String(decoding: try JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys]), as: UTF8.self)
        for attempt in 0..<5 {
            let username = attempt == 0 ? "\(base)@\(provider)" : "\(base)-\(RandomToken.make(bytes: 3).lowercased())@\(provider)"
            let account = StoredAccount(
                id: RandomToken.make(bytes: 16), username: String(username.prefix(64)), passwordHash: Self.noPassword, claimsJSON: claimsJSON,
                createdAt: now, updatedAt: now
            )
            if try await accounts.insert(account) { return account }
        }
        throw web.pages.unavailable
    }

    /// `[a-z0-9._-]`, at most 40 characters, never empty.
    static func usernameBase(_ raw: String) -> String {
        let allowed = raw.lowercased().unicodeScalars.filter { ($0.value >= 0x61 && $0.value <= 0x7A) || ($0.value >= 0x30 && $0.value <= 0x39) || "._-".unicodeScalars.contains($0) }
        let text = String(String.UnicodeScalarView(allowed).prefix(40))
        return text.isEmpty ? "user" : text
    }
}
