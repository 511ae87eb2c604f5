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

/// The shared kit and the Token Service's kit-level endpoints, through the real router.
@Suite("Service kit through the router")
struct ServiceKitRouterTests {
    struct Harness {
        let directory: TemporaryDirectory
        let time: FixedTime
        let authn: ServiceTokenForge
        let uma: ServiceTokenForge
        let config: ServiceConfig

        static func make(callers: Set<ServiceName> = [.authn]) async throws -> Harness {
            let directory = try TemporaryDirectory()
            return Harness(
                directory: directory,
                time: FixedTime(Date()),
                authn: try await .make(),
                uma: try await .make(),
                config: .forTesting(.token, dataDirectory: directory.path, internalCallers: callers)
            )
        }

        var options: RuntimeOptions {
            RuntimeOptions(
                time: time,
                keyResolver: StaticKeyResolver([.authn: [authn.key.verificationKey], .uma: [uma.key.verificationKey]]),
                logSink: .capturing()
            )
        }

        func run(_ test: @escaping @Sendable (any TestClientProtocol, ServiceEnvironment) async throws -> Void) async throws {
            defer { directory.remove() }
            let (app, environment) = try await ServiceRuntime.buildApplication(TokenService.self, config: config, options: options)
            try await app.test(.router) { client in try await test(client, environment) }
            try await environment.database.close()
        }

        var now: Int64 { time.epochSeconds }
    }

