import Foundation
import JOSE
import ServiceKit
import Testing
import WireModels

struct TestClaims: JOSEClaims, Equatable {
    var sub: String
    var exp: Int64
}

@Suite("JOSE: keys, thumbprints, JWS verification")
struct JOSETests {
    /// RFC 7638 §3.1 example.
    /// The hand-written encoder matches Foundation's base64 with the RFC 4648 §5 substitutions,
    /// for every length remainder, and round-trips through the strict decoder.
    @Test func base64URLMatchesTheReferenceEncoding() {
        var generator = SystemRandomNumberGenerator()
        for length in 0...70 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let reference = Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            #expect(Base64URL.encode(bytes) == reference)
            #expect(Base64URL.decode(Base64URL.encode(bytes)) == Data(bytes))
        }
    }

    @Test func thumbprintMatchesRFC7638Example() throws {
        let jwk = PublicJWK(
            kty: "RSA",
            n: "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            e: "AQAB"
        )
        #expect(try JWKThumbprint.sha256(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
    }

    @Test func base64URLIsStrict() {
        #expect(Base64URL.decode("AQAB") == Data([1, 0, 1]))
        #expect(Base64URL.decode("AQAB=") == nil)
        #expect(Base64URL.decode("AQ+B") == nil)
        #expect(Base64URL.decode("A") == nil)
        #expect(Base64URL.encode([0xFB, 0xFF]) == "-_8")
        // Bits after the last byte must be zero (RFC 4648 §3.5): "AR" would also decode to 0x01.
        #expect(Base64URL.decode("AQ") == Data([1]))
        #expect(Base64URL.decode("AR") == nil)
        #expect(Base64URL.decode("AQE") == Data([1, 1]))
        #expect(Base64URL.decode("AQF") == nil)
        #expect(Base64URL.decode("AQ AB") == nil)
        #expect(Base64URL.decode("") == Data())
    }

    /// Standard base64 with padding (HTTP Basic): equal to Foundation's decoder on every valid
    /// encoding, stricter than it on the rest.
    @Test func paddedBase64MatchesFoundationAndIsStrict() {
        var generator = SystemRandomNumberGenerator()
        for length in 0...70 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let encoded = Data(bytes).base64EncodedString()
            #expect(Base64URL.decodePadded(encoded) == bytes)
            #expect(Base64URL.decodeBytes(Base64URL.encode(bytes)) == bytes)
        }
        #expect(Base64URL.decodePadded("YTpi") == Array("a:b".utf8))
        #expect(Base64URL.decodePadded("YQ==") == Array("a".utf8))
        #expect(Base64URL.decodePadded("YWI=") == Array("ab".utf8))
        for invalid in ["YQ", "YQ=", "YQ===", "Y===", "====", "YR==", "YWJ=", "YW=I", "YT pi", "YTpi\n", "-_8=", "YTpi===="] {
            #expect(Base64URL.decodePadded(invalid) == nil, "\(invalid)")
        }
    }

    @Test func constantTimeEquality() {
        #expect(ConstantTime.equals("abc", "abc"))
        #expect(!ConstantTime.equals("abc", "abd"))
        #expect(!ConstantTime.equals("abc", "abcd"))
        #expect(!ConstantTime.equals("", "a"))
    }

    @Test(arguments: SigningAlgorithm.allCases)
    func signsAndVerifies(_ algorithm: SigningAlgorithm) async throws {
        let key = try await SigningKey.generate(algorithm)
        #expect(key.publicJWK.kid == key.kid)
        #expect(key.publicJWK.alg == algorithm.rawValue)
        let token = try await key.sign(TestClaims(sub: "alice", exp: 1), type: "at+jwt")
        let published = try await VerificationKey(jwk: key.publicJWK)
        let (header, claims) = try await JWS.verify(token, as: TestClaims.self, keys: [key.kid: published], type: "application/at+jwt")
        #expect(claims.sub == "alice")
        #expect(header.kid == key.kid)
        // A reloaded key is the same key.
        let reloaded = try await SigningKey(algorithm: algorithm, privateKeyBytes: key.privateKeyBytes)
        #expect(reloaded.kid == key.kid)
    }

    @Test(arguments: SigningAlgorithm.allCases)
    func bitFlippedSignatureIsRefused(_ algorithm: SigningAlgorithm) async throws {
        let key = try await SigningKey.generate(algorithm)
        let token = try await key.sign(TestClaims(sub: "alice", exp: 1), type: "at+jwt")
        var parts = token.split(separator: ".").map(String.init)
        var signature = Array(Base64URL.decode(parts[2])!)
        signature[signature.count / 2] ^= 0x01
        parts[2] = Base64URL.encode(signature)
        await #expect(throws: JOSEError.badSignature) {
            try await JWS.verify(parts.joined(separator: "."), as: TestClaims.self, keys: [key.kid: key.verificationKey], type: "at+jwt")
        }
        // A changed payload under the original signature fails too.
        var tampered = token.split(separator: ".").map(String.init)
        tampered[1] = Base64URL.encode(Array(#"{"sub":"mallory","exp":1}"#.utf8))
        await #expect(throws: JOSEError.badSignature) {
            try await JWS.verify(tampered.joined(separator: "."), as: TestClaims.self, keys: [key.kid: key.verificationKey], type: "at+jwt")
        }
    }

    /// jwt-kit falls back to a default key when `kid` is missing or unknown; we must not.
    @Test func missingOrUnknownKidIsRefused() async throws {
        let key = try await SigningKey.generate(.es256)
        let token = try await key.sign(TestClaims(sub: "a", exp: 1), type: "at+jwt")
        let other = try await SigningKey.generate(.es256)
        await #expect(throws: JOSEError.unknownKeyID) {
            try await JWS.verify(token, as: TestClaims.self, keys: [other.kid: other.verificationKey], type: "at+jwt")
        }
        let noKid = try forge(header: #"{"alg":"ES256","typ":"at+jwt"}"#, from: token)
        await #expect(throws: JOSEError.missingKeyID) {
            try await JWS.verify(noKid, as: TestClaims.self, keys: [key.kid: key.verificationKey], type: "at+jwt")
        }
    }

    @Test func algNoneAndHMACAreRefused() async throws {
        let key = try await SigningKey.generate(.es256)
        let token = try await key.sign(TestClaims(sub: "a", exp: 1), type: "at+jwt")
        for alg in ["none", "HS256", "ES384"] {
            let forged = try forge(header: #"{"alg":"\#(alg)","kid":"\#(key.kid)","typ":"at+jwt"}"#, from: token)
            await #expect(throws: JOSEError.unsupportedAlgorithm) {
                try await JWS.verify(forged, as: TestClaims.self, keys: [key.kid: key.verificationKey], type: "at+jwt")
            }
        }
    }

    @Test func algorithmMustMatchThePinnedKey() async throws {
        let key = try await SigningKey.generate(.es256)
        let token = try await key.sign(TestClaims(sub: "a", exp: 1), type: "at+jwt")
        let forged = try forge(header: #"{"alg":"RS256","kid":"\#(key.kid)","typ":"at+jwt"}"#, from: token)
        await #expect(throws: JOSEError.algorithmMismatch) {
            try await JWS.verify(forged, as: TestClaims.self, keys: [key.kid: key.verificationKey], type: "at+jwt")
        }
    }

    /// A service token never passes as an access token, nor the reverse.
    @Test func typeIsEnforced() async throws {
        let key = try await SigningKey.generate(.es256)
        let serviceToken = try await key.sign(TestClaims(sub: "a", exp: 1), type: ServiceToken.type)
        await #expect(throws: JOSEError.wrongType) {
            try await JWS.verify(serviceToken, as: TestClaims.self, keys: [key.kid: key.verificationKey], type: "at+jwt")
        }
        let accessToken = try await key.sign(TestClaims(sub: "a", exp: 1), type: "at+jwt")
        await #expect(throws: JOSEError.wrongType) {
            try await JWS.verify(accessToken, as: TestClaims.self, keys: [key.kid: key.verificationKey], type: ServiceToken.type)
        }
    }

    @Test(arguments: ["", "a.b", "a.b.c.d", "!!.e30.sig", String(repeating: "a", count: 20_000)])
    func malformedTokensAreRefused(_ token: String) async throws {
        let key = try await SigningKey.generate(.es256)
        await #expect(throws: JOSEError.self) {
            try await JWS.verify(token, as: TestClaims.self, keys: [key.kid: key.verificationKey], type: "at+jwt")
        }
    }

    @Test func keySealerRoundTripsAndBindsIdentity() throws {
        let sealer = try KeySealer(masterKey: Array(repeating: 1, count: 32))
        let sealed = try sealer.seal([1, 2, 3], kid: "k1", algorithm: "ES256", purpose: "token")
        #expect(try sealer.open(sealed, kid: "k1", algorithm: "ES256", purpose: "token") == [1, 2, 3])
        #expect(throws: JOSEError.decryptionFailed) { try sealer.open(sealed, kid: "k2", algorithm: "ES256", purpose: "token") }
        #expect(throws: JOSEError.decryptionFailed) { try sealer.open(sealed, kid: "k1", algorithm: "ES256", purpose: "internal") }
        var flipped = sealed
        flipped[flipped.count - 1] ^= 1
        #expect(throws: JOSEError.decryptionFailed) { try sealer.open(flipped, kid: "k1", algorithm: "ES256", purpose: "token") }
        let otherMaster = try KeySealer(masterKey: Array(repeating: 2, count: 32))
        #expect(throws: JOSEError.decryptionFailed) { try otherMaster.open(sealed, kid: "k1", algorithm: "ES256", purpose: "token") }
        #expect(throws: JOSEError.keyUnusable) { try KeySealer(masterKey: Array(repeating: 1, count: 16)) }
    }

    @Test func publishedJWKHoldsNoPrivateMaterial() async throws {
        for algorithm in SigningAlgorithm.allCases {
            let key = try await SigningKey.generate(algorithm)
            let json = String(decoding: try JSONEncoder().encode(key.publicJWK), as: UTF8.self)
            for member in ["\"d\"", "\"p\"", "\"q\"", "\"dp\"", "\"dq\"", "\"qi\""] {
                #expect(!json.contains(member))
            }
        }
    }

    func forge(header: String, from token: String) throws -> String {
        let parts = token.split(separator: ".").map(String.init)
        return [Base64URL.encode(Array(header.utf8)), parts[1], parts[2]].joined(separator: ".")
    }
}
