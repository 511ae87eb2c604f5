import Crypto

/// How opaque credentials and single-use identifiers are keyed in storage: SHA-256, hex. The
/// credential itself is never stored; a leaked database yields nothing presentable.
public enum CredentialHash {
    static let digits = Array("0123456789abcdef".utf8)

    public static func hex(_ value: String) -> String {
        let digest = SHA256.hash(data: Array(value.utf8))
        // By table into one buffer: `String(_:radix:)` per byte showed up on the token endpoint's profile.
        return String(unsafeUninitializedCapacity: 64) { output in
            var index = 0
            for byte in digest {
                output[index] = digits[Int(byte >> 4)]
                output[index + 1] = digits[Int(byte & 0x0F)]
                index += 2
            }
            return index
        }
    }
}
