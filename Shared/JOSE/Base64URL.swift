public import Foundation

/// base64url without padding (RFC 7515 §2, RFC 4648 §5).
public enum Base64URL {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// Encodes byte by byte into an ASCII buffer: on the token endpoint's hot path, Foundation's
    /// base64 followed by three `replacingOccurrences` (NSString searches) cost more than the
    /// ES256 signature itself.
    public static func encode<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let input = Array(bytes)
        let count = (input.count * 4 + 2) / 3
        return String(unsafeUninitializedCapacity: count) { output in
            var out = 0
            var index = 0
            while index + 3 <= input.count {
                let chunk = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2])
                output[out] = alphabet[Int(chunk >> 18 & 63)]
                output[out + 1] = alphabet[Int(chunk >> 12 & 63)]
                output[out + 2] = alphabet[Int(chunk >> 6 & 63)]
                output[out + 3] = alphabet[Int(chunk & 63)]
                out += 4
                index += 3
            }
            switch input.count - index {
            case 1:
                let chunk = UInt32(input[index]) << 16
                output[out] = alphabet[Int(chunk >> 18 & 63)]
                output[out + 1] = alphabet[Int(chunk >> 12 & 63)]
                out += 2
            case 2:
                let chunk = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8
                output[out] = alphabet[Int(chunk >> 18 & 63)]
                output[out + 1] = alphabet[Int(chunk >> 12 & 63)]
                output[out + 2] = alphabet[Int(chunk >> 6 & 63)]
                out += 3
            default: break
            }
            return out
        }
    }

    /// Strict decoding: only the base64url alphabet, no padding, no whitespace, a length that a
    /// real encoding can have, and zero bits after the last byte. Returns nil on anything else.
    public static func decode(_ string: some StringProtocol) -> Data? {
        decodeBytes(string).map { Data($0) }
    }

    /// As `decode(_:)`, as bytes.
    public static func decodeBytes(_ string: some StringProtocol) -> [UInt8]? {
        decode(string.utf8, table: urlTable, padded: false)
    }

    /// Strict decoding of standard base64 (RFC 4648 §4: `+` and `/`, `=` padding to a multiple
    /// of four), as HTTP Basic credentials carry it (RFC 7617 §2).
    /// Takes a `String`, not `some StringProtocol`: generic code called from another module runs
    /// unspecialised, and Basic credentials are decoded on every token request.
    public static func decodePadded(_ string: String) -> [UInt8]? {
        decode(string.utf8, table: standardTable, padded: true)
    }

    /// Each character's 6-bit value, 0xFF for characters outside the alphabet.
    static func table(_ alphabet: [UInt8]) -> [UInt8] {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (value, character) in alphabet.enumerated() { table[Int(character)] = UInt8(value) }
        return table
    }

    static let urlTable = table(alphabet)
    static let standardTable = table(Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8))

    /// Decodes in Swift (Foundation's decoder, behind a string rewrite, was on every request's
    /// path: Basic credentials, JWS parts, DPoP proofs).
    static func decode(_ text: some Collection<UInt8>, table: [UInt8], padded: Bool) -> [UInt8]? {
        let input = Array(text)
        var count = input.count
        if padded {
            guard count % 4 == 0 else { return nil }
            var stripped = 0
            while stripped < 2, count > 0, input[count - 1] == UInt8(ascii: "=") {
                count -= 1
                stripped += 1
            }
            guard (4 - count % 4) % 4 == stripped else { return nil }
        }
        let remainder = count % 4
        guard remainder != 1 else { return nil }
        var output: [UInt8] = []
        output.reserveCapacity(count / 4 * 3 + 2)
        var index = 0
        while index + 4 <= count {
            let a = table[Int(input[index])], b = table[Int(input[index + 1])]
            let c = table[Int(input[index + 2])], d = table[Int(input[index + 3])]
            guard (a | b | c | d) & 0xC0 == 0 else { return nil }
            let chunk = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6 | UInt32(d)
            output.append(UInt8(truncatingIfNeeded: chunk >> 16))
            output.append(UInt8(truncatingIfNeeded: chunk >> 8))
            output.append(UInt8(truncatingIfNeeded: chunk))
            index += 4
        }
        switch remainder {
        case 2:
            let a = table[Int(input[index])], b = table[Int(input[index + 1])]
            guard (a | b) & 0xC0 == 0, b & 0x0F == 0 else { return nil }
            output.append(a << 2 | b >> 4)
        case 3:
            let a = table[Int(input[index])], b = table[Int(input[index + 1])], c = table[Int(input[index + 2])]
            guard (a | b | c) & 0xC0 == 0, c & 0x03 == 0 else { return nil }
            output.append(a << 2 | b >> 4)
            output.append((b & 0x0F) << 4 | c >> 2)
        default: break
        }
        return output
    }
}
