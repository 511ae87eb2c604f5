import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
@testable import IntrospectService
import JOSE
import NIOCore
import NeoSecTesting
import ServiceKit
import Storage
import Testing
import TokenService
import WireModels

/// The Introspection Service through its real router, beside a Token Service router sharing one
/// data directory: the introspection opens `token.sqlite` read-only, exactly as
/// `neosec-introspect` does. The Token Service's JWKS is handed over directly (no network).
@Suite("Introspection Service: RFC 7662, RFC 9701 answers, phantom tokens")
struct IntrospectionTests {
    static let api = "https://api.example.com"
    static let otherAPI = "https://other.example.com"
    static let issuer = "http://127.0.0.1:9000"

    /// The resource server at `api`, allowed to introspect its tokens.
    static let resourceServer = #"{"client_name":"API","grant_types":["client_credentials"],"scope":"introspection","introspection_audiences":["https://api.example.com"]}"#
    static let otherResourceServer = #"{"client_name":"Other API","grant_types":["client_credentials"],"scope":"introspection","introspection_audiences":["https://other.example.com"]}"#
    static let opaqueClient = #"{"client_name":"Opaque","grant_types":["client_credentials"],"scope":"documents:read documents:write","access_token_format":"opaque","allowed_audiences":["https://api.example.com","https://other.example.com"]}"#
    static let jwtClient = #"{"client_name":"JWT","grant_types":["client_credentials"],"scope":"documents:read documents:write","allowed_audiences":["https://api.example.com"]}"#
    static let webClient = #"""
        {"client_name":"Web","grant_types":["authorization_code","refresh_token"],"redirect_uris":["https://app.example.com/callback"],
         "scope":"openid offline_access documents:read introspection","allowed_audiences":["https://api.example.com"]}
        """#

    struct Harness {
        let token: any TestClientProtocol
        let introspection: any TestClientProtocol
        let flow: AuthorizationCodeFlowTests.Harness
        let time: FixedTime
        let resource: ServiceTokenForge
        let logs: LogSink

        func register(_ json: String) async throws -> (id: String, secret: String) {
            let (id, secret) = try await flow.register(json)
            return (id, try #require(secret))
        }

        func clientCredentials(_ client: (id: String, secret: String), extra: String = "") async throws -> String {
            let (status, body) = try await flow.token("grant_type=client_credentials" + extra, headers: IntrospectionTests.basic(client.id, client.secret))
            #expect(status == .ok, "\(body)")
            return try #require(body["access_token"] as? String)
        }

        struct Answer {
            let status: HTTPResponse.Status
            let headers: HTTPFields
            let body: String
            var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]) ?? [:] }
        }

        func introspect(_ form: String, auth: HTTPFields, accept: String? = nil, contentType: String = "application/x-www-form-urlencoded") async throws -> Answer {
            var headers = auth
            headers[.contentType] = contentType
            if let accept { headers[.accept] = accept }
            return try await introspection.execute(uri: "/oauth2/introspect", method: .post, headers: headers, body: ByteBuffer(string: form)) { response in
                Answer(status: response.status, headers: response.headers, body: String(buffer: response.body))
            }
        }

        /// `token` introspected by `caller`: the JSON answer, checked to be a 200 that is never cached.
        func introspect(_ token: String, as caller: (id: String, secret: String)) async throws -> [String: Any] {
            let answer = try await introspect("token=\(IntrospectionTests.encode(token))", auth: IntrospectionTests.basic(caller.id, caller.secret))
            #expect(answer.status == .ok, "\(answer.body)")
            #expect(answer.headers[.cacheControl] == "no-store")
            #expect(answer.headers[.contentType] == "application/json")
            #expect(!answer.body.contains(token))
            return answer.json
        }

        func expectInactive(_ token: String, as caller: (id: String, secret: String), sourceLocation: SourceLocation = #_sourceLocation) async throws {
            let answer = try await introspect("token=\(IntrospectionTests.encode(token))", auth: IntrospectionTests.basic(caller.id, caller.secret))
            #expect(answer.status == .ok, sourceLocation: sourceLocation)
            #expect(answer.body == #"{"active":false}"#, sourceLocation: sourceLocation)
        }

        func revoke(_ token: String, by client: (id: String, secret: String)) async throws {
            var headers = IntrospectionTests.basic(client.id, client.secret)
            headers[.contentType] = "application/x-www-form-urlencoded"
            let status = try await self.token.execute(
                uri: "/oauth2/revoke", method: .post, headers: headers, body: ByteBuffer(string: "token=\(IntrospectionTests.encode(token))")
            ) { $0.status }
            #expect(status == .ok)
        }

        /// A published JWKS as verification keys.
        func keys(_ client: any TestClientProtocol, _ path: String) async throws -> [String: VerificationKey] {
            let set = try await client.execute(uri: path, method: .get) { response in
                #expect(response.status == .ok)
                return try JSONDecoder().decode(JWKSet.self, from: Data(buffer: response.body))
            }
            var keys: [String: VerificationKey] = [:]
            for jwk in set.keys {
                let key = try await VerificationKey(jwk: jwk)
                keys[key.kid] = key
            }
            return keys
        }

        func phantom(_ json: String, bearer: String?) async throws -> (HTTPResponse.Status, [String: Any]) {
            var headers: HTTPFields = [.contentType: "application/json"]
            if let bearer { headers[.authorization] = "Bearer \(bearer)" }
            return try await introspection.execute(uri: "/internal/phantom", method: .post, headers: headers, body: ByteBuffer(string: json)) { response in
                (response.status, (try? JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]) ?? [:])
            }
        }
    }

    static func basic(_ id: String, _ secret: String) -> HTTPFields {
        [.authorization: "Basic " + Data("\(id):\(secret)".utf8).base64EncodedString()]
    }

    static func encode(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? value
    }

    static func payload(_ jwt: String) throws -> [String: Any] {
        let parts = jwt.split(separator: ".", omittingEmptySubsequences: false)
        try #require(parts.count == 3)
        let bytes = try #require(Base64URL.decode(parts[1]))
        let object = try JSONSerialization.jsonObject(with: bytes)
        return try #require(object as? [String: Any])
    }

    func run(_ test: @escaping @Sendable (Harness) async throws -> Void) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let time = FixedTime(Date())
        let authn = try await ServiceTokenForge.make()
        let resource = try await ServiceTokenForge.make()
        let logs = LogSink.capturing()
        let tokenConfig = ServiceConfig.forTesting(.token, dataDirectory: directory.path)
        let (tokenApp, tokenEnvironment) = try await ServiceRuntime.buildApplication(
            TokenService.self, config: tokenConfig,
            options: RuntimeOptions(time: time, keyResolver: StaticKeyResolver([.authn: [authn.key.verificationKey]]), logSink: .capturing())
        )
        // Same data directory: the Introspection Service finds token.sqlite there.
        let introspectConfig = ServiceConfig.forTesting(.introspect, dataDirectory: directory.path)
        let introspectEnvironment = try await ServiceRuntime.makeEnvironment(
            IntrospectService.self, config: introspectConfig,
            options: RuntimeOptions(time: time, keyResolver: StaticKeyResolver([.resource: [resource.key.verificationKey]]), logSink: logs)
        )
        try await tokenApp.test(.router) { tokenClient in
            let flow = AuthorizationCodeFlowTests.Harness(client: tokenClient, environment: tokenEnvironment, authn: authn, time: time, admin: tokenConfig.adminToken.value)
            var tokenKeys: [String: VerificationKey] = [:]
            let published = try await tokenClient.execute(uri: "/.well-known/jwks.json", method: .get) { try JSONDecoder().decode(JWKSet.self, from: Data(buffer: $0.body)) }
            for jwk in published.keys {
                let key = try await VerificationKey(jwk: jwk)
                tokenKeys[key.kid] = key
            }
            let keys = tokenKeys
            let service = try await IntrospectService(environment: introspectEnvironment, tokenJWKS: { _ in keys })
            let introspectApp = Application(router: ServiceRuntime.makeRouter(service: service, environment: introspectEnvironment))
            try await introspectApp.test(.router) { introspectClient in
                try await test(Harness(token: tokenClient, introspection: introspectClient, flow: flow, time: time, resource: resource, logs: logs))
            }
            try await service.close()
        }
        try await introspectEnvironment.database.close()
        try await tokenEnvironment.database.close()
    }

    // MARK: Callers

    @Test func unauthenticatedCallersGet401() async throws {
        try await run { h in
            let rs = try await h.register(Self.resourceServer)
            let none = try await h.introspect("token=abc", auth: [:])
            #expect(none.status == .unauthorized)
            #expect(none.json["error"] as? String == "invalid_client")
            #expect(none.headers[.cacheControl] == "no-store")
            let wrong = try await h.introspect("token=abc", auth: Self.basic(rs.id, rs.secret + "x"))
            #expect(wrong.status == .unauthorized)
            #expect(wrong.json["error"] as? String == "invalid_client")
            #expect(wrong.headers[.wwwAuthenticate]?.hasPrefix("Basic realm=") == true)
            let unknown = try await h.introspect("token=abc", auth: Self.basic("nobody", rs.secret))
            #expect(unknown.status == .unauthorized)
            // A public client holding the scope still cannot introspect: it proves nothing.
            let (spa, _) = try await h.flow.register(
                #"{"token_endpoint_auth_method":"none","grant_types":["authorization_code"],"redirect_uris":["https://spa.example.com/cb"],"scope":"openid introspection"}"#
            )
            let public_ = try await h.introspect("token=abc&client_id=\(spa)", auth: [:])
            #expect(public_.status == .unauthorized)
            #expect(public_.json["error"] as? String == "invalid_client")
        }
    }

    @Test func clientWithoutTheIntrospectionScopeIsRefused() async throws {
        try await run { h in
            let issuer = try await h.register(Self.jwtClient)
            let token = try await h.clientCredentials(issuer)
            let answer = try await h.introspect("token=\(token)", auth: Self.basic(issuer.id, issuer.secret))
            #expect(answer.status == .forbidden)
            #expect(answer.json["error"] as? String == "unauthorized_client")
            #expect(answer.json["active"] == nil)
        }
    }

    @Test func registrationChecksIntrospectionAudiences() async throws {
        try await run { h in
            for json in [
                #"{"grant_types":["client_credentials"],"scope":"introspection","introspection_audiences":["not a uri"]}"#,
                #"{"grant_types":["client_credentials"],"scope":"introspection","introspection_audiences":["https://a.example/#f"]}"#,
                #"{"grant_types":["client_credentials"],"scope":"introspection","introspection_audiences":["https://a.example","https://a.example"]}"#,
                #"{"token_endpoint_auth_method":"none","grant_types":["authorization_code"],"redirect_uris":["https://spa.example.com/cb"],"introspection_audiences":["https://a.example"]}"#,
            ] {
                let (status, body) = try await h.token.execute(
                    uri: "/admin/clients", method: .post, headers: [.authorization: "Bearer \(h.flow.admin)", .contentType: "application/json"],
                    body: ByteBuffer(string: json)
                ) { ($0.status, String(buffer: $0.body)) }
                #expect(status == .badRequest, "\(json)")
                #expect(body.contains("invalid_client_metadata"), "\(json)")
            }
        }
    }

    @Test func discoveryNamesTheIntrospectionEndpoint() async throws {
        try await run { h in
            let metadata = try await h.token.execute(uri: "/.well-known/oauth-authorization-server", method: .get) { response in
                try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as! [String: Any]
            }
            #expect(metadata["introspection_endpoint"] as? String == "http://127.0.0.1:9003/oauth2/introspect")
            #expect(metadata["introspection_signing_alg_values_supported"] as? [String] == ["ES256"])
            let methods = try #require(metadata["introspection_endpoint_auth_methods_supported"] as? [String])
            #expect(Set(methods) == ["client_secret_basic", "client_secret_post", "private_key_jwt"])
        }
    }

    // MARK: Active tokens

    @Test func opaqueTokenIsActiveWithEveryField() async throws {
        try await run { h in
            let rs = try await h.register(Self.resourceServer)
            let issuer = try await h.register(Self.opaqueClient)
            let token = try await h.clientCredentials(issuer, extra: "&scope=documents%3Aread")
            #expect(token.hasPrefix("neo_at_"))
            let now = Int(h.time.epochSeconds)
            let answer = try await h.introspect(token, as: rs)
            #expect(answer["active"] as? Bool == true)
            #expect(answer["scope"] as? String == "documents:read")
            #expect(answer["client_id"] as? String == issuer.id)
            #expect(answer["sub"] as? String == issuer.id)
            #expect(answer["aud"] as? String == Self.api)
            #expect(answer["iss"] as? String == Self.issuer)
            #expect(answer["iat"] as? Int == now)
            #expect(answer["exp"] as? Int == now + 600)
            #expect(answer["token_type"] as? String == "Bearer")
            #expect((answer["jti"] as? String)?.isEmpty == false)
            #expect(answer["nbf"] == nil)
            #expect(answer["token"] == nil)
            // Nothing about the token reaches the logs.
            #expect(!h.logs.lines.contains { $0.contains(token) })
        }
    }

    @Test func jwtAccessTokenIsActive() async throws {
        try await run { h in
            let rs = try await h.register(Self.resourceServer)
            let issuer = try await h.register(Self.jwtClient)
            let token = try await h.clientCredentials(issuer)
            let claims = try Self.payload(token)
            let answer = try await h.introspect(token, as: rs)
            #expect(answer["active"] as? Bool == true)
            #expect(answer["scope"] as? String == "documents:read documents:write")
            #expect(answer["client_id"] as? String == issuer.id)
            #expect(answer["sub"] as? String == issuer.id)
            #expect(answer["aud"] as? String == Self.api)
            #expect(answer["iss"] as? String == Self.issuer)
            #expect(answer["jti"] as? String == claims["jti"] as? String)
            #expect(answer["exp"] as? Int == claims["exp"] as? Int)
            #expect(answer["iat"] as? Int == claims["iat"] as? Int)
            #expect(answer["token_type"] as? String == "Bearer")
        }
    }

    // MARK: Inactive tokens

    @Test func revokedTokensBecomeInactiveWithinTheCacheBound() async throws {
        try await run { h in
            let rs = try await h.register(Self.resourceServer)
            let opaqueIssuer = try await h.register(Self.opaqueClient)
            let jwtIssuer = try await h.register(Self.jwtClient)
            let opaque = try await h.clientCredentials(opaqueIssuer)
            let jwt = try await h.clientCredentials(jwtIssuer)
            #expect(try await h.introspect(opaque, as: rs)["active"] as? Bool == true)
            #expect(try await h.introspect(jwt, as: rs)["active"] as? Bool == true)
            try await h.revoke(opaque, by: opaqueIssuer)
            try await h.revoke(jwt, by: jwtIssuer)
            // Within the documented bound the cached answer may still be served…
            #expect(try await h.introspect(opaque, as: rs)["active"] as? Bool == true)
            // …and past it (5 s) the revocation applies.
            h.time.advance(by: 6)
            try await h.expectInactive(opaque, as: rs)
            try await h.expectInactive(jwt, as: rs)
        }
    }

    /// Deleting a client through the admin API ends its tokens: the stored ones are revoked,
    /// its JWTs (which have no row) are inactive because their client is gone, and a new client
    /// registered later under the same id does not bring them back.
    @Test func tokensOfADeletedClientAreInactive() async throws {
        try await run { h in
            let rs = try await h.register(Self.resourceServer)
            let opaqueIssuer = try await h.register(Self.opaqueClient)
            let jwtIssuer = try await h.register(Self.jwtClient)
            let opaque = try await h.clientCredentials(opaqueIssuer)
            let jwt = try await h.clientCredentials(jwtIssuer)
            #expect(try await h.introspect(opaque, as: rs)["active"] as? Bool == true)
            #expect(try await h.introspect(jwt, as: rs)["active"] as? Bool == true)
            for id in [opaqueIssuer.id, jwtIssuer.id] {
                let status = try await h.flow.client.execute(uri: "/admin/clients/\(id)", method: .delete, headers: [.authorization: "Bearer \(h.flow.admin)"]) { $0.status }
                #expect(status == .noContent)
            }
            // Past the introspection cache (5 s) and the clock-skew allowance for `iat` (60 s).
            h.time.advance(by: 70)
            try await h.expectInactive(opaque, as: rs)
            try await h.expectInactive(jwt, as: rs)
            let reused = Self.jwtClient.replacingOccurrences(of: #"{"client_name""#, with: #"{"client_id":"\#(jwtIssuer.id)","client_name""#)
            let again = try await h.register(reused)
            #expect(again.id == jwtIssuer.id)
            try await h.expectInactive(jwt, as: rs)
            // The new client's own tokens are active.
            #expect(try await h.introspect(try await h.clientCredentials(again), as: rs)["active"] as? Bool == true)
        }
    }

    /// The answer filed under the caller's exact credentials serves only those credentials,
    /// never a request that would fail authentication or carry another method, and never past
    /// the first answer's expiry.
    @Test func answersCachedByCredentialsServeOnlyThoseCredentials() async throws {
        try await run { h in
            let rs = try await h.register(Self.resourceServer)
            let other = try await h.register(Self.otherResourceServer)
            let issuer = try await h.register(Self.opaqueClient)
            let token = try await h.clientCredentials(issuer, extra: "&resource=\(Self.encode(Self.api))")
            let first = try await h.introspect("token=\(token)", auth: Self.basic(rs.id, rs.secret))
            #expect(first.json["active"] as? Bool == true)
            let again = try await h.introspect("token=\(token)&token_type_hint=access_token", auth: Self.basic(rs.id, rs.secret))
            #expect(again.status == .ok && again.body == first.body)
            #expect(again.headers[.cacheControl] == "no-store" && again.headers[.contentType] == "application/json")
            // Other credentials, wrong credentials, a second method: the full path, as before.
            #expect(try await h.introspect(token, as: other)["active"] as? Bool == false)
            let wrong = try await h.introspect("token=\(token)", auth: Self.basic(rs.id, rs.secret + "x"))
            #expect(wrong.status == .unauthorized)
            let twoMethods = try await h.introspect("token=\(token)&client_id=\(rs.id)&client_secret=\(rs.secret)", auth: Self.basic(rs.id, rs.secret))
            #expect(twoMethods.status == .badRequest)
            #expect(twoMethods.json["error"] as? String == "invalid_request")
            let missing = try await h.introspect("token_type_hint=access_token", auth: Self.basic(rs.id, rs.secret))
            #expect(missing.status == .badRequest)
            // Revoked: the credential-keyed answer expires with the first one (5 s), not later,
            // though it was filed again on the second request.
            try await h.revoke(token, by: issuer)
            h.time.advance(by: 3)
            #expect(try await h.introspect(token, as: rs)["active"] as? Bool == true)
            h.time.advance(by: 2.5)
            try await h.expectInactive(token, as: rs)
        }
    }

    @Test func cacheKeysOfCallersAndOfCredentialsNeverCoincide() {
        let token = "neo_at_abc"
        #expect(IntrospectionCache.key(token: token, caller: "rs") != IntrospectionCache.credentialKey(authorization: "rs", token: token))
        #expect(IntrospectionCache.key(token: token, caller: "rs") != IntrospectionCache.key(token: token, caller: "rs2"))
        #expect(IntrospectionCache.credentialKey(authorization: "Basic a", token: token) != IntrospectionCache.credentialKey(authorization: "Basic b", token: token))
    }

    @Test func expiredTokensAreInactive() async throws {
        try await run { h in
            let rs = try await h.register(Self.resourceServer)
            let opaqueIssuer = try await h.register(
                #"{"grant_types":["client_credentials"],"scope":"a","access_token_format":"opaque","access_token_lifetime":30,"allowed_audiences":["https://api.example.com"]}"#
            )
            let jwtIssuer = try await h.register(#"{"grant_types":["client_credentials"],"scope":"a","access_token_lifetime":30,"allowed_audiences":["https://api.example.com"]}"#)
            let opaque = try await h.clientCredentials(opaqueIssuer)
            let jwt = try await h.clientCredentials(jwtIssuer)
            #expect(try await h.introspect(opaque, as: rs)["active"] as? Bool == true)
            h.time.advance(by: 31)
            try await h.expectInactive(opaque, as: rs)
            try await h.expectInactive(jwt, as: rs)
        }
    }

    @Test func tokensForAnotherAudienceAreInactive() async throws {
        try await run { h in
            let rs = try await h.register(Self.resourceServer)
            let other = try await h.register(Self.otherResourceServer)
            let issuer = try await h.register(Self.opaqueClient)
            let forAPI = try await h.clientCredentials(issuer)
            let forOther = try await h.clientCredentials(issuer, extra: "&resource=\(Self.encode(Self.otherAPI))")
            try await h.expectInactive(forAPI, as: other)
            try await h.expectInactive(forOther, as: rs)
            #expect(try await h.introspect(forOther, as: other)["active"] as? Bool == true)
            // A caller without introspection_audiences sees its own tokens only.
            let selfIntrospecting = try await h.register(
                #"{"grant_types":["client_credentials"],"scope":"introspection documents:read","allowed_audiences":["https://third.example.com"]}"#
            )
            let own = try await h.clientCredentials(selfIntrospecting, extra: "&scope=documents%3Aread")
            let answer = try await h.introspect(own, as: selfIntrospecting)
            #expect(answer["active"] as? Bool == true)
            #expect(answer["aud"] as? String == "https://third.example.com")
            try await h.expectInactive(forAPI, as: selfIntrospecting)
        }
    }

    @Test func refreshTokensOnlyForTheirClientAndUserTokensCarryTheLogin() async throws {
        try await run { h in
            let rs = try await h.register(Self.resourceServer)
            let web = try await h.register(Self.webClient)
            let pkce = AuthorizationCodeFlowTests.pkce()
            let query = AuthorizationCodeFlowTests().webQuery(web.id, pkce: pkce, scope: "openid offline_access documents:read")
            let final = try await h.flow.approve(query)
            let code = try #require(AuthorizationCodeFlowTests.Harness.parameter("code", in: final))
            let (status, issued) = try await h.flow.token(
                "grant_type=authorization_code&code=\(code)&redirect_uri=\(Self.encode(AuthorizationCodeFlowTests.redirect))&code_verifier=\(pkce.verifier)",
                headers: Self.basic(web.id, web.secret)
            )
            #expect(status == .ok, "\(issued)")
            let access = try #require(issued["access_token"] as? String)
            let refresh = try #require(issued["refresh_token"] as? String)
            let idToken = try #require(issued["id_token"] as? String)

            // The access token (a JWT for the API and userinfo) with the login's auth_time and acr.
            let answer = try await h.introspect(access, as: rs)
            #expect(answer["active"] as? Bool == true)
            #expect(answer["sub"] as? String == "user-alice")
            #expect(answer["aud"] as? [String] == [Self.api, Self.issuer + "/oauth2/userinfo"])
            #expect(answer["acr"] as? String == "urn:neosec:acr:password")
            #expect(answer["auth_time"] as? Int == Int(h.time.epochSeconds))

            // Another client learns nothing about the refresh token; its own client does.
            try await h.expectInactive(refresh, as: rs)
            let own = try await h.introspect(refresh, as: web)
            #expect(own["active"] as? Bool == true)
            #expect(own["client_id"] as? String == web.id)
            #expect(own["sub"] as? String == "user-alice")
            #expect(own["scope"] as? String == "openid offline_access documents:read")
            #expect(own["token_type"] == nil)

            // An ID token is not an access token.
            try await h.expectInactive(idToken, as: rs)

            // Every token of the subject revoked (sign-out everywhere): inactive past the bound.
            let (revoked, _) = try await h.flow.internalCall("revocations", #"{"subject":"user-alice","reason":"logout"}"#)
            #expect(revoked == .ok)
            h.time.advance(by: 6)
            try await h.expectInactive(access, as: rs)
            try await h.expectInactive(refresh, as: web)
        }
    }

    @Test func garbageIsInactiveNeverAnError() async throws {
        try await run { h in
            let rs = try await h.register(Self.resourceServer)
            let stranger = try await SigningKey.generate(.es256)
            let now = h.time.epochSeconds
            struct Claims: Encodable {
                var iss: String, sub: String, aud: String, exp: Int64, iat: Int64, jti: String, client_id: String
            }
            let forged = try await stranger.sign(
                Claims(iss: Self.issuer, sub: "mallory", aud: Self.api, exp: now + 600, iat: now, jti: "j", client_id: "mallory"), type: "at+jwt"
            )
            for garbage in [
                "garbage", "neo_at_" + RandomToken.make(bytes: 32), "neo_rt_" + RandomToken.make(bytes: 32), "neo_ac_abc", "a.b.c",
                "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", forged, String(repeating: "x", count: 10_000),
            ] {
                try await h.expectInactive(garbage, as: rs)
            }
        }
    }

    // MARK: Request errors

    @Test func malformedRequestsAreInvalidRequest() async throws {
        try await run { h in
            let rs = try await h.register(Self.resourceServer)
            let auth = Self.basic(rs.id, rs.secret)
            let duplicated = try await h.introspect("token=a&token=b", auth: auth)
            #expect(duplicated.status == .badRequest)
            #expect(duplicated.json["error"] as? String == "invalid_request")
            let missing = try await h.introspect("token_type_hint=access_token", auth: auth)
            #expect(missing.status == .badRequest)
            #expect(missing.json["error"] as? String == "invalid_request")
            let json = try await h.introspect(#"{"token":"a"}"#, auth: auth, contentType: "application/json")
            #expect(json.status == .badRequest)
            #expect(json.json["error"] as? String == "invalid_request")
            // An unknown hint is only a hint.
            let hinted = try await h.introspect("token=abc&token_type_hint=nonsense", auth: auth)
            #expect(hinted.status == .ok)
            #expect(hinted.body == #"{"active":false}"#)
        }
    }

    // MARK: RFC 9701 signed answers

    @Test func jwtAnswerVerifiesAgainstTheIntrospectionJWKS() async throws {
        try await run { h in
            let rs = try await h.register(Self.resourceServer)
            let issuer = try await h.register(Self.opaqueClient)
            let token = try await h.clientCredentials(issuer)
            let answer = try await h.introspect("token=\(token)", auth: Self.basic(rs.id, rs.secret), accept: "application/token-introspection+jwt")
            #expect(answer.status == .ok)
            #expect(answer.headers[.contentType] == "application/token-introspection+jwt")
            #expect(answer.headers[.cacheControl] == "no-store")
            let jwt = answer.body
            let introspectionKeys = try await h.keys(h.introspection, "/.well-known/introspection-jwks.json")
            let tokenKeys = try await h.keys(h.token, "/.well-known/jwks.json")
            #expect(Set(introspectionKeys.keys).isDisjoint(with: tokenKeys.keys))
            let verified = try await JWS.verify(jwt, as: TokenEndpointTests.AnyClaims.self, keys: introspectionKeys, type: "token-introspection+jwt")
            #expect(verified.header.typ == "token-introspection+jwt")
            #expect(verified.header.alg == "ES256")
            // Not verifiable as anything the Token Service signed.
            await #expect(throws: (any Error).self) {
                _ = try await JWS.verify(jwt, as: TokenEndpointTests.AnyClaims.self, keys: tokenKeys, type: "token-introspection+jwt")
            }
            let claims = try Self.payload(jwt)
            #expect(claims["iss"] as? String == Self.issuer)
            #expect(claims["aud"] as? String == rs.id)
            #expect(claims["iat"] as? Int == Int(h.time.epochSeconds))
            let inner = try #require(claims["token_introspection"] as? [String: Any])
            #expect(inner["active"] as? Bool == true)
            #expect(inner["client_id"] as? String == issuer.id)
            #expect(inner["aud"] as? String == Self.api)
            #expect(!jwt.contains(token))

            // Inactive: the JWT says exactly {"active": false}.
            let inactive = try await h.introspect("token=nope", auth: Self.basic(rs.id, rs.secret), accept: "application/json, application/token-introspection+jwt")
            #expect(inactive.headers[.contentType] == "application/token-introspection+jwt")
            _ = try await JWS.verify(inactive.body, as: TokenEndpointTests.AnyClaims.self, keys: introspectionKeys, type: "token-introspection+jwt")
            let inactiveClaims = try #require(try Self.payload(inactive.body)["token_introspection"] as? [String: Any])
            #expect(inactiveClaims.count == 1)
            #expect(inactiveClaims["active"] as? Bool == false)
            // q=0 is a refusal: plain JSON.
            let refused = try await h.introspect("token=nope", auth: Self.basic(rs.id, rs.secret), accept: "application/token-introspection+jwt;q=0")
            #expect(refused.headers[.contentType] == "application/json")
        }
    }

    // MARK: Phantom tokens

    @Test func phantomTokenForAnOpaqueToken() async throws {
        try await run { h in
            let rs = try await h.register(Self.resourceServer)
            let issuer = try await h.register(Self.opaqueClient)
            let opaque = try await h.clientCredentials(issuer, extra: "&scope=documents%3Aread")
            let original = try await h.introspect(opaque, as: rs)
            let now = h.time.epochSeconds
            let body = #"{"token":"\#(opaque)","audience":"\#(Self.api)"}"#

            let (status, answer) = try await h.phantom(body, bearer: try await h.resource.token(from: .resource, to: .introspect, now: now))
            #expect(status == .ok, "\(answer)")
            #expect(answer["expires_in"] as? Int == 60)
            let phantom = try #require(answer["token"] as? String)
            let keys = try await h.keys(h.introspection, "/.well-known/introspection-jwks.json")
            let verified = try await JWS.verify(phantom, as: TokenEndpointTests.AnyClaims.self, keys: keys, type: "at+jwt")
            #expect(verified.header.alg == "ES256")
            let claims = try Self.payload(phantom)
            #expect(claims["iss"] as? String == Self.issuer)
            #expect(claims["sub"] as? String == issuer.id)
            #expect(claims["aud"] as? String == Self.api)
            #expect(claims["client_id"] as? String == issuer.id)
            #expect(claims["scope"] as? String == "documents:read")
            #expect(claims["iat"] as? Int == Int(now))
            #expect(claims["exp"] as? Int == Int(now) + 60)
            #expect((claims["jti"] as? String)?.isEmpty == false)
            #expect(claims["jti"] as? String != original["jti"] as? String)
            #expect(claims["phantom_of"] == nil)
            // Signed by the Introspection Service, it is no access token of the Token Service's.
            try await h.expectInactive(phantom, as: rs)

            // Not for another audience, not without a service token, not from just any service.
            let (wrongAudience, refusal) = try await h.phantom(
                #"{"token":"\#(opaque)","audience":"\#(Self.otherAPI)"}"#, bearer: try await h.resource.token(from: .resource, to: .introspect, now: now)
            )
            #expect(wrongAudience == .badRequest)
            #expect(refusal["error"] as? String == "invalid_grant")
            #expect(try await h.phantom(body, bearer: nil).0 == .unauthorized)
            #expect(try await h.phantom(body, bearer: try await h.resource.token(from: .uma, to: .introspect, now: now)).0 == .unauthorized)
            let (notOpaque, _) = try await h.phantom(
                #"{"token":"eyJ.x.y","audience":"\#(Self.api)"}"#, bearer: try await h.resource.token(from: .resource, to: .introspect, now: now)
            )
            #expect(notOpaque == .badRequest)
        }
    }

    @Test func phantomTokenNeverOutlivesTheOpaqueToken() async throws {
        try await run { h in
            let issuer = try await h.register(
                #"{"grant_types":["client_credentials"],"scope":"a","access_token_format":"opaque","access_token_lifetime":30,"allowed_audiences":["https://api.example.com"]}"#
            )
            let opaque = try await h.clientCredentials(issuer)
            h.time.advance(by: 20)
            let now = h.time.epochSeconds
            let (status, answer) = try await h.phantom(
                #"{"token":"\#(opaque)","audience":"\#(Self.api)"}"#, bearer: try await h.resource.token(from: .resource, to: .introspect, now: now)
            )
            #expect(status == .ok, "\(answer)")
            let expiresIn = try #require(answer["expires_in"] as? Int)
            #expect(expiresIn <= 10 && expiresIn > 0)
            let claims = try Self.payload(try #require(answer["token"] as? String))
            #expect((claims["exp"] as? Int).map { $0 <= Int(now) + 10 } == true)
        }
    }
}
