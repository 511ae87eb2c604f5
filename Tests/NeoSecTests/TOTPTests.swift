import AuthnService
import Testing

/// TOTP (RFC 6238) and base32 (RFC 4648) against the RFCs' own test vectors, plus the window and
/// replay rules the Authentication Service relies on.
@Suite("TOTP and base32")
struct TOTPTests {
    /// RFC 6238 Appendix B: the SHA-1 seed is the ASCII string "12345678901234567890".
    static let rfcSecret = Array("12345678901234567890".utf8)

    struct Vector: Sendable, CustomTestStringConvertible {
        let time: Int64
        let code: String
        var testDescription: String { "T=\(time)" }
    }

    /// RFC 6238 Appendix B, SHA1 rows (8 digits).
    static let vectors = [
        Vector(time: 59, code: "94287082"),
        Vector(time: 1_111_111_109, code: "07081804"),
        Vector(time: 1_111_111_111, code: "14050471"),
        Vector(time: 1_234_567_890, code: "89005924"),
        Vector(time: 2_000_000_000, code: "69279037"),
        Vector(time: 20_000_000_000, code: "65353130"),
    ]

    @Test(arguments: TOTPTests.vectors)
    func rfc6238AppendixBSHA1(_ vector: Vector) {
        #expect(TOTP.code(secret: Self.rfcSecret, at: vector.time, digits: 8) == vector.code)
        // The 6-digit code is the same truncation modulo 10^6: the last six digits.
        #expect(TOTP.code(secret: Self.rfcSecret, at: vector.time) == String(vector.code.suffix(6)))
        #expect(TOTP.matchingStep(vector.code, secret: Self.rfcSecret, at: vector.time, after: nil, digits: 8) == vector.time / 30)
    }

    @Test func timeSteps() {
        #expect(TOTP.step(at: 0) == 0)
        #expect(TOTP.step(at: 29) == 0)
        #expect(TOTP.step(at: 30) == 1)
        #expect(TOTP.step(at: 59) == 1)
        #expect(TOTP.step(at: 1_111_111_109) == 0x23523EC)
        #expect(TOTP.step(at: 20_000_000_000) == 0x27BC86AA)
    }

    @Test func oneStepEitherSideIsAccepted() {
        let now: Int64 = 1_800_000_015
        let step = TOTP.step(at: now)
        for offset in -1...1 {
            let code = TOTP.code(secret: Self.rfcSecret, step: step + Int64(offset))
            #expect(TOTP.matchingStep(code, secret: Self.rfcSecret, at: now, after: nil) == step + Int64(offset))
        }
        for offset in [-3, -2, 2, 3] {
            let code = TOTP.code(secret: Self.rfcSecret, step: step + Int64(offset))
            // A far step's code could equal a near one's by chance (1 in 10^6); these do not.
            let near = (-1...1).map { TOTP.code(secret: Self.rfcSecret, step: step + Int64($0)) }
            if !near.contains(code) {
                #expect(TOTP.matchingStep(code, secret: Self.rfcSecret, at: now, after: nil) == nil)
            }
        }
    }

    @Test func usedStepsAreRefused() {
        let now: Int64 = 1_800_000_015
        let step = TOTP.step(at: now)
        let current = TOTP.code(secret: Self.rfcSecret, step: step)
        let previous = TOTP.code(secret: Self.rfcSecret, step: step - 1)
        #expect(TOTP.matchingStep(current, secret: Self.rfcSecret, at: now, after: step - 1) == step)
        // Once the current step is used, neither it nor an earlier one passes again.
        #expect(TOTP.matchingStep(current, secret: Self.rfcSecret, at: now, after: step) == nil)
        #expect(TOTP.matchingStep(previous, secret: Self.rfcSecret, at: now, after: step) == nil)
        #expect(TOTP.matchingStep(previous, secret: Self.rfcSecret, at: now, after: step - 1) == nil)
        // The next step's code is still good.
        let next = TOTP.code(secret: Self.rfcSecret, step: step + 1)
        #expect(TOTP.matchingStep(next, secret: Self.rfcSecret, at: now, after: step) == step + 1)
    }

    @Test(arguments: ["", "12345", "1234567", "12a456", "١٢٣٤٥٦", " 123456", "123456\n"])
    func malformedCodesAreRefused(_ code: String) {
        #expect(TOTP.matchingStep(code, secret: Self.rfcSecret, at: 1_800_000_000, after: nil) == nil)
    }

    @Test func wrongSecretIsRefused() {
        let code = TOTP.code(secret: Self.rfcSecret, at: 1_800_000_000)
        var other = Self.rfcSecret
        other[0] ^= 1
        let near = (-1...1).map { TOTP.code(secret: other, step: TOTP.step(at: 1_800_000_000) + Int64($0)) }
        if !near.contains(code) {
            #expect(TOTP.matchingStep(code, secret: other, at: 1_800_000_000, after: nil) == nil)
        }
    }

    @Test func secretsAndProvisioningURI() {
        let secret = TOTP.makeSecret()
        #expect(secret.count == 20)
        #expect(TOTP.makeSecret() != secret)
        let encoded = Base32.encode(secret)
        #expect(encoded.count == 32)
        #expect(!encoded.contains("="))
        #expect(Base32.decode(encoded) == secret)
        #expect(
            TOTP.provisioningURI(secret: Self.rfcSecret, username: "alice")
                == "otpauth://totp/NeoSec:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=NeoSec&algorithm=SHA1&digits=6&period=30"
        )
        #expect(TOTP.provisioningURI(secret: [1], username: "a b@x").hasPrefix("otpauth://totp/NeoSec:a%20b@x?secret=AE&"))
    }

    struct Base32Vector: Sendable, CustomTestStringConvertible {
        let plain: String
        let encoded: String
        var testDescription: String { "\"\(plain)\"" }
    }

    /// RFC 4648 §10.
    static let base32Vectors = [
        Base32Vector(plain: "", encoded: ""),
        Base32Vector(plain: "f", encoded: "MY======"),
        Base32Vector(plain: "fo", encoded: "MZXQ===="),
        Base32Vector(plain: "foo", encoded: "MZXW6==="),
        Base32Vector(plain: "foob", encoded: "MZXW6YQ="),
        Base32Vector(plain: "fooba", encoded: "MZXW6YTB"),
        Base32Vector(plain: "foobar", encoded: "MZXW6YTBOI======"),
    ]

    @Test(arguments: TOTPTests.base32Vectors)
    func rfc4648Section10(_ vector: Base32Vector) {
        let bytes = Array(vector.plain.utf8)
        #expect(Base32.encode(bytes, padded: true) == vector.encoded)
        let unpadded = String(vector.encoded.prefix { $0 != "=" })
        #expect(Base32.encode(bytes) == unpadded)
        #expect(Base32.decode(vector.encoded) == bytes)
        #expect(Base32.decode(unpadded) == bytes)
        #expect(Base32.decode(unpadded.lowercased()) == bytes)
    }

    @Test(arguments: ["M", "MZX", "MZXW6Y", "MY=", "MY=====", "M1======", "MZ======", "MY==A===", "MZXW6YTB0I"])
    func malformedBase32IsRefused(_ text: String) {
        #expect(Base32.decode(text) == nil)
    }
}
