import Crypto
import JOSE
import ServiceKit

/// Time-based one-time passwords (RFC 6238) over HOTP (RFC 4226) with HMAC-SHA1: the profile
/// every authenticator app implements (Google Authenticator "Key Uri Format": SHA1, 6 digits,
/// 30 seconds).
///
/// A code is accepted for the current time step and one step either side (RFC 6238 §5.2 allows
/// for clock drift and typing time), compared in constant time; a step once used for an account
/// is never accepted again (§5.2: "the verifier MUST NOT accept the second attempt of the OTP
/// after the successful validation has been issued for the first OTP"). The caller keeps the
/// last used step and passes it in.
public enum TOTP {
    /// RFC 6238 §4.1 X: the time step in seconds.
    public static let period: Int64 = 30
    public static let digits = 6
    /// Steps accepted either side of the current one.
    public static let window: Int64 = 1
    /// RFC 4226 §4 R6 asks for at least 128 bits and recommends 160: the HMAC-SHA1 block's worth.
    public static let secretBytes = 20
    public static let issuer = "NeoSec"

    /// A fresh shared secret from the system CSPRNG.
    public static func makeSecret() -> [UInt8] { RandomToken.randomBytes(secretBytes) }

    /// RFC 6238 §4.2: T = floor((now − T0) / X), with T0 = 0.
    public static func step(at epochSeconds: Int64, period: Int64 = TOTP.period) -> Int64 {
        precondition(period > 0, "TOTP period must be positive")
        return epochSeconds >= 0 ? epochSeconds / period : (epochSeconds - period + 1) / period
    }

    /// The code of one time step: HOTP(K, T) (RFC 4226 §5.3, dynamic truncation), as `digits`
    /// decimal digits with leading zeros. 8 digits for the RFC 6238 Appendix B test vectors.
    public static func code(secret: [UInt8], step: Int64, digits: Int = TOTP.digits) -> String {
        precondition((6...8).contains(digits), "TOTP codes have 6 to 8 digits")
        let counter = UInt64(bitPattern: step).bigEndian
        let message = withUnsafeBytes(of: counter) { Array($0) }
        let mac = HMAC<Insecure.SHA1>.authenticationCode(for: message, using: SymmetricKey(data: secret)).withUnsafeBytes { Array($0) }
        let offset = Int(mac[mac.count - 1] & 0x0F)
        var binary = UInt32(mac[offset] & 0x7F)
        for index in 1...3 { binary = binary << 8 | UInt32(mac[offset + index]) }
        var modulus: UInt32 = 1
        for _ in 0..<digits { modulus *= 10 }
        let text = String(binary % modulus)
        return String(repeating: "0", count: digits - text.count) + text
    }

    /// The code for the time step that contains `epochSeconds`.
    public static func code(secret: [UInt8], at epochSeconds: Int64, digits: Int = TOTP.digits) -> String {
        code(secret: secret, step: step(at: epochSeconds), digits: digits)
    }

    /// The time step `code` belongs to, when it is the code of a step within `window` of now and
    /// later than `lastUsedStep`; nil otherwise. Every candidate is computed and compared in
    /// constant time, whatever matches, so timing tells nothing about the expected codes.
    ///
    /// The caller must then record the returned step as used, atomically and only if it is still
    /// later than the last one recorded (`MFAStore.recordTOTPStep`), so that two requests
    /// carrying the same code cannot both succeed.
    public static func matchingStep(
        _ code: String, secret: [UInt8], at epochSeconds: Int64, after lastUsedStep: Int64?, digits: Int = TOTP.digits, window: Int64 = TOTP.window
    ) -> Int64? {
        let submitted = Array(code.utf8)
        guard submitted.count == digits, submitted.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        let current = step(at: epochSeconds)
        var matched: Int64?
        for candidate in (current - window)...(current + window) {
            let expected = Array(Self.code(secret: secret, step: candidate, digits: digits).utf8)
            let equal = ConstantTime.equals(expected, submitted)
            if equal, lastUsedStep.map({ candidate > $0 }) ?? true {
                matched = candidate
            }
        }
        return matched
    }

