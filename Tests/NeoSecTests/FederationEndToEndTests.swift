import AsyncHTTPClient
import Crypto
import Foundation
import JOSE
import NIOCore
import NIOHTTP1
import NeoSecTesting
import ServiceKit
import Testing
import WireModels

/// Federation end to end: a second NeoSec suite (its own Token and Authentication Services,
/// its own store) is the upstream OpenID Provider of the first one's Authentication Service.
@Suite("End to end: federated login and account linking against a second NeoSec", .serialized)
struct FederationEndToEndTests {
    static let redirect = "http://127.0.0.1:9999/callback"

    struct Running {
        let up: ChildProcess
        let directory: TemporaryDirectory
        let ports: [Int]
        var token: String { "http://127.0.0.1:\(ports[0])" }
        var authn: String { "http://127.0.0.1:\(ports[1])" }
        var admin: String { (try? String(contentsOfFile: directory.path + "/data/admin.token", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "" }
        func secret(_ client: String) throws -> String {
            let fixtures = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory.path + "/data/fixtures.json"))) as! [[String: Any]]
            return fixtures.first { $0["client_id"] as? String == client }?["client_secret"] as! String
        }
    }

    static func start(ports: [Int], extra: [String: String] = [:]) async throws -> Running {
        let directory = try TemporaryDirectory()
        var environment = ["NEOSEC_LOG_LEVEL": "warning", "NEOSEC_AUTHN_SCRYPT_LOG_N": "14"].merging(extra) { $1 }
        for (service, port) in zip(ServiceName.allCases, ports) { environment["NEOSEC_\(service.shortName.uppercased())_PORT"] = "\(port)" }
        let up = try ChildProcess(
            executable: builtExecutable("neosec"), arguments: ["up", "--data-dir", directory.path + "/data", "--ready-timeout", "30"],
            environment: environment, logDirectory: directory.path, name: "up"
        )
        let started = await ChildProcess.eventually(timeout: .seconds(60)) { up.stdout.contains("Press Ctrl-C") || !up.process.isRunning }
        guard started, up.process.isRunning else { throw ConfigError("neosec up failed: \(up.stdout) \(up.stderr)") }
        return Running(up: up, directory: directory, ports: ports)
    }

    static func stop(_ running: Running) async {
        running.up.signal(SIGINT)
        _ = await running.up.waitForExit(timeout: .seconds(20))
        running.directory.remove()
    }

    static func parameter(_ name: String, in url: String) -> String? {
        URLComponents(string: url)?.queryItems?.first { $0.name == name }?.value
    }

    static func absolute(_ location: String, base: String) -> String { location.hasPrefix("/") ? base + location : location }

    static func json(_ method: HTTPMethod, _ url: String, bearer: String, body: String? = nil) async throws -> (Int, Any?) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(bearer)")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let data = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), try? JSONSerialization.jsonObject(with: Data(buffer: data)))
    }

    @Test func federatedLoginAndLinking() async throws {
        let upstreamPorts = try ServiceName.allCases.map { _ in try freeLoopbackPort() }
        let downstreamPorts = try ServiceName.allCases.map { _ in try freeLoopbackPort() }
        let upstream = try await Self.start(ports: upstreamPorts)
        var downstream: Running?
        do {
            // The downstream Authentication Service is a client of the upstream Token Service.
            let callback = "http://127.0.0.1:\(downstreamPorts[1])/federation/callback"
            let (status, registered) = try await Self.json(
                .POST, upstream.token + "/admin/clients", bearer: upstream.admin,
                body: #"{"client_name":"Downstream NeoSec","grant_types":["authorization_code"],"redirect_uris":["\#(callback)"],"scope":"openid profile email","require_pkce":true}"#
            )
            #expect(status == 201)
            let client = registered as! [String: Any]
            let upstreams = #"[{"id":"upstream","name":"Upstream NeoSec","issuer":"\#(upstream.token)","client_id":"\#(client["client_id"] as! String)","client_secret":"\#(client["client_secret"] as! String)"}]"#
            let down = try await Self.start(ports: downstreamPorts, extra: ["NEOSEC_AUTHN_UPSTREAMS": upstreams])
            downstream = down
            try await flow(upstream: upstream, downstream: down)
        } catch {
            if let downstream { await Self.stop(downstream) }
            await Self.stop(upstream)
            throw error
        }
        if let downstream { await Self.stop(downstream) }
        await Self.stop(upstream)
    }

    /// Starts the downstream code flow and signs in through the upstream provider as `user`.
    /// Returns the downstream ID token's subject.
    /// With `acrValues` asking for two-step verification, the callback must refuse instead
    /// (then returns nil).
    @discardableResult
    func federatedSignIn(_ browser: TestBrowser, upstream: Running, downstream: Running, user: String, acrValues: String? = nil) async throws -> String? {
        let verifier = RandomToken.make(bytes: 32)
        let challenge = Base64URL.encode(SHA256.hash(data: Array(verifier.utf8)))
        let authorize = try await browser.get(
            downstream.token + "/oauth2/authorize?response_type=code&client_id=demo-web&redirect_uri=\(Self.redirect.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)"
                + "&scope=openid%20profile%20email&state=fed&nonce=n&code_challenge=\(challenge)&code_challenge_method=S256"
                + (acrValues.map { "&acr_values=" + $0.addingPercentEncoding(withAllowedCharacters: .alphanumerics)! } ?? "")
        )
        let login = try await browser.get(try #require(authorize.location))
        #expect(login.body.contains("Sign in with Upstream NeoSec"))
        let start = try await browser.post(
            downstream.authn + "/federation/start",
            form: [
                ("csrf_token", try #require(TestBrowser.inputValue("csrf_token", in: login.body))),
                ("login_challenge", try #require(TestBrowser.inputValue("login_challenge", in: login.body))), ("provider", "upstream"),
            ]
        )
        #expect(start.status == 303)
        let upstreamAuthorize = try #require(start.location)
        #expect(upstreamAuthorize.hasPrefix(upstream.token + "/oauth2/authorize?"))
        #expect(Self.parameter("code_challenge_method", in: upstreamAuthorize) == "S256")
        #expect(Self.parameter("nonce", in: upstreamAuthorize) != nil)

        // At the upstream provider: its own login and consent pages.
        var next = try #require(try await browser.get(upstreamAuthorize).location)
        if next.contains("/login?") {
            let page = try await browser.get(next)
            let signedIn = try await browser.post(
                upstream.authn + "/login",
                form: [
                    ("csrf_token", TestBrowser.inputValue("csrf_token", in: page.body)!), ("login_challenge", TestBrowser.inputValue("login_challenge", in: page.body)!),
                    ("username", user), ("password", "\(user)-demo-password"),
                ]
            )
            next = Self.absolute(try #require(signedIn.location), base: upstream.authn)
        }
        if next.contains("/consent?") {
            let page = try await browser.get(next)
            var form = [("csrf_token", TestBrowser.inputValue("csrf_token", in: page.body)!), ("consent_challenge", TestBrowser.inputValue("consent_challenge", in: page.body)!)]
            form += TestBrowser.checkboxes("scope", in: page.body).map { ("scope", $0.value) }
            form.append(("decision", "allow"))
            next = try #require(try await browser.post(upstream.authn + "/consent", form: form).location)
        }
        #expect(next.hasPrefix(downstream.authn + "/federation/callback?"))
        if acrValues != nil {
            let refused = try await browser.get(next)
            #expect(refused.status == 403)
            #expect(refused.body.contains("Two-step verification required"))
            #expect(refused.location == nil)
            return nil
        }

        // Back at the downstream Authentication Service, then its consent, then the client.
        var location = Self.absolute(try #require(try await browser.get(next).location), base: downstream.authn)
        if location.contains("/consent?") {
            let page = try await browser.get(location)
            var form = [("csrf_token", TestBrowser.inputValue("csrf_token", in: page.body)!), ("consent_challenge", TestBrowser.inputValue("consent_challenge", in: page.body)!)]
            form += TestBrowser.checkboxes("scope", in: page.body).map { ("scope", $0.value) }
            form.append(("decision", "allow"))
            location = try #require(try await browser.post(downstream.authn + "/consent", form: form).location)
        }
        #expect(location.hasPrefix(Self.redirect + "?"))
        let code = try #require(Self.parameter("code", in: location))
        var request = HTTPClientRequest(url: downstream.token + "/oauth2/token")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Basic " + Data("demo-web:\(try downstream.secret("demo-web"))".utf8).base64EncodedString())
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.body = .bytes(ByteBuffer(string: TestBrowser.encode([("grant_type", "authorization_code"), ("code", code), ("redirect_uri", Self.redirect), ("code_verifier", verifier)])))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let body = try JSONSerialization.jsonObject(with: Data(buffer: try await response.body.collect(upTo: 1 << 20))) as! [String: Any]
        #expect(response.status == .ok)
        let idToken = try #require(body["id_token"] as? String)
        let claims = try JSONSerialization.jsonObject(with: Base64URL.decode(idToken.split(separator: ".")[1])!) as! [String: Any]
        #expect(claims["amr"] as? [String] == ["fed"])
        #expect(claims["acr"] as? String == "urn:neosec:acr:federated")
        return claims["sub"] as! String
    }

    func accountIDs(_ downstream: Running) async throws -> [String: String] {
        let (_, listing) = try await Self.json(.GET, downstream.authn + "/admin/accounts", bearer: downstream.admin)
        let accounts = ((listing as? [String: Any])?["accounts"] as? [[String: Any]]) ?? (listing as? [[String: Any]]) ?? []
        return Dictionary(uniqueKeysWithValues: accounts.map { ($0["username"] as! String, $0["id"] as! String) })
    }

    func flow(upstream: Running, downstream: Running) async throws {
        // 1. A first federated sign-in creates a new account — not the local alice with the same email.
        let browser = TestBrowser()
        let subject = try #require(try await federatedSignIn(browser, upstream: upstream, downstream: downstream, user: "alice"))
        let ids = try await accountIDs(downstream)
        #expect(ids["alice"] != subject, "never linked by matching email")
        #expect(ids["alice@upstream"] == subject)
        let account = try await browser.get(downstream.authn + "/account")
        #expect(account.body.contains("Upstream NeoSec (\(upstream.token))"))
        #expect(!account.body.contains("Password (local)"))

        // 2. Again, in a fresh browser: the same account.
        let again = try #require(try await federatedSignIn(TestBrowser(), upstream: upstream, downstream: downstream, user: "alice"))
        #expect(again == subject)

        // 3. The local bob links his upstream identity (signed in at both), then signs in with it.
        let bob = TestBrowser()
        let loginPage = try await bob.get(downstream.authn + "/login")
        let signedIn = try await bob.post(
            downstream.authn + "/login",
            form: [("csrf_token", TestBrowser.inputValue("csrf_token", in: loginPage.body)!), ("username", "bob"), ("password", "bob-demo-password")]
        )
        #expect(signedIn.status == 303)
        let page = try await bob.get(downstream.authn + "/account")
        #expect(page.body.contains("Link Upstream NeoSec"))
        let link = try await bob.post(
            downstream.authn + "/federation/start",
            form: [("csrf_token", TestBrowser.inputValue("csrf_token", in: page.body)!), ("provider", "upstream"), ("mode", "link")]
        )
        let linkLocation = try #require(link.location)
        var next = try #require(try await bob.get(linkLocation).location)
        let upstreamLogin = try await bob.get(next)
        next = Self.absolute(
            try #require(
                try await bob.post(
                    upstream.authn + "/login",
                    form: [
                        ("csrf_token", TestBrowser.inputValue("csrf_token", in: upstreamLogin.body)!),
                        ("login_challenge", TestBrowser.inputValue("login_challenge", in: upstreamLogin.body)!), ("username", "bob"), ("password", "bob-demo-password"),
                    ]
                ).location
            ),
            base: upstream.authn
        )
        let consent = try await bob.get(next)
        var form = [("csrf_token", TestBrowser.inputValue("csrf_token", in: consent.body)!), ("consent_challenge", TestBrowser.inputValue("consent_challenge", in: consent.body)!)]
        form += TestBrowser.checkboxes("scope", in: consent.body).map { ("scope", $0.value) }
        form.append(("decision", "allow"))
        let back = try #require(try await bob.post(upstream.authn + "/consent", form: form).location)
        let linked = try await bob.get(back)
        #expect(linked.status == 303)
        #expect(linked.location?.hasSuffix("/account?done=linked") == true)
        let linkedPage = try await bob.get(downstream.authn + "/account")
        #expect(linkedPage.body.contains("Password (local)"))
        #expect(linkedPage.body.contains("Upstream NeoSec (\(upstream.token))"))
        let bobSubject = try #require(try await federatedSignIn(TestBrowser(), upstream: upstream, downstream: downstream, user: "bob"))
        // A client asking for two-step verification does not get it from a federated sign-in.
        try await federatedSignIn(TestBrowser(), upstream: upstream, downstream: downstream, user: "bob", acrValues: "urn:neosec:acr:mfa")
        #expect(bobSubject == ids["bob"])

        // 4. A callback with a state from another browser, or replayed, is refused.
        let forged = try await TestBrowser().get(back)
        #expect(forged.status == 400)
    }
}
