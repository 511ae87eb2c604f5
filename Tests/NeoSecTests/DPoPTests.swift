import Crypto
import Foundation
import JOSE
import ServiceKit
import Testing
import WireModels

/// RFC 9449 §4.3 proof checks, one failure at a time, and the nonce and replay helpers.
@Suite struct DPoPTests {
    static let url = "https://api.example.com/api/documents"
    static let now: Int64 = 1_800_000_000

    struct Signer {
        let key = P256.Signing.PrivateKey()

        var jwk: [String: String] {
            let point = Array(key.publicKey.x963Representation)
            return ["kty": "EC", "crv": "P-256", "x": Base64URL.encode(point[1..<33]), "y": Base64URL.encode(point[33..<65])]
        }

        func proof(header: [String: Any] = [:], claims: [String: Any] = [:], removing: [String] = []) throws -> String {
            var h: [String: Any] = ["typ": "dpop+jwt", "alg": "ES256", "jwk": jwk]
            h.merge(header) { $1 }
            var c: [String: Any] = ["jti": UUID().uuidString, "htm": "GET", "htu": DPoPTests.url, "iat": DPoPTests.now]
            c.merge(claims) { $1 }
            for name in removing { c.removeValue(forKey: name) }
            let input = Base64URL.encode(try JSONSerialization.data(withJSONObject: h)) + "." + Base64URL.encode(try JSONSerialization.data(withJSONObject: c))
            let signature = try key.signature(for: Array(input.utf8)).rawRepresentation
            return input + "." + Base64URL.encode(signature)
        }

        var thumbprint: String { try! JWKThumbprint.sha256(PublicJWK(kty: "EC", crv: "P-256", x: jwk["x"], y: jwk["y"])) }
    }

    func verify(_ proof: String, method: String = "GET", uri: String = DPoPTests.url, token: String? = nil, now: Int64 = DPoPTests.now) throws(DPoPProof.Failure) -> DPoPProof.Verified {
        try DPoPProof.verify(proof, method: method, uri: uri, accessToken: token, now: now)
    }

    @Test func validProofGivesTheKeyThumbprint() throws {
        let signer = Signer()
        let verified = try verify(try signer.proof())
        #expect(verified.thumbprint == signer.thumbprint)
    }

    @Test func eachBrokenCheckIsRefused() throws {
        let signer = Signer()
        let cases: [(String, DPoPProof.Failure, () throws -> String)] = [
            ("typ", .wrongType, { try signer.proof(header: ["typ": "JWT"]) }),
            ("alg none", .algorithmNotAllowed, { try signer.proof(header: ["alg": "none"]) }),
            ("alg HS256", .algorithmNotAllowed, { try signer.proof(header: ["alg": "HS256"]) }),
            ("private key", .badKey, { try signer.proof(header: ["jwk": signer.jwk.merging(["d": "AAAA"]) { $1 }]) }),
            ("symmetric key", .badKey, { try signer.proof(header: ["jwk": ["kty": "oct", "k": "AAAA"]]) }),
            ("another key", .badSignature, { try signer.proof(header: ["jwk": Signer().jwk]) }),
            ("htm", .wrongMethod, { try signer.proof(claims: ["htm": "POST"]) }),
            ("htu", .wrongURI, { try signer.proof(claims: ["htu": "https://api.example.com/api/other"]) }),
            ("htu host", .wrongURI, { try signer.proof(claims: ["htu": "https://evil.example.com/api/documents"]) }),
            ("stale", .stale, { try signer.proof(claims: ["iat": DPoPTests.now - 61]) }),
            ("future", .stale, { try signer.proof(claims: ["iat": DPoPTests.now + 11]) }),
            ("iat string", .malformed, { try signer.proof(claims: ["iat": "1800000000"]) }),
            ("no jti", .malformed, { try signer.proof(removing: ["jti"]) }),
        ]
        for (name, expected, make) in cases {
            #expect(throws: expected, "\(name)") { _ = try verify(try make()) }
        }
        #expect(throws: DPoPProof.Failure.malformed) { _ = try verify("a.b") }
    }

    @Test func signatureCoversTheClaims() throws {
        let proof = try Signer().proof()
        var parts = proof.split(separator: ".").map(String.init)
        parts[1] = Base64URL.encode(try JSONSerialization.data(withJSONObject: ["jti": "x", "htm": "GET", "htu": Self.url, "iat": Self.now]))
        #expect(throws: DPoPProof.Failure.badSignature) { _ = try verify(parts.joined(separator: ".")) }
    }

    @Test func htuIsComparedAfterNormalization() throws {
        let signer = Signer()
        let proof = try signer.proof(claims: ["htu": "HTTPS://API.example.com:443/api/documents?x=1#f"])
        _ = try verify(proof)
        #expect(DPoPProof.normalizedURI("http://h:80/") == "http://h/")
        #expect(DPoPProof.normalizedURI("http://h:8080") == "http://h:8080/")
        #expect(DPoPProof.normalizedURI("ftp://h/") == nil)
        #expect(DPoPProof.normalizedURI("https://user@h/") == nil)
    }

    @Test func accessTokenHashIsRequiredAndChecked() throws {
        let signer = Signer()
        let token = "neo_at_example"
        _ = try verify(try signer.proof(claims: ["ath": DPoPProof.accessTokenHash(token)]), token: token)
        #expect(throws: DPoPProof.Failure.missingAccessTokenHash) { _ = try verify(try signer.proof(), token: token) }
        #expect(throws: DPoPProof.Failure.wrongAccessTokenHash) {
            _ = try verify(try signer.proof(claims: ["ath": DPoPProof.accessTokenHash("other")]), token: token)
        }
    }

    @Test func noncesAreAcceptedForTwoSlotsOnly() {
        let nonces = DPoPNonces(masterKey: Secret("a-master-key-for-tests-only-0123456789"))
        let other = DPoPNonces(masterKey: Secret("another-master-key-for-tests-0123456789"))
        let nonce = nonces.current(now: Self.now)
        #expect(nonces.isValid(nonce, now: Self.now))
        #expect(nonces.isValid(nonce, now: Self.now + DPoPNonces.slot))
        #expect(!nonces.isValid(nonce, now: Self.now + 2 * DPoPNonces.slot))
        #expect(!other.isValid(nonce, now: Self.now))
        #expect(!nonces.isValid(nil, now: Self.now))
        #expect(!nonces.isValid("forged", now: Self.now))
    }

    @Test func replayCacheAcceptsOnceAndFailsClosedWhenFull() {
        let cache = DPoPReplayCache(capacity: 2)
        #expect(cache.firstUse("a", expiresAt: 100, now: 0))
        #expect(!cache.firstUse("a", expiresAt: 100, now: 1))
        #expect(cache.firstUse("b", expiresAt: 100, now: 1))
        #expect(!cache.firstUse("c", expiresAt: 100, now: 2))
        // Expired entries make room again.
        #expect(cache.firstUse("c", expiresAt: 300, now: 200))
    }
}
