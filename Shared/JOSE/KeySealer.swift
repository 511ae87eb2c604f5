public import Crypto
public import Foundation

/// Seals private keys at rest: AES-256-GCM under a key derived from the master key with HKDF
/// (so the master key itself encrypts nothing), with the key's identity as associated data so a
/// sealed blob cannot be moved onto another key's row.
public struct KeySealer: Sendable {
    /// Sealed blobs start with this byte; a new format gets a new one.
    static let formatVersion: UInt8 = 1
    private let wrappingKey: SymmetricKey

    /// - Parameter masterKey: at least 32 bytes of secret randomness.
    public init(masterKey: [UInt8]) throws {
        guard masterKey.count >= 32 else { throw JOSEError.keyUnusable }
        self.wrappingKey = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: masterKey),
            salt: Array("neosec".utf8),
            info: Array("neosec signing-key wrapping v1".utf8),
            outputByteCount: 32
        )
    }

    public func seal(_ plaintext: [UInt8], kid: String, algorithm: String, purpose: String) throws -> [UInt8] {
        let box = try AES.GCM.seal(plaintext, using: wrappingKey, authenticating: Self.associatedData(kid: kid, algorithm: algorithm, purpose: purpose))
        guard let combined = box.combined else { throw JOSEError.keyUnusable }
        return [Self.formatVersion] + Array(combined)
    }

    public func open(_ sealed: [UInt8], kid: String, algorithm: String, purpose: String) throws -> [UInt8] {
        guard sealed.first == Self.formatVersion else { throw JOSEError.decryptionFailed }
        do {
            let box = try AES.GCM.SealedBox(combined: sealed.dropFirst())
            return Array(try AES.GCM.open(box, using: wrappingKey, authenticating: Self.associatedData(kid: kid, algorithm: algorithm, purpose: purpose)))
        } catch {
            throw JOSEError.decryptionFailed
        }
    }

    private static func associatedData(kid: String, algorithm: String, purpose: String) -> [UInt8] {
        Array("neosec-key|\(purpose)|\(algorithm)|\(kid)".utf8)
    }
}