    static func revocationBody(_ subject: String = "alice") -> ByteBuffer {
        ByteBuffer(string: #"{"subject":"\#(subject)","reason":"logout"}"#)
    }

    static func revocationCount(_ environment: ServiceEnvironment) async throws -> Int {
        try await SQLSubjectRevocationStore(environment.database).count()
    }

    @Test func healthAndMetrics() async throws {
        try await Harness.make().run { client, _ in
            try await client.execute(uri: "/health/live", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/json")
                #expect(response.headers[.cacheControl] == "no-store")
                let body = try JSONDecoder().decode([String: String].self, from: Data(buffer: response.body))
                #expect(body["status"] == "live" && body["service"] != nil && body.count == 2)
            }
            try await client.execute(uri: "/health/ready", method: .get) { response in
                #expect(response.status == .ok)
                let report = try JSONDecoder().decode(ReadinessReport.self, from: Data(buffer: response.body))
                #expect(report.checks == ["storage": "ok", "internal_keys": "ok", "token_keys": "ok"])
            }
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains("hb_requests"))
            }
        }
    }

    @Test func unknownRouteIsAJSONProtocolError() async throws {
        try await Harness.make().run { client, _ in
            try await client.execute(uri: "/no/such/endpoint", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(response.headers[.cacheControl] == "no-store")
                let body = try JSONDecoder().decode(OAuthErrorBody.self, from: Data(buffer: response.body))
                #expect(body.error == "invalid_request")
            }
        }
    }

    @Test func securityHeadersOnEveryResponse() async throws {
        try await Harness.make().run { client, _ in
            for uri in ["/health/live", "/nope", "/.well-known/jwks.json"] {
                try await client.execute(uri: uri, method: .get) { response in
                    #expect(response.headers[.xContentTypeOptions] == "nosniff")
                    #expect(response.headers[HTTPField.Name("X-Frame-Options")!] == "DENY")
                    #expect(response.headers[HTTPField.Name("Referrer-Policy")!] == "no-referrer")
                    #expect(response.headers[.contentSecurityPolicy]?.contains("frame-ancestors 'none'") == true)
                    #expect(response.headers[HTTPField.Name("X-Request-Id")!] != nil)
                }
            }
        }
    }

    @Test func requestIDIsKeptOnlyWhenSafe() async throws {
        try await Harness.make().run { client, _ in
            try await client.execute(uri: "/health/live", method: .get, headers: [HTTPField.Name("X-Request-Id")!: "abc-123"]) {
                #expect($0.headers[HTTPField.Name("X-Request-Id")!] == "abc-123")
            }
            try await client.execute(uri: "/health/live", method: .get, headers: [HTTPField.Name("X-Request-Id")!: "a b\"c"]) {
                #expect($0.headers[HTTPField.Name("X-Request-Id")!] != "a b\"c")
            }
        }
    }

    @Test func internalJWKSPublishesTheServiceKeyOnly() async throws {
        try await Harness.make().run { client, environment in
            try await client.execute(uri: "/internal/jwks.json", method: .get) { response in
                let set = try JSONDecoder().decode(JWKSet.self, from: Data(buffer: response.body))
                #expect(set.keys.map(\.alg) == ["ES256"])
                #expect(set.keys.first?.kid == environment.internalKeys.jwks.keys.first?.kid)
            }
            // The token-signing JWKS does not contain the internal key, and vice versa.
            try await client.execute(uri: "/.well-known/jwks.json", method: .get) { response in
                let set = try JSONDecoder().decode(JWKSet.self, from: Data(buffer: response.body))
                #expect(Set(set.keys.compactMap(\.alg)) == ["RS256", "ES256", "EdDSA"])
                let internalKid = environment.internalKeys.jwks.keys.first?.kid
                #expect(!set.keys.contains { $0.kid == internalKid })
                #expect(response.headers[.cacheControl] == "public, max-age=300")
            }
        }
    }

    @Test func validInternalCallIsAccepted() async throws {
        let harness = try await Harness.make()
        try await harness.run { client, environment in
            let token = try await harness.authn.token(from: .authn, to: .token, now: harness.now)
            try await client.execute(
                uri: "/internal/revocations",
                method: .post,
                headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
                body: Self.revocationBody()
            ) { response in
                #expect(response.status == .ok)
                let answer = try JSONDecoder().decode(SubjectRevocationResponse.self, from: Data(buffer: response.body))
                #expect(answer.subject == "alice")
                #expect(answer.notBefore == harness.now)
            }
            #expect(try await Self.revocationCount(environment) == 1)
        }
    }

    enum BadToken: String, CaseIterable, CustomTestStringConvertible {
        case forged, expired, notYetValid, tooLong, wrongAudience, notAllowListed, accessTokenType, garbage, replayed
        var testDescription: String { rawValue }
    }

    @Test(arguments: BadToken.allCases)
    func badServiceTokensAreRefusedAndChangeNothing(_ kind: BadToken) async throws {
        let harness = try await Harness.make()
        try await harness.run { client, environment in
            let now = harness.now
            var expectedCount = 0
            let token: String
            switch kind {
            case .forged:
                // Signed by another key, claiming to be the Authentication Service with its kid.
                let impostor = try await SigningKey.generate(.es256)
                let honest = try await harness.authn.token(from: .authn, to: .token, now: now)
                let signedByImpostor = try await impostor.sign(ServiceTokenClaims(iss: "neosec-authn", aud: "neosec-token", iat: now, exp: now + 30, jti: "x"), type: ServiceToken.type)
                let honestParts = honest.split(separator: ".")
                let impostorParts = signedByImpostor.split(separator: ".")
                token = [honestParts[0], impostorParts[1], impostorParts[2]].joined(separator: ".")
            case .expired:
                token = try await harness.authn.token(from: .authn, to: .token, now: now, issuedAt: now - 40)
            case .notYetValid:
                token = try await harness.authn.token(from: .authn, to: .token, now: now, issuedAt: now + 30)
            case .tooLong:
                token = try await harness.authn.token(from: .authn, to: .token, now: now, lifetime: 3600)
            case .wrongAudience:
                token = try await harness.authn.token(from: .authn, to: .uma, now: now)
            case .notAllowListed:
                token = try await harness.uma.token(from: .uma, to: .token, now: now)
            case .accessTokenType:
                token = try await harness.authn.token(from: .authn, to: .token, now: now, type: "at+jwt")
            case .garbage:
                token = "not-a-jwt"
            case .replayed:
                token = try await harness.authn.token(from: .authn, to: .token, now: now)
                try await client.execute(
                    uri: "/internal/revocations", method: .post,
                    headers: [.authorization: "Bearer \(token)", .contentType: "application/json"], body: Self.revocationBody("first")
                ) { #expect($0.status == .ok) }
                expectedCount = 1
            }
            try await client.execute(
                uri: "/internal/revocations",
                method: .post,
                headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
                body: Self.revocationBody("victim")
            ) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate]?.hasPrefix(#"Bearer realm="neosec-internal", error="invalid_token""#) == true)
                let body = try JSONDecoder().decode(OAuthErrorBody.self, from: Data(buffer: response.body))
                #expect(body.error == "invalid_token")
            }
            #expect(try await Self.revocationCount(environment) == expectedCount)
        }
    }

    @Test func missingTokenGetsABareChallenge() async throws {
        try await Harness.make().run { client, environment in
            try await client.execute(uri: "/internal/revocations", method: .post, headers: [.contentType: "application/json"], body: Self.revocationBody()) {
                #expect($0.status == .unauthorized)
                #expect($0.headers[.wwwAuthenticate] == #"Bearer realm="neosec-internal""#)
            }
            #expect(try await Self.revocationCount(environment) == 0)
        }
    }

    @Test func allowListedServiceStillNeedsTheEndpointsPermission() async throws {
        let harness = try await Harness.make(callers: [.authn, .uma])
        try await harness.run { client, environment in
            let token = try await harness.uma.token(from: .uma, to: .token, now: harness.now)
            try await client.execute(
                uri: "/internal/revocations", method: .post,
                headers: [.authorization: "Bearer \(token)", .contentType: "application/json"], body: Self.revocationBody()
            ) { #expect($0.status == .forbidden) }
            #expect(try await Self.revocationCount(environment) == 0)
        }
    }

    enum BadBody: String, CaseIterable, CustomTestStringConvertible {
        case malformedJSON, wrongContentType, invalidUTF8, unknownReason, oversized, emptySubject
        var testDescription: String { rawValue }
    }

    @Test(arguments: BadBody.allCases)
    func badBodiesGetProtocolErrorsAndChangeNothing(_ kind: BadBody) async throws {
        let harness = try await Harness.make()
        try await harness.run { client, environment in
            let token = try await harness.authn.token(from: .authn, to: .token, now: harness.now)
            var contentType = "application/json"
            var body: ByteBuffer
            var status = HTTPResponse.Status.badRequest
            switch kind {
            case .malformedJSON: body = ByteBuffer(string: #"{"subject": "alice", "#)
            case .wrongContentType:
                contentType = "text/plain"
                body = Self.revocationBody()
            case .invalidUTF8: body = ByteBuffer(bytes: Array(#"{"subject":""#.utf8) + [0xC3, 0x28] + Array(#"","reason":"logout"}"#.utf8))
            case .unknownReason: body = ByteBuffer(string: #"{"subject":"alice","reason":"because"}"#)
            case .emptySubject: body = ByteBuffer(string: #"{"subject":"","reason":"logout"}"#)
            case .oversized:
                body = ByteBuffer(string: #"{"subject":"alice","reason":"logout","pad":""# + String(repeating: "x", count: 20 * 1024) + #""}"#)
                status = .contentTooLarge
            }
            try await client.execute(
                uri: "/internal/revocations", method: .post,
                headers: [.authorization: "Bearer \(token)", .contentType: contentType], body: body
            ) { response in
                #expect(response.status == status)
                #expect(response.headers[.cacheControl] == "no-store")
                let error = try JSONDecoder().decode(OAuthErrorBody.self, from: Data(buffer: response.body))
                #expect(error.error == "invalid_request")
            }
            #expect(try await Self.revocationCount(environment) == 0)
        }
    }

    @Test func adminAPIRequiresTheAdminToken() async throws {
        let harness = try await Harness.make()
        try await harness.run { client, _ in
            try await client.execute(uri: "/admin/keys/rotate", method: .post) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/admin/keys/rotate", method: .post, headers: [.authorization: "Bearer wrong-token-wrong-token-wrong-token"]) {
                #expect($0.status == .unauthorized)
                #expect($0.headers[.wwwAuthenticate]?.contains("invalid_token") == true)
            }
            // A valid service token is not an admin token.
            let serviceToken = try await harness.authn.token(from: .authn, to: .token, now: harness.now)
            try await client.execute(uri: "/admin/keys", method: .get, headers: [.authorization: "Bearer \(serviceToken)"]) {
                #expect($0.status == .unauthorized)
            }
        }
    }

    struct AccessClaims: JOSEClaims {
        var sub: String
    }

    /// A JWT signed before a rotation still verifies against the JWKS after it; new JWTs use the new kid.
    @Test func keyRotationKeepsOldTokensVerifiable() async throws {
        let harness = try await Harness.make()
        try await harness.run { client, environment in
            // A second view of the Token Service's key ring, as another replica would have.
            let replica = KeyRing(
                purpose: TokenService.tokenKeyPurpose, algorithms: TokenService.tokenAlgorithms,
                store: SQLKeyStore(environment.database), sealer: environment.sealer, time: harness.time, retention: 86_400
            )
            try await replica.reload()
            let oldKey = try replica.signingKey(.rs256)
            let oldToken = try await oldKey.sign(AccessClaims(sub: "alice"), type: "at+jwt")

            let admin = harness.config.adminToken.value
            try await client.execute(uri: "/admin/keys/rotate", method: .post, headers: [.authorization: "Bearer \(admin)"]) {
                #expect($0.status == .ok)
            }
            let jwks = try await client.execute(uri: "/.well-known/jwks.json", method: .get) {
                try JSONDecoder().decode(JWKSet.self, from: Data(buffer: $0.body))
            }
            #expect(jwks.keys.count == 6)
            var published: [String: VerificationKey] = [:]
            for jwk in jwks.keys { published[jwk.kid!] = try await VerificationKey(jwk: jwk) }
            let verifiedOld = try await JWS.verify(oldToken, as: AccessClaims.self, keys: published, type: "at+jwt")
            #expect(verifiedOld.claims.sub == "alice")

            try await replica.reload()
            let newKey = try replica.signingKey(.rs256)
            #expect(newKey.kid != oldKey.kid)
            let newToken = try await newKey.sign(AccessClaims(sub: "bob"), type: "at+jwt")
            let verifiedNew = try await JWS.verify(newToken, as: AccessClaims.self, keys: published, type: "at+jwt")
            #expect(verifiedNew.header.kid == newKey.kid)

            // Past the retention period the old key is gone from the JWKS.
            harness.time.advance(by: 86_401)
            try await replica.reload()
            #expect(replica.verificationKeys[oldKey.kid] == nil)
            #expect(replica.verificationKeys[newKey.kid] != nil)
        }
    }

    @Test func keysSurviveARestartAndAreSealedAtRest() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let config = ServiceConfig.forTesting(.token, dataDirectory: directory.path)
        let (_, first) = try await ServiceRuntime.buildApplication(TokenService.self, config: config, options: RuntimeOptions(logSink: .capturing()))
        let firstKids = first.internalKeys.jwks.keys.map(\.kid)
        let stored = try await SQLKeyStore(first.database).keys(purpose: "token", now: 0)
        #expect(stored.count == 3)
        for key in stored {
            let plain = try first.sealer.open(key.sealedPrivateKey, kid: key.kid, algorithm: key.algorithm, purpose: key.purpose)
            // The stored bytes are not the private key.
            #expect(!key.sealedPrivateKey.contains(subsequence: plain))
        }
        try await first.database.close()
        let (_, second) = try await ServiceRuntime.buildApplication(TokenService.self, config: config, options: RuntimeOptions(logSink: .capturing()))
        #expect(second.internalKeys.jwks.keys.map(\.kid) == firstKids)
        try await second.database.close()

        // The wrong master key cannot open them: start-up fails rather than minting new keys.
        var wrong = config
        wrong.masterKey = Secret(Base64URL.encode([UInt8](repeating: 9, count: 32)))
        await #expect(throws: JOSEError.decryptionFailed) {
            _ = try await ServiceRuntime.buildApplication(TokenService.self, config: wrong, options: RuntimeOptions(logSink: .capturing()))
        }
    }
}

extension Array where Element == UInt8 {
    func contains(subsequence: [UInt8]) -> Bool {
        guard !subsequence.isEmpty, subsequence.count <= count else { return false }
        return (0...(count - subsequence.count)).contains { Array(self[$0..<($0 + subsequence.count)]) == subsequence }
    }
}
