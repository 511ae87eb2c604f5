import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JOSE
import NIOCore
import NeoSecTesting
import ServiceKit
import Storage
import Testing
@testable import TokenService
import WireModels

/// The authorization code flow through the Token Service's real router. The test plays the
/// Authentication Service: it answers login and consent challenges by internal call with a
/// service token of its own, exactly as `neosec-authn` does.
@Suite("Authorization code flow: authorize, challenges, code, refresh")
struct AuthorizationCodeFlowTests {
    static let redirect = "https://app.example.com/callback"
    static let resource = "https://api.example.com"
    static let webClient = #"""
        {"client_name":"Web","grant_types":["authorization_code","refresh_token"],"redirect_uris":["https://app.example.com/callback","http://127.0.0.1/loop"],
         "scope":"openid profile email offline_access documents:read","allowed_audiences":["https://api.example.com"],
         "post_logout_redirect_uris":["https://app.example.com/bye"]}
        """#
    static let publicClient = #"""
        {"client_name":"SPA","token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"],
         "redirect_uris":["https://spa.example.com/cb"],"scope":"openid offline_access documents:read","allowed_audiences":["https://api.example.com"]}
        """#

    struct Harness {
        let client: any TestClientProtocol
        let environment: ServiceEnvironment
        let authn: ServiceTokenForge
        let time: FixedTime
        let admin: String

        func register(_ json: String) async throws -> (id: String, secret: String?) {
            try await client.execute(
                uri: "/admin/clients", method: .post, headers: [.authorization: "Bearer \(admin)", .contentType: "application/json"],
                body: ByteBuffer(string: json)
            ) { response in
                let object = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as! [String: Any]
                #expect(response.status == .created, "\(object)")
                return (object["client_id"] as! String, object["client_secret"] as? String)
            }
        }

        /// GET /oauth2/authorize → (status, Location, body).
        func authorize(_ query: String) async throws -> (HTTPResponse.Status, String?, String) {
            try await client.execute(uri: "/oauth2/authorize?" + query, method: .get) { response in
                (response.status, response.headers[.location], String(buffer: response.body))
            }
        }

        /// An internal call as the Authentication Service.
        func internalCall(_ path: String, _ json: String) async throws -> (HTTPResponse.Status, [String: Any]) {
            let token = try await authn.token(from: .authn, to: .token, now: time.epochSeconds)
            return try await client.execute(
                uri: "/internal/" + path, method: .post, headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
                body: ByteBuffer(string: json)
            ) { response in
                let object = (try? JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]) ?? [:]
                return (response.status, object)
            }
        }

        func token(_ form: String, headers: HTTPFields = [:]) async throws -> (HTTPResponse.Status, [String: Any]) {
            var all = headers
            all[.contentType] = "application/x-www-form-urlencoded"
            return try await client.execute(uri: "/oauth2/token", method: .post, headers: all, body: ByteBuffer(string: form)) { response in
                #expect(response.headers[.cacheControl] == "no-store")
                return (response.status, (try? JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]) ?? [:])
            }
        }

        /// Runs the browser part: authorize → login accepted for `subject` → consent allowed.
        /// Returns the final redirect to the client.
        func approve(_ query: String, subject: String = "user-alice", grant: [String]? = nil) async throws -> String {
            let (status, location, body) = try await authorize(query)
            #expect(status == .seeOther, "\(body)")
            let challenge = try #require(Self.parameter("login_challenge", in: location ?? ""))
            let (infoStatus, info) = try await internalCall("login/get", #"{"challenge":"\#(challenge)"}"#)
            #expect(infoStatus == .ok)
            #expect((info["client"] as? [String: Any])?["client_name"] != nil)
            let now = time.epochSeconds
            let (acceptStatus, accepted) = try await internalCall(
                "login/accept", #"{"challenge":"\#(challenge)","subject":"\#(subject)","auth_time":\#(now),"acr":"urn:neosec:acr:password","amr":["pwd"],"sid":"sid-1"}"#
            )
            #expect(acceptStatus == .ok, "\(accepted)")
            let next = accepted["redirect_to"] as! String
            guard let consent = Self.parameter("consent_challenge", in: next) else { return next }
            let (_, consentInfo) = try await internalCall("consent/get", #"{"challenge":"\#(consent)"}"#)
            let scopes = grant ?? (consentInfo["scopes"] as! [String])
            let scopeJSON = String(decoding: try JSONSerialization.data(withJSONObject: scopes), as: UTF8.self)
            let (_, allowed) = try await internalCall(
                "consent/accept", #"{"challenge":"\#(consent)","subject":"\#(subject)","granted_scopes":\#(scopeJSON)}"#
            )
            return allowed["redirect_to"] as! String
        }

        static func parameter(_ name: String, in url: String) -> String? {
            URLComponents(string: url)?.queryItems?.first { $0.name == name }?.value
        }
    }

    static func basic(_ id: String, _ secret: String) -> HTTPFields {
        [.authorization: "Basic " + Data("\(id):\(secret)".utf8).base64EncodedString()]
    }

    static func pkce() -> (verifier: String, challenge: String) {
        let verifier = RandomToken.make(bytes: 32)
        return (verifier, Base64URL.encode(SHA256.hash(data: Array(verifier.utf8))))
    }

    static func encode(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? value
    }

    func run(_ test: @escaping @Sendable (Harness) async throws -> Void) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let time = FixedTime(Date())
        let authn = try await ServiceTokenForge.make()
        let config = ServiceConfig.forTesting(.token, dataDirectory: directory.path)
        let (app, environment) = try await ServiceRuntime.buildApplication(
            TokenService.self, config: config,
            options: RuntimeOptions(time: time, keyResolver: StaticKeyResolver([.authn: [authn.key.verificationKey]]), logSink: .capturing())
        )
        try await app.test(.router) { client in
            try await test(Harness(client: client, environment: environment, authn: authn, time: time, admin: config.adminToken.value))
        }
        try await environment.database.close()
    }

    func webQuery(_ id: String, pkce: (verifier: String, challenge: String), scope: String = "openid profile offline_access documents:read", extra: String = "") -> String {
        "response_type=code&client_id=\(id)&redirect_uri=\(Self.encode(Self.redirect))&scope=\(Self.encode(scope))&state=xyz&nonce=n-0S6&code_challenge=\(pkce.challenge)&code_challenge_method=S256"
            + extra
    }

    // MARK: The flow

    @Test func codeFlowIssuesAccessRefreshAndIDTokens() async throws {
        try await run { h in
            let (id, secret) = try await h.register(Self.webClient)
            let pkce = Self.pkce()
            let final = try await h.approve(webQuery(id, pkce: pkce))
            #expect(final.hasPrefix(Self.redirect + "?"))
            #expect(Harness.parameter("state", in: final) == "xyz")
            #expect(Harness.parameter("iss", in: final) == "http://127.0.0.1:9000")
            let code = try #require(Harness.parameter("code", in: final))
            #expect(code.hasPrefix("neo_ac_"))

            let (status, body) = try await h.token(
                "grant_type=authorization_code&code=\(code)&redirect_uri=\(Self.encode(Self.redirect))&code_verifier=\(pkce.verifier)",
                headers: Self.basic(id, secret!)
            )
            #expect(status == .ok, "\(body)")
            #expect(body["token_type"] as? String == "Bearer")
            #expect(body["scope"] as? String == "openid profile offline_access documents:read")
            #expect((body["refresh_token"] as? String)?.hasPrefix("neo_rt_") == true)
            #expect(body["refresh_count"] as? Int == 0)
            #expect(body["refresh_token_expires_in"] as? Int == 30 * 86_400)
            #expect(body["refresh_token_issued_at"] as? Int != nil)

            let idToken = try #require(body["id_token"] as? String)
            let header = try JWS.header(of: idToken)
            #expect(header.alg == "RS256")
            let claims = try JSONSerialization.jsonObject(with: Base64URL.decode(idToken.split(separator: ".")[1])!) as! [String: Any]
            #expect(claims["sub"] as? String == "user-alice")
            #expect(claims["aud"] as? String == id)
            #expect(claims["azp"] as? String == id)
            #expect(claims["nonce"] as? String == "n-0S6")
            #expect(claims["sid"] as? String == "sid-1")
            #expect(claims["acr"] as? String == "urn:neosec:acr:password")
            #expect(claims["amr"] as? [String] == ["pwd"])
            #expect(claims["auth_time"] as? Int != nil)
            let access = body["access_token"] as! String
            let digest = Array(SHA256.hash(data: Array(access.utf8)))
            #expect(claims["at_hash"] as? String == Base64URL.encode(digest.prefix(16)))
            let accessClaims = try JSONSerialization.jsonObject(with: Base64URL.decode(access.split(separator: ".")[1])!) as! [String: Any]
            #expect(accessClaims["aud"] as? [String] == [Self.resource, "http://127.0.0.1:9000/oauth2/userinfo"])
            #expect(accessClaims["sub"] as? String == "user-alice")
            #expect(accessClaims["acr"] as? String == "urn:neosec:acr:password")
            // The code is stored hashed only.
            let rows = try await h.environment.database.query("SELECT hash FROM authorization_codes")
            #expect(try rows.allSatisfy { try $0.text("hash") != code })
        }
    }

    @Test func rememberedConsentSkipsTheConsentStepUnlessPromptConsent() async throws {
        try await run { h in
            let (id, _) = try await h.register(Self.webClient)
            let first = try await h.approve(webQuery(id, pkce: Self.pkce()))
            #expect(Harness.parameter("code", in: first) != nil)
            // Second time: login accept goes straight to the client.
            let (_, location, _) = try await h.authorize(webQuery(id, pkce: Self.pkce()))
            let challenge = Harness.parameter("login_challenge", in: location!)!
            let (_, accepted) = try await h.internalCall(
                "login/accept", #"{"challenge":"\#(challenge)","subject":"user-alice","auth_time":\#(h.time.epochSeconds),"acr":"a","amr":["pwd"],"sid":"s"}"#
            )
            #expect((accepted["redirect_to"] as! String).hasPrefix(Self.redirect + "?code="))
            // prompt=consent asks again.
            let (_, forced, _) = try await h.authorize(webQuery(id, pkce: Self.pkce(), extra: "&prompt=consent"))
            let again = Harness.parameter("login_challenge", in: forced!)!
            let (_, asked) = try await h.internalCall(
                "login/accept", #"{"challenge":"\#(again)","subject":"user-alice","auth_time":\#(h.time.epochSeconds),"acr":"a","amr":["pwd"],"sid":"s"}"#
            )
            #expect((asked["redirect_to"] as! String).contains("/consent?consent_challenge="))
            // Consents are listed and revocable.
            let (_, list) = try await h.internalCall("consents/list", #"{"subject":"user-alice"}"#)
            #expect((list["consents"] as? [[String: Any]])?.count == 1)
            let (_, revoked) = try await h.internalCall("consents/revoke", #"{"subject":"user-alice","client_id":"\#(id)"}"#)
            #expect(revoked["revoked"] as? Bool == true)
            let (_, empty) = try await h.internalCall("consents/list", #"{"subject":"user-alice"}"#)
            #expect((empty["consents"] as? [[String: Any]])?.isEmpty == true)
        }
    }

    @Test func promptNoneWithoutConsentAndUserDenial() async throws {
        try await run { h in
            let (id, _) = try await h.register(Self.webClient)
            let (_, location, _) = try await h.authorize(webQuery(id, pkce: Self.pkce(), extra: "&prompt=none"))
            let challenge = Harness.parameter("login_challenge", in: location!)!
            let (_, accepted) = try await h.internalCall(
                "login/accept", #"{"challenge":"\#(challenge)","subject":"user-alice","auth_time":\#(h.time.epochSeconds),"acr":"a","amr":["pwd"],"sid":"s"}"#
            )
            let redirect = accepted["redirect_to"] as! String
            #expect(Harness.parameter("error", in: redirect) == "consent_required")
            #expect(Harness.parameter("state", in: redirect) == "xyz")
            #expect(Harness.parameter("iss", in: redirect) == "http://127.0.0.1:9000")
            // The challenge was used up.
            let (status, _) = try await h.internalCall("login/get", #"{"challenge":"\#(challenge)"}"#)
            #expect(status == .notFound)

            let (_, denyLocation, _) = try await h.authorize(webQuery(id, pkce: Self.pkce()))
            let deny = Harness.parameter("login_challenge", in: denyLocation!)!
            let (_, rejected) = try await h.internalCall("login/reject", #"{"challenge":"\#(deny)","error":"access_denied"}"#)
            #expect(Harness.parameter("error", in: rejected["redirect_to"] as! String) == "access_denied")
            // Only known error codes may be sent back.
            let (_, otherLocation, _) = try await h.authorize(webQuery(id, pkce: Self.pkce()))
            let other = Harness.parameter("login_challenge", in: otherLocation!)!
            let (badStatus, _) = try await h.internalCall("login/reject", #"{"challenge":"\#(other)","error":"javascript:alert(1)"}"#)
            #expect(badStatus == .badRequest)
        }
    }

    @Test func maxAgeAndPromptLoginAreEnforcedOnTheLoginResult() async throws {
        try await run { h in
            let (id, _) = try await h.register(Self.webClient)
            let (_, location, _) = try await h.authorize(webQuery(id, pkce: Self.pkce(), extra: "&max_age=60"))
            let challenge = Harness.parameter("login_challenge", in: location!)!
            let stale = h.time.epochSeconds - 3600
            let (_, accepted) = try await h.internalCall(
                "login/accept", #"{"challenge":"\#(challenge)","subject":"user-alice","auth_time":\#(stale),"acr":"a","amr":["pwd"],"sid":"s"}"#
            )
            #expect(Harness.parameter("error", in: accepted["redirect_to"] as! String) == "login_required")
        }
    }

    // MARK: Redirect URI tricks: an HTML error page, never a redirect

    @Test(arguments: [
        "https://app.example.com/callback/extra",
        "https://app.example.com/callback?x=1",
        "https://APP.example.com/callback",
        "https://app.example.com/Callback",
        "https://user@app.example.com/callback",
        "https://app.example.com/callback/../callback",
        "https://app.example.com/%2e%2e/callback",
        "https://app.example.com.evil.com/callback",
        "https://app.example.com/callback#frag",
        "https://app.example.com/callback/",
        "http://app.example.com/callback",
        "https://app.example.com:443/callback",
        "https://evil.com/?https://app.example.com/callback",
        "http://127.0.0.2/loop",
        "http://127.0.0.1:8080/loop/x",
        "http://localhost:8080/loop",
    ])
    func redirectURIMismatchShowsAnErrorPage(_ uri: String) async throws {
        try await run { h in
            let (id, _) = try await h.register(Self.webClient)
            let (status, location, body) = try await h.authorize(
                "response_type=code&client_id=\(id)&redirect_uri=\(Self.encode(uri))&scope=openid&code_challenge=\(Self.pkce().challenge)&code_challenge_method=S256"
            )
            #expect(status == .badRequest)
            #expect(location == nil)
            #expect(body.contains("<html"))
            #expect(try await h.environment.database.query("SELECT hash FROM challenges").isEmpty)
        }
    }

    @Test func loopbackRedirectMayUseAnyPort() async throws {
        try await run { h in
            let (id, _) = try await h.register(Self.webClient)
            let (status, location, _) = try await h.authorize(
                "response_type=code&client_id=\(id)&redirect_uri=\(Self.encode("http://127.0.0.1:51004/loop"))&scope=openid&code_challenge=\(Self.pkce().challenge)&code_challenge_method=S256"
            )
            #expect(status == .seeOther)
            #expect(location?.contains("/login?login_challenge=") == true)
        }
    }

    @Test func unknownClientShowsAnErrorPage() async throws {
        try await run { h in
            let (status, location, _) = try await h.authorize("response_type=code&client_id=nobody&redirect_uri=\(Self.encode(Self.redirect))")
            #expect(status == .badRequest)
            #expect(location == nil)
        }
    }

    // MARK: Errors returned to the (verified) redirect URI

    @Test(arguments: [
        ("response_type=code%20id_token", "unsupported_response_type"),
        ("response_type=code&scope=admin", "invalid_scope"),
        ("response_type=code&code_challenge=\(String(repeating: "a", count: 43))&code_challenge_method=plain", "invalid_request"),
        ("response_type=code&code_challenge=short&code_challenge_method=S256", "invalid_request"),
        ("response_type=code&prompt=none%20login", "invalid_request"),
        ("response_type=code&max_age=-1", "invalid_request"),
        ("response_type=code&resource=https%3A%2F%2Fother.example.com", "invalid_target"),
        ("response_type=code&request=eyJ", "request_not_supported"),
        ("response_type=code&response_mode=form_post", "invalid_request"),
        ("scope=openid", "invalid_request"),
    ])
    func badRequestsAreSentBackWithAnError(_ extra: String, _ error: String) async throws {
        try await run { h in
            let (id, _) = try await h.register(Self.publicClient)
            let pkce = extra.contains("code_challenge") ? "" : "&code_challenge=\(Self.pkce().challenge)&code_challenge_method=S256"
            let (status, location, _) = try await h.authorize("client_id=\(id)&redirect_uri=\(Self.encode("https://spa.example.com/cb"))&state=s1&\(extra)\(pkce)")
            #expect(status == .seeOther)
            #expect(Harness.parameter("error", in: location ?? "") == error)
            #expect(Harness.parameter("state", in: location ?? "") == "s1")
            #expect(location?.hasPrefix("https://spa.example.com/cb?") == true)
        }
    }

    @Test func publicClientsMustUsePKCE() async throws {
        try await run { h in
            let (id, _) = try await h.register(Self.publicClient)
            let (_, location, _) = try await h.authorize("response_type=code&client_id=\(id)&redirect_uri=\(Self.encode("https://spa.example.com/cb"))&scope=openid")
            #expect(Harness.parameter("error", in: location ?? "") == "invalid_request")
        }
    }

    @Test func duplicatedAuthorizationParametersAreRefused() async throws {
        try await run { h in
            let (id, _) = try await h.register(Self.webClient)
            let (status, location, _) = try await h.authorize("response_type=code&client_id=\(id)&client_id=\(id)&redirect_uri=\(Self.encode(Self.redirect))")
            #expect(status == .badRequest)
            #expect(location == nil)
        }
    }

    // MARK: Token endpoint negatives

    enum CodeAttack: String, CaseIterable, CustomTestStringConvertible {
        case wrongVerifier, missingVerifier, otherClient, expired, wrongRedirect, missingRedirect, garbageCode
        var testDescription: String { rawValue }
    }

    @Test(arguments: CodeAttack.allCases)
    func codeRedemptionAttacksFail(_ attack: CodeAttack) async throws {
        try await run { h in
            let (id, secret) = try await h.register(Self.webClient)
            let (otherID, otherSecret) = try await h.register(Self.webClient)
            let pkce = Self.pkce()
            let final = try await h.approve(webQuery(id, pkce: pkce))
            var code = Harness.parameter("code", in: final)!
            var auth = Self.basic(id, secret!)
            var redirect = "&redirect_uri=\(Self.encode(Self.redirect))"
            var verifier = "&code_verifier=\(pkce.verifier)"
            switch attack {
            case .wrongVerifier: verifier = "&code_verifier=\(Self.pkce().verifier)"
            case .missingVerifier: verifier = ""
            case .otherClient: auth = Self.basic(otherID, otherSecret!)
            case .expired: h.time.advance(by: 61)
            case .wrongRedirect: redirect = "&redirect_uri=\(Self.encode(Self.redirect + "/x"))"
            case .missingRedirect: redirect = ""
            case .garbageCode: code = "neo_ac_" + RandomToken.make(bytes: 32)
            }
            let (status, body) = try await h.token("grant_type=authorization_code&code=\(code)\(redirect)\(verifier)", headers: auth)
            #expect(status == .badRequest)
            #expect(body["error"] as? String == "invalid_grant")
            #expect(body["access_token"] == nil)
            if attack != .expired && attack != .garbageCode {
                // A failed attempt does not burn the legitimate client's code.
                let (retry, _) = try await h.token(
                    "grant_type=authorization_code&code=\(code)&redirect_uri=\(Self.encode(Self.redirect))&code_verifier=\(pkce.verifier)",
                    headers: Self.basic(id, secret!)
                )
                #expect(retry == .ok)
            }
        }
    }

    @Test func verifierWithoutChallengeIsADowngrade() async throws {
        try await run { h in
            let (id, secret) = try await h.register(Self.webClient)
            let query = "response_type=code&client_id=\(id)&redirect_uri=\(Self.encode(Self.redirect))&scope=openid"
            let final = try await h.approve(query)
            let code = Harness.parameter("code", in: final)!
            let (status, body) = try await h.token(
                "grant_type=authorization_code&code=\(code)&redirect_uri=\(Self.encode(Self.redirect))&code_verifier=\(Self.pkce().verifier)",
                headers: Self.basic(id, secret!)
            )
            #expect(status == .badRequest)
            #expect(body["error"] as? String == "invalid_grant")
        }
    }

    @Test func codeReplayFailsAndRevokesWhatTheCodeIssued() async throws {
        try await run { h in
            let (id, secret) = try await h.register(Self.webClient)
            let pkce = Self.pkce()
            let code = Harness.parameter("code", in: try await h.approve(webQuery(id, pkce: pkce)))!
            let form = "grant_type=authorization_code&code=\(code)&redirect_uri=\(Self.encode(Self.redirect))&code_verifier=\(pkce.verifier)"
            let (first, issued) = try await h.token(form, headers: Self.basic(id, secret!))
            #expect(first == .ok)
            let (second, replay) = try await h.token(form, headers: Self.basic(id, secret!))
            #expect(second == .badRequest)
            #expect(replay["error"] as? String == "invalid_grant")
            // The refresh token from the first redemption is dead, and so is its access token.
            let (refresh, refreshBody) = try await h.token("grant_type=refresh_token&refresh_token=\(issued["refresh_token"] as! String)", headers: Self.basic(id, secret!))
            #expect(refresh == .badRequest)
            #expect(refreshBody["error"] as? String == "invalid_grant")
            let access = issued["access_token"] as! String
            let jti = (try JSONSerialization.jsonObject(with: Base64URL.decode(access.split(separator: ".")[1])!) as! [String: Any])["jti"] as! String
            let record = try await SQLTokenStore(h.environment.database).find(hash: CredentialHash.hex("jti:" + jti))
            #expect(record?.revoked == true)
            let status = try await h.client.execute(uri: "/oauth2/userinfo", method: .get, headers: [.authorization: "Bearer \(access)"]) { $0.status }
            #expect(status == .unauthorized)
        }
    }

    @Test func refreshRotatesNarrowsAndDetectsReuse() async throws {
        try await run { h in
            let (id, secret) = try await h.register(Self.webClient)
            let (otherID, otherSecret) = try await h.register(Self.webClient)
            let pkce = Self.pkce()
            let code = Harness.parameter("code", in: try await h.approve(webQuery(id, pkce: pkce)))!
            let (_, issued) = try await h.token(
                "grant_type=authorization_code&code=\(code)&redirect_uri=\(Self.encode(Self.redirect))&code_verifier=\(pkce.verifier)",
                headers: Self.basic(id, secret!)
            )
            let r0 = issued["refresh_token"] as! String
            // Another client cannot use it, and trying changes nothing.
            let (stolen, stolenBody) = try await h.token("grant_type=refresh_token&refresh_token=\(r0)", headers: Self.basic(otherID, otherSecret!))
            #expect(stolen == .badRequest)
            #expect(stolenBody["error"] as? String == "invalid_grant")
            // Escalation is refused, and does not use the token up.
            let (escalate, escalateBody) = try await h.token("grant_type=refresh_token&refresh_token=\(r0)&scope=openid%20email", headers: Self.basic(id, secret!))
            #expect(escalate == .badRequest)
            #expect(escalateBody["error"] as? String == "invalid_scope")
            // Narrowing works; the refresh token rotates.
            let (ok, rotated) = try await h.token("grant_type=refresh_token&refresh_token=\(r0)&scope=documents%3Aread", headers: Self.basic(id, secret!))
            #expect(ok == .ok, "\(rotated)")
            #expect(rotated["scope"] as? String == "documents:read")
            #expect(rotated["refresh_count"] as? Int == 1)
            #expect(rotated["id_token"] == nil)
            let r1 = rotated["refresh_token"] as! String
            #expect(r1 != r0)
            // The successor keeps the original scope.
            let (ok2, again) = try await h.token("grant_type=refresh_token&refresh_token=\(r1)", headers: Self.basic(id, secret!))
            #expect(ok2 == .ok)
            #expect(again["scope"] as? String == "openid profile offline_access documents:read")
            #expect(again["refresh_count"] as? Int == 2)
            let r2 = again["refresh_token"] as! String
            // Replaying r0 (rotated away) revokes the whole family: r2 stops working.
            let (reuse, reuseBody) = try await h.token("grant_type=refresh_token&refresh_token=\(r0)", headers: Self.basic(id, secret!))
            #expect(reuse == .badRequest)
            #expect(reuseBody["error"] as? String == "invalid_grant")
            let (dead, _) = try await h.token("grant_type=refresh_token&refresh_token=\(r2)", headers: Self.basic(id, secret!))
            #expect(dead == .badRequest)
        }
    }

    /// RFC 9700 §4.14.2: a rotated refresh token presented again is the breach signal even when
    /// the request is wrong in another way (here a wider scope): the family is revoked.
    @Test func reuseWithAWiderScopeStillRevokesTheFamily() async throws {
        try await run { h in
            let (id, secret) = try await h.register(Self.webClient)
            let pkce = Self.pkce()
            let code = Harness.parameter("code", in: try await h.approve(webQuery(id, pkce: pkce)))!
            let (_, issued) = try await h.token(
                "grant_type=authorization_code&code=\(code)&redirect_uri=\(Self.encode(Self.redirect))&code_verifier=\(pkce.verifier)",
                headers: Self.basic(id, secret!)
            )
            let r0 = issued["refresh_token"] as! String
            let (_, rotated) = try await h.token("grant_type=refresh_token&refresh_token=\(r0)", headers: Self.basic(id, secret!))
            let r1 = try #require(rotated["refresh_token"] as? String)
            let (reuse, reuseBody) = try await h.token("grant_type=refresh_token&refresh_token=\(r0)&scope=openid%20email", headers: Self.basic(id, secret!))
            #expect(reuse == .badRequest)
            #expect(reuseBody["error"] as? String == "invalid_grant")
            let (dead, deadBody) = try await h.token("grant_type=refresh_token&refresh_token=\(r1)", headers: Self.basic(id, secret!))
            #expect(dead == .badRequest && deadBody["error"] as? String == "invalid_grant")
        }
    }

    /// A reuse detected while a rotation is storing its successor revokes the family without
    /// the successor; the rotation finds the reuse's mark and revokes it. Simulated by leaving
    /// the mark before the rotation.
    @Test func reuseDuringRotationRevokesTheSuccessor() async throws {
        try await run { h in
            let (id, secret) = try await h.register(Self.webClient)
            let pkce = Self.pkce()
            let code = Harness.parameter("code", in: try await h.approve(webQuery(id, pkce: pkce)))!
            let (_, issued) = try await h.token(
                "grant_type=authorization_code&code=\(code)&redirect_uri=\(Self.encode(Self.redirect))&code_verifier=\(pkce.verifier)",
                headers: Self.basic(id, secret!)
            )
            let r0 = issued["refresh_token"] as! String
            let row = try #require(try await h.environment.database.query("SELECT family_id FROM issued_tokens WHERE hash = ?", [.text(CredentialHash.hex(r0))]).first)
            let family = try row.text("family_id")
            #expect(try await h.environment.replay.claim(scope: RefreshTokenGrant.reuseScope, id: family, expiresAt: h.time.epochSeconds + 300, now: h.time.epochSeconds))
            let (status, body) = try await h.token("grant_type=refresh_token&refresh_token=\(r0)", headers: Self.basic(id, secret!))
            #expect(status == .badRequest)
            #expect(body["error"] as? String == "invalid_grant")
            let live = try await h.environment.database.query("SELECT hash FROM issued_tokens WHERE family_id = ? AND revoked = 0", [.text(family)])
            #expect(live.isEmpty)
        }
    }

    /// A replay that arrives while the first redemption is still storing its tokens finds
    /// nothing to revoke yet; it leaves a mark, and the redemption revokes its own tokens when
    /// it finds the mark. Simulated by leaving the mark before the redemption.
    @Test func replayDuringRedemptionRevokesTheRedemptionsTokens() async throws {
        try await run { h in
            let (id, secret) = try await h.register(Self.webClient)
            let pkce = Self.pkce()
            let code = Harness.parameter("code", in: try await h.approve(webQuery(id, pkce: pkce)))!
            let hash = CredentialHash.hex(code)
            #expect(try await h.environment.replay.claim(scope: AuthorizationCodeGrant.replayScope, id: hash, expiresAt: h.time.epochSeconds + 600, now: h.time.epochSeconds))
            let (status, body) = try await h.token(
                "grant_type=authorization_code&code=\(code)&redirect_uri=\(Self.encode(Self.redirect))&code_verifier=\(pkce.verifier)",
                headers: Self.basic(id, secret!)
            )
            #expect(status == .badRequest)
            #expect(body["error"] as? String == "invalid_grant")
            #expect(body["access_token"] == nil)
            // What it stored is revoked: no live token descends from the code.
            let rows = try await h.environment.database.query("SELECT revoked FROM issued_tokens WHERE parent_hash = ?", [.text(hash)])
            #expect(!rows.isEmpty)
            #expect(try rows.allSatisfy { try $0.integer("revoked") == 1 })
        }
    }

    /// OpenID Connect Core §3.1.2.1 `id_token_hint`: only the user it names gets a positive
    /// answer; a hint that is not our ID token for this client is `invalid_request`.
    @Test func idTokenHintNamesTheUserWhoMaySignIn() async throws {
        try await run { h in
            let (id, secret) = try await h.register(Self.webClient)
            let pkce = Self.pkce()
            let code = Harness.parameter("code", in: try await h.approve(webQuery(id, pkce: pkce)))!
            let (_, issued) = try await h.token(
                "grant_type=authorization_code&code=\(code)&redirect_uri=\(Self.encode(Self.redirect))&code_verifier=\(pkce.verifier)",
                headers: Self.basic(id, secret!)
            )
            let hint = "&id_token_hint=" + (try #require(issued["id_token"] as? String))
            let same = try await h.approve(webQuery(id, pkce: pkce, extra: hint))
            #expect(Harness.parameter("code", in: same) != nil, "\(same)")
            let other = try await h.approve(webQuery(id, pkce: pkce, extra: hint), subject: "user-bob")
            #expect(other.hasPrefix(Self.redirect + "?"))
            #expect(Harness.parameter("error", in: other) == "login_required")
            #expect(Harness.parameter("code", in: other) == nil)
            // Issued to another client, or not an ID token of ours: refused at the redirect URI.
            let (otherClient, _) = try await h.register(Self.webClient)
            for (client, badHint) in [(otherClient, hint), (id, "&id_token_hint=eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1c2VyLWFsaWNlIn0."), (id, "&id_token_hint=garbage")] {
                let (status, location, _) = try await h.authorize(webQuery(client, pkce: pkce, extra: badHint))
                #expect(status == .seeOther)
                #expect(Harness.parameter("error", in: location ?? "") == "invalid_request", "\(badHint)")
                #expect(Harness.parameter("login_challenge", in: location ?? "") == nil)
            }
        }
    }

    @Test func noRefreshTokenWithoutOfflineAccess() async throws {
        try await run { h in
            let (id, secret) = try await h.register(Self.webClient)
            let pkce = Self.pkce()
            let code = Harness.parameter("code", in: try await h.approve(webQuery(id, pkce: pkce, scope: "openid documents:read")))!
            let (status, body) = try await h.token(
                "grant_type=authorization_code&code=\(code)&redirect_uri=\(Self.encode(Self.redirect))&code_verifier=\(pkce.verifier)",
                headers: Self.basic(id, secret!)
            )
            #expect(status == .ok)
            #expect(body["refresh_token"] == nil)
            #expect(body["id_token"] != nil)
        }
    }

    @Test func publicClientRedeemsWithPKCEAndNoSecret() async throws {
        try await run { h in
            let (id, _) = try await h.register(Self.publicClient)
            let pkce = Self.pkce()
            let query = "response_type=code&client_id=\(id)&redirect_uri=\(Self.encode("https://spa.example.com/cb"))&scope=openid%20offline_access&code_challenge=\(pkce.challenge)&code_challenge_method=S256"
            let code = Harness.parameter("code", in: try await h.approve(query))!
            let (status, body) = try await h.token(
                "grant_type=authorization_code&client_id=\(id)&code=\(code)&redirect_uri=\(Self.encode("https://spa.example.com/cb"))&code_verifier=\(pkce.verifier)"
            )
            #expect(status == .ok, "\(body)")
            #expect(body["refresh_token"] != nil)
        }
    }

    @Test func consentForAnotherUserOrWiderScopesIsRefused() async throws {
        try await run { h in
            let (id, _) = try await h.register(Self.webClient)
            let (_, location, _) = try await h.authorize(webQuery(id, pkce: Self.pkce(), scope: "openid profile"))
            let challenge = Harness.parameter("login_challenge", in: location!)!
            let (_, accepted) = try await h.internalCall(
                "login/accept", #"{"challenge":"\#(challenge)","subject":"user-alice","auth_time":\#(h.time.epochSeconds),"acr":"a","amr":["pwd"],"sid":"s"}"#
            )
            let consent = Harness.parameter("consent_challenge", in: accepted["redirect_to"] as! String)!
            let (other, _) = try await h.internalCall("consent/accept", #"{"challenge":"\#(consent)","subject":"user-bob","granted_scopes":["openid"]}"#)
            #expect(other == .forbidden)
            let (wider, _) = try await h.internalCall("consent/accept", #"{"challenge":"\#(consent)","subject":"user-alice","granted_scopes":["openid","email"]}"#)
            #expect(wider == .badRequest)
            let (none, _) = try await h.internalCall("consent/accept", #"{"challenge":"\#(consent)","subject":"user-alice","granted_scopes":[]}"#)
            #expect(none == .badRequest)
            // Untick a scope: only the rest is granted.
            let (ok, allowed) = try await h.internalCall("consent/accept", #"{"challenge":"\#(consent)","subject":"user-alice","granted_scopes":["openid"]}"#)
            #expect(ok == .ok)
            #expect(Harness.parameter("code", in: allowed["redirect_to"] as! String) != nil)
        }
    }

    static let implicitClient = #"""
        {"client_name":"Legacy SPA","token_endpoint_auth_method":"none","grant_types":["implicit"],"response_types":["token id_token","token"],
         "redirect_uris":["https://legacy.example.com/cb"],"scope":"openid documents:read","allowed_audiences":["https://api.example.com"]}
        """#

    @Test func implicitOnlyForClientsRegisteredForIt() async throws {
        try await run { h in
            // A code client asking for tokens from the authorization endpoint: refused at its redirect URI, in the fragment.
            let (web, _) = try await h.register(Self.webClient)
            let (_, refused, _) = try await h.authorize(
                "response_type=token&client_id=\(web)&redirect_uri=\(Self.encode(Self.redirect))&scope=openid&state=s&nonce=n"
            )
            #expect(refused?.hasPrefix(Self.redirect + "#") == true)
            #expect(refused?.contains("error=unauthorized_client") == true)

            let (id, _) = try await h.register(Self.implicitClient)
            // id_token needs a nonce.
            let (_, noNonce, _) = try await h.authorize(
                "response_type=id_token%20token&client_id=\(id)&redirect_uri=\(Self.encode("https://legacy.example.com/cb"))&scope=openid&state=s"
            )
            #expect(noNonce?.contains("#error=invalid_request") == true)
            // Query encoding is never used for tokens.
            let (_, query, _) = try await h.authorize(
                "response_type=token&response_mode=query&client_id=\(id)&redirect_uri=\(Self.encode("https://legacy.example.com/cb"))&scope=openid"
            )
            #expect(query?.contains("#error=invalid_request") == true)
            // Errors found before the response type is looked at go in the fragment too.
            for extra in ["request=eyJhbGciOiJub25lIn0.e30.", "request_uri=https%3A%2F%2Frp.example%2Fr", "state=" + String(repeating: "s", count: 1025)] {
                let (_, early, _) = try await h.authorize(
                    "response_type=token&client_id=\(id)&redirect_uri=\(Self.encode("https://legacy.example.com/cb"))&scope=openid&" + extra
                )
                #expect(early?.hasPrefix("https://legacy.example.com/cb#error=") == true, "\(extra): \(early ?? "nil")")
            }

            let final = try await h.approve(
                "response_type=token%20id_token&client_id=\(id)&redirect_uri=\(Self.encode("https://legacy.example.com/cb"))&scope=openid%20documents%3Aread&state=s&nonce=n-1"
            )
            #expect(final.hasPrefix("https://legacy.example.com/cb#access_token="))
            let fragment = URLComponents(string: "https://x/?" + final.split(separator: "#", maxSplits: 1)[1])!.queryItems!
            let values = Dictionary(uniqueKeysWithValues: fragment.map { ($0.name, $0.value ?? "") })
            #expect(values["token_type"] == "Bearer")
            #expect(values["state"] == "s")
            #expect(values["iss"] == "http://127.0.0.1:9000")
            #expect(values["refresh_token"] == nil)
            #expect(values["code"] == nil)
            let idToken = try #require(values["id_token"])
            let claims = try JSONSerialization.jsonObject(with: Base64URL.decode(idToken.split(separator: ".")[1])!) as! [String: Any]
            #expect(claims["nonce"] as? String == "n-1")
            let digest = Array(SHA256.hash(data: Array(values["access_token"]!.utf8)))
            #expect(claims["at_hash"] as? String == Base64URL.encode(digest.prefix(16)))
        }
    }

    @Test func passwordGrantOnlyForClientsRegisteredForIt() async throws {
        try await run { h in
            let (id, secret) = try await h.register(Self.webClient)
            let (status, body) = try await h.token("grant_type=password&username=alice&password=x", headers: Self.basic(id, secret!))
            #expect(status == .badRequest)
            #expect(body["error"] as? String == "unauthorized_client")
        }
    }

    @Test func discoveryListsTheOpenIDProvider() async throws {
        try await run { h in
            let metadata = try await h.client.execute(uri: "/.well-known/openid-configuration", method: .get) { response in
                try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as! [String: Any]
            }
            #expect(metadata["issuer"] as? String == "http://127.0.0.1:9000")
            #expect(metadata["authorization_endpoint"] as? String == "http://127.0.0.1:9000/oauth2/authorize")
            #expect(metadata["userinfo_endpoint"] as? String == "http://127.0.0.1:9000/oauth2/userinfo")
            #expect(metadata["end_session_endpoint"] as? String == "http://127.0.0.1:9000/oauth2/logout")
            #expect(metadata["response_types_supported"] as? [String] == ["code", "id_token token", "token"])
            #expect(metadata["response_modes_supported"] as? [String] == ["query", "fragment"])
            #expect(metadata["code_challenge_methods_supported"] as? [String] == ["S256"])
            #expect(
                Set(metadata["grant_types_supported"] as! [String]) == [
                    "authorization_code", "client_credentials", "refresh_token", "password", "implicit", "urn:ietf:params:oauth:grant-type:uma-ticket",
                    "urn:ietf:params:oauth:grant-type:token-exchange", "urn:ietf:params:oauth:grant-type:jwt-bearer",
                    "urn:ietf:params:oauth:grant-type:device_code", "urn:openid:params:grant-type:ciba",
                ]
            )
            #expect(metadata["registration_endpoint"] as? String == "http://127.0.0.1:9000/oauth2/register")
            #expect(metadata["device_authorization_endpoint"] as? String == "http://127.0.0.1:9000/oauth2/device_authorization")
            #expect(metadata["backchannel_authentication_endpoint"] as? String == "http://127.0.0.1:9000/oauth2/bc-authorize")
            #expect(metadata["authorization_response_iss_parameter_supported"] as? Bool == true)
            #expect((metadata["id_token_signing_alg_values_supported"] as? [String])?.contains("RS256") == true)
        }
    }

    @Test func rpInitiatedLogoutOnlyUsesRegisteredRedirects() async throws {
        try await run { h in
            let (id, secret) = try await h.register(Self.webClient)
            let pkce = Self.pkce()
            let code = Harness.parameter("code", in: try await h.approve(webQuery(id, pkce: pkce)))!
            let (_, issued) = try await h.token(
                "grant_type=authorization_code&code=\(code)&redirect_uri=\(Self.encode(Self.redirect))&code_verifier=\(pkce.verifier)",
                headers: Self.basic(id, secret!)
            )
            let idToken = issued["id_token"] as! String
            let bad = try await h.client.execute(
                uri: "/oauth2/logout?id_token_hint=\(idToken)&post_logout_redirect_uri=\(Self.encode("https://evil.example.com/"))", method: .get
            ) { ($0.status, $0.headers[.location]) }
            #expect(bad.0 == .badRequest)
            #expect(bad.1 == nil)
            let good = try await h.client.execute(
                uri: "/oauth2/logout?id_token_hint=\(idToken)&post_logout_redirect_uri=\(Self.encode("https://app.example.com/bye"))&state=st", method: .get
            ) { ($0.status, $0.headers[.location]) }
            #expect(good.0 == .seeOther)
            let challenge = try #require(Harness.parameter("logout_challenge", in: good.1 ?? ""))
            let (_, info) = try await h.internalCall("logout/get", #"{"challenge":"\#(challenge)"}"#)
            #expect(info["subject"] as? String == "user-alice")
            #expect(info["sid"] as? String == "sid-1")
            let (_, done) = try await h.internalCall("logout/accept", #"{"challenge":"\#(challenge)"}"#)
            #expect(done["redirect_to"] as? String == "https://app.example.com/bye?state=st")
        }
    }

    @Test func registrationRefusesDangerousRedirectURIs() async throws {
        try await run { h in
            for uri in ["javascript:alert(1)", "data:text/html,x", "http://app.example.com/cb", "https://app.example.com/cb#f", "https://u@app.example.com/cb", "/relative"] {
                let json = #"{"grant_types":["authorization_code"],"redirect_uris":["\#(uri)"],"scope":"openid"}"#
                let status = try await h.client.execute(
                    uri: "/admin/clients", method: .post, headers: [.authorization: "Bearer \(h.admin)", .contentType: "application/json"],
                    body: ByteBuffer(string: json)
                ) { response in
                    let object = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as! [String: Any]
                    #expect(object["error"] as? String == "invalid_redirect_uri", "\(uri)")
                    return response.status
                }
                #expect(status == .badRequest)
            }
        }
    }
}
