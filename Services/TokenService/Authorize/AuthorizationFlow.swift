import Foundation
import JOSE
import ServiceKit
import Storage
import WireModels

/// The authorization code flow between the authorization endpoint, the Authentication Service
/// (login and consent, by challenge) and the code: every state change in one place.
///
/// A challenge is 256 random bits, stored only as its SHA-256, live for 15 minutes, and used up
/// by the accept or reject that answers it. A code lives 60 seconds and is redeemed once.
struct AuthorizationFlow: Sendable {
    static let challengeLifetime: Int64 = 900
    static let codeLifetime: Int64 = 60
    static let codePrefix = "neo_ac_"
    /// Clock skew tolerated between the services when checking `auth_time`.
    static let skew: Int64 = 5

    let issuer: String
    let authnURL: String
    let registry: ClientRegistry
    let store: any AuthorizationStore
    let tokens: any TokenStore
    let userTokens: UserTokenIssuer
    let time: any TimeSource
    /// Trades a permission ticket for one bound to the requesting party who signed in (the UMA
    /// service's `/internal/uma/claims`); nil when the ticket was unusable.
    var umaClaims: (@Sendable (_ ticket: String, _ clientID: String, _ subject: String) async throws -> String?)? = nil
    /// RFC 8628: where device authorizations are decided.
    var devices: (any DeviceAuthorizationStore)? = nil

    enum ChallengeKind: String {
        case login, consent, logout
    }

    struct StoredLogout: Codable {
        var clientID: String?
        var subject: String?
        var sessionID: String?
        var redirect: String?
    }

    // MARK: Authorization endpoint

    /// Stores the request behind a fresh login challenge; returns where to send the browser.
    func begin(_ pending: PendingAuthorization) async throws -> String {
        var pending = pending
        pending.createdAt = time.epochSeconds
        let challenge = try await newChallenge(.login, payload: pending)
        return authnURL + "/login?login_challenge=" + challenge
    }

    /// The redirect carrying an authorization error (RFC 6749 §4.1.2.1, RFC 9207 `iss`).
    func errorRedirect(_ pending: PendingAuthorization, error: String, description: String?) -> String {
        var parameters = [("error", error)]
        if let description { parameters.append(("error_description", description)) }
        if let state = pending.state { parameters.append(("state", state)) }
        parameters.append(("iss", issuer))
        return respond(pending, parameters)
    }

    /// The authorization response: parameters in the query, or in the fragment for implicit
    /// responses and `response_mode=fragment`.
    func respond(_ pending: PendingAuthorization, _ parameters: [(String, String)]) -> String {
        if pending.usesFragment == true {
            return pending.redirectURI + "#" + parameters.map { "\($0.0)=\(RedirectURI.formEncode($0.1))" }.joined(separator: "&")
        }
        return RedirectURI.appending(parameters, to: pending.redirectURI)
    }

    // MARK: Login challenge

    func loginInfo(_ challenge: String) async throws -> LoginRequestInfo {
        let pending: PendingAuthorization = try await find(.login, challenge)
        let client = try await requireClient(pending.clientID)
        return LoginRequestInfo(
            challenge: challenge, client: client.display, scopes: pending.scopes, prompt: pending.prompt, maxAge: pending.maxAge,
            loginHint: pending.loginHint, acrValues: pending.acrValues, expiresAt: (pending.createdAt ?? 0) + Self.challengeLifetime
        )
    }

    /// The user is authenticated. Straight to the client with a code when they already consented
    /// to these scopes (and `prompt` does not ask again); to the consent page otherwise.
    func acceptLogin(_ accept: LoginAccept) async throws -> String {
        guard SubjectRevocationEndpoint.isValidIdentifier(accept.subject), SubjectRevocationEndpoint.isValidIdentifier(accept.sessionID),
            accept.acr.utf8.count <= 256, accept.amr.count <= 8, accept.amr.allSatisfy({ $0.utf8.count <= 32 })
        else { throw OAuthError.invalidRequest("malformed login result") }
        var pending: PendingAuthorization = try await consume(.login, accept.challenge)
        let now = time.epochSeconds
        // Defence in depth: the Authentication Service decides, but a result that contradicts
        // `max_age` or `prompt=login` is refused rather than turned into a code.
        guard accept.authTime <= now + Self.skew else { throw OAuthError.invalidRequest("auth_time in the future") }
        if let maxAge = pending.maxAge, now - accept.authTime > Int64(maxAge) + Self.skew {
            return errorRedirect(pending, error: "login_required", description: "authentication is older than max_age")
        }
        if pending.prompt.contains("login"), accept.authTime + Self.skew < (pending.createdAt ?? now) {
            return errorRedirect(pending, error: "login_required", description: "prompt=login requires a fresh authentication")
        }
        // OpenID Connect Core §3.1.2.1: the user the hint names, or an error.
        if let expected = pending.hintSubject, !ConstantTime.equals(Array(expected.utf8), Array(accept.subject.utf8)) {
            return errorRedirect(pending, error: "login_required", description: "the signed-in user is not the one id_token_hint names")
        }
        pending.login = PendingAuthorization.Login(
            subject: accept.subject, authTime: accept.authTime, acr: accept.acr, amr: accept.amr, sessionID: accept.sessionID
        )
        if let ticket = pending.umaTicket {
            return try await completeClaims(pending, ticket: ticket, subject: accept.subject)
        }
        // A device authorization is always confirmed: the request started on another device.
        if pending.deviceCodeHash == nil, !pending.prompt.contains("consent"),
            let remembered = try await store.consent(subject: accept.subject, clientID: pending.clientID),
            pending.scopes.allSatisfy(remembered.scopes.contains)
        {
            return try await complete(pending, granted: pending.scopes)
        }
        if pending.prompt.contains("none") {
            return errorRedirect(pending, error: "consent_required", description: "the user has not consented to these scopes")
        }
        pending.createdAt = now
        return authnURL + "/consent?consent_challenge=" + (try await newChallenge(.consent, payload: pending))
    }

