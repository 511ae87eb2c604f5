import HTTPTypes
import Hummingbird
import NIOCore
import ServiceKit

/// What the browser-facing endpoints share: pages, CSRF, sessions, the challenge protocol, and
/// the two ways a page handler ends (a rendered page, or a 303).
struct AuthnWeb: Sendable {
    let pages: PageRenderer
    let csrf: CSRFProtection
    let sessions: SessionManager
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

    /// The throttle key of the client address. Behind a load balancer this is the balancer's
    /// address (one shared back-off for everyone behind it); the per-account key still applies.
    static func addressKey(_ context: NeoSecRequestContext) -> String {
        "ip:" + (context.remoteAddress?.ipAddress ?? "unknown")
    }

    static func accountKey(_ username: String) -> String { "user:" + username }
}
