import HTTPTypes
import Hummingbird
import NIOCore
import ServiceKit

/// What the browser-facing endpoints share: pages, CSRF, sessions (and sign-ins waiting for
/// their second factor), the challenge protocol, and the two ways a page handler ends (a
/// rendered page, or a 303).
struct AuthnWeb: Sendable {
    let pages: PageRenderer
    let csrf: CSRFProtection
    let sessions: SessionManager
    let pendingSignIns: PendingSignInManager
    let challenges: ChallengeClient
    let bodyLimit: Int

    /// Runs a page handler, rendering any `HTMLError` it throws (5xx included, which the kit's
    /// error middleware would otherwise turn into JSON).
    func page(_ context: NeoSecRequestContext, _ handler: () async throws -> Response) async throws -> Response {
        do {
            return try await handler()
        } catch let error as HTMLError {
            if error.status.code >= 500 {
                context.logger.error("page failed", metadata: ["status": .stringConvertible(error.status.code)])
            }
            return error.makeResponse()
        }
    }

    /// 303 See Other: every successful POST ends with one (and so does an immediate login accept).
    /// `location` is a `redirect_to` from the Token Service or a local path built here.
    static func seeOther(_ location: String, cookies: Cookie?...) -> Response {
        var response = Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
        for case let cookie? in cookies { response.setCookie(cookie) }
        return response
    }

    /// 303 to a path of this service.
    func seeOtherLocal(_ path: String, cookies: Cookie?...) -> Response {
        var response = Response(status: .seeOther, headers: [.location: pages.path(path), .cacheControl: "no-store"])
        for case let cookie? in cookies { response.setCookie(cookie) }
        return response
    }

    /// An account-page form: the CSRF check first (SPEC §3, §8), then the session (none: on to
    /// the sign-in page). The handler gets the account, the form, and the request (body read).
    func accountForm(
        _ request: Request, _ handler: (SessionManager.SignedIn, FormParameters, Request) async throws -> Response
    ) async throws -> Response {
        var request = request
        let form = try await request.formParameters(limit: bodyLimit)
        try csrf.verify(request, form: form)
        guard let signedIn = try await sessions.current(request) else { return seeOtherLocal(LoginEndpoint.path) }
        return try await handler(signedIn, form, request)
    }

    /// 303 back to the account page, with a flag that the page turns into one of its fixed
    /// messages (`AccountEndpoint.notices`, `.errors`). Flags are constants, never input.
    func backToAccount(done: String? = nil, error: String? = nil, cookies: Cookie?...) -> Response {
        var path = AccountEndpoint.path
        if let done { path += "?done=" + done } else if let error { path += "?error=" + error }
        var response = seeOtherLocal(path)
        for case let cookie? in cookies { response.setCookie(cookie) }
        return response
    }

    /// The throttle key of the client address. Behind a load balancer this is the balancer's
    /// address (one shared back-off for everyone behind it); the per-account key still applies.
    static func addressKey(_ context: NeoSecRequestContext) -> String {
        "ip:" + (context.remoteAddress?.ipAddress ?? "unknown")
    }

    static func accountKey(_ username: String) -> String { "user:" + username }
}
