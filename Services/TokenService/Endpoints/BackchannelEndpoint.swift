import Foundation
import Hummingbird
import JOSE
import Logging
import ServiceKit
import Storage
import WireModels

/// What a backchannel request asked for, and where a ping goes.
struct BackchannelAsk: Codable, Sendable {
    var scopes: [String]
    var resources: [String]
    var bindingMessage: String?
    var notificationEndpoint: String?
    var notificationToken: String?
    /// Ping mode: the `auth_req_id`, sealed with the master key (AES-256-GCM), for the callback
    /// body (§10.2). Only its hash is the lookup key; poll-mode requests keep no copy at all.
    var sealedAuthReqID: String?
}

/// Backchannel permission requests (seed 004's merchant flow, shaped after OpenID CIBA Core 1.0
/// poll and ping modes) at `POST /oauth2/bc-authorize`: a confidential client registered for
/// `urn:openid:params:grant-type:ciba` names the user by `login_hint` (a username) and asks for
/// `scope` (with `openid`, CIBA §7.1), optionally with a `binding_message` the user sees and a
/// `requested_expiry`; ping clients add `client_notification_token`. The answer is
/// `auth_req_id`, `expires_in`, `interval` (§7.3) — the same for a login hint that names nobody
/// (such a request can never be approved and just expires), so the endpoint does not reveal
/// who has an account. The user decides on the account page; the client polls the token endpoint
/// with `auth_req_id`, or, in ping mode, is called back first (§10.2).
struct BackchannelEndpoint {
    static let path = "/oauth2/bc-authorize"
    static let requestPrefix = "neo_bc_"
    static let defaultLifetime = 600
    static let interval: Int64 = 5
    static let sealPurpose = "backchannel-auth-req-id"

    let authenticator: ClientAuthenticator
    let store: any BackchannelStore
    let internalClient: InternalClient
    let sealer: KeySealer
    let time: any TimeSource
    let bodyLimit: Int

    struct Answer: Encodable {
        var authReqID: String
        var expiresIn: Int
        var interval: Int64

        enum CodingKeys: String, CodingKey {
            case interval
            case authReqID = "auth_req_id"
            case expiresIn = "expires_in"
        }
    }

    func register(on router: Router<NeoSecRequestContext>) {
        router.post(RouterPath(stringLiteral: Self.path)) { request, context in
            var request = request
            let form = try await request.formParameters(limit: bodyLimit, repeatable: ["resource"])
            let client = try await authenticator.authenticate(request, form: form)
            guard !client.isPublic, client.grantTypes.contains(GrantType.ciba) else {
                throw OAuthError(.unauthorizedClient, description: "client is not registered for backchannel requests")
            }
            guard let scope = form["scope"] else { throw OAuthError.invalidRequest("scope is required") }
            let scopes = try GrantRules.scopes(requested: scope, allowed: client.scopes)
            guard scopes.contains("openid") else { throw OAuthError.invalidScope("scope must include openid (CIBA §7.1)") }
            guard form["id_token_hint"] == nil, form["login_hint_token"] == nil, form["user_code"] == nil else {
                throw OAuthError.invalidRequest("only login_hint is supported")
            }
            guard let hint = form["login_hint"]?.trimmingCharacters(in: .whitespaces).lowercased(), (1...64).contains(hint.utf8.count) else {
                throw OAuthError.invalidRequest("login_hint (a username) is required")
            }
            let binding = form["binding_message"]
            if let binding {
                guard (1...64).contains(binding.count), binding.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F }) else {
                    throw OAuthError(.invalidBindingMessage, description: "binding_message must be 1 to 64 printable characters")
                }
            }
            var lifetime = Self.defaultLifetime
            if let requested = form["requested_expiry"] {
                guard let seconds = Int(requested), (30...Self.defaultLifetime).contains(seconds) else {
                    throw OAuthError.invalidRequest("requested_expiry must be 30 to \(Self.defaultLifetime) seconds")
                }
                lifetime = seconds
            }
            var notificationToken: String?
            if client.metadata.backchannelTokenDeliveryMode == "ping" {
                guard let token = form["client_notification_token"], (1...1024).contains(token.utf8.count),
                    token.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
                else { throw OAuthError.invalidRequest("client_notification_token is required in ping mode") }
                notificationToken = token
            }
            let resources = form.values("resource")
            if !resources.isEmpty { _ = try GrantRules.audiences(requested: resources, client: client) }