    static let rejectableErrors: Set<String> = [
        "access_denied", "login_required", "consent_required", "interaction_required", "account_selection_required", "temporarily_unavailable",
    ]

    func reject(_ kind: ChallengeKind, _ reject: ChallengeReject) async throws -> String {
        guard Self.rejectableErrors.contains(reject.error) else { throw OAuthError.invalidRequest("unsupported error code") }
        let pending: PendingAuthorization = try await consume(kind, reject.challenge)
        if let deviceCodeHash = pending.deviceCodeHash {
            _ = try await devices?.decide(deviceCodeHash: deviceCodeHash, status: .denied, grantJSON: nil, now: time.epochSeconds)
            return authnURL + "/device?result=denied"
        }
        let description = reject.errorDescription.flatMap { text in
            text.utf8.count <= 200 && text.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7F && $0 != "\"" && $0 != "\\" } ? text : nil
        }
        return errorRedirect(pending, error: reject.error, description: description ?? "the request was refused")
    }

    /// UMA 2.0 Grant §3.3.3: back to the claims redirect URI with the new ticket. The party
    /// proved who they are to this server; nothing is shared with the client but the ticket.
    func completeClaims(_ pending: PendingAuthorization, ticket: String, subject: String) async throws -> String {
        var parameters: [(String, String)]
        if let umaClaims, let fresh = try await umaClaims(ticket, pending.clientID, subject) {
            parameters = [("authorization_state", "claims_submitted"), ("ticket", fresh)]
        } else {
            parameters = [("authorization_state", "not_authorized")]
        }
        if let state = pending.state { parameters.append(("state", state)) }
        return RedirectURI.appending(parameters, to: pending.redirectURI)
    }

    // MARK: Consent challenge

    func consentInfo(_ challenge: String) async throws -> ConsentRequestInfo {
        let pending: PendingAuthorization = try await find(.consent, challenge)
        guard let login = pending.login else { throw OAuthError.serverError }
        let client = try await requireClient(pending.clientID)
        let audiences = try userTokens.audiences(resources: pending.resources, scopes: pending.scopes, client: client)
        return ConsentRequestInfo(
            challenge: challenge, client: client.display, subject: login.subject, scopes: pending.scopes, audiences: audiences,
            expiresAt: (pending.createdAt ?? 0) + Self.challengeLifetime
        )
    }

    func acceptConsent(_ accept: ConsentAccept) async throws -> String {
        let pending: PendingAuthorization = try await find(.consent, accept.challenge)
        guard let login = pending.login, login.subject == accept.subject else {
            throw OAuthError(.accessDenied, status: .forbidden, description: "consent by another user")
        }
        let granted = pending.scopes.filter(accept.grantedScopes.contains)
        guard !granted.isEmpty, accept.grantedScopes.allSatisfy(pending.scopes.contains) else {
            throw OAuthError.invalidScope("granted scopes must be a non-empty subset of the requested ones")
        }
        let _: PendingAuthorization = try await consume(.consent, accept.challenge)
        try await store.rememberConsent(subject: login.subject, clientID: pending.clientID, scopes: granted, at: time.epochSeconds)
        return try await complete(pending, granted: granted)
    }

    // MARK: Code, or implicit tokens

    func complete(_ pending: PendingAuthorization, granted: [String]) async throws -> String {
        if let deviceCodeHash = pending.deviceCodeHash {
            let grant = CodeGrant(request: pending, grantedScopes: granted, issuedAt: time.epochSeconds)
            let decided = try await devices?.decide(deviceCodeHash: deviceCodeHash, status: .approved, grantJSON: try Self.encode(grant), now: time.epochSeconds)
            return authnURL + "/device?result=" + (decided == true ? "approved" : "expired")
        }
        return pending.isImplicit ? try await issueImplicit(pending, granted: granted) : try await issueCode(pending, granted: granted)
    }

    /// OpenID Connect Core §3.2.2.5: access token (and ID token with `at_hash`) straight to the
    /// redirect URI's fragment. No refresh token (RFC 6749 §4.2.2).
    func issueImplicit(_ pending: PendingAuthorization, granted: [String]) async throws -> String {
        guard let login = pending.login, let client = try await registry.client(pending.clientID) else { throw OAuthError.serverError }
        let response = try await userTokens.issue(
            UserTokenIssuer.Issue(
                client: client, subject: login.subject, scopes: granted,
                grant: RefreshGrant(
                    scopes: granted, resources: pending.resources, authTime: login.authTime, acr: login.acr, amr: login.amr,
                    sessionID: login.sessionID, refreshCount: 0
                ),
                nonce: pending.nonce, parentHash: "implicit:" + RandomToken.make(bytes: 16), familyID: RandomToken.make(bytes: 16),
                issueRefreshToken: false, issueIDToken: pending.responseType == "id_token token" && granted.contains("openid")
            )
        )
        var parameters = [("access_token", response.accessToken), ("token_type", response.tokenType), ("expires_in", String(response.expiresIn))]
        if let scope = response.scope { parameters.append(("scope", scope)) }
        if let idToken = response.idToken { parameters.append(("id_token", idToken)) }
        if let state = pending.state { parameters.append(("state", state)) }
        parameters.append(("iss", issuer))
        return respond(pending, parameters)
    }

    func issueCode(_ pending: PendingAuthorization, granted: [String]) async throws -> String {
        let code = Self.codePrefix + RandomToken.make(bytes: 32)
        let now = time.epochSeconds
        let grant = CodeGrant(request: pending, grantedScopes: granted, issuedAt: now)
        try await store.insertCode(
            StoredCode(hash: CredentialHash.hex(code), clientID: pending.clientID, payload: try Self.encode(grant), expiresAt: now + Self.codeLifetime)
        )
        var parameters = [("code", code)]
        if let state = pending.state { parameters.append(("state", state)) }
        parameters.append(("iss", issuer))
        return respond(pending, parameters)
    }

    // MARK: Logout (OpenID Connect RP-Initiated Logout 1.0)

    func beginLogout(clientID: String?, subject: String?, sessionID: String?, redirect: String?) async throws -> String {
        let challenge = try await newChallenge(.logout, payload: StoredLogout(clientID: clientID, subject: subject, sessionID: sessionID, redirect: redirect))
        return authnURL + "/logout?logout_challenge=" + challenge
    }

    func logoutInfo(_ challenge: String) async throws -> LogoutRequestInfo {
        let logout: StoredLogout = try await find(.logout, challenge)
        var display: ClientDisplay?
        if let clientID = logout.clientID { display = try await registry.client(clientID)?.display }
        return LogoutRequestInfo(challenge: challenge, client: display, subject: logout.subject, sessionID: logout.sessionID)
    }

    func acceptLogout(_ challenge: String) async throws -> String? {
        let logout: StoredLogout = try await consume(.logout, challenge)
        return logout.redirect
    }

    // MARK: Storage helpers

    func newChallenge(_ kind: ChallengeKind, payload: some Encodable) async throws -> String {
        let challenge = RandomToken.make(bytes: 32)
        try await store.insertChallenge(
            hash: CredentialHash.hex(challenge), kind: kind.rawValue, payload: try Self.encode(payload), expiresAt: time.epochSeconds + Self.challengeLifetime
        )
        return challenge
    }

    static let unknownChallenge = OAuthError(.invalidRequest, status: .notFound, description: "unknown, expired or used challenge")

    func find<T: Decodable>(_ kind: ChallengeKind, _ challenge: String) async throws -> T {
        guard Self.isWellFormedChallenge(challenge),
            let payload = try await store.findChallenge(hash: CredentialHash.hex(challenge), kind: kind.rawValue, now: time.epochSeconds)
        else { throw Self.unknownChallenge }
        return try Self.decode(payload)
    }

    func consume<T: Decodable>(_ kind: ChallengeKind, _ challenge: String) async throws -> T {
        guard Self.isWellFormedChallenge(challenge),
            let payload = try await store.consumeChallenge(hash: CredentialHash.hex(challenge), kind: kind.rawValue, now: time.epochSeconds)
        else { throw Self.unknownChallenge }
        return try Self.decode(payload)
    }

    func requireClient(_ id: String) async throws -> RegisteredClient {
        guard let client = try await registry.client(id) else { throw Self.unknownChallenge }
        return client
    }

    static func isWellFormedChallenge(_ value: String) -> Bool {
        (16...128).contains(value.utf8.count) && value.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D || $0 == 0x5F }
    }

    static func encode(_ value: some Encodable) throws -> String {
        String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ text: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(text.utf8))
        } catch {
            throw StorageError.corrupt("payload")
        }
    }
}
