import Foundation
import HTTPTypes
import Hummingbird
import Mustache
import NIOCore
import ServiceKit
import WireModels

/// Every HTML response of the Authentication Service, with the headers SPEC §8 asks of login,
/// consent and account pages: a strict CSP (no script at all; styles and forms from this origin;
/// forms may also land on the Token Service, where login and consent results are redirected),
/// no framing (also `frame-ancestors`), no referrer, no caching.
enum HTMLResponse {
    static func make(_ html: String, status: HTTPResponse.Status = .ok, contentSecurityPolicy: String, extraHeaders: HTTPFields = [:]) -> Response {
        var headers = extraHeaders
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers[.contentSecurityPolicy] = contentSecurityPolicy
        headers[.xFrameOptions] = "DENY"
        headers[.referrerPolicy] = "no-referrer"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
    }

    /// No `form-action`: browsers (Chrome) apply it to every redirect that follows a form POST,
    /// and ours end at the client's redirect URI, which no static list can name. The templates
    /// only ever post to this service.
    static let contentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self' https: data:; frame-ancestors 'none'; base-uri 'none'"

}

/// Renders the templates of `Templates` with the security headers of `HTMLResponse`.
struct PageRenderer: Sendable {
    enum Page: String {
        case login, otp, consent, error, account, device
        case loggedOut = "logged_out"
        case logoutConfirm = "logout_confirm"
        case totpSetup = "totp_setup"
        case recoveryCodes = "recovery_codes"
    }

    let library: MustacheLibrary
    let contentSecurityPolicy: String
    /// Path prefix of this service's public URL ("" at the root), for links and form actions.
    let basePath: String
    /// Configured upstream OpenID Providers, for the "Sign in with …" buttons.
    let providers: [ProviderView]

    init(library: MustacheLibrary, contentSecurityPolicy: String, basePath: String, providers: [ProviderView] = []) {
        self.library = library
        self.contentSecurityPolicy = contentSecurityPolicy
        self.basePath = basePath
        self.providers = providers
    }

    func render(_ page: Page, _ model: some PageModel, status: HTTPResponse.Status = .ok, extraHeaders: HTTPFields = [:]) -> Response {
        // Templates are compiled at start-up and each one is rendered by the tests; a missing one
        // is a programming error, answered without detail.
        let html = library.render(model, withTemplate: page.rawValue) ?? "<!DOCTYPE html><title>NeoSec</title><p>Something went wrong.</p>"
        return HTMLResponse.make(html, status: status, contentSecurityPolicy: contentSecurityPolicy, extraHeaders: extraHeaders)
    }

    /// An error page to throw; see `HTMLError`.
    func error(_ status: HTTPResponse.Status, heading: String = "Something went wrong", message: String) -> HTMLError {
        HTMLError(status: status, heading: heading, message: message, pages: self)
    }

    /// A path of this service, with the base path in front.
    func path(_ path: String) -> String { basePath + path }

    // MARK: Messages shown in more than one place

    var expiredChallenge: HTMLError {
        error(.badRequest, heading: "This link has expired", message: "This sign-in link has expired or was already used.")
    }

    var unavailable: HTMLError {
        error(
            .serviceUnavailable, heading: "Temporarily unavailable",
            message: "Signing in is temporarily unavailable. Please try again in a moment."
        )
    }

    var signInRequired: HTMLError {
        error(.forbidden, heading: "Sign in required", message: "Sign in to NeoSec with the account this request is for, then try again.")
    }

    var secondFactorRequired: HTMLError {
        error(
            .forbidden, heading: "Two-step verification required",
            message: "This app requires two-step verification, which your account does not have yet. "
                + "Set it up on your account page, then go back to the app and sign in again."
        )
    }
}

/// A page error rendered as the HTML error page: thrown from a page handler, it reaches
/// `ErrorMappingMiddleware`, which renders any `HTTPResponseError` under 500 as itself. Page
/// handlers also catch it directly (`AuthnWeb.page`), so 5xx pages render as HTML too.
///
/// The message is fixed, developer-written text: never a value from the request.
struct HTMLError: Error, HTTPResponseError {
    let status: HTTPResponse.Status
    let heading: String
    let message: String
    let pages: PageRenderer

    func response(from request: Request, context: some RequestContext) throws -> Response { makeResponse() }

    func makeResponse() -> Response {
        pages.render(.error, ErrorPage(base: pages.basePath, heading: heading, message: message), status: status)
    }
}

// MARK: - Page models (rendered by Mustache through reflection: property names are template names)

/// What every page has: the base path for links, assets and form actions.
protocol PageModel: Sendable {
    var base: String { get }
}

/// A relying party as shown to the user. URIs that are not http(s) are dropped, so that a
/// `javascript:` link can never be rendered whatever the registration accepted.
struct ClientView: Sendable {
    let name: String
    let logoURI: String?
    let clientURI: String?
    let policyURI: String?
    let tosURI: String?
    let hasLinks: Bool