            // The same lookup, and the same answer, whether or not the hint names someone.
            let subject: String?
            do {
                subject = try await internalClient.post(.authn, path: "internal/accounts/lookup", body: AccountLookupRequest(username: hint), as: AccountLookupAnswer.self)
                    .subject
            } catch {
                throw OAuthError(.temporarilyUnavailable, status: .serviceUnavailable, description: "try again later")
            }
            let authReqID = Self.requestPrefix + RandomToken.make(bytes: 32)
            let id = RandomToken.make(bytes: 16)
            let ask = BackchannelAsk(
                scopes: scopes, resources: resources, bindingMessage: binding, notificationEndpoint: client.metadata.backchannelClientNotificationEndpoint,
                notificationToken: notificationToken,
                sealedAuthReqID: notificationToken == nil ? nil : Base64URL.encode(try sealer.seal(Array(authReqID.utf8), kid: id, algorithm: "A256GCM", purpose: Self.sealPurpose))
            )
            try await store.insert(
                BackchannelRequest(
                    authReqHash: CredentialHash.hex(authReqID), id: id, clientID: client.id, subject: subject,
                    requestJSON: String(decoding: try JSONEncoder().encode(ask), as: UTF8.self), interval: Self.interval,
                    expiresAt: time.epochSeconds + Int64(lifetime)
                )
            )
            context.logger.info("backchannel request started", metadata: ["client_id": .string(client.id)])
            return try Response.json(Answer(authReqID: authReqID, expiresIn: lifetime, interval: Self.interval))
        }
    }
}

/// The account page's side: pending requests of a user, and their decision (internal calls from
/// the Authentication Service). An approval carries the session's authentication; in ping mode
/// the client is then called back (§10.2, best effort, through the SSRF-safe fetcher).
struct BackchannelInternalEndpoints {
    let store: any BackchannelStore
    let registry: ClientRegistry
    let fetcher: OutboundFetcher
    let sealer: KeySealer
    let time: any TimeSource
    let limit: Int

    func register(on group: RouterGroup<NeoSecRequestContext>) {
        group.post("backchannel/pending") { request, context in
            guard context.caller == .authn else { throw OAuthError(.accessDenied, status: .forbidden, description: "caller may not list backchannel requests") }
            var request = request
            let body = try await request.jsonBody(BackchannelPendingRequest.self, limit: limit)
            var items: [BackchannelPendingItem] = []
            for pending in try await store.pending(subject: body.subject, now: time.epochSeconds) {
                guard let ask = try? JSONDecoder().decode(BackchannelAsk.self, from: Data(pending.requestJSON.utf8)) else { continue }
                let display = try await registry.client(pending.clientID)?.display ?? ClientDisplay(clientID: pending.clientID)
                items.append(BackchannelPendingItem(id: pending.id, client: display, scopes: ask.scopes, bindingMessage: ask.bindingMessage, expiresAt: pending.expiresAt))
            }
            return try Response.json(BackchannelPendingList(requests: items))
        }
        group.post("backchannel/decide") { request, context in
            guard context.caller == .authn else { throw OAuthError(.accessDenied, status: .forbidden, description: "caller may not decide backchannel requests") }
            var request = request
            let body = try await request.jsonBody(BackchannelDecision.self, limit: limit)
            guard body.id.utf8.count <= 64, SubjectRevocationEndpoint.isValidIdentifier(body.subject), SubjectRevocationEndpoint.isValidIdentifier(body.sessionID),
                body.acr.utf8.count <= 256, body.amr.count <= 8
            else { throw OAuthError.invalidRequest("malformed decision") }
            let login = PendingAuthorization.Login(subject: body.subject, authTime: body.authTime, acr: body.acr, amr: body.amr, sessionID: body.sessionID)
            let grantJSON = String(decoding: try JSONEncoder().encode(login), as: UTF8.self)
            guard let decided = try await store.decide(
                id: body.id, subject: body.subject, status: body.allow ? .approved : .denied, grantJSON: body.allow ? grantJSON : nil, now: time.epochSeconds
            ) else { return try Response.json(BackchannelDecisionAnswer(done: false)) }
            context.logger.info("backchannel request decided", metadata: ["client_id": .string(decided.clientID), "allowed": .stringConvertible(body.allow)])
            if let ask = try? JSONDecoder().decode(BackchannelAsk.self, from: Data(decided.requestJSON.utf8)), let endpoint = ask.notificationEndpoint,
                let sealed = ask.sealedAuthReqID.flatMap(Base64URL.decode),
                let opened = try? sealer.open(Array(sealed), kid: decided.id, algorithm: "A256GCM", purpose: BackchannelEndpoint.sealPurpose)
            {
                notify(endpoint, token: ask.notificationToken, authReqID: String(decoding: opened, as: UTF8.self), clientID: decided.clientID, logger: context.logger)
            }
            return try Response.json(BackchannelDecisionAnswer(done: true))
        }
    }

    /// CIBA §10.2: `POST {"auth_req_id": …}` with the client's notification token as bearer,
    /// once, in the background: the client then fetches the outcome at the token endpoint.
    func notify(_ endpoint: String, token: String?, authReqID: String, clientID: String, logger: Logger) {
        let fetcher = fetcher
        Task {
            let body = (try? JSONSerialization.data(withJSONObject: ["auth_req_id": authReqID])) ?? Data()
            do {
                try await fetcher.postJSON(endpoint, body: body, bearer: token)
                logger.info("backchannel ping sent", metadata: ["client_id": .string(clientID)])
            } catch let refusal as FetchRefusal {
                logger.warning("backchannel ping failed", metadata: ["client_id": .string(clientID), "reason": .string(refusal.description)])
            } catch {
                logger.warning("backchannel ping failed", metadata: ["client_id": .string(clientID)])
            }
        }
    }
}
