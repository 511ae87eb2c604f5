import AsyncHTTPClient
import Crypto
import Foundation
import JOSE
import NIOCore
import NeoSecTesting
import ServiceKit
import Testing
import WireModels

/// The authorization code flow end to end: `neosec up` (all five executables), a browser that
/// submits the real login and consent HTML forms, and a confidential client at the token,
/// userinfo, revocation and logout endpoints.
@Suite("End to end: code + PKCE through the login and consent pages", .serialized)
struct BrowserFlowEndToEndTests {
    static let redirect = "http://127.0.0.1:9999/callback"

    struct Suite {
        let up: ChildProcess
        let directory: TemporaryDirectory
        let token: String
        let authn: String
        let resource: String
        let webSecret: String
    }

    static func startSuite() async throws -> Suite {
        let directory = try TemporaryDirectory()
        let ports = try ServiceName.allCases.map { _ in try freeLoopbackPort() }
        var environment = ["NEOSEC_LOG_LEVEL": "warning", "NEOSEC_AUTHN_SCRYPT_LOG_N": "14"]
        for (service, port) in zip(ServiceName.allCases, ports) {
            environment["NEOSEC_\(service.shortName.uppercased())_PORT"] = "\(port)"
        }
        let up = try ChildProcess(
            executable: builtExecutable("neosec"), arguments: ["up", "--data-dir", directory.path + "/data", "--ready-timeout", "30"],
            environment: environment, logDirectory: directory.path, name: "up"
        )
        let started = await ChildProcess.eventually(timeout: .seconds(60)) { up.stdout.contains("NeoSec is up") || !up.process.isRunning }
        guard started, up.process.isRunning else { throw ConfigError("neosec up failed: \(up.stdout) \(up.stderr)") }
        let fixtures = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory.path + "/data/fixtures.json"))) as! [[String: Any]]
        let secret = fixtures.first { $0["client_id"] as? String == "demo-web" }?["client_secret"] as! String
        return Suite(
            up: up, directory: directory, token: "http://127.0.0.1:\(ports[0])", authn: "http://127.0.0.1:\(ports[1])",
            resource: "http://127.0.0.1:\(ports[4])", webSecret: secret
        )
    }

    static func stop(_ suite: Suite) async {
        suite.up.signal(SIGINT)
        _ = await suite.up.waitForExit(timeout: .seconds(20))
        suite.directory.remove()
    }

    static func parameter(_ name: String, in url: String) -> String? {
        URLComponents(string: url)?.queryItems?.first { $0.name == name }?.value
    }

    static func absolute(_ location: String, base: String) -> String {
        location.hasPrefix("/") ? base + location : location
    }

    /// A token request as `demo-web` (client_secret_basic), or unauthenticated for a public client.
    static func tokenRequest(_ suite: Suite, _ form: [(String, String)], asDemoWeb: Bool = true) async throws -> (Int, [String: Any]) {
        var request = HTTPClientRequest(url: suite.token + "/oauth2/token")
        request.method = .POST
        if asDemoWeb { request.headers.add(name: "Authorization", value: "Basic " + Data("demo-web:\(suite.webSecret)".utf8).base64EncodedString()) }
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.body = .bytes(ByteBuffer(string: TestBrowser.encode(form)))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), (try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any]) ?? [:])
    }

    static func bearerGet(_ url: String, _ token: String) async throws -> (Int, [String: Any], String?) {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), (try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any]) ?? [:], response.headers.first(name: "WWW-Authenticate"))
    }

    static func authorizeURL(_ suite: Suite, challenge: String, scope: String = "openid profile email offline_access documents:read", extra: String = "") -> String {
        let scope = scope.replacingOccurrences(of: " ", with: "%20")
        return suite.token
            + "/oauth2/authorize?response_type=code&client_id=demo-web&redirect_uri=\(redirect.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)"
            + "&scope=\(scope)&state=st-1&nonce=nonce-1&code_challenge=\(challenge)&code_challenge_method=S256\(extra)"
    }

    @Test func codeFlowThroughTheRealPages() async throws {
        let suite = try await Self.startSuite()
        do {
            try await flow(suite)
        } catch {
            await Self.stop(suite)
            throw error
        }
        await Self.stop(suite)
    }

    func flow(_ suite: Suite) async throws {
        let browser = TestBrowser()
        let verifier = RandomToken.make(bytes: 32)
        let challenge = Base64URL.encode(SHA256.hash(data: Array(verifier.utf8)))

        // 1. The client sends the browser to the authorization endpoint; it goes on to the login page.
        let authorize = try await browser.get(Self.authorizeURL(suite, challenge: challenge))
        #expect(authorize.status == 303)
        let loginURL = try #require(authorize.location)
        #expect(loginURL.hasPrefix(suite.authn + "/login?login_challenge="))
        let login = try await browser.get(loginURL)
        #expect(login.status == 200)
        #expect(login.body.contains("NeoSec Demo Web App"))
        #expect(login.header("X-Frame-Options") == "DENY")
        #expect(login.header("Content-Security-Policy")?.contains("frame-ancestors 'none'") == true)
        #expect(login.header("Content-Security-Policy")?.contains("unsafe-inline") == false)
        let csrf = try #require(TestBrowser.inputValue("csrf_token", in: login.body))
        let loginChallenge = try #require(TestBrowser.inputValue("login_challenge", in: login.body))

        // 2. A wrong password: generic error, the same form again, no session.
        let wrong = try await browser.post(
            suite.authn + "/login", form: [("csrf_token", csrf), ("login_challenge", loginChallenge), ("username", "alice"), ("password", "nope")]
        )
        #expect(wrong.status == 401)
        #expect(wrong.body.contains("The username or password is incorrect."))
        #expect(wrong.location == nil)
        // Without the CSRF token: refused.
        let forged = try await browser.post(suite.authn + "/login", form: [("login_challenge", loginChallenge), ("username", "alice"), ("password", "alice-demo-password")])
        #expect(forged.status == 403)

        // 3. The right password: on to the consent page.
        let signedIn = try await browser.post(
            suite.authn + "/login",
            form: [("csrf_token", csrf), ("login_challenge", loginChallenge), ("username", "alice"), ("password", "alice-demo-password")]
        )
        #expect(signedIn.status == 303)
        let consentURL = Self.absolute(try #require(signedIn.location), base: suite.authn)
        #expect(consentURL.contains("/consent?consent_challenge="))
        let consent = try await browser.get(consentURL)
        #expect(consent.status == 200)
        let boxes = TestBrowser.checkboxes("scope", in: consent.body)
        #expect(boxes.map(\.value) == ["openid", "profile", "email", "offline_access", "documents:read"])
        #expect(boxes.allSatisfy { $0.checked })
        #expect(consent.body.contains(#"name="decision""#) && consent.body.contains(#"value="allow""#) && consent.body.contains(#"value="deny""#))

        // 4. Allow, with `email` unticked.
        var consentForm = [
            ("csrf_token", TestBrowser.inputValue("csrf_token", in: consent.body)!),
            ("consent_challenge", TestBrowser.inputValue("consent_challenge", in: consent.body)!),
        ]
        consentForm += boxes.map(\.value).filter { $0 != "email" }.map { ("scope", $0) }
        consentForm.append(("decision", "allow"))
        let allowed = try await browser.post(suite.authn + "/consent", form: consentForm)
        #expect(allowed.status == 303)
        let callback = try #require(allowed.location)
        #expect(callback.hasPrefix(Self.redirect + "?"))
        #expect(Self.parameter("state", in: callback) == "st-1")
        #expect(Self.parameter("iss", in: callback) == suite.token)
        let code = try #require(Self.parameter("code", in: callback))

        // 5. The client redeems the code.
        let (status, tokens) = try await Self.tokenRequest(
            suite, [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", Self.redirect), ("code_verifier", verifier)]
        )
        #expect(status == 200, "\(tokens)")
        #expect(tokens["scope"] as? String == "openid profile offline_access documents:read")
        let access = try #require(tokens["access_token"] as? String)
        let refresh = try #require(tokens["refresh_token"] as? String)
        let idToken = try #require(tokens["id_token"] as? String)
        let idClaims = try JSONSerialization.jsonObject(with: Base64URL.decode(idToken.split(separator: ".")[1])!) as! [String: Any]
        #expect(idClaims["nonce"] as? String == "nonce-1")
        #expect(idClaims["amr"] as? [String] == ["pwd"])
        let subject = try #require(idClaims["sub"] as? String)

        // 6. Userinfo releases profile claims, not the unticked email.
        let (infoStatus, info, _) = try await Self.bearerGet(suite.token + "/oauth2/userinfo", access)
        #expect(infoStatus == 200, "\(info)")
        #expect(info["sub"] as? String == subject)
        #expect(info["name"] as? String == "Alice Martin")
        #expect(info["preferred_username"] as? String == "alice")
        #expect(info["email"] == nil)

        // 6b. The demo resource server: local JWT verification, audience and scope per route.
        let (whoStatus, who, _) = try await Self.bearerGet(suite.resource + "/api/whoami", access)
        #expect(whoStatus == 200)
        #expect(who["sub"] as? String == subject)
        #expect(who["client_id"] as? String == "demo-web")
        let (listStatus, listing, _) = try await Self.bearerGet(suite.resource + "/api/documents", access)
        #expect(listStatus == 200)
        #expect((listing["documents"] as? [Any])?.isEmpty == true)
        var create = HTTPClientRequest(url: suite.resource + "/api/documents")
        create.method = .POST
        create.headers.add(name: "Authorization", value: "Bearer \(access)")
        create.headers.add(name: "Content-Type", value: "application/json")
        create.body = .bytes(ByteBuffer(string: #"{"title":"t","content":"c"}"#))
        let denied = try await HTTPClient.shared.execute(create, timeout: .seconds(10))
        #expect(denied.status == .forbidden)
        #expect(denied.headers.first(name: "WWW-Authenticate")?.contains(#"error="insufficient_scope""#) == true)
        #expect(denied.headers.first(name: "WWW-Authenticate")?.contains(#"scope="documents:write""#) == true)
        let (noToken, _, bare) = try await Self.bearerGet(suite.resource + "/api/whoami", "")
        #expect(noToken == 401)
        #expect(bare?.contains("error=") == false)
        let (garbage, _, garbageChallenge) = try await Self.bearerGet(suite.resource + "/api/whoami", "eyJhbGciOiJub25lIn0.e30.")
        #expect(garbage == 401)
        #expect(garbageChallenge?.contains(#"error="invalid_token""#) == true)
        let inQuery = try await HTTPClient.shared.execute(HTTPClientRequest(url: suite.resource + "/api/whoami?access_token=\(access)"), timeout: .seconds(10))
        #expect(inQuery.status == .badRequest)
        // A token for another audience (only the userinfo endpoint) is refused.
        let (otherAudience, _, _) = try await Self.bearerGet(suite.resource + "/api/whoami", idToken)
        #expect(otherAudience == 401)

        // A service client with documents:write creates, reads and deletes its own documents.
        let fixtures = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: suite.directory.path + "/data/fixtures.json"))) as! [[String: Any]]
        let serviceSecret = fixtures.first { $0["client_id"] as? String == "demo-service" }?["client_secret"] as! String
        var cc = HTTPClientRequest(url: suite.token + "/oauth2/token")
        cc.method = .POST
        cc.headers.add(name: "Authorization", value: "Basic " + Data("demo-service:\(serviceSecret)".utf8).base64EncodedString())
        cc.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        cc.body = .bytes(ByteBuffer(string: "grant_type=client_credentials"))
        let ccBody = try JSONSerialization.jsonObject(with: Data(buffer: try await HTTPClient.shared.execute(cc, timeout: .seconds(10)).body.collect(upTo: 1 << 20))) as! [String: Any]
        let serviceToken = ccBody["access_token"] as! String
        create.headers.replaceOrAdd(name: "Authorization", value: "Bearer \(serviceToken)")
        let created = try await HTTPClient.shared.execute(create, timeout: .seconds(10))
        #expect(created.status == .created)
        let document = try JSONSerialization.jsonObject(with: Data(buffer: try await created.body.collect(upTo: 1 << 20))) as! [String: Any]
        let documentID = document["id"] as! String
        #expect(try await Self.bearerGet(suite.resource + "/api/documents/\(documentID)", serviceToken).0 == 200)
        // Another subject does not see it: an UMA challenge (a permission ticket to ask the owner).
        #expect(try await Self.bearerGet(suite.resource + "/api/documents/\(documentID)", access).0 == 401)
        var remove = HTTPClientRequest(url: suite.resource + "/api/documents/\(documentID)")
        remove.method = .DELETE
        remove.headers.add(name: "Authorization", value: "Bearer \(serviceToken)")
        #expect(try await HTTPClient.shared.execute(remove, timeout: .seconds(10)).status == .noContent)

        // 7. Refresh rotates; revoking the new refresh token kills the family.
        let (refreshed, rotated) = try await Self.tokenRequest(suite, [("grant_type", "refresh_token"), ("refresh_token", refresh)])
        #expect(refreshed == 200)
        #expect(rotated["refresh_count"] as? Int == 1)
        let newRefresh = rotated["refresh_token"] as! String
        var revoke = HTTPClientRequest(url: suite.token + "/oauth2/revoke")
        revoke.method = .POST
        revoke.headers.add(name: "Authorization", value: "Basic " + Data("demo-web:\(suite.webSecret)".utf8).base64EncodedString())
        revoke.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        revoke.body = .bytes(ByteBuffer(string: "token=\(newRefresh)&token_type_hint=refresh_token"))
        #expect(try await HTTPClient.shared.execute(revoke, timeout: .seconds(10)).status == .ok)
        let (afterRevoke, _) = try await Self.tokenRequest(suite, [("grant_type", "refresh_token"), ("refresh_token", newRefresh)])
        #expect(afterRevoke == 400)
        let (revokedInfo, _, challengeHeader) = try await Self.bearerGet(suite.token + "/oauth2/userinfo", rotated["access_token"] as! String)
        #expect(revokedInfo == 401)
        #expect(challengeHeader?.contains(#"error="invalid_token""#) == true)

        // 8. Same browser, prompt=none: the session and the remembered consent answer at once.
        let silent = try await browser.get(Self.authorizeURL(suite, challenge: challenge, scope: "openid", extra: "&prompt=none"))
        let silentLogin = try await browser.get(try #require(silent.location))
        #expect(silentLogin.status == 303)
        let silentCallback = try #require(silentLogin.location)
        let silentCode = try #require(Self.parameter("code", in: silentCallback), "\(silentCallback)")
        let (_, silentTokens) = try await Self.tokenRequest(
            suite, [("grant_type", "authorization_code"), ("code", silentCode), ("redirect_uri", Self.redirect), ("code_verifier", verifier)]
        )
        let sessionAccess = try #require(silentTokens["access_token"] as? String)
        #expect(try await Self.bearerGet(suite.token + "/oauth2/userinfo", sessionAccess).0 == 200)

        // 8b. A native app's private-use redirect URI (RFC 8252 §7.1) gets its code too.
        let adminToken = try String(contentsOfFile: suite.directory.path + "/data/admin.token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        var registerNative = HTTPClientRequest(url: suite.token + "/admin/clients")
        registerNative.method = .POST
        registerNative.headers.add(name: "Authorization", value: "Bearer " + adminToken)
        registerNative.headers.add(name: "Content-Type", value: "application/json")
        registerNative.body = .bytes(
            ByteBuffer(string: #"{"client_id":"native-app","client_name":"Native","grant_types":["authorization_code"],"token_endpoint_auth_method":"none","redirect_uris":["com.example.native:/cb"],"scope":"openid"}"#)
        )
        #expect(try await HTTPClient.shared.execute(registerNative, timeout: .seconds(10)).status == .created)
        let nativeAuthorize = try await browser.get(
            suite.token + "/oauth2/authorize?response_type=code&client_id=native-app&redirect_uri=com.example.native%3A%2Fcb&scope=openid&state=n-1"
                + "&code_challenge=\(challenge)&code_challenge_method=S256"
        )
        let nativeLogin = try await browser.get(try #require(nativeAuthorize.location))
        let nativeConsent = try await browser.get(Self.absolute(try #require(nativeLogin.location), base: suite.authn))
        #expect(nativeConsent.status == 200)
        let nativeAllowed = try await browser.post(
            suite.authn + "/consent",
            form: [
                ("csrf_token", try #require(TestBrowser.inputValue("csrf_token", in: nativeConsent.body))),
                ("consent_challenge", try #require(TestBrowser.inputValue("consent_challenge", in: nativeConsent.body))),
                ("scope", "openid"), ("decision", "allow"),
            ]
        )
        #expect(nativeAllowed.status == 303)
        let nativeCallback = try #require(nativeAllowed.location)
        #expect(nativeCallback.hasPrefix("com.example.native:/cb?"), "\(nativeCallback)")
        #expect(Self.parameter("state", in: nativeCallback) == "n-1")
        let nativeCode = try #require(Self.parameter("code", in: nativeCallback))
        let (nativeStatus, nativeTokens) = try await Self.tokenRequest(
            suite,
            [("grant_type", "authorization_code"), ("code", nativeCode), ("redirect_uri", "com.example.native:/cb"), ("code_verifier", verifier), ("client_id", "native-app")],
            asDemoWeb: false
        )
        #expect(nativeStatus == 200, "\(nativeTokens)")
        #expect(nativeTokens["id_token"] is String)

        // 8c. prompt=select_account shows the sign-in form despite the session (OpenID Connect
        // Core §3.1.2.1), with the current account filled in.
        let select = try await browser.get(Self.authorizeURL(suite, challenge: challenge, scope: "openid", extra: "&prompt=select_account"))
        let selectPage = try await browser.get(try #require(select.location))
        #expect(selectPage.status == 200)
        #expect(TestBrowser.inputValue("username", in: selectPage.body) == "alice")

        // 9. RP-initiated logout back to the registered URI, then prompt=none needs a login.
        let logout = try await browser.get(
            suite.token + "/oauth2/logout?id_token_hint=\(idToken)&post_logout_redirect_uri=\("http://127.0.0.1:9999/".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)&state=bye"
        )
        #expect(logout.status == 303)
        let confirm = try await browser.get(try #require(logout.location))
        #expect(confirm.status == 200)
        let signedOut = try await browser.post(
            suite.authn + "/logout",
            form: [
                ("csrf_token", TestBrowser.inputValue("csrf_token", in: confirm.body)!),
                ("logout_challenge", TestBrowser.inputValue("logout_challenge", in: confirm.body)!),
            ]
        )
        #expect(signedOut.status == 303)
        #expect(signedOut.location == "http://127.0.0.1:9999/?state=bye")
        // Signing out told the Token Service: the session's access token is revoked.
        #expect(try await Self.bearerGet(suite.token + "/oauth2/userinfo", sessionAccess).0 == 401)
        let after = try await browser.get(Self.authorizeURL(suite, challenge: challenge, extra: "&prompt=none"))
        let afterLogin = try await browser.get(try #require(after.location))
        #expect(Self.parameter("error", in: afterLogin.location ?? "") == "login_required")

        // 10. The password grant, for a client registered for it only.
        let admin = try String(contentsOfFile: suite.directory.path + "/data/admin.token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        var register = HTTPClientRequest(url: suite.token + "/admin/clients")
        register.method = .POST
        register.headers.add(name: "Authorization", value: "Bearer \(admin)")
        register.headers.add(name: "Content-Type", value: "application/json")
        register.body = .bytes(ByteBuffer(string: #"{"client_name":"Legacy","grant_types":["password"],"scope":"openid profile","allowed_audiences":["\#(suite.resource)"]}"#))
        let registered = try JSONSerialization.jsonObject(
            with: Data(buffer: try await HTTPClient.shared.execute(register, timeout: .seconds(10)).body.collect(upTo: 1 << 20))
        ) as! [String: Any]
        func passwordGrant(_ password: String) async throws -> (Int, [String: Any]) {
            var request = HTTPClientRequest(url: suite.token + "/oauth2/token")
            request.method = .POST
            let credentials = "\(registered["client_id"] as! String):\(registered["client_secret"] as! String)"
            request.headers.add(name: "Authorization", value: "Basic " + Data(credentials.utf8).base64EncodedString())
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: TestBrowser.encode([("grant_type", "password"), ("username", "alice"), ("password", password), ("scope", "openid profile")])))
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            return (Int(response.status.code), (try? JSONSerialization.jsonObject(with: Data(buffer: try await response.body.collect(upTo: 1 << 20))) as? [String: Any]) ?? [:])
        }
        let (granted, grantBody) = try await passwordGrant("alice-demo-password")
        #expect(granted == 200, "\(grantBody)")
        #expect(grantBody["id_token"] != nil)
        let (refused, refusedBody) = try await passwordGrant("wrong")
        #expect(refused == 400)
        #expect(refusedBody["error"] as? String == "invalid_grant")

        // 11. Repeated wrong passwords are throttled with 429 and Retry-After.
        let page = try await browser.get(suite.authn + "/login")
        let token = TestBrowser.inputValue("csrf_token", in: page.body) ?? ""
        var throttled: TestBrowser.Page?
        for _ in 0..<8 {
            let attempt = try await browser.post(suite.authn + "/login", form: [("csrf_token", token), ("username", "bob"), ("password", "wrong-password")])
            if attempt.status == 429 {
                throttled = attempt
                break
            }
            #expect(attempt.status == 401)
        }
        #expect(throttled?.header("Retry-After") != nil)
        // No credential reached the logs.
        #expect(!suite.up.stderr.contains("alice-demo-password"))
        #expect(!suite.up.stderr.contains(access))
    }
}