    init(_ display: ClientDisplay) {
        name = display.clientName.flatMap { $0.isEmpty ? nil : $0 } ?? display.clientID
        logoURI = Self.webURL(display.logoURI)
        clientURI = Self.webURL(display.clientURI)
        policyURI = Self.webURL(display.policyURI)
        tosURI = Self.webURL(display.tosURI)
        hasLinks = clientURI != nil || policyURI != nil || tosURI != nil
    }

    static func webURL(_ value: String?) -> String? {
        guard let value, value.utf8.count <= 2048, let url = URL(string: value), let scheme = url.scheme?.lowercased(),
            scheme == "https" || scheme == "http", url.host?.isEmpty == false
        else { return nil }
        return value
    }
}

/// An upstream provider as the pages show it.
struct ProviderView: Sendable {
    let id: String
    let name: String
}

struct LoginPage: PageModel {
    let base: String
    let csrfToken: String
    let challenge: String?
    let client: ClientView?
    let username: String?
    let hasUsername: Bool
    let error: String?
    let providers: [ProviderView]
    let hasProviders: Bool

    init(base: String, csrfToken: String, challenge: String?, client: ClientView?, username: String?, error: String? = nil, providers: [ProviderView] = []) {
        self.providers = providers
        self.hasProviders = !providers.isEmpty
        self.base = base
        self.csrfToken = csrfToken
        self.challenge = challenge
        self.client = client
        self.username = username.flatMap { $0.isEmpty ? nil : $0 }
        self.hasUsername = self.username != nil
        self.error = error
    }
}

struct ConsentPage: PageModel {
    struct Scope: Sendable {
        let id: String
        let value: String
        let description: String
    }

    let base: String
    let csrfToken: String
    let challenge: String
    let client: ClientView
    let clientName: String
    let username: String
    let scopes: [Scope]
    let audiences: [String]
    let hasAudiences: Bool
}

struct ErrorPage: PageModel {
    let base: String
    let heading: String
    let message: String
}

struct LogoutConfirmPage: PageModel {
    let base: String
    let csrfToken: String
    let challenge: String?
    let clientName: String?
}

struct LoggedOutPage: PageModel {
    let base: String
}

/// The second sign-in step. `username` is the account's, never what was typed.
struct OTPPage: PageModel {
    let base: String
    let csrfToken: String
    let challenge: String?
    let client: ClientView?
    let username: String
    let error: String?
}

/// The account page. `notice` and `error` are fixed texts chosen by a query flag, never input.
struct AccountPage: PageModel {
    /// A connected application and the scopes it was allowed.
    struct App: Sendable {
        let clientID: String
        let name: String
        let scopes: String
    }

    let base: String
    let csrfToken: String
    let username: String
    let name: String?
    let email: String?
    let notice: String?
    let error: String?
    let totpEnabled: Bool
    let recoveryCodesLeft: Int
    let apps: [App]
    let hasApps: Bool
    let appsUnavailable: Bool
    let identities: [String]
    /// Providers this account can still link (a form each, `mode=link`).
    let linkable: [ProviderView]
    let hasLinkable: Bool

    /// UMA: a resource of this owner, who may use it, and a form to share it.
    struct SharedResource: Sendable {
        let id: String
        let name: String
        let scopes: [String]
        let grants: [Grant]
        let hasGrants: Bool
    }

    struct Grant: Sendable {
        let id: String
        let party: String
        let scopes: String
    }

    /// UMA: someone asked for access; the owner allows or denies.
    struct PendingRequest: Sendable {
        let id: String
        let resourceName: String
        let party: String
        let clientID: String
        let scopes: String
    }

    let sharedResources: [SharedResource]
    let hasSharedResources: Bool
    let pendingRequests: [PendingRequest]
    let hasPendingRequests: Bool
    let sharingUnavailable: Bool

    /// A backchannel permission request: an app asks, without a redirect, for these scopes.
    struct AppRequest: Sendable {
        let id: String
        let clientName: String
        let scopes: String
        let bindingMessage: String?
    }

    var appRequests: [AppRequest] = []
    var hasAppRequests = false
    var appRequestsUnavailable = false
}

/// Enrolment: the QR code, the secret to type by hand, and the confirmation form.
struct TOTPSetupPage: PageModel {
    let base: String
    let csrfToken: String
    /// SVG markup made by `QRCode.svg` from the provisioning URI: generated here, no user data,
    /// rendered unescaped (the only such value in the templates). Nil when it could not be made.
    let qrSVG: String?
    /// The secret in groups of four, for typing into an app by hand.
    let secret: String
    let uri: String
    let error: String?
}

/// The recovery codes, shown once, right after enrolment.
struct RecoveryCodesPage: PageModel {
    let base: String
    let codes: [String]
}
