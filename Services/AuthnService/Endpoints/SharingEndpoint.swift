import Hummingbird
import JOSE
import ServiceKit
import Storage
import WireModels

/// The account page's UMA part (SPEC §3, §5): the signed-in owner's shared resources and the
/// requests waiting for their decision, kept by the UMA service and reached by internal call.
///
/// - `POST /account/sharing/decide` — `request_id`, `decision` (`allow` or `deny`)
/// - `POST /account/sharing/share` — `resource_id`, `username`, one `scope` per checked scope
/// - `POST /account/sharing/unshare` — `grant_id`: access withdrawn, the party's RPTs revoked
///
/// Like every account form: CSRF-checked, then a 303 back to the page with a fixed flag.
struct SharingEndpoint {
    static let decidePath = "/account/sharing/decide"
    static let sharePath = "/account/sharing/share"
    static let unsharePath = "/account/sharing/unshare"
    static let identifierLength = 1...128

    let web: AuthnWeb
    let accounts: any AccountStore
    let uma: UMAClient

    func register(on router: Router<NeoSecRequestContext>) {
        router.post(RouterPath(stringLiteral: Self.decidePath)) { request, context in
            try await web.page(context) {
                try await web.accountForm(request) { signedIn, form, _ in
                    guard let id = form["request_id"], Self.identifierLength.contains(id.utf8.count), let decision = form["decision"],
                        decision == "allow" || decision == "deny"
                    else { return web.backToAccount(error: "request_unknown") }
                    return try await act(context, done: decision == "allow" ? "request_allowed" : "request_denied", missing: "request_unknown") {
                        try await uma.decide(UMADecisionRequest(owner: signedIn.account.id, requestID: id, allow: decision == "allow"))
                    }
                }
            }
        }
        router.post(RouterPath(stringLiteral: Self.sharePath)) { request, context in
            try await web.page(context) {
                try await web.accountForm(request) { signedIn, form, _ in
                    let scopes = form.values("scope")
                    guard let id = form["resource_id"], Self.identifierLength.contains(id.utf8.count), !scopes.isEmpty, scopes.count <= 64,
                        let username = form["username"]?.trimmingCharacters(in: .whitespaces).lowercased(), (1...64).contains(username.utf8.count)
                    else { return web.backToAccount(error: "share_missing") }
                    guard let party = try await accounts.find(username: username), party.id != signedIn.account.id else {
                        return web.backToAccount(error: "share_user")
                    }
                    return try await act(context, done: "shared", missing: "share_missing") {
                        try await uma.share(UMAShareRequest(owner: signedIn.account.id, resourceID: id, requestingParty: party.id, scopes: scopes))
                    }
                }
            }
        }
        router.post(RouterPath(stringLiteral: Self.unsharePath)) { request, context in
            try await web.page(context) {
                try await web.accountForm(request) { signedIn, form, _ in
                    guard let id = form["grant_id"], Self.identifierLength.contains(id.utf8.count) else { return web.backToAccount(error: "share_unknown") }
                    return try await act(context, done: "unshared", missing: "share_unknown") {
                        try await uma.unshare(UMAUnshareRequest(owner: signedIn.account.id, grantID: id))
                    }
                }
            }
        }
    }

    func act(_ context: NeoSecRequestContext, done: String, missing: String, _ call: () async throws -> Bool) async throws -> Response {
        do {
            return try await call() ? web.backToAccount(done: done) : web.backToAccount(error: missing)
        } catch let error as CancellationError {
            throw error
        } catch {
            context.logger.error("sharing change failed", metadata: ["error_type": .string(String(reflecting: type(of: error)))])
            return web.backToAccount(error: "unavailable")
        }
    }
}

/// The UMA service's account-page calls (`/internal/uma/…`).
struct UMAClient: Sendable {
    let client: InternalClient

    func view(owner: String) async throws -> UMAAccountView {
        try await client.post(.uma, path: "internal/uma/account", body: UMAAccountRequest(owner: owner), as: UMAAccountView.self)
    }

    func decide(_ request: UMADecisionRequest) async throws -> Bool {
        try await client.post(.uma, path: "internal/uma/decide", body: request, as: UMAActionAnswer.self).done
    }

    func share(_ request: UMAShareRequest) async throws -> Bool {
        try await client.post(.uma, path: "internal/uma/share", body: request, as: UMAActionAnswer.self).done
    }

    func unshare(_ request: UMAUnshareRequest) async throws -> Bool {
        try await client.post(.uma, path: "internal/uma/unshare", body: request, as: UMAActionAnswer.self).done
    }
}

/// `POST /internal/accounts/lookup` (internal, UMA service only): the `sub` of a username, for an
/// owner policy that names the requesting party by username. Unknown names answer `null`.
struct AccountLookupEndpoint {
    let accounts: any AccountStore
    let limit: Int

    func register(on group: RouterGroup<NeoSecRequestContext>) {
        group.post("accounts/lookup") { request, context in
            guard context.caller == .uma || context.caller == .token else {
                throw OAuthError(.accessDenied, status: .forbidden, description: "caller may not look up accounts")
            }
            var request = request
            let body = try await request.jsonBody(AccountLookupRequest.self, limit: limit)
            let username = body.username.trimmingCharacters(in: .whitespaces).lowercased()
            guard (1...64).contains(username.utf8.count), let account = try await accounts.find(username: username), !account.disabled else {
                return try Response.json(AccountLookupAnswer(subject: nil))
            }
            return try Response.json(AccountLookupAnswer(subject: account.id))
        }
    }
}
