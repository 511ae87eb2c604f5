import HTTPTypes
import Hummingbird
import JOSE
import ServiceKit
import Storage
import WireModels

/// `GET|POST /device` (RFC 8628 §3.3): where the user types the code their device shows. A good
/// code starts the device authorization's login challenge at the Token Service — the usual
/// sign-in (with its second factor) and a consent page that is always shown — and the browser
/// comes back here with `?result=approved|denied|expired`. `?user_code=` (from
/// `verification_uri_complete`) only fills the field: the user still submits it, so a link alone
/// never approves anything (§5.4).
///
/// Wrong codes are throttled per client address like failed sign-ins (§5.1: with 20^8 codes
/// and a 10-minute lifetime, guessing is hopeless at that rate); nothing typed is echoed.
struct DeviceEndpoint {
    static let path = "/device"
    static let results: [String: String] = [
        "approved": "Done. Go back to your device: it is signed in.",
        "denied": "You denied the request. Your device will not get access.",
        "expired": "That code expired or was already used. Start again on your device.",
    ]

    let web: AuthnWeb
    let throttle: any LoginThrottleStore
    let internalClient: InternalClient
    let time: any TimeSource

    func register(on router: Router<NeoSecRequestContext>) {
        router.get(RouterPath(stringLiteral: Self.path)) { request, context in
            try await web.page(context) {
                let query = try request.queryParameters()
                let csrf = web.csrf.issue(for: request)
                // Only a well-formed code is put back into the field.
                let prefill = query["user_code"].flatMap { Self.isWellFormed($0) ? $0.uppercased() : nil }
                return page(csrf, userCode: prefill, notice: query["result"].flatMap { Self.results[$0] })
            }
        }
        router.post(RouterPath(stringLiteral: Self.path)) { request, context in
            try await web.page(context) { try await submit(request, context) }
        }
    }

    func submit(_ request: Request, _ context: NeoSecRequestContext) async throws -> Response {
        var request = request
        let form = try await request.formParameters(limit: web.bodyLimit)
        try web.csrf.verify(request, form: form)
        let csrf = web.csrf.issue(for: request)
        let now = time.epochSeconds
        let key = "device:" + AuthnWeb.addressKey(context)
        if let wait = try await throttle.check(key: key, now: now) {
            return page(
                csrf, userCode: nil, error: "Too many wrong codes. Wait \(LoginEndpoint.describe(wait)) and try again.", status: .tooManyRequests,
                headers: [.retryAfter: String(wait)]
            )
        }
        let typed = form["user_code"] ?? ""
        guard Self.isWellFormed(typed) else {
            _ = try await throttle.recordFailure(key: key, now: now, policy: .clientAddress)
            return page(csrf, userCode: nil, error: "Enter the 8-letter code your device shows, like BCDF-GHJK.", status: .badRequest)
        }
        do {
            let answer = try await internalClient.post(.token, path: "internal/device/verify", body: DeviceVerifyRequest(userCode: typed), as: RedirectAnswer.self)
            guard let location = answer.redirectTo, location.hasPrefix("http://") || location.hasPrefix("https://"),
                location.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
            else { throw web.pages.unavailable }
            try await throttle.reset(key: key)
            context.logger.info("device code accepted")
            return AuthnWeb.seeOther(location, cookies: csrf.cookie)
        } catch InternalCallError.unexpectedStatus(404) {
            _ = try await throttle.recordFailure(key: key, now: now, policy: .clientAddress)
            context.logger.notice("unknown device code")
            return page(csrf, userCode: nil, error: "That code is not valid or has expired. Check your device and try again.", status: .badRequest)
        } catch let error as HTMLError {
            throw error
        } catch {
            throw web.pages.unavailable
        }
    }

    /// Eight letters of the code alphabet, with an optional dash or spaces.
    static func isWellFormed(_ typed: String) -> Bool {
        guard typed.utf8.count <= 32 else { return false }
        let letters = typed.uppercased().filter { $0 != "-" && $0 != " " }
        return letters.count == 8 && letters.allSatisfy { "BCDFGHJKLMNPQRSTVWXZ".contains($0) }
    }

    func page(
        _ csrf: CSRFProtection.Issued, userCode: String?, notice: String? = nil, error: String? = nil, status: HTTPResponse.Status = .ok,
        headers: HTTPFields = [:]
    ) -> Response {
        var response = web.pages.render(
            .device, DevicePage(base: web.pages.basePath, csrfToken: csrf.token, userCode: userCode, notice: notice, error: error), status: status,
            extraHeaders: headers
        )
        response.setCookies(csrf.cookie)
        return response
    }
}

struct DevicePage: PageModel {
    let base: String
    let csrfToken: String
    let userCode: String?
    let notice: String?
    let error: String?
}
