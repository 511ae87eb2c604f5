import Foundation
import JOSE
import Testing
import WireModels

@testable import TokenService

/// The pure rules of token exchange (RFC 8693 §4.1 `act`, §4.4 `may_act`) and of trusted
/// issuers' metadata; the grants themselves are exercised end to end in
/// `Tests/interop/test_token_exchange.py`.
@Suite("Token exchange rules")
struct TokenExchangeRulesTests {
    @Test func mayActMustNameTheActorExactly() {
        let permits = { (mayAct: JSONValue) in
            TokenExchangeGrant.permits(mayAct, subject: "photos", issuer: "https://as.example", clientID: "photos-client")
        }
        #expect(permits(.object(["sub": .string("photos")])))
        #expect(permits(.object(["sub": .string("photos"), "iss": .string("https://as.example")])))
        #expect(permits(.object(["client_id": .string("photos-client")])))
        #expect(!permits(.object(["sub": .string("print")])))
        #expect(!permits(.object(["sub": .string("photos"), "iss": .string("https://other.example")])))
        #expect(!permits(.object(["sub": .string("Photos")])))
        // Nothing naming the actor, a member we cannot check, or not an object: refused.
        #expect(!permits(.object([:])))
        #expect(!permits(.object(["iss": .string("https://as.example")])))
        #expect(!permits(.object(["sub": .string("photos"), "group": .string("x")])))
        #expect(!permits(.string("photos")))
        #expect(!permits(.array([.object(["sub": .string("photos")])])))
    }

    @Test func actDepthCountsNestedActors() {
        #expect(TokenExchangeGrant.depth(of: nil) == 0)
        var act: JSONValue = .object(["sub": .string("a")])
        #expect(TokenExchangeGrant.depth(of: act) == 1)
        for name in ["b", "c", "d"] { act = .object(["sub": .string(name), "act": act]) }
        #expect(TokenExchangeGrant.depth(of: act) == 4)
    }

    @Test func keysURIsAreHTTPSOrLoopbackHTTP() {
        for good in ["https://idp.example/jwks.json", "http://127.0.0.1:9000/.well-known/jwks.json", "http://localhost:1/k", "http://[::1]:8/k"] {
            #expect(TrustedIssuers.isAcceptableKeysURI(good), "\(good)")
        }
        for bad in [
            "http://idp.example/jwks.json", "http://10.0.0.1/k", "http://127.0.0.1.nip.io/k", "ftp://idp.example/k", "https://user@idp.example/k",
            "https://idp.example/k#frag", "file:///etc/passwd", "javascript:alert(1)", "https:///nohost", "",
        ] {
            #expect(!TrustedIssuers.isAcceptableKeysURI(bad), "\(bad)")
        }
    }

    @Test func trustMetadataIsValidatedAndNormalized() async throws {
        let key = try await SigningKey.generate(.es256)
        var metadata = TrustedIssuerMetadata(issuer: "https://idp.example", allowedSubjects: ["*"])
        metadata.jwks = JWKSet(keys: [key.publicJWK])
        metadata.scope = "a  b a"
        let normalized = try await TrustedIssuers.validate(metadata)
        #expect(normalized.scope == "a b")
        #expect(normalized.maxAssertionLifetime == TrustedIssuers.defaultAssertionLifetime)

        func refused(_ change: (inout TrustedIssuerMetadata) -> Void) async -> Bool {
            var bad = metadata
            change(&bad)
            do {
                _ = try await TrustedIssuers.validate(bad)
                return false
            } catch {
                return error.code == .invalidRequest
            }
        }
        #expect(await refused { $0.issuer = "not a uri" })
        #expect(await refused { $0.jwks = nil })
        #expect(await refused { $0.jwksURI = "https://idp.example/jwks.json" })  // both
        #expect(await refused { $0.jwks = JWKSet(keys: []) })
        #expect(await refused { $0.jwks = JWKSet(keys: [PublicJWK(kty: "EC", kid: "k", alg: "ES256", crv: "P-256", x: "AA", y: "AA")]) })
        #expect(await refused { $0.allowedSubjects = [] })
        #expect(await refused { $0.allowedSubjects = [""] })
        #expect(await refused { $0.scope = "bad\"scope" })
        #expect(await refused { $0.maxAssertionLifetime = 0 })
        #expect(await refused { $0.maxAssertionLifetime = 86_400 })
        #expect(await refused { $0.allowedClients = [] })
    }
}