    /// The provisioning URI that authenticator apps read from the QR code (Google Authenticator
    /// "Key Uri Format"): `otpauth://totp/NeoSec:<username>?secret=…&issuer=NeoSec&algorithm=SHA1&digits=6&period=30`.
    public static func provisioningURI(secret: [UInt8], username: String) -> String {
        let label = percentEncoded(issuer) + ":" + percentEncoded(username)
        let parameters = "secret=\(Base32.encode(secret))&issuer=\(percentEncoded(issuer))&algorithm=SHA1&digits=\(digits)&period=\(period)"
        return "otpauth://totp/\(label)?\(parameters)"
    }

    /// RFC 3986 unreserved characters and `@` pass; everything else is percent-encoded (usernames
    /// are `[a-z0-9._@-]` today, so nothing is, but the URI must stay well-formed whatever comes).
    static func percentEncoded(_ text: String) -> String {
        var output = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "@"):
                output.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".unicodeScalars)
                output += "%"
                output.unicodeScalars.append(hex[Int(byte >> 4)])
                output.unicodeScalars.append(hex[Int(byte & 0x0F)])
            }
        }
        return output
    }
}

/// Base32 (RFC 4648 §6): how TOTP secrets are shown and put in `otpauth://` URIs (without
/// padding, as authenticator apps expect), and the alphabet of recovery codes.
public enum Base32 {
    static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)

    /// - Parameter padded: append `=` to a multiple of 8 characters (RFC 4648 §6 proper).
    public static func encode(_ bytes: [UInt8], padded: Bool = false) -> String {
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count * 8 + 4) / 5 + 6)
        var buffer: UInt32 = 0
        var bits = 0
        for byte in bytes {
            buffer = (buffer << 8 | UInt32(byte)) & 0xFFFF
            bits += 8
            while bits >= 5 {
                output.append(alphabet[Int(buffer >> UInt32(bits - 5) & 0x1F)])
                bits -= 5
            }
        }
        if bits > 0 {
            output.append(alphabet[Int(buffer << UInt32(5 - bits) & 0x1F)])
        }
        if padded {
            while output.count % 8 != 0 { output.append(UInt8(ascii: "=")) }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Decodes upper- or lower-case base32, with or without padding. Nil for anything else:
    /// a character outside the alphabet, a length no encoding produces, padding in the wrong
    /// place, or non-zero bits left over (RFC 4648 §3.5 canonical encoding).
    public static func decode(_ text: String) -> [UInt8]? {
        var characters = Array(text.utf8)
        if characters.contains(UInt8(ascii: "=")) {
            guard characters.count % 8 == 0 else { return nil }
            while characters.last == UInt8(ascii: "=") { characters.removeLast() }
        }
        guard [0, 2, 4, 5, 7].contains(characters.count % 8) else { return nil }
        var output: [UInt8] = []
        output.reserveCapacity(characters.count * 5 / 8)
        var buffer: UInt32 = 0
        var bits = 0
        for character in characters {
            guard let value = value(of: character) else { return nil }
            buffer = (buffer << 5 | UInt32(value)) & 0xFFFF
            bits += 5
            if bits >= 8 {
                output.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits - 8)))
                bits -= 8
            }
        }
        guard buffer & ((UInt32(1) << UInt32(bits)) - 1) == 0 else { return nil }
        return output
    }

    static func value(of character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): character - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): character - UInt8(ascii: "a")
        case UInt8(ascii: "2")...UInt8(ascii: "7"): character - UInt8(ascii: "2") + 26
        default: nil
        }
    }

    /// Whether every character is in the (upper-case) alphabet.
    static func isAlphabet(_ text: String) -> Bool {
        text.utf8.allSatisfy { alphabet.contains($0) }
    }
}
