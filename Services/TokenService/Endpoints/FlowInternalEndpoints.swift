import Foundation
import Hummingbird
import ServiceKit
import Storage
import WireModels

/// The Token Service's side of the login / consent / logout challenge protocol, and remembered
/// consents (see `AuthorizationFlowModels.swift`). Internal calls from the Authentication
/// Service only.
struct FlowInternalEndpoints {
    static let allowedCallers: Set<ServiceName> = [.authn]

    let flow: AuthorizationFlow
    let store: any AuthorizationStore
    let tokens: any TokenStore
    let registry: ClientRegistry
    let limit: Int
    let devices: any DeviceAuthorizationStore

    func register(on group: RouterGroup<NeoSecRequestContext>) {
        post(group, "login/get") { (body: ChallengeRef) in try await flow.loginInfo(body.challenge) }
        post(group, "login/accept") { (body: LoginAccept) in RedirectAnswer(redirectTo: try await flow.acceptLogin(body)) }
        post(group, "login/reject") { (body: ChallengeReject) in RedirectAnswer(redirectTo: try await flow.reject(.login, body)) }
        post(group, "consent/get") { (body: ChallengeRef) in try await flow.consentInfo(body.challenge) }
        post(group, "consent/accept") { (body: ConsentAccept) in RedirectAnswer(redirectTo: try await flow.acceptConsent(body)) }
        post(group, "consent/reject") { (body: ChallengeReject) in RedirectAnswer(redirectTo: try await flow.reject(.consent, body)) }
        post(group, "logout/get") { (body: ChallengeRef) in try await flow.logoutInfo(body.challenge) }
        post(group, "logout/accept") { (body: ChallengeRef) in RedirectAnswer(redirectTo: try await flow.acceptLogout(body.challenge)) }
        // RFC 8628 §3.3: the user typed a code on the device page: sign in and confirm, as for a code.
        post(group, "device/verify") { (body: DeviceVerifyRequest) in
            guard let code = UserCode.normalize(body.userCode),
                let authorization = try await devices.pending(userCodeHash: UserCode.hash(code), now: flow.time.epochSeconds),
                let request = try? JSONDecoder().decode(DeviceRequest.self, from: Data(authorization.requestJSON.utf8))
            else { throw OAuthError(.invalidRequest, status: .notFound, description: "unknown or expired user code") }
            let pending = PendingAuthorization(
                clientID: authorization.clientID, redirectURI: flow.authnURL + "/device", redirectURIGiven: false, scopes: request.scopes, state: nil,
                nonce: nil, codeChallenge: nil, prompt: ["consent"], maxAge: nil, loginHint: nil, acrValues: [], resources: request.resources,
                deviceCodeHash: authorization.deviceCodeHash
            )
            return RedirectAnswer(redirectTo: try await flow.begin(pending))
        }
        post(group, "consents/list") { (body: SubjectRef) in
            var grants: [ConsentGrant] = []
            for consent in try await store.consents(subject: body.subject) {
                let display = try await registry.client(consent.clientID)?.display ?? ClientDisplay(clientID: consent.clientID)
                grants.append(ConsentGrant(client: display, scopes: consent.scopes, grantedAt: consent.grantedAt))
            }
            return ConsentList(consents: grants)
        }
        // Sign-out: the session's tokens stop working (offline_access refresh tokens excepted).
        post(group, "sessions/ended") { (body: SessionEnded) in
            guard SubjectRevocationEndpoint.isValidIdentifier(body.subject), SubjectRevocationEndpoint.isValidIdentifier(body.sessionID) else {
                throw OAuthError.invalidRequest("invalid subject or sid")
            }
            return SessionEndedAnswer(revoked: try await tokens.revokeSession(subject: body.subject, sessionID: body.sessionID))
        }
        // "Revoke this app": forget the consent and revoke every token the client holds for the user.
        post(group, "consents/revoke") { (body: ConsentRevoke) in
            let forgotten = try await store.forgetConsent(subject: body.subject, clientID: body.clientID)
            let revoked = try await tokens.revokeAll(subject: body.subject, clientID: body.clientID)
            return ConsentRevokeAnswer(revoked: forgotten || revoked > 0)
        }
    }

    private func post<Body: Decodable & Sendable, Answer: Encodable>(
        _ group: RouterGroup<NeoSecRequestContext>, _ path: String, _ handle: @escaping @Sendable (Body) async throws -> Answer
    ) {
        let limit = limit
        group.post(RouterPath(stringLiteral: path)) { request, context in
            guard let caller = context.caller, Self.allowedCallers.contains(caller) else {
                throw OAuthError(.accessDenied, status: .forbidden, description: "caller may not use the login protocol")
            }
            var request = request
            let body = try await request.jsonBody(Body.self, limit: limit)
            return try Response.json(try await handle(body))
        }
    }
}
