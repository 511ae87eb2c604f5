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
import TokenService
import WireModels

/// Clients, client authentication and the client-credentials grant, through the real router.
@Suite("Token endpoint: clients and client credentials")
struct TokenEndpointTests {
    static let resource = "http://127.0.0.1:9004"

    struct Context {
        let client: any TestClientProtocol
        let environment: ServiceEnvironment
        let admin: String
        let time: FixedTime

        func adminJSON(_ method: HTTPRequest.Method, _ uri: String, _ json: String? = nil) async throws -> (HTTPResponse.Status, [String: Any]) {
            try await client.execute(
                uri: uri, method: method,
                headers: [.authorization: "Bearer \(admin)", .contentType: "application/json"],
                body: json.map { ByteBuffer(string: $0) }
            ) { response in
                let object = (try? JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]) ?? [:]
                return (response.status, object)
            }
        }

        func register(_ json: String) async throws -> (id: String, secret: String?) {
            let (status, body) = try await adminJSON(.post, "/admin/clients", json)
            #expect(status == .created, "\(body)")
            return (body["client_id"] as! String, body["client_secret"] as? String)
        }

        func token(_ form: String, headers: HTTPFields = [:]) async throws -> (HTTPResponse.Status, [String: Any], HTTPFields) {
            var all = headers
            all[.contentType] = "application/x-www-form-urlencoded"
            return try await client.execute(uri: "/oauth2/token", method: .post, headers: all, body: ByteBuffer(string: form)) { response in
                let object = (try? JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]) ?? [:]
                return (response.status, object, response.headers)
            }
        }

        func verifiedClaims(_ token: String) async throws -> [String: Any] {
            var keys: [String: VerificationKey] = [:]
            for (kid, key) in environment.internalKeys.verificationKeys { keys[kid] = key }
            let jwks = try await client.execute(uri: "/.well-known/jwks.json", method: .get) { try JSONDecoder().decode(JWKSet.self, from: Data(buffer: $0.body)) }
            var published: [String: VerificationKey] = [:]
            for jwk in jwks.keys { published[jwk.kid!] = try await VerificationKey(jwk: jwk) }
            _ = try await JWS.verify(token, as: AnyClaims.self, keys: published, type: "at+jwt")
            let payload = Base64URL.decode(token.split(separator: ".")[1])!
            return try JSONSerialization.jsonObject(with: payload) as! [String: Any]
        }
    }

    struct AnyClaims: JOSEClaims {}

    static func basic(_ id: String, _ secret: String) -> HTTPFields {
        [.authorization: "Basic " + Data("\(id):\(secret)".utf8).base64EncodedString()]
    }

    func run(_ test: @escaping @Sendable (Context) async throws -> Void) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let time = FixedTime(Date())
        let config = ServiceConfig.forTesting(.token, dataDirectory: directory.path)
        let (app, environment) = try await ServiceRuntime.buildApplication(TokenService.self, config: config, options: RuntimeOptions(time: time, logSink: .capturing()))
        try await app.test(.router) { client in
            try await test(Context(client: client, environment: environment, admin: config.adminToken.value, time: time))
        }
        try await environment.database.close()
    }

    static let serviceClient = #"{"client_name":"Reports","grant_types":["client_credentials"],"scope":"reports:read reports:write","allowed_audiences":["http://127.0.0.1:9004"]}"#

    @Test func clientCredentialsWithBasicIssuesAnRFC9068JWT() async throws {
        try await run { c in
            let (id, secret) = try await c.register(Self.serviceClient)
            #expect(secret?.hasPrefix("neo_cs_") == true)
            let (status, body, headers) = try await c.token("grant_type=client_credentials&scope=reports%3Aread", headers: Self.basic(id, secret!))
            #expect(status == .ok, "\(body)")
            #expect(headers[.cacheControl] == "no-store")
            #expect(headers[HTTPField.Name("Pragma")!] == "no-cache")
            #expect(body["token_type"] as? String == "Bearer")
            #expect(body["expires_in"] as? Int == 600)
            #expect(body["scope"] as? String == "reports:read")
            #expect(body["refresh_token"] == nil)
            let claims = try await c.verifiedClaims(body["access_token"] as! String)
            #expect(claims["iss"] as? String == "http://127.0.0.1:9000")
            #expect(claims["sub"] as? String == id)
            #expect(claims["client_id"] as? String == id)
            #expect(claims["aud"] as? String == Self.resource)
            #expect(claims["scope"] as? String == "reports:read")
            #expect((claims["exp"] as! Int) - (claims["iat"] as! Int) == 600)
            #expect((claims["jti"] as? String)?.isEmpty == false)
        }
    }

    @Test func noScopeRequestedGrantsTheRegisteredScope() async throws {
        try await run { c in
            let (id, secret) = try await c.register(Self.serviceClient)
            let (status, body, _) = try await c.token("grant_type=client_credentials", headers: Self.basic(id, secret!))
            #expect(status == .ok)
            #expect(body["scope"] as? String == "reports:read reports:write")
        }
    }

    @Test func clientSecretPostAndOpaqueTokens() async throws {
        try await run { c in
            let (id, secret) = try await c.register(
                #"{"grant_types":["client_credentials"],"token_endpoint_auth_method":"client_secret_post","access_token_format":"opaque","scope":"a","allowed_audiences":["https://api.example.com"]}"#
            )
            let (status, body, _) = try await c.token("grant_type=client_credentials&client_id=\(id)&client_secret=\(secret!)")
            #expect(status == .ok, "\(body)")
            let token = body["access_token"] as! String
            #expect(token.hasPrefix("neo_at_"))
            // Only the hash is stored.
            let stored = try await SQLTokenStore(c.environment.database).find(hash: CredentialHash.hex(token))
            #expect(stored?.clientID == id)
            #expect(stored?.audience == "https://api.example.com")
            let raw = try await c.environment.database.query("SELECT hash FROM issued_tokens")
            #expect(try raw.allSatisfy { try $0.text("hash") != token })
        }
    }

    @Test func secretsAreStoredHashedAndShownOnce() async throws {
        try await run { c in
            let (id, secret) = try await c.register(Self.serviceClient)
            let row = try await c.environment.database.query("SELECT secret_hash, metadata FROM clients WHERE client_id = ?", [.text(id)]).first!
            #expect(try row.text("secret_hash") == CredentialHash.hex(secret!))
            #expect(try !row.text("metadata").contains(secret!))
            let (_, shown) = try await c.adminJSON(.get, "/admin/clients/\(id)")
            #expect(shown["client_secret"] == nil)
            // Rotation: the old secret stops working, the new one works.
            let (_, rotated) = try await c.adminJSON(.post, "/admin/clients/\(id)/secret")
            let newSecret = rotated["client_secret"] as! String
            #expect(try await c.token("grant_type=client_credentials", headers: Self.basic(id, secret!)).0 == .unauthorized)
            #expect(try await c.token("grant_type=client_credentials", headers: Self.basic(id, newSecret)).0 == .ok)
        }
    }

    enum BadAuth: String, CaseIterable, CustomTestStringConvertible {
        case wrongSecret, unknownClient, wrongMethod, twoMethods, noCredentials, malformedBasic, emptySecret, mismatchedClientID
        var testDescription: String { rawValue }
    }

    @Test(arguments: BadAuth.allCases)
    func badClientAuthenticationIsRefused(_ kind: BadAuth) async throws {
        try await run { c in
            let (id, secret) = try await c.register(Self.serviceClient)
            var form = "grant_type=client_credentials"
            var headers: HTTPFields = [:]
            var status = HTTPResponse.Status.unauthorized
            var code = "invalid_client"
            switch kind {
            case .wrongSecret: headers = Self.basic(id, secret! + "x")
            case .unknownClient: headers = Self.basic("nobody", secret!)
            case .wrongMethod:
                form += "&client_id=\(id)&client_secret=\(secret!)"
            case .twoMethods:
                headers = Self.basic(id, secret!)
                form += "&client_secret=\(secret!)"
                status = .badRequest
                code = "invalid_request"
            case .noCredentials: break
            case .malformedBasic: headers = [.authorization: "Basic !!!notbase64"]
            case .emptySecret: headers = Self.basic(id, "")
            case .mismatchedClientID:
                headers = Self.basic(id, secret!)
                form += "&client_id=someone-else"
                status = .badRequest
                code = "invalid_request"
            }
            let (answer, body, responseHeaders) = try await c.token(form, headers: headers)
            #expect(answer == status)
            #expect(body["error"] as? String == code)
            #expect(body["access_token"] == nil)
            // RFC 9110 §15.5.2: every 401 carries a challenge, whichever method was tried.
            #expect((responseHeaders[.wwwAuthenticate]?.hasPrefix("Basic realm=") ?? false) == (status == .unauthorized))
        }
    }

    @Test func grantAndParameterErrors() async throws {
        try await run { c in
            let (id, secret) = try await c.register(Self.serviceClient)
            let auth = Self.basic(id, secret!)
            let cases: [(String, HTTPResponse.Status, String)] = [
                // Served, but this client is not registered for it.
                ("grant_type=password&username=a&password=b", .badRequest, "unauthorized_client"),
                ("grant_type=urn%3Aexample%3Anope", .badRequest, "unsupported_grant_type"),
                ("scope=reports%3Aread", .badRequest, "invalid_request"),
                ("grant_type=client_credentials&grant_type=client_credentials", .badRequest, "invalid_request"),
                ("grant_type=client_credentials&scope=admin", .badRequest, "invalid_scope"),
                ("grant_type=client_credentials&scope=reports%3Aread+admin", .badRequest, "invalid_scope"),
                ("grant_type=client_credentials&resource=https%3A%2F%2Fevil.example", .badRequest, "invalid_target"),
                ("grant_type=client_credentials&resource=http%3A%2F%2F127.0.0.1%3A9004%23frag", .badRequest, "invalid_target"),
                ("grant_type=client_credentials&resource=relative%2Fpath", .badRequest, "invalid_target"),
            ]
            for (form, status, code) in cases {
                let (answer, body, headers) = try await c.token(form, headers: auth)
                #expect(answer == status, "\(form)")
                #expect(body["error"] as? String == code, "\(form)")
                #expect(headers[.cacheControl] == "no-store")
            }
            // Not a form: invalid_request.
            var jsonHeaders = auth
            jsonHeaders[.contentType] = "application/json"
            let json = try await c.client.execute(uri: "/oauth2/token", method: .post, headers: jsonHeaders, body: ByteBuffer(string: "{}")) { $0.status }
            #expect(json == .badRequest)
        }
    }

    @Test func registrationRefusesWhatIsNotSupported() async throws {
        try await run { c in
            let bad = [
                #"{"grant_types":["client_credentials"],"token_endpoint_auth_method":"none"}"#,
                #"{"grant_types":["urn:ietf:params:oauth:grant-type:saml2-bearer"]}"#,
                #"{"grant_types":["implicit"],"response_types":["code"],"redirect_uris":["https://a.example/cb"]}"#,
                #"{"grant_types":["client_credentials"],"token_endpoint_auth_method":"client_secret_jwt"}"#,
                #"{"grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt"}"#,
                #"{"grant_types":["client_credentials"],"access_token_format":"paseto"}"#,
                #"{"grant_types":["client_credentials"],"allowed_audiences":["https://a.example/#x"]}"#,
                #"{"grant_types":["client_credentials"],"scope":"a\"b"}"#,
                #"{"grant_types":["client_credentials"],"logo_uri":"javascript:alert(1)"}"#,
                #"{"grant_types":["client_credentials"],"access_token_lifetime":999999}"#,
                #"{"grant_types":"client_credentials"}"#,
                #"not json"#,
                // A client_id that is not a string is refused, not replaced by a random one.
                #"{"client_id":123,"grant_types":["client_credentials"]}"#,
                #"{"client_id":["a-b-c"],"grant_types":["client_credentials"]}"#,
                #"{"client_id":"x","grant_types":["client_credentials"]}"#,
            ]
            for json in bad {
                let (status, body) = try await c.adminJSON(.post, "/admin/clients", json)
                #expect(status == .badRequest, "\(json)")
                #expect(body["error"] as? String == "invalid_client_metadata", "\(json)")
            }
            let (_, list) = try await c.adminJSON(.get, "/admin/clients")
            #expect((list["clients"] as? [Any])?.isEmpty == true)
            let (conflict, _) = try await c.adminJSON(.post, "/admin/clients", #"{"client_id":"fixed-id","grant_types":["client_credentials"]}"#)
            #expect(conflict == .created)
            let (again, _) = try await c.adminJSON(.post, "/admin/clients", #"{"client_id":"fixed-id","grant_types":["client_credentials"]}"#)
            #expect(again == .conflict)
            let (deleted, _) = try await c.adminJSON(.delete, "/admin/clients/fixed-id")
            #expect(deleted == .noContent)
            let (missing, _) = try await c.adminJSON(.get, "/admin/clients/fixed-id")
            #expect(missing == .notFound)
            let (deletedAgain, _) = try await c.adminJSON(.delete, "/admin/clients/fixed-id")
            #expect(deletedAgain == .notFound)
        }
    }

    /// RFC 7591 §3.2.1: `client_secret_expires_at` is REQUIRED whenever a secret is issued,
    /// also when an update turns a public client into one that authenticates with a secret.
    @Test func updateThatIssuesASecretSaysWhenItExpires() async throws {
        try await run { c in
            let publicClient = #"{"client_id":"turns-confidential","grant_types":["authorization_code"],"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"none"}"#
            let (created, first) = try await c.adminJSON(.post, "/admin/clients", publicClient)
            #expect(created == .created && first["client_secret"] == nil && first["client_secret_expires_at"] == nil)
            let (updated, body) = try await c.adminJSON(
                .put, "/admin/clients/turns-confidential",
                #"{"grant_types":["authorization_code","client_credentials"],"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"client_secret_basic","allowed_audiences":["https://api.example"]}"#
            )
            #expect(updated == .ok)
            let secret = try #require(body["client_secret"] as? String)
            #expect(body["client_secret_expires_at"] as? Int == 0)
            #expect(try await c.token("grant_type=client_credentials", headers: Self.basic("turns-confidential", secret)).0 == .ok)
            // An update that issues no secret says nothing about one.
            let (again, unchanged) = try await c.adminJSON(
                .put, "/admin/clients/turns-confidential",
                #"{"grant_types":["client_credentials"],"token_endpoint_auth_method":"client_secret_basic"}"#
            )
            #expect(again == .ok && unchanged["client_secret"] == nil && unchanged["client_secret_expires_at"] == nil)
        }
    }

    // MARK: private_key_jwt (RFC 7523 §2.2)

    struct Assertion: JOSEClaims {
        var iss: String
        var sub: String
        var aud: String
        var exp: Int64
        var iat: Int64
        var jti: String
    }

    enum BadAssertion: String, CaseIterable, CustomTestStringConvertible {
        case replayed, expired, tooLong, wrongAudience, wrongIssuer, algNone, hs256WithPublicKey, otherKey, missingJTI
        var testDescription: String { rawValue }
    }

    func privateKeyClient(_ c: Context) async throws -> (id: String, key: SigningKey) {
        let key = try await SigningKey.generate(.es256)
        let jwks = String(decoding: try JSONEncoder().encode(JWKSet(keys: [key.publicJWK])), as: UTF8.self)
        let (id, secret) = try await c.register(
            #"{"grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt","jwks":\#(jwks),"allowed_audiences":["http://127.0.0.1:9004"]}"#
        )
        #expect(secret == nil)
        return (id, key)
    }

    static func assertionForm(_ assertion: String) -> String {
        "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=\(assertion)"
    }

    @Test func privateKeyJWTAuthenticates() async throws {
        try await run { c in
            let (id, key) = try await privateKeyClient(c)
            let now = c.time.epochSeconds
            let assertion = try await key.sign(Assertion(iss: id, sub: id, aud: "http://127.0.0.1:9000/oauth2/token", exp: now + 60, iat: now, jti: "a1"), type: "JWT")
            let (status, body, _) = try await c.token(Self.assertionForm(assertion))
            #expect(status == .ok, "\(body)")
            // The issuer is an accepted audience too (RFC 7523 §3).
            let second = try await key.sign(Assertion(iss: id, sub: id, aud: "http://127.0.0.1:9000", exp: now + 60, iat: now, jti: "a2"), type: "JWT")
            #expect(try await c.token(Self.assertionForm(second)).0 == .ok)
        }
    }

    @Test(arguments: BadAssertion.allCases)
    func badAssertionsAreRefused(_ kind: BadAssertion) async throws {
        try await run { c in
            let (id, key) = try await privateKeyClient(c)
            let now = c.time.epochSeconds
            let endpoint = "http://127.0.0.1:9000/oauth2/token"
            func sign(_ claims: Assertion, with signer: SigningKey = key) async throws -> String { try await signer.sign(claims, type: "JWT") }
            var assertion: String
            switch kind {
            case .replayed:
                assertion = try await sign(Assertion(iss: id, sub: id, aud: endpoint, exp: now + 60, iat: now, jti: "same"))
                #expect(try await c.token(Self.assertionForm(assertion)).0 == .ok)
            case .expired: assertion = try await sign(Assertion(iss: id, sub: id, aud: endpoint, exp: now - 1, iat: now - 61, jti: "e"))
            case .tooLong: assertion = try await sign(Assertion(iss: id, sub: id, aud: endpoint, exp: now + 86_400, iat: now, jti: "l"))
            case .wrongAudience: assertion = try await sign(Assertion(iss: id, sub: id, aud: "https://other.example/token", exp: now + 60, iat: now, jti: "w"))
            case .wrongIssuer: assertion = try await sign(Assertion(iss: "someone", sub: id, aud: endpoint, exp: now + 60, iat: now, jti: "i"))
            case .missingJTI: assertion = try await sign(Assertion(iss: id, sub: id, aud: endpoint, exp: now + 60, iat: now, jti: ""))
            case .otherKey:
                let other = try await SigningKey.generate(.es256)
                let signed = try await sign(Assertion(iss: id, sub: id, aud: endpoint, exp: now + 60, iat: now, jti: "o"), with: other)
                // Claim the registered key's kid.
                let header = Base64URL.encode(Array(#"{"alg":"ES256","kid":"\#(key.kid)","typ":"JWT"}"#.utf8))
                let parts = signed.split(separator: ".")
                assertion = [header, String(parts[1]), String(parts[2])].joined(separator: ".")
            case .algNone:
                let header = Base64URL.encode(Array(#"{"alg":"none","kid":"\#(key.kid)"}"#.utf8))
                let payload = Base64URL.encode(Array(#"{"iss":"\#(id)","sub":"\#(id)","aud":"\#(endpoint)","exp":\#(now + 60),"jti":"n"}"#.utf8))
                assertion = "\(header).\(payload).c2ln"
            case .hs256WithPublicKey:
                // The classic confusion: HMAC keyed with the public key's JWK text.
                let header = Base64URL.encode(Array(#"{"alg":"HS256","kid":"\#(key.kid)","typ":"JWT"}"#.utf8))
                let payload = Base64URL.encode(Array(#"{"iss":"\#(id)","sub":"\#(id)","aud":"\#(endpoint)","exp":\#(now + 60),"jti":"h"}"#.utf8))
                let publicText = String(decoding: try JSONEncoder().encode(key.publicJWK), as: UTF8.self)
                let mac = HMACSHA256.mac(key: Array(publicText.utf8), message: Array("\(header).\(payload)".utf8))
                assertion = "\(header).\(payload).\(Base64URL.encode(mac))"
            }
            let (status, body, _) = try await c.token(Self.assertionForm(assertion))
            #expect(status == .unauthorized)
            #expect(body["error"] as? String == "invalid_client")
        }
    }
}

import Crypto

enum HMACSHA256 {
    static func mac(key: [UInt8], message: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }
}

@Suite("Revocation (RFC 7009)")
struct RevocationTests {
    func run(_ test: @escaping @Sendable (TokenEndpointTests.Context) async throws -> Void) async throws {
        try await TokenEndpointTests().run(test)
    }

    func revoke(_ c: TokenEndpointTests.Context, _ form: String, auth: HTTPFields) async throws -> (HTTPResponse.Status, String) {
        var headers = auth
        headers[.contentType] = "application/x-www-form-urlencoded"
        return try await c.client.execute(uri: "/oauth2/revoke", method: .post, headers: headers, body: ByteBuffer(string: form)) {
            ($0.status, String(buffer: $0.body))
        }
    }

    static let opaqueClient = #"{"grant_types":["client_credentials"],"scope":"a","access_token_format":"opaque","allowed_audiences":["http://127.0.0.1:9004"]}"#

    @Test func revokesOnlyTheOwnersOpaqueToken() async throws {
        try await run { c in
            let (id, secret) = try await c.register(Self.opaqueClient)
            let (otherID, otherSecret) = try await c.register(Self.opaqueClient)
            let token = try await c.token("grant_type=client_credentials", headers: TokenEndpointTests.basic(id, secret!)).1["access_token"] as! String
            let store = SQLTokenStore(c.environment.database)
            // Another client: 200, nothing changes.
            #expect(try await revoke(c, "token=\(token)", auth: TokenEndpointTests.basic(otherID, otherSecret!)).0 == .ok)
            #expect(try await store.find(hash: CredentialHash.hex(token))?.revoked == false)
            // The owner: 200, revoked.
            #expect(try await revoke(c, "token=\(token)&token_type_hint=access_token", auth: TokenEndpointTests.basic(id, secret!)).0 == .ok)
            #expect(try await store.find(hash: CredentialHash.hex(token))?.revoked == true)
            // Unknown tokens and unknown hints: still 200 (RFC 7009 §2.2).
            #expect(try await revoke(c, "token=neo_at_unknown&token_type_hint=weird", auth: TokenEndpointTests.basic(id, secret!)).0 == .ok)
        }
    }

    @Test func revokesAJWTByItsJTI() async throws {
        try await run { c in
            let (id, secret) = try await c.register(TokenEndpointTests.serviceClient)
            let token = try await c.token("grant_type=client_credentials", headers: TokenEndpointTests.basic(id, secret!)).1["access_token"] as! String
            #expect(try await revoke(c, "token=\(token)", auth: TokenEndpointTests.basic(id, secret!)).0 == .ok)
            let claims = try await c.verifiedClaims(token)
            let row = try await SQLTokenStore(c.environment.database).find(hash: CredentialHash.hex("jti:" + (claims["jti"] as! String)))
            #expect(row?.revoked == true)
            #expect(row?.clientID == id)
        }
    }

    @Test func requiresClientAuthenticationAndAToken() async throws {
        try await run { c in
            let (id, secret) = try await c.register(TokenEndpointTests.serviceClient)
            let (unauthenticated, body) = try await revoke(c, "token=abc", auth: [:])
            #expect(unauthenticated == .unauthorized)
            #expect(body.contains("invalid_client"))
            let (missing, missingBody) = try await revoke(c, "token_type_hint=access_token", auth: TokenEndpointTests.basic(id, secret!))
            #expect(missing == .badRequest)
            #expect(missingBody.contains("invalid_request"))
        }
    }

    @Test func storageFailureIsNeverA200() async throws {
        try await run { c in
            let (id, secret) = try await c.register(Self.opaqueClient)
            let token = try await c.token("grant_type=client_credentials", headers: TokenEndpointTests.basic(id, secret!)).1["access_token"] as! String
            // The client stays cached; the store goes away.
            try await c.environment.database.close()
            let (status, body) = try await revoke(c, "token=\(token)", auth: TokenEndpointTests.basic(id, secret!))
            #expect(status == .serviceUnavailable)
            #expect(body.contains("temporarily_unavailable"))
        }
    }
}
