import AuthnService
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JOSE
import NIOCore
import NeoSecTesting
import ServiceKit
import Testing

/// The account page and two-step verification through the Authentication Service's real router:
/// enrolment, the `otp` sign-in step with replay protection, recovery codes, password change,
/// CSRF. The Token Service is not running here, so everything is signed in directly (no login
/// challenge) and the parts that need it (connected apps, token revocation) degrade as they do
/// in production when it is down.
@Suite("Account page and two-step verification through the router")
struct AccountPageTests {
    static let adminToken = "test-admin-token-0123456789abcdefghijklmnop"
    static let username = "alice"
    static let password = "alice-password-1"
    static let accountPaths = ["/account/totp/start", "/account/totp/confirm", "/account/totp/disable", "/account/password", "/account/apps/revoke"]

    struct Harness: Sendable {
        let client: any TestClientProtocol
        let time: FixedTime
        let logs: LogSink
    }

    /// A fresh Authentication Service with one account (`alice`).
    static func run(_ test: @escaping @Sendable (Harness) async throws -> Void) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var config = ServiceConfig.forTesting(.authn, dataDirectory: directory.path)
        // No Token Service peer: calls to it fail at once (unknown peer) instead of waiting for a
        // connection that never comes.
        config.serviceURLs[.token] = nil
        let time = FixedTime(Date(timeIntervalSince1970: 1_800_000_000))
        let logs = LogSink.capturing()
        let options = RuntimeOptions(time: time, keyResolver: StaticKeyResolver([:]), logSink: logs)
        let environment = try await ServiceRuntime.makeEnvironment(AuthnService.self, config: config, options: options)
        // The service's own router and endpoints, with a cheap scrypt cost (log2 N = 10; the
        // environment variable only goes down to 14).
        let service = try AuthnService(environment: environment, scryptLogN: 10)
        let app = Application(router: ServiceRuntime.makeRouter(service: service, environment: environment))
        try await app.test(.router) { client in
            try await createAccount(client)
            try await test(Harness(client: client, time: time, logs: logs))
        }
        try await environment.database.close()
    }

    static func createAccount(_ client: any TestClientProtocol) async throws {
        let body = #"{"username":"\#(username)","password":"\#(password)","claims":{"name":"Alice Example","email":"alice@example.com"}}"#
        try await client.execute(
            uri: "/admin/accounts", method: .post, headers: [.authorization: "Bearer \(adminToken)", .contentType: "application/json"],
            body: ByteBuffer(string: body)
        ) { response in
            #expect(response.status == .created)
        }
    }

    /// A browser over the router: a cookie jar (names only: no paths, no expiry beyond
    /// `Max-Age=0`) and the CSRF token of the last page that had one.
    struct Browser {
        struct Page {
            let status: HTTPResponse.Status
            let headers: HTTPFields
            let body: String
            var location: String? { headers[.location] }
            var setCookies: [String] { headers[values: .setCookie] }

            func setsCookie(_ name: String) -> Bool {
                setCookies.contains { $0.hasPrefix(name + "=") && !$0.lowercased().contains("max-age=0") }
            }
        }

        let client: any TestClientProtocol
        var cookies: [String: String] = [:]
        var csrf: String?

        init(_ client: any TestClientProtocol) { self.client = client }

        mutating func get(_ uri: String) async throws -> Page {
            try await send(uri, method: .get, form: nil)
        }

        /// POSTs a form, with the browser's CSRF token unless `withToken` is false.
        mutating func post(_ uri: String, _ form: [(String, String)], withToken: Bool = true) async throws -> Page {
            var fields = form
            if withToken, let csrf { fields.insert(("csrf_token", csrf), at: 0) }
            return try await send(uri, method: .post, form: fields)
        }

        /// The password form, filled in and sent.
        mutating func signIn(_ username: String, _ password: String) async throws -> Page {
            _ = try await get("/login")
            return try await post("/login", [("username", username), ("password", password)])
        }

        private mutating func send(_ uri: String, method: HTTPRequest.Method, form: [(String, String)]?) async throws -> Page {
            var headers: HTTPFields = [:]
            if !cookies.isEmpty {
                headers[.cookie] = cookies.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")
            }
            var body: ByteBuffer?
            if let form {
                headers[.contentType] = "application/x-www-form-urlencoded"
                body = ByteBuffer(string: TestBrowser.encode(form))
            }
            let response = try await client.execute(uri: uri, method: method, headers: headers, body: body) { $0 }
            let page = Page(status: response.status, headers: response.headers, body: String(buffer: response.body))
            for header in page.setCookies {
                let pair = header.split(separator: ";", maxSplits: 1)[0].split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard pair.count == 2 else { continue }
                let name = String(pair[0]).trimmingCharacters(in: .whitespaces)
                let value = String(pair[1])
                cookies[name] = value.isEmpty || header.lowercased().contains("max-age=0") ? nil : value
            }
            if let token = TestBrowser.inputValue("csrf_token", in: page.body) { csrf = token }
            return page
        }
    }

    // MARK: Helpers

    static func captures(_ pattern: String, in text: String) -> [String] {
        guard let regex = try? NSRegularExpression(pattern: pattern) else { return [] }
        return regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap { match in
            Range(match.range(at: 1), in: text).map { String(text[$0]) }
        }
    }

    /// Turns two-step verification on from the account page, with a code computed from the
    /// secret the page shows; returns the secret and the recovery codes.
    static func enrol(_ browser: inout Browser, time: FixedTime) async throws -> (secret: [UInt8], codes: [String]) {
        let account = try await browser.get("/account")
        #expect(account.status == .ok)
        #expect(account.body.contains("Set up two-step verification"))
        let setup = try await browser.post("/account/totp/start", [])
        #expect(setup.status == .ok)
        #expect(setup.body.contains("<svg"))
        #expect(setup.body.contains("otpauth://totp/NeoSec:alice?secret="))
        #expect(setup.body.contains(#"name="otp""#))
        #expect(setup.body.contains(#"autocomplete="one-time-code""#))
        let shown = try #require(captures(#"id="totp-secret" class="secret">([A-Z2-7 ]+)</code>"#, in: setup.body).first)
        let secret = try #require(Base32.decode(shown.replacingOccurrences(of: " ", with: "")))
        #expect(secret.count == 20)

        // A wrong code leaves it off and shows the same secret again.
        let wrong = try await browser.post("/account/totp/confirm", [("otp", wrongCode(secret: secret, at: time.epochSeconds))])
        #expect(wrong.status == .badRequest)
        #expect(wrong.body.contains(#"role="alert""#))
        #expect(wrong.body.contains(shown))

        let confirmed = try await browser.post("/account/totp/confirm", [("otp", TOTP.code(secret: secret, at: time.epochSeconds))])
        #expect(confirmed.status == .ok)
        let codes = captures(#"<li><code>([A-Z2-7]{5}-[A-Z2-7]{5})</code></li>"#, in: confirmed.body)
        #expect(codes.count == 10)
        #expect(Set(codes).count == 10)
        return (secret, codes)
    }

    /// A 6-digit code that is none of the codes accepted at `time`.
    static func wrongCode(secret: [UInt8], at time: Int64) -> String {
        let near = Set((-1...1).map { TOTP.code(secret: secret, step: TOTP.step(at: time) + Int64($0)) })
        return ["000000", "111111", "222222"].first { !near.contains($0) }!
    }

    // MARK: Tests

    @Test func accountPageNeedsASession() async throws {
        try await Self.run { harness in
            var browser = Browser(harness.client)
            let page = try await browser.get("/account")
            #expect(page.status == .seeOther)
            #expect(page.location == "/login")
            let root = try await browser.get("/")
            #expect(root.location == "/account")

            // A signed-out browser's forms (with a valid CSRF token) go to sign-in and change nothing.
            _ = try await browser.get("/login")
            for path in Self.accountPaths {
                let post = try await browser.post(path, [("password", Self.password)])
                #expect(post.status == .seeOther, "\(path)")
                #expect(post.location == "/login", "\(path)")
            }

            let login = try await browser.signIn(Self.username, Self.password)
            #expect(login.status == .seeOther)
            #expect(login.location == "/account")
            #expect(login.setsCookie("neosec_session"))
            let account = try await browser.get("/account")
            #expect(account.status == .ok)
            #expect(account.headers[HTTPField.Name("X-Frame-Options")!] == "DENY")
            #expect(account.headers[.contentSecurityPolicy]?.contains("frame-ancestors 'none'") == true)
            #expect(account.headers[.cacheControl] == "no-store")
            for text in [
                "Alice Example", "alice@example.com", ">Profile</h2>", ">Two-step verification</h2>", ">Password</h2>",
                ">Connected applications</h2>", ">Linked identities</h2>", "Password (local)", ">Sign out</h2>",
                #"action="/logout""#, #"autocomplete="new-password""#, #"autocomplete="current-password""#,
                // The Token Service is down in this test: the list says so, the page still works.
                "Connected applications cannot be shown right now",
            ] {
                #expect(account.body.contains(text), "\(text)")
            }
            // Flags map to fixed texts; anything else shows nothing.
            let flagged = try await browser.get("/account?error=%3Cscript%3E&done=password")
            #expect(flagged.body.contains("Your password has been changed."))
            #expect(!flagged.body.contains("<script>"))
        }
    }

    @Test func formsWithoutTheCSRFTokenAreRefused() async throws {
        try await Self.run { harness in
            var browser = Browser(harness.client)
            _ = try await browser.signIn(Self.username, Self.password)
            for path in Self.accountPaths + ["/login/otp"] {
                let missing = try await browser.post(path, [("password", Self.password), ("otp", "123456")], withToken: false)
                #expect(missing.status == .forbidden, "\(path)")
                let forged = try await browser.post(path, [("csrf_token", "forged"), ("password", Self.password)], withToken: false)
                #expect(forged.status == .forbidden, "\(path)")
            }
            // Nothing changed: two-step verification is still off, the password still works.
            let account = try await browser.get("/account")
            #expect(account.body.contains("Set up two-step verification"))
            var other = Browser(harness.client)
            let login = try await other.signIn(Self.username, Self.password)
            #expect(login.location == "/account")
        }
    }

    @Test func enrolmentThenSignInWithACode() async throws {
        try await Self.run { harness in
            let time = harness.time
            var browser = Browser(harness.client)
            _ = try await browser.signIn(Self.username, Self.password)
            let (secret, codes) = try await Self.enrol(&browser, time: time)
            let account = try await browser.get("/account?done=totp_enabled")
            #expect(account.body.contains("Two-step verification is on."))
            #expect(account.body.contains("Recovery codes left: 10"))
            #expect(!account.body.contains("Set up two-step verification"))
            // Started again once on: refused.
            let restart = try await browser.post("/account/totp/start", [])
            #expect(restart.location == "/account?error=totp_enabled")

            // A fresh browser: the password alone makes no session; the otp step follows.
            var second = Browser(harness.client)
            let step = try await second.signIn(Self.username, Self.password)
            #expect(step.status == .ok)
            #expect(step.body.contains(#"action="/login/otp""#))
            #expect(step.body.contains(#"name="otp""#))
            #expect(step.body.contains(#"autocomplete="one-time-code""#))
            #expect(step.body.contains(#"name="csrf_token""#))
            #expect(step.setsCookie("neosec_mfa"))
            #expect(!step.setsCookie("neosec_session"))
            let noSession = try await second.get("/account")
            #expect(noSession.location == "/login")
            // A reload shows the step again.
            let reload = try await second.get("/login/otp")
            #expect(reload.status == .ok)

            let enrolmentCode = TOTP.code(secret: secret, at: time.epochSeconds)
            let wrong = try await second.post("/login/otp", [("otp", Self.wrongCode(secret: secret, at: time.epochSeconds))])
            #expect(wrong.status == .unauthorized)
            #expect(wrong.body.contains(#"role="alert""#))
            #expect(!wrong.setsCookie("neosec_session"))

            // The code that confirmed the enrolment used its time step: refused (RFC 6238 §5.2).
            let replayed = try await second.post("/login/otp", [("otp", enrolmentCode)])
            #expect(replayed.status == .unauthorized)
            #expect(!replayed.setsCookie("neosec_session"))

            time.advance(by: 30)
            let code = TOTP.code(secret: secret, at: time.epochSeconds)
            let done = try await second.post("/login/otp", [("otp", String(code.prefix(3)) + " " + String(code.suffix(3)))])
            #expect(done.status == .seeOther)
            #expect(done.location == "/account")
            #expect(done.setsCookie("neosec_session"))
            #expect(second.cookies["neosec_mfa"] == nil)
            let signedIn = try await second.get("/account")
            #expect(signedIn.status == .ok)

            // The pending sign-in is used up.
            let again = try await second.post("/login/otp", [("otp", code)])
            #expect(again.status == .badRequest)
            #expect(again.body.contains(#"name="password""#))

            // The same code in another browser, within its 30 seconds: refused.
            var third = Browser(harness.client)
            _ = try await third.signIn(Self.username, Self.password)
            let reused = try await third.post("/login/otp", [("otp", code)])
            #expect(reused.status == .unauthorized)
            #expect(!reused.setsCookie("neosec_session"))

            // Nothing secret in the logs.
            let logs = harness.logs.lines.joined(separator: "\n")
            for secretText in [Self.password, Base32.encode(secret), code, enrolmentCode] + codes {
                #expect(!logs.contains(secretText))
            }
        }
    }

    @Test func recoveryCodeWorksOnce() async throws {
        try await Self.run { harness in
            var browser = Browser(harness.client)
            _ = try await browser.signIn(Self.username, Self.password)
            let (_, codes) = try await Self.enrol(&browser, time: harness.time)

            var second = Browser(harness.client)
            _ = try await second.signIn(Self.username, Self.password)
            let used = try await second.post("/login/otp", [("otp", codes[0].lowercased())])
            #expect(used.status == .seeOther)
            #expect(used.location == "/account")
            #expect(used.setsCookie("neosec_session"))
            let account = try await second.get("/account")
            #expect(account.body.contains("Recovery codes left: 9"))

            var third = Browser(harness.client)
            _ = try await third.signIn(Self.username, Self.password)
            let reused = try await third.post("/login/otp", [("otp", codes[0])])
            #expect(reused.status == .unauthorized)
            #expect(!reused.setsCookie("neosec_session"))
            let next = try await third.post("/login/otp", [("otp", codes[1].replacingOccurrences(of: "-", with: ""))])
            #expect(next.status == .seeOther)
            #expect(next.setsCookie("neosec_session"))
        }
    }

    @Test func secondStepExpires() async throws {
        try await Self.run { harness in
            let time = harness.time
            var browser = Browser(harness.client)
            _ = try await browser.signIn(Self.username, Self.password)
            let (secret, _) = try await Self.enrol(&browser, time: time)

            var second = Browser(harness.client)
            let step = try await second.signIn(Self.username, Self.password)
            #expect(step.status == .ok)
            time.advance(by: 301)
            let late = try await second.post("/login/otp", [("otp", TOTP.code(secret: secret, at: time.epochSeconds))])
            #expect(late.status == .badRequest)
            #expect(late.body.contains("timed out"))
            #expect(late.body.contains(#"name="password""#))
            #expect(!late.setsCookie("neosec_session"))
        }
    }

    @Test func turningTwoStepOffNeedsThePassword() async throws {
        try await Self.run { harness in
            var browser = Browser(harness.client)
            _ = try await browser.signIn(Self.username, Self.password)
            _ = try await Self.enrol(&browser, time: harness.time)

            let wrong = try await browser.post("/account/totp/disable", [("password", "not-the-password")])
            #expect(wrong.location == "/account?error=password")
            let page = try await browser.get("/account?error=password")
            #expect(page.body.contains("The current password is incorrect."))
            #expect(!page.body.contains("not-the-password"))
            #expect(page.body.contains("Recovery codes left"))

            let off = try await browser.post("/account/totp/disable", [("password", Self.password)])
            #expect(off.location == "/account?done=totp_disabled")
            let afterOff = try await browser.get("/account")
            #expect(afterOff.body.contains("Set up two-step verification"))

            var second = Browser(harness.client)
            let login = try await second.signIn(Self.username, Self.password)
            #expect(login.status == .seeOther)
            #expect(login.location == "/account")
        }
    }

    @Test func passwordChangeEndsOtherSessions() async throws {
        try await Self.run { harness in
            let newPassword = "a-brand-new-password"
            var browser = Browser(harness.client)
            _ = try await browser.signIn(Self.username, Self.password)
            var elsewhere = Browser(harness.client)
            _ = try await elsewhere.signIn(Self.username, Self.password)

            func change(_ current: String, _ new: String, _ confirmation: String) async throws -> String? {
                try await browser.post(
                    "/account/password", [("current_password", current), ("new_password", new), ("confirm_password", confirmation)]
                ).location
            }
            let mismatch = try await change(Self.password, newPassword, newPassword + "x")
            #expect(mismatch == "/account?error=password_mismatch")
            let short = try await change(Self.password, "short", "short")
            #expect(short == "/account?error=password_length")
            let wrongCurrent = try await change("not-the-password", newPassword, newPassword)
            #expect(wrongCurrent == "/account?error=password")

            let before = browser.cookies["neosec_session"]
            let changed = try await change(Self.password, newPassword, newPassword)
            #expect(changed == "/account?done=password")
            let after = browser.cookies["neosec_session"]
            #expect(after != nil)
            #expect(after != before)
            let page = try await browser.get("/account?done=password")
            #expect(page.status == .ok)
            #expect(page.body.contains("Your password has been changed."))

            // Every other session ended, the browser's old cookie with them.
            let ended = try await elsewhere.get("/account")
            #expect(ended.location == "/login")
            var stale = Browser(harness.client)
            stale.cookies["neosec_session"] = before
            let staleAccount = try await stale.get("/account")
            #expect(staleAccount.location == "/login")

            var fresh = Browser(harness.client)
            let old = try await fresh.signIn(Self.username, Self.password)
            #expect(old.status == .unauthorized)
            let renewed = try await fresh.signIn(Self.username, newPassword)
            #expect(renewed.location == "/account")
        }
    }
}
