import Crypto

/// How opaque credentials and single-use identifiers are keyed in storage: SHA-256, hex. The
/// credential itself is never stored; a leaked database yields nothing presentable.
public enum CredentialHash {
    public static func hex(_ value: String) -> String {
        SHA256.hash(data: Array(value.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}
